"""What a person reads in the map view's popups and panels, in real headless Chromium.

Every popup (facility, grid cell, case — public and staff — camera) and every panel (layers,
incident, live feed) is opened as an operator opens it, and its visible text (``inner_text``)
is held against the database: names, status and category labels, addresses, times. None may
show ``[object …]``, ``undefined``, ``null`` or ``NaN``. Which workflow buttons a case popup
offers is held against what the server lists for that user (``Case.allowedActions``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.mapview_helpers import (
    CLICKABLE,
    DEPARTMENT_STAFF,
    DESKTOP,
    allowed,
    chromium,
    click_feature,
    element,
    graphql,
    one,
    open_staff_case,
    popup_text,
    readable,
    shanghai,
    shown_steps,
    signed_in,
    token_of,
    vocab,
)
from tests.running_server import running_server
from tests.sensor_alarm_helpers import name, times
from tests.sta_helpers import STA, staff, station
from tests.test_mapview_browser import (
    CENTRE,
    DISPATCHER,
    Console,
    _create_case,
    jump,
    open_page,
    shot,
    until,
)


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url, ONEMAP_STREAMS_ICE_HOST_ADDRESSES='["127.0.0.1"]') as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def public(chrome: Browser, site: str) -> Iterator[tuple[Page, Console]]:
    page, console = open_page(chrome, site, viewport=DESKTOP)
    yield page, console
    page.context.close()


@pytest.fixture(scope="module")
def dispatcher(chrome: Browser, site: str) -> Iterator[tuple[Page, Console]]:
    page, console = signed_in(chrome, site, *DISPATCHER)
    until(page, "!!window.onemap.map.getSource('cameras')")
    yield page, console
    page.context.close()


def test_a_facility_popup_says_what_the_database_holds(
    public: tuple[Page, Console], database_url: str
) -> None:
    page, console = public
    jump(page, CENTRE, 16)
    click_feature(page, "facilities", 17, "f.properties.address && f.properties.capacity")
    popup = element(page, ".popup-facility")
    facility_id = popup.get_attribute("data-id")
    name_zh, name_en, category, address, capacity, code = one(
        database_url,
        "SELECT name_zh, name_en, category, address, capacity, code FROM facilities WHERE id = %s",
        int(facility_id or 0),
    )
    text = popup_text(page, ".popup-facility")
    label = vocab("FACILITY_CATEGORIES")[category]
    for expected in (name_zh, name_en, label, address, code, str(capacity)):
        assert expected in text, (expected, text)
    assert "地址" in text and "容量" in text
    shot(page, "popup-facility")
    page.click(".maplibregl-popup-close-button")
    assert console.errors == []


def test_a_grid_cell_popup_names_the_cell(public: tuple[Page, Console], database_url: str) -> None:
    page, console = public
    jump(page, CENTRE, 15)
    # A spot on the map with nothing clickable on it: the click opens the grid cell there.
    spot = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const layers = {CLICKABLE}.filter(id => m.getLayer(id));"
        " for (let y = 120; y < c.height - 120; y += 23)"
        "  for (let x = 120; x < c.width - 120; x += 29) {"
        "   const near = [[x - 8, y - 8], [x + 8, y + 8]];"
        "   if (m.queryRenderedFeatures(near, {layers}).length) continue;"
        "   if (!m.queryRenderedFeatures([x, y], {layers: ['grid-hit']}).length) continue;"
        "   return [x + c.left, y + c.top]; } return null; })()"
    )
    assert spot is not None
    page.mouse.click(*spot)
    popup = element(page, ".popup-area")
    assert popup.get_attribute("data-layer") == "grid_cells"
    name, code, population, risk = one(
        database_url,
        "SELECT name, code, population, health_risk FROM grid_cells WHERE id = %s",
        int(popup.get_attribute("data-id") or 0),
    )
    text = popup_text(page, ".popup-area")
    for expected in (name, code, str(population), vocab("HEALTH_RISK")[risk], "网格"):
        assert expected in text, (expected, text)
    page.click(".maplibregl-popup-close-button")
    assert console.errors == []


def test_a_public_case_popup_shows_the_public_record_and_no_steps(
    public: tuple[Page, Console], database_url: str
) -> None:
    page, console = public
    jump(page, CENTRE, 14)
    click_feature(page, "cases", 17)
    popup = element(page, ".popup-case")
    case_id = int(popup.get_attribute("data-case-id") or 0)
    public_id, category, status, priority, reported = one(
        database_url,
        "SELECT public_id, category, status, priority, reported_at FROM cases_public WHERE id = %s",
        case_id,
    )
    text = popup_text(page, ".popup-case")
    for expected in (
        public_id,
        vocab("CASE_CATEGORIES")[category],
        vocab("CASE_STATUSES")[status],
        vocab("CASE_PRIORITIES")[priority],
        shanghai(reported),
    ):
        assert expected in text, (expected, text)
    assert "匿名化信息" in text  # and what to do for more
    # The anonymised record only: no description, address, timeline — and no steps.
    description = one(database_url, "SELECT description FROM cases WHERE id = %s", case_id)[0]
    assert description not in text
    assert page.locator(".popup-case [data-action]").count() == 0
    assert page.locator(".popup-case .timeline, .popup-case .actions").count() == 0
    shot(page, "popup-case-public")
    page.click(".maplibregl-popup-close-button")
    assert console.errors == []


def test_the_layers_panel_reads_as_words(public: tuple[Page, Console]) -> None:
    page, console = public
    text = readable(page.inner_text("#tab-layers"))
    facilities = vocab("FACILITY_CATEGORIES")
    for code, label in facilities.items():
        assert (label in text) is (code != "hazard_source"), label  # internal: staff only
    for code, label in vocab("CASE_STATUSES").items():
        assert (label in text) is (code != "duplicate"), label
    assert "公开视图" in text and "上报起始" in text and "上报截止" in text
    assert console.errors == []


def _staff_detail(database_url: str, case_id: int) -> dict[str, Any]:
    row = one(
        database_url,
        "SELECT c.public_id, c.category, c.status, c.description, c.address, d.name_zh, "
        "a.display_name, g.name, w.display_name, (SELECT count(*) FROM case_events e "
        "WHERE e.case_id = c.id) FROM cases c LEFT JOIN departments d ON d.id = c.department_id "
        "LEFT JOIN users a ON a.id = c.assignee_id JOIN grid_cells g ON g.id = c.grid_cell_id "
        "LEFT JOIN users w ON w.id = g.worker_id WHERE c.id = %s",
        case_id,
    )
    keys = (
        "public_id",
        "category",
        "status",
        "description",
        "address",
        "department",
        "assignee",
        "cell",
        "worker",
        "events",
    )
    return dict(zip(keys, row, strict=True))


def _allowed(site: str, token: str, case_id: int) -> set[str]:
    answer = graphql(site, token, "case_detail", "CaseDetail", {"id": str(case_id)})
    return {a.lower() for a in answer["data"]["case"]["allowedActions"]} - {"mark_duplicate"}


def _check_staff_popup(page: Page, database_url: str, case_id: int) -> str:
    case = _staff_detail(database_url, case_id)
    text = popup_text(page, ".popup-case")
    labels = (vocab("CASE_CATEGORIES")[case["category"]], vocab("CASE_STATUSES")[case["status"]])
    for expected in (
        case["public_id"],
        *labels,
        case["description"],
        case["address"],
        case["department"],
        case["cell"],
    ):
        assert expected and expected in text, (expected, text)
    for optional in (case["assignee"], case["worker"]):
        assert optional is None or optional in text, (optional, text)
    assert page.locator(".popup-case .timeline li").count() == case["events"]
    return text


def test_a_dispatchers_case_popup_shows_the_case_and_the_steps_the_server_allows(
    dispatcher: tuple[Page, Console], site: str, tokens: Any, database_url: str
) -> None:
    page, console = dispatcher
    case_id = open_staff_case(page, database_url, DISPATCHER[0], "reported")
    text = _check_staff_popup(page, database_url, case_id)
    shown = set(shown_steps(page))
    token = token_of(tokens, database_url, DISPATCHER[0])
    assert shown == allowed(site, token, case_id) == {"dispatch", "reject", "blow_whistle",
                                                      "comment"}  # fmt: skip
    assert "派遣" in text and "不予受理" in text and "处置操作" in text
    shot(page, "popup-case-staff")
    page.click(".maplibregl-popup-close-button")
    assert console.errors == []


def test_staff_without_the_steps_capability_see_no_step_buttons(
    chrome: Browser,
    site: str,
    tokens: Any,
    database_url: str,
) -> None:
    """Department staff handle cases (start, resolve) but do not dispatch: a reported case of
    their department shows in full with only the clock's requests and a comment to offer, a
    dispatched one also "start" and a return (退单) — no dispatch, transfer or supervision."""
    page, console = signed_in(chrome, site, *DEPARTMENT_STAFF)
    try:
        token = token_of(tokens, database_url, DEPARTMENT_STAFF[0])
        case_id = open_staff_case(page, database_url, DEPARTMENT_STAFF[0], "reported")
        _check_staff_popup(page, database_url, case_id)
        assert shown_steps(page) == ["request_suspension", "request_extension", "comment"]
        assert allowed(site, token, case_id) == set(shown_steps(page))
        page.click(".maplibregl-popup-close-button")
        case_id = open_staff_case(page, database_url, DEPARTMENT_STAFF[0], "dispatched")
        _check_staff_popup(page, database_url, case_id)
        shown = shown_steps(page)
        assert shown == ["start", "request_return", "request_suspension", "request_extension",
                         "comment"]  # fmt: skip
        assert allowed(site, token, case_id) == set(shown)
        assert page.locator(".popup-case [data-action=start]").inner_text() == "开始处置"
        assert console.errors == []
    finally:
        page.context.close()


def test_a_camera_popup_names_the_camera_and_its_status(
    dispatcher: tuple[Page, Console], database_url: str
) -> None:
    page, console = dispatcher
    jump(page, CENTRE, 13)
    click_feature(page, "cameras", 17)
    popup = element(page, ".popup-camera")
    name, code, status = one(
        database_url,
        "SELECT name, code, status FROM cameras WHERE id = %s",
        int(popup.get_attribute("data-camera-id") or 0),
    )
    until(page, "document.querySelector('.popup-camera video').videoWidth > 0", 30)
    text = popup_text(page, ".popup-camera")
    for expected in (name, code):
        assert expected in text, (expected, text)
    # The status shown is the database's, or "online" once pictures arrive (the server opened it).
    assert vocab("CAMERA_STATUSES")[status] in text or "在线" in text, text
    shot(page, "popup-camera")
    page.click(".maplibregl-popup-close-button")
    until(page, "!document.querySelector('.popup-camera')")
    # whep.js's stop() may race its own DELETE (see test_mapview_browser): not this page's error.
    console.errors[:] = [e for e in console.errors if not ("404" in e and "/whep/" in e)]
    assert console.errors == []


def test_the_incident_panel_lists_what_graphql_answers_in_words(
    dispatcher: tuple[Page, Console], site: str, tokens: Any, database_url: str
) -> None:
    page, console = dispatcher
    jump(page, CENTRE, 15)
    page.click("[data-tab=incident]")
    page.select_option("#incident-radius", "500")
    page.click("#incident-centre")  # the map's centre: no pointer needed
    page.wait_for_selector("#incident-results [data-section=cameras]")
    lon, lat = page.evaluate("window.onemap.map.getCenter().toArray()")
    token = token_of(tokens, database_url, DISPATCHER[0])
    answer = graphql(
        site, token, "incident", "IncidentContext", {"lon": lon, "lat": lat, "radiusM": 500.0}
    )["data"]["incident"]
    text = readable(page.inner_text("#tab-incident"))
    for cell in answer["gridCells"]:
        assert cell["name"] in text and cell["code"] in text
        assert cell["worker"] is None or cell["worker"]["displayName"] in text
    for key in ("affectedUnits", "resources", "hazards"):
        for facility in answer[key]:
            assert facility["nameZh"] in text, (key, facility)
    for camera in answer["cameras"]:
        assert camera["name"] in text
    categories = vocab("CASE_CATEGORIES")
    for case in answer["openCases"]:
        assert case["publicId"] in text and categories[case["category"]] in text
    assert answer["gridCells"] and "分析完成" in text
    shot(page, "panel-incident")
    page.click("#incident-clear")
    page.click("[data-tab=layers]")
    assert console.errors == []


def test_the_live_feed_reads_as_words(
    dispatcher: tuple[Page, Console], site: str, tokens: Any, database_url: str
) -> None:
    page, console = dispatcher
    page.click("[data-tab=feed]")
    case_id = _create_case(site, token_of(tokens, database_url, DISPATCHER[0]))
    item = element(page, f"#feed [data-case-id='{case_id}']", timeout_ms=15000)
    public_id = one(database_url, "SELECT public_id FROM cases WHERE id = %s", int(case_id))[0]
    text = readable(item.inner_text())
    assert public_id in text and "垃圾满溢" in text and "上报" in text, text
    actor = one(database_url, "SELECT display_name FROM users WHERE phone = %s", DISPATCHER[0])[0]
    assert actor in text  # who acted
    readable(page.inner_text("#tab-feed"))
    page.click("[data-tab=layers]")
    assert console.errors == []


def test_a_sensor_alarm_enters_the_live_feed(
    dispatcher: tuple[Page, Console], site: str, tokens: Any, database_url: str
) -> None:
    """Water over a gauge's warning line, posted through the SensorThings API: the dispatcher's
    feed says a sensor alarm was raised, where, under which rule, and the case it made."""
    page, console = dispatcher
    page.click("[data-tab=feed]")
    thing = name("下立交水位计")
    body = station(thing, lon=CENTRE[0], lat=CENTRE[1])
    # its readings are half an hour old: a period of an hour keeps the sweep from calling it
    # offline while the feed and the map are read
    body["Datastreams"][0]["properties"] = {"warningLine": 2.0, "period": 3600}
    with httpx.Client(base_url=site, headers=staff(tokens, database_url, "admin")) as http:
        made = http.post(f"{STA}/Things", json=body)
        assert made.status_code == 201, made.text
        thing_id = int(made.headers["Location"].rsplit("(", 1)[1].rstrip(")"))
        ds = http.get(f"{STA}/Things({thing_id})/Datastreams").json()["value"][0]["@iot.id"]
        posted = http.post(f"{STA}/CreateObservations", json=[{
            "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
            "dataArray": [[t, 2.6] for t in times(4)]}])  # fmt: skip
        assert posted.status_code == 201, posted.text
    item = element(page, "#feed li[data-sensor-alarm-id][data-change='raised']", 15000)
    text = readable(item.inner_text())
    # the notice recolours the device on the map at once (feature-state), before any tile
    state = "window.onemap.map.getFeatureState({source: 'sensors', sourceLayer: 'sensors', "
    assert until(page, f"{state}id: {thing_id}}}).state === 'alarm'")
    public_id = one(database_url, "SELECT c.public_id FROM sensor_alarms a JOIN cases c "
                    "ON c.id = a.case_id WHERE a.thing_id = %s", thing_id)[0]  # fmt: skip
    for words in ("传感器报警", thing, "water level over the warning line", "告警", "0.6",
                  public_id):  # fmt: skip
        assert words in text, (words, text)
    page.click("[data-tab=layers]")
    assert console.errors == []


def _device(site: str, headers: dict[str, str], label: str, point: list[float], *,
            critical: bool = False, readings: list[tuple[str, float]]) -> int:  # fmt: skip
    """A water-level gauge (warning line 2.0 m, reporting every 30 min: the server's sweep must
    not find it offline while the test reads it) made and fed through the SensorThings API."""
    body = station(label, lon=point[0], lat=point[1], critical=critical)
    body["Datastreams"][0]["properties"] = {"warningLine": 2.0, "period": 1800}
    with httpx.Client(base_url=site, headers=headers) as http:
        made = http.post(f"{STA}/Things", json=body)
        assert made.status_code == 201, made.text
        thing_id = int(made.headers["Location"].rsplit("(", 1)[1].rstrip(")"))
        ds = http.get(f"{STA}/Things({thing_id})/Datastreams").json()["value"][0]["@iot.id"]
        posted = http.post(f"{STA}/CreateObservations", json=[{
            "Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
            "dataArray": [[t, v] for t, v in readings]}])  # fmt: skip
        assert posted.status_code == 201, posted.text
    return thing_id


def _drawn(page: Page, thing_id: int) -> Any:
    """The device's feature as the map draws it (None when it is not drawn)."""
    return page.evaluate(
        "window.onemap.map.queryRenderedFeatures({layers: ['sensors']})"
        f".filter(f => f.id === {thing_id}).map(f => f.properties)[0] || null"
    )


def test_a_sensor_popup_shows_its_state_latest_reading_and_last_day(
    public: tuple[Page, Console], site: str, tokens: Any, database_url: str
) -> None:
    """A gauge whose water rose over its warning line minutes ago is drawn as an alarm; its
    popup names it, says 告警, gives the latest level with its unit and draws the day's
    readings (older ones are not in the chart)."""
    page, console = public
    point = [CENTRE[0] + 0.004, CENTRE[1] - 0.003]
    label = name("下立交水位计")
    day = [(t, 1.0 + i / 100) for i, t in enumerate(times(12, start_minutes_ago=360, step_s=1800))]
    old = [(t, 0.5) for t in times(3, start_minutes_ago=60 * 30, step_s=600)]  # 30 h ago
    rise = [(t, 2.5) for t in times(4, start_minutes_ago=10, step_s=60)]  # after the day
    thing_id = _device(site, staff(tokens, database_url, "admin"), label, point,
                       readings=old + day + rise)  # fmt: skip
    jump(page, point, 16)
    until(page, "window.onemap.map.queryRenderedFeatures({layers: ['sensors']})"
          f".some(f => f.id === {thing_id})")  # fmt: skip
    assert _drawn(page, thing_id)["state"] == "alarm"
    click_feature(page, "sensors", 16, f"f.id === {thing_id}")
    element(page, ".popup-sensor .sensor-readings[data-loaded=true]")
    text = popup_text(page, ".popup-sensor")
    for words in (label, "水位计", "告警", "积水水位", "2.5 m", "近24小时"):
        assert words in text, (words, text)
    chart = page.locator(".popup-sensor svg.sensor-chart")
    assert chart.get_attribute("data-points") == str(len(day) + len(rise))
    assert "16 个读数" in (chart.get_attribute("aria-label") or "")
    page.click(".maplibregl-popup-close-button")
    assert console.errors == []


def test_a_critical_device_is_drawn_and_read_for_staff_only(
    public: tuple[Page, Console], dispatcher: tuple[Page, Console], site: str, tokens: Any,
    database_url: str,
) -> None:  # fmt: skip
    """A cable-temperature sensor of a substation is internal: the public map does not draw
    it; the dispatcher's does, and its popup reads the readings with the dispatcher's token."""
    point = [CENTRE[0] - 0.004, CENTRE[1] + 0.002]
    label = name("变电站电缆测温")
    readings = [(t, 1.2) for t in times(6, start_minutes_ago=120, step_s=1200)]
    thing_id = _device(site, staff(tokens, database_url, "admin"), label, point, critical=True,
                       readings=readings)  # fmt: skip
    staff_page, staff_console = dispatcher
    jump(staff_page, point, 16)
    until(staff_page, "window.onemap.map.queryRenderedFeatures({layers: ['sensors']})"
          f".some(f => f.id === {thing_id})")  # fmt: skip
    click_feature(staff_page, "sensors", 16, f"f.id === {thing_id}")
    element(staff_page, ".popup-sensor .sensor-readings[data-loaded=true]")
    text = popup_text(staff_page, ".popup-sensor")
    assert label in text and "正常" in text and "1.2 m" in text, text
    staff_page.click(".maplibregl-popup-close-button")
    page, console = public
    jump(page, point, 16)
    assert _drawn(page, thing_id) is None
    assert console.errors == [] and staff_console.errors == []
