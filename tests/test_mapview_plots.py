"""Plotting (指挥标绘) and the replay (复盘) in the map view's emergency mode, in real headless
Chromium against a running server: a dispatcher draws a hazard zone (an area) and a command post
(a point) with labels; a second seat sees both appear, move, change and go without reload (the
``incidentEvents`` subscription); a stale change is refused with the server's CONFLICT message;
an analyst sees the plots without the tools. The replay's slider shows the level and the plots
as they stood at each moment, with the timeline's entries up to it, and the report downloads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page

from server.kernel.auth.tokens import TokenService
from tests.mapview_helpers import chromium, element, graphql, readable, signed_in, token_of
from tests.plan_helpers import FLOOD_NUMBER, waterlogging_point
from tests.running_server import running_server
from tests.test_mapview_browser import DISPATCHER, jump, shot, until

ANALYST = ("13800000002", "onemap-demo")
#: The plots a page draws on its map: [symbol, label, geometry type, coordinates].
DRAWN = (
    "(async () => { const d = await window.onemap.map.getSource('emergency-plots').getData();"
    " return d.features.filter(f => f.properties.kind === 'plot').map(f =>"
    " [f.properties.symbol, f.properties.label, f.geometry.type, f.geometry.coordinates]); })()"
)
RENDERED = (
    "window.onemap.map.queryRenderedFeatures({layers: ['emergency-plot-fill',"
    " 'emergency-plot-points']}).map(f => f.properties.symbol)"
)


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def activate(
    site: str, token: str, database_url: str, level: str
) -> tuple[dict[str, Any], float, float]:
    with psycopg.connect(database_url) as conn:
        lon, lat = waterlogging_point(conn, 500)
        flood = conn.execute("SELECT id FROM plans WHERE number = %s", (FLOOD_NUMBER,)).fetchone()
    assert flood is not None
    made = graphql(
        site,
        token,
        "incidents",
        "ActivatePlan",
        {"planId": str(flood[0]), "level": level, "point": {"lon": lon, "lat": lat}},
    )
    return made["data"]["activatePlan"]["incident"], lon, lat


def open_incident(page: Page, number: str, lon: float, lat: float) -> None:
    page.click("[data-tab=emergency]")
    element(page, "#tab-emergency:not([hidden])")
    page.locator("#em-list li", has_text=number).locator("button").click()
    element(page, "#em-incident[data-incident] .em-head")
    element(page, "#em-incident [data-section=em_plots]")
    jump(page, [lon, lat], 15)


def screen(page: Page, lon: float, lat: float, dx: float = 0, dy: float = 0) -> tuple[float, float]:
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project([{lon}, {lat}]); return [p.x + c.left, p.y + c.top]; }})()"
    )
    return x + dx, y + dy


def drawn(page: Page) -> list[list[Any]]:
    return list(page.evaluate(DRAWN))


def plot_rows(page: Page) -> list[str]:
    return page.locator("#em-incident [data-section=em_plots] li button").all_inner_texts()


def test_dispatchers_plot_and_a_second_seat_follows_without_reload(
    site: str, chrome: Browser, database_url: str, tokens: TokenService
) -> None:
    token = token_of(tokens, database_url, DISPATCHER[0])
    incident, lon, lat = activate(site, token, database_url, "III")
    page, console = signed_in(chrome, site, *DISPATCHER)
    other, other_console = signed_in(chrome, site, *DISPATCHER)
    for p in (page, other):
        open_incident(p, incident["number"], lon, lat)
    until(page, "!!document.querySelector('#em-plot-symbol option[value=HAZARD_ZONE]')")
    assert page.locator("#em-plot-symbol option[value=HAZARD_ZONE]").inner_text() == "危险区"

    # a line begun and cancelled with Esc: nothing is drawn
    page.click("#em-plot-line")
    page.mouse.click(*screen(page, lon, lat, -100, 100))
    assert "已有 1 个" in page.inner_text("#em-plot-help")
    page.keyboard.press("Escape")
    assert "已取消标绘" in page.inner_text("#em-state") and drawn(page) == []

    # the hazard zone: three corners, finished with Enter
    page.select_option("#em-plot-symbol", "HAZARD_ZONE")
    page.fill("#em-plot-label", "积水危险区")
    page.click("#em-plot-polygon")
    assert page.get_attribute("#em-plot-polygon", "aria-pressed") == "true"
    for dx, dy in ((-120, -80), (120, -80), (0, 120)):
        page.mouse.click(*screen(page, lon, lat, dx, dy))
    page.keyboard.press("Enter")
    until(page, "document.getElementById('em-state').innerText.includes('已标绘')")
    # the command post: one click
    page.select_option("#em-plot-symbol", "COMMAND_POST")
    page.fill("#em-plot-label", "前方指挥部")
    page.click("#em-plot-point")
    page.mouse.click(*screen(page, lon, lat, 200, 150))
    until(page, "document.querySelectorAll('[data-section=em_plots] li').length === 2")
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT symbol, label, GeometryType(geom), ST_NPoints(geom) FROM incident_plots"
            " WHERE incident_id = %s ORDER BY id",
            (int(incident["id"]),),
        ).fetchall()
    assert stored == [
        ("hazard_zone", "积水危险区", "POLYGON", 4),
        ("command_post", "前方指挥部", "POINT", 1),
    ]
    assert plot_rows(page) == ["危险区 · 积水危险区", "指挥部 · 前方指挥部"]

    # the second seat: both appear without reload, drawn and listed
    until(other, "document.querySelectorAll('[data-section=em_plots] li').length === 2")
    assert plot_rows(other) == ["危险区 · 积水危险区", "指挥部 · 前方指挥部"]
    assert sorted(p[0] for p in drawn(other)) == ["command_post", "hazard_zone"]
    until(other, f"{RENDERED}.includes('hazard_zone') && {RENDERED}.includes('command_post')")
    assert "新增标绘" in other.inner_text("#em-live")
    readable(other.inner_text("#em-incident"))
    shot(page, "plots")

    # the second seat opens the command post's popup; meanwhile the first relabels it
    other.locator("[data-section=em_plots] li button", has_text="前方指挥部").click()
    element(other, ".popup-plot #em-plot-save")
    popup = readable(other.inner_text(".popup-plot"))
    assert "指挥部" in popup and "前方指挥部" in popup and "标绘人" in popup
    page.locator("[data-section=em_plots] li button", has_text="前方指挥部").click()
    page.fill(".popup-plot #em-plot-new-label", "指挥部（已前移）")
    page.click(".popup-plot #em-plot-save")
    until(page, "document.getElementById('em-state').innerText.includes('标绘已更新')")
    until(other, "document.querySelector('[data-section=em_plots]').innerText.includes('已前移')")
    # its stale change: the server's CONFLICT message, then the plot as it is now
    other.fill(".popup-plot #em-plot-new-label", "过时的修改")
    other.click(".popup-plot #em-plot-save")
    until(other, "document.getElementById('em-state').innerText.includes('已重新加载')")
    assert "过时的修改" not in other.inner_text("#em-incident")
    assert other.input_value(".popup-plot #em-plot-new-label") == "指挥部（已前移）"

    # the first moves the command post and removes the hazard zone: the second follows
    before = next(p for p in drawn(other) if p[0] == "command_post")[3]
    page.locator("[data-section=em_plots] li button", has_text="已前移").click()
    page.click(".popup-plot #em-plot-move")
    page.mouse.click(*screen(page, lon, lat, -200, 150))
    until(
        other,
        f"(async () => {{ const d = await {DRAWN}; const c = d.find(p => p[0] === 'command_post');"
        f" return c && c[3][0] < {before[0] - 1e-4}; }})()",
    )
    page.locator("[data-section=em_plots] li button", has_text="积水危险区").click()
    page.click(".popup-plot #em-plot-remove")
    until(other, "document.querySelectorAll('[data-section=em_plots] li').length === 1")
    assert [p[0] for p in drawn(other)] == ["command_post"]
    assert "删除标绘" in other.inner_text("#em-live")
    # an evacuation route: two clicks and a double-click ends it (three points, dashed)
    page.select_option("#em-plot-symbol", "EVACUATION_ROUTE")
    page.fill("#em-plot-label", "疏散路线一")
    page.click("#em-plot-line")
    page.mouse.click(*screen(page, lon, lat, -150, -150))
    page.mouse.click(*screen(page, lon, lat, 0, -180))
    page.mouse.dblclick(*screen(page, lon, lat, 150, -150))
    until(other, "document.querySelectorAll('[data-section=em_plots] li').length === 2")
    route = next(p for p in drawn(other) if p[0] == "evacuation_route")
    assert route[1] == "疏散路线一" and route[2] == "LineString" and len(route[3]) == 3
    until(
        other,
        "window.onemap.map.queryRenderedFeatures({layers: ['emergency-plot-dashes']}).length > 0",
    )
    for p in (page, other):
        readable(p.inner_text("#em-incident"))
    assert console.errors == [] and other_console.errors == []

    # an analyst sees the plots but has no tools
    analyst, analyst_console = signed_in(chrome, site, *ANALYST)
    open_incident(analyst, incident["number"], lon, lat)
    assert plot_rows(analyst) == ["指挥部 · 指挥部（已前移）", "疏散路线 · 疏散路线一"]
    assert analyst.locator("#em-plot-point").count() == 0
    assert "绘制需要应急指挥权限" in analyst.inner_text("[data-section=em_plots]")
    analyst.locator("[data-section=em_plots] li button", has_text="已前移").click()
    element(analyst, ".popup-plot")
    assert analyst.locator(".popup-plot button#em-plot-save").count() == 0
    until(analyst, f"{RENDERED}.includes('command_post')")
    assert analyst_console.errors == []
    graphql(
        site, token, "incidents", "CloseIncident", {"id": incident["id"], "summary": "测试结束"}
    )
    for p in (page, other, analyst):
        p.context.close()


def test_the_replay_shows_each_moment_and_its_timeline(
    site: str, chrome: Browser, database_url: str, tokens: TokenService
) -> None:
    token = token_of(tokens, database_url, DISPATCHER[0])
    incident, lon, lat = activate(site, token, database_url, "IV")
    time.sleep(1.1)
    graphql(
        site,
        token,
        "incidents",
        "ChangeIncidentLevel",
        {"id": incident["id"], "level": "III", "reason": "积水加深"},
    )
    time.sleep(1.1)
    added = graphql(
        site,
        token,
        "plots",
        "AddPlot",
        {
            "incidentId": incident["id"],
            "symbol": "ASSEMBLY_POINT",
            "label": "集结点甲",
            "geometry": {"type": "Point", "coordinates": [lon + 0.002, lat]},
        },
    )
    assert added["data"]["addPlot"]["__typename"] == "PlotPayload"
    entries = graphql(site, token, "plots", "IncidentReplay", {"id": incident["id"]})
    timeline = entries["data"]["incidentReplay"]

    page, console = signed_in(chrome, site, *DISPATCHER)
    open_incident(page, incident["number"], lon, lat)
    page.click("#em-replay-toggle")
    element(page, "#em-replay-body:not([hidden])")
    state = "document.getElementById('em-replay-state').innerText"
    # at the end: level III and the assembly point, every entry listed with its summary
    until(page, f"{state}.includes('Ⅲ级') && {state}.includes('集结点甲')")
    # (cases and alarms nearby may join the timeline meanwhile: its own entries, in order)
    listed = page.locator("#em-replay-entries li").all_inner_texts()
    own = [e["summaryZh"] for e in timeline if e["source"] == "incident"]
    shown = [s.split("\n", 1)[-1] for s in listed]
    assert len(own) >= 6 and [s for s in shown if s in own] == own
    assert "级别调整" in listed[own.index(next(s for s in own if "调整为III级" in s))]
    assert any("新增标绘" in s and "集结点「集结点甲」" in s for s in listed)
    until(page, f"{RENDERED}.includes('assembly_point')")

    # the level change's moment: level III, no plot yet, the entries up to it
    page.locator("#em-replay-entries li button", has_text="级别调整").click()
    until(page, f"{state}.includes('Ⅲ级') && !{state}.includes('集结点甲')")
    assert drawn(page) == []
    assert "新增标绘" not in page.inner_text("#em-replay-entries")
    # the slider at its start (Home): level IV
    page.focus("#em-replay-slider")
    page.keyboard.press("Home")
    until(page, f"{state}.includes('Ⅳ级')")
    assert drawn(page) == [] and "级别调整" not in page.inner_text("#em-replay-entries")
    # and at its end again (End): the plot is back
    page.keyboard.press("End")
    until(page, f"{state}.includes('集结点甲')")
    assert [p[1] for p in drawn(page)] == ["集结点甲"]
    readable(page.inner_text("#em-incident"))

    # play runs from the start to the end
    page.keyboard.press("Home")
    until(page, f"{state}.includes('Ⅳ级')")
    page.click("#em-replay-play")
    assert page.inner_text("#em-replay-play") == "暂停"
    until(page, f"{state}.includes('集结点甲')", 40)
    until(page, "document.getElementById('em-replay-play').innerText === '播放'")

    # back to live; the printable report downloads with the page's own authorisation
    page.click("#em-replay-toggle")
    assert page.locator("#em-replay-body").is_hidden()
    with page.expect_download() as download:
        page.click("#em-report")
    path = download.value.path()
    html = path.read_text(encoding="utf-8")
    assert incident["number"] in html and "复盘报告" in html and "积水加深" in html
    until(page, "document.getElementById('em-state').innerText.includes('报告已下载')")

    # the lifelines found again on the roads as they are now
    page.click("#em-lifelines-now")
    until(page, "document.getElementById('em-state').innerText.includes('重新计算路线')")
    readable(page.inner_text("#em-incident"))

    # in English: the plots and the replay in words
    page.click("#lang")
    assert "Plots" in page.inner_text("[data-section=em_plots]")
    page.click("#em-replay-toggle")
    until(page, f"{state}.includes('Level III') && {state}.includes('集结点甲')")
    entries_en = readable(page.inner_text("#em-replay-entries"))
    assert "Plot added" in entries_en and "Level changed" in entries_en
    assert all(e["summaryEn"] in entries_en for e in timeline if e["source"] == "incident")
    readable(page.inner_text("#em-incident"))
    page.click("#lang")
    assert console.errors == []
    graphql(
        site, token, "incidents", "CloseIncident", {"id": incident["id"], "summary": "测试结束"}
    )
    page.context.close()
