"""The map view's emergency mode (应急指挥) in real headless Chromium against a running server:
a dispatcher activates the seeded level-II flood plan at a waterlogging point and reads, as
words, the units and cameras PostGIS finds within the reach and the level's tasks by
department; a second seat accepts and refuses tasks and the first sees it live (the
``incidentEvents`` subscription, no reload); the level goes to I (level I's tasks appear) and
the incident closes with its summary. An analyst follows incidents without the command
controls, and the server refuses their forced activation."""

from __future__ import annotations

import re
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
AFFECTED = ("school", "kindergarten", "hospital", "clinic", "venue", "elderly_care")
PLACE = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
WITHIN = f"ST_DWithin(geom::geography, {PLACE}, %(r)s)"
TASKS = (
    "[...document.querySelectorAll('#em-incident .em-department')].flatMap(d =>"
    " [...d.querySelectorAll('.em-task')].map(t => [d.querySelector('h4').innerText,"
    " t.querySelector('.em-task-text').innerText,"
    " t.querySelector('.em-task-status').innerText]))"
)


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def rows(database_url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return list(conn.execute(query, params).fetchall())


def measures(database_url: str, level: str) -> list[tuple[str, str]]:
    """(department name, task text) of the flood plan's current version at ``level``."""
    found = rows(
        database_url,
        "SELECT d.name_zh, m.text_zh FROM plans p JOIN plan_versions v ON v.plan_id = p.id "
        "AND v.version = p.current_version JOIN plan_measures m ON m.version_id = v.id "
        "JOIN departments d ON d.id = m.department_id WHERE p.number = %(n)s "
        "AND m.level = %(level)s ORDER BY m.position",
        n=FLOOD_NUMBER,
        level=level,
    )
    return [(str(d), str(t)) for d, t in found]


def listed(page: Page, section: str) -> list[str]:
    """The names a section of the incident panel lists (its items' first button or name)."""
    return page.locator(
        f"#em-incident [data-section={section}] li > :first-child"
    ).all_inner_texts()


def tasks_shown(page: Page) -> list[tuple[str, str, str]]:
    """(department, task, status) as the panel shows them."""
    return [(d, t, s) for d, t, s in page.evaluate(TASKS)]


def shows_task(text: str, status: str) -> str:
    """A JS test: the panel shows the task of ``text`` in ``status``."""
    return (
        f"[...document.querySelectorAll('.em-task')].some(t => t.innerText.includes('{text}')"
        f" && t.dataset.status === '{status}')"
    )


def open_emergency(page: Page) -> None:
    page.click("[data-tab=emergency]")
    element(page, "#tab-emergency:not([hidden])")


def task_status(page: Page, text: str) -> str:
    return str(page.locator(".em-task", has_text=text).locator(".em-task-status").inner_text())


def test_a_dispatcher_activates_the_flood_plan_and_seats_follow_it_live(
    site: str, chrome: Browser, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        lon, lat = waterlogging_point(conn, 2000)
    flood = rows(database_url, "SELECT id FROM plans WHERE number = %(n)s", n=FLOOD_NUMBER)[0][0]
    page, console = signed_in(chrome, site, *DISPATCHER)
    open_emergency(page)
    element(page, "#em-start:not([hidden])")
    assert page.locator("#em-read-only").is_hidden()
    until(page, f"!!document.querySelector('#em-plan option[value=\"{flood}\"]')")
    option = page.locator(f"#em-plan option[value='{flood}']").inner_text()
    assert FLOOD_NUMBER in option and "城市防汛应急预案" in option and "防汛" in option
    page.select_option("#em-plan", str(flood))
    page.select_option("#em-level", "II")

    # pick the waterlogging point on the map, as a person clicks it
    jump(page, [lon, lat], 15)
    page.click("#em-pick")
    assert page.get_attribute("#em-pick", "aria-pressed") == "true"
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project([{lon}, {lat}]); return [p.x + c.left, p.y + c.top]; }})()"
    )
    page.mouse.click(x, y)
    place = page.inner_text("#em-place")
    picked = [float(v) for v in re.findall(r"\d+\.\d{5}", place)]
    assert "2.0 km" in place and abs(picked[0] - lon) < 1e-4 and abs(picked[1] - lat) < 1e-4, place
    page.click("#em-activate")
    element(page, "#em-incident .em-head")
    head = readable(page.inner_text("#em-incident .em-head"))
    assert "城市防汛应急预案" in head and "Ⅱ级（重大）" in head and "处置中" in head
    number = rows(database_url, "SELECT number FROM incidents ORDER BY id DESC LIMIT 1")[0][0]
    assert number in head and number in page.inner_text("#em-state")

    # what PostGIS finds within the reach is what the panel lists
    near = dict(lon=lon, lat=lat, r=2000)
    units = rows(
        database_url,
        f"SELECT name_zh FROM facilities WHERE category = ANY(%(c)s) AND {WITHIN}",
        c=list(AFFECTED),
        **near,
    )
    assert units, "the waterlogging point has no units around it"
    assert sorted(listed(page, "em_affected")) == sorted(r[0] for r in units)
    cameras = rows(
        database_url,
        f"SELECT name FROM cameras WHERE {WITHIN}"
        f" ORDER BY ST_Distance(geom::geography, {PLACE}), id LIMIT 20",
        **near,
    )
    assert cameras and listed(page, "em_cameras") == [r[0] for r in cameras]
    assert page.locator("#em-incident [data-section=em_cameras] button.play").count() == len(
        cameras
    )
    hazards = rows(
        database_url,
        f"SELECT name_zh FROM facilities WHERE category = 'hazard_source' AND {WITHIN}",
        **near,
    )
    assert sorted(listed(page, "em_hazards")) == sorted(r[0] for r in hazards)
    population = page.inner_text("#em-incident [data-section=em_population]")
    assert "合计" in population and "人" in population
    assert "mm/h" in page.inner_text("#em-incident [data-section=em_weather]")
    # the resources by drive time and the lifelines, as stored at activation (the dispatcher may
    # see every category), with their times in words; the lifelines drawn on the map
    resources, lifelines = rows(
        database_url,
        "SELECT context->'resources', context->'lifelines' FROM incidents WHERE number = %(n)s",
        n=number,
    )[0]
    assert resources and lifelines
    assert listed(page, "em_resources") == [r["name_zh"] for r in resources]
    assert listed(page, "em_lifelines") == [x["from"]["name_zh"] for x in lifelines]
    routes = page.inner_text("#em-incident [data-section=em_lifelines]")
    assert "分钟" in routes or "秒" in routes
    assert "车程" in page.inner_text("#em-incident [data-section=em_resources]")
    level_two = measures(database_url, "II")
    assert sorted(tasks_shown(page)) == sorted((d, t, "待接收") for d, t in level_two)
    readable(page.inner_text("#em-incident"))
    # the markers: every affected unit, and the place (its centre and the reach circle)
    kinds = (
        "(async () => { const d = await window.onemap.map.getSource('emergency').getData();"
        " const k = d.features.map(f => f.properties.kind);"
        " return k.includes('affected') && k; })()"
    )
    drawn = until(page, kinds)
    assert drawn.count("affected") == len(units) and drawn.count("centre") == 1
    assert drawn.count("camera") == len(cameras) and "area" in drawn
    assert drawn.count("lifeline") == sum(1 for x in lifelines if x["found"])
    labels = "window.onemap.map.getFilter('emergency-cell-labels')[2][1]"
    assert len(page.evaluate(labels)) == page.locator("[data-section=em_population] li").count()

    # an affected unit in the list: the map flies there and opens its popup
    first = page.locator("#em-incident [data-section=em_affected] li button.link").first
    name = first.inner_text()
    first.click()
    element(page, ".popup-facility")
    assert name in readable(page.inner_text(".popup-facility"))

    # the open cases nearby (the 200 nearest): a click opens the case's own popup
    open_cases = rows(
        database_url,
        "SELECT public_id FROM cases WHERE status IN ('reported', 'dispatched', 'in_progress',"
        f" 'resolved') AND {WITHIN} ORDER BY ST_Distance(geom::geography, {PLACE}), id LIMIT 200",
        **near,
    )
    shown = page.locator("#em-incident [data-section=em_cases] li .sub").all_inner_texts()
    assert [s.split(" · ")[0] for s in shown] == [r[0] for r in open_cases] != []
    page.locator("#em-incident [data-section=em_cases] li button.link").first.click()
    element(page, ".popup-case[data-case-id] .timeline")
    assert open_cases[0][0] in readable(page.inner_text(".popup-case"))

    # in English, the same panel in words
    page.click("#lang")
    text = readable(page.inner_text("#em-incident"))
    assert "Tasks by department" in text and "Affected units" in text and "Pending" in text
    page.click("#lang")
    shot(page, "incident")

    # a second seat opens it from the list and moves tasks; the first sees it without reload
    other, other_console = signed_in(chrome, site, *DISPATCHER)
    open_emergency(other)
    other.locator("#em-list li", has_text=number).locator("button").click()
    element(other, "#em-incident[data-incident] .em-head")
    page.fill("#em-summary", "草稿：积水正在消退")  # being typed while the panel updates
    fire_task = next(t for d, t in level_two if d == "消防救援支队")

    other.locator(".em-task", has_text=fire_task).locator("[data-step=accepted]").click()
    until(other, "document.getElementById('em-state').innerText.includes('已接收')")
    until(page, shows_task(fire_task, "accepted"))
    assert task_status(page, fire_task) == "已接收"
    assert "任务接收" in page.inner_text("#em-live")
    assert page.input_value("#em-summary") == "草稿：积水正在消退"
    page.fill("#em-summary", "")

    power_task = next(t for d, t in level_two if d == "市区供电公司")
    row = other.locator(".em-task", has_text=power_task)
    row.locator("[data-step=refused]").click()
    row.locator("[data-step=refused-confirm]").click()
    assert "请先填写拒绝理由" in other.inner_text("#em-state")
    row.locator("input").fill("该区域无配电设施")
    row.locator("[data-step=refused-confirm]").click()
    until(page, shows_task(power_task, "refused"))
    assert "该区域无配电设施" in page.locator(".em-task", has_text=power_task).inner_text()

    # level I: a reason is needed; then level I's tasks are added
    page.select_option("#em-new-level", "I")
    page.click("#em-change")
    assert "请填写调整理由" in page.inner_text("#em-state")
    page.fill("#em-level-reason", "积水深度超过50厘米")
    page.click("#em-change")
    until(page, "document.querySelector('#em-incident .em-head').dataset.level === 'I'")
    shown = tasks_shown(page)
    assert len(shown) == len(level_two) + len(measures(database_url, "I"))
    for d, t in measures(database_url, "I"):
        assert (d, t, "待接收") in shown
    assert "Ⅰ级（特别重大）" in page.inner_text("#em-incident .em-head")
    until(other, "document.querySelector('#em-incident .em-head').dataset.level === 'I'")

    # close with a summary: both seats see it closed
    page.click("#em-close")
    assert "请填写事件总结" in page.inner_text("#em-state")
    page.fill("#em-summary", "积水已退，转移群众86人，无人员伤亡")
    page.click("#em-close")
    until(page, "document.querySelector('#em-incident .em-head').dataset.status === 'closed'")
    head = readable(page.inner_text("#em-incident .em-head"))
    assert "已结束" in head and "积水已退，转移群众86人，无人员伤亡" in head
    assert (
        page.locator("#em-change").count() == 0
        and page.locator("#em-incident [data-step]").count() == 0
    )
    until(other, "document.querySelector('#em-incident .em-head').dataset.status === 'closed'")
    until(page, f"!document.getElementById('em-list').innerText.includes('{number}')")
    assert console.errors == [] and other_console.errors == []
    other.context.close()
    page.context.close()


def screen(page: Page, lon: float, lat: float, dx: float = 0, dy: float = 0) -> tuple[float, float]:
    """Where [lon, lat] is on the screen, moved by (dx, dy) pixels."""
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project([{lon}, {lat}]); return [p.x + c.left, p.y + c.top]; }})()"
    )
    return x + dx, y + dy


def test_an_area_drawn_on_the_map_is_the_incidents_place(
    site: str, chrome: Browser, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        lon, lat = waterlogging_point(conn, 1000)
    flood = rows(database_url, "SELECT id FROM plans WHERE number = %(n)s", n=FLOOD_NUMBER)[0][0]
    page, console = signed_in(chrome, site, *DISPATCHER)
    open_emergency(page)
    until(page, "document.querySelectorAll('#em-plan option').length > 0")
    page.select_option("#em-plan", str(flood))
    page.select_option("#em-level", "III")
    jump(page, [lon, lat], 14.5)
    page.click("#em-draw")
    for dx, dy in ((-180, -140), (200, -120)):
        page.mouse.click(*screen(page, lon, lat, dx, dy))
    assert "2 个顶点" in page.inner_text("#em-place")
    page.click("#em-draw-done")
    assert "至少需要 3 个顶点" in page.inner_text("#em-state")
    page.mouse.click(*screen(page, lon, lat, 20, 190))
    page.click("#em-draw-done")
    assert "3 个顶点的多边形" in page.inner_text("#em-place")
    page.click("#em-activate")
    element(page, "#em-incident .em-head")
    assert "划定范围内" in readable(page.inner_text("#em-incident .em-head"))
    made = rows(database_url, "SELECT id, ST_NPoints(geom) FROM incidents ORDER BY id DESC LIMIT 1")
    assert made[0][1] == 4  # a closed ring of three corners
    inside = rows(
        database_url,
        "SELECT f.name_zh FROM facilities f, incidents i WHERE i.id = %(i)s"
        " AND f.category = ANY(%(c)s) AND ST_Intersects(f.geom, i.geom)",
        i=made[0][0],
        c=list(AFFECTED),
    )
    assert inside and sorted(listed(page, "em_affected")) == sorted(r[0] for r in inside)
    assert len(tasks_shown(page)) == len(measures(database_url, "III"))
    assert console.errors == []
    page.context.close()


def test_the_keyboard_reaches_the_activation_and_activates_at_the_map_centre(
    site: str, chrome: Browser, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        lon, lat = waterlogging_point(conn, 500)
    page, console = signed_in(chrome, site, *DISPATCHER)
    jump(page, [lon, lat], 15)
    page.focus("[data-tab=emergency]")
    page.keyboard.press("Enter")
    element(page, "#em-start:not([hidden])")
    until(page, "document.querySelectorAll('#em-plan option').length > 0")
    seen: list[str] = []
    while "em-centre" not in seen and len(seen) < 12:
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate("document.activeElement.id || document.activeElement.dataset.tab")
        )
    at = seen.index("em-plan")
    assert seen[at:] == ["em-plan", "em-level", "em-pick", "em-centre"], seen
    visible = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert visible != "none"
    page.keyboard.press("Enter")
    assert "500 m" not in page.inner_text("#em-place")  # II by default: 2 km
    page.focus("#em-level")
    page.select_option("#em-level", "IV")
    assert "500 m" in page.inner_text("#em-place")
    page.focus("#em-activate")
    page.keyboard.press("Enter")
    element(page, "#em-incident .em-head")
    assert "Ⅳ级（一般）" in readable(page.inner_text("#em-incident .em-head"))
    accept = page.locator("#em-incident [data-step=accepted]").first
    accept.focus()
    page.keyboard.press(" ")
    until(page, "document.querySelectorAll('.em-task[data-status=accepted]').length === 1")
    assert page.evaluate("document.activeElement.id") == "em-state"
    assert console.errors == []
    page.context.close()


def test_an_analyst_follows_incidents_without_command_and_a_forced_call_is_refused(
    site: str, chrome: Browser, database_url: str, tokens: TokenService
) -> None:
    with psycopg.connect(database_url) as conn:
        lon, lat = waterlogging_point(conn, 1000)
    dispatcher = token_of(tokens, database_url, DISPATCHER[0])
    flood = str(
        rows(database_url, "SELECT id FROM plans WHERE number = %(n)s", n=FLOOD_NUMBER)[0][0]
    )
    point = {"lon": lon, "lat": lat}
    made = graphql(
        site,
        dispatcher,
        "incidents",
        "ActivatePlan",
        {"planId": flood, "level": "III", "point": point},
    )
    incident = made["data"]["activatePlan"]["incident"]

    page, console = signed_in(chrome, site, *ANALYST)
    open_emergency(page)
    assert page.locator("#em-start").is_hidden()
    assert "应急指挥权限" in page.inner_text("#em-read-only")
    page.locator("#em-list li", has_text=incident["number"]).locator("button").click()
    element(page, "#em-incident .em-head")
    text = readable(page.inner_text("#em-incident"))
    assert "任务（按部门）" in text and "待接收" in text
    assert (
        page.locator("#em-change").count() == 0
        and page.locator("#em-incident [data-step]").count() == 0
    )
    assert console.errors == []

    analyst = token_of(tokens, database_url, ANALYST[0])
    before = rows(database_url, "SELECT count(*) FROM incidents")[0][0]
    forced = graphql(
        site, analyst, "incidents", "ActivatePlan", {"planId": flood, "level": "II", "point": point}
    )
    assert forced["data"]["activatePlan"]["code"] == "FORBIDDEN"
    task = incident["tasks"][0]["id"]
    moved = graphql(
        site, analyst, "incidents", "UpdateIncidentTask", {"id": task, "status": "ACCEPTED"}
    )
    assert moved["data"]["updateIncidentTask"]["code"] == "FORBIDDEN"
    assert rows(database_url, "SELECT count(*) FROM incidents")[0][0] == before
    graphql(
        site,
        dispatcher,
        "incidents",
        "CloseIncident",
        {"id": incident["id"], "summary": "测试结束"},
    )
    page.context.close()
