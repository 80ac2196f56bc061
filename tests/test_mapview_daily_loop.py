"""The city's daily loop through the map view, in real headless Chromium: one hotline case is
carried by five people, each clicking its popup as they would — the dispatcher dispatches,
transfers it and names a co-handling department; the supervisor supervises it (督办); the
handling department answers the supervision, starts and resolves it; the grid worker of its
cell checks it on site with a photo and the browser's position (核查); the dispatcher closes it;
the hotline call-taker calls the caller back (回访). After each step the test reads what the
person sees (the status line, the new timeline entry, the clock line), and at the end holds the
case's timeline in the database against the steps taken. A second test shows a step that is
not the user's is not offered, and a refusal by the server reads as words and writes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from geo.passwords import hash_password
from tests.mapview_helpers import (
    DEPARTMENT_STAFF,
    DESKTOP,
    chromium,
    graphql,
    one,
    open_case,
    popup_text,
    shown_steps,
    signed_in,
    token_of,
)
from tests.running_server import running_server
from tests.test_mapview_browser import (
    CENTRE,
    DISPATCHER,
    Console,
    log_in,
    open_page,
    settle,
    shot,
    until,
)

SUPERVISOR = ("13800000013", "onemap-demo")
HOTLINE = ("13800000015", "onemap-demo")
PASSWORD = "onemap-demo"  # noqa: S105 - the demo accounts' password, given to one cell's worker
LEAD = "city_management"  # the department of the demo department account
#: A point near the centre, in a cell with a worker, with no case, facility or camera within
#: 30 m: a click there at zoom 18 can only mean the case made on it.
QUIET_POINT = """
SELECT ST_X(p), ST_Y(p), w FROM (
  SELECT ST_PointOnSurface(g.geom) AS p, g.worker_id AS w FROM grid_cells g
  WHERE g.worker_id IS NOT NULL
  ORDER BY g.geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 50) q
WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE ST_DWithin(c.geom::geography, p::geography, 30))
  AND NOT EXISTS (SELECT 1 FROM facilities f WHERE ST_DWithin(f.geom::geography, p::geography, 30))
  AND NOT EXISTS (SELECT 1 FROM cameras k WHERE ST_DWithin(k.geom::geography, p::geography, 30))
LIMIT 1
"""


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def execute(database_url: str, statement: str, *args: Any) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(statement, args)


def worker_phone(database_url: str, worker_id: int) -> str:
    """The phone of the cell's grid worker, given the demo password (seeded workers have none)."""
    execute(database_url, "UPDATE users SET password_hash = %s WHERE id = %s",
            hash_password(PASSWORD), worker_id)  # fmt: skip
    return str(one(database_url, "SELECT phone FROM users WHERE id = %s", worker_id)[0])


def on_site(
    browser: Browser, base: str, phone: str, lon: float, lat: float
) -> tuple[Page, Console]:
    """A logged-in page whose browser tells the page it stands at (lon, lat)."""
    page, console = open_page(browser, base, viewport=DESKTOP, permissions=["geolocation"],
                              geolocation={"longitude": lon, "latitude": lat})  # fmt: skip
    log_in(page, phone, PASSWORD)
    page.wait_for_selector("#logout:not([hidden])")
    until(page, "!!window.onemap.map.getSource('cases') && window.onemap.map.loaded()")
    settle(page)
    return page, console


def photo() -> dict[str, Any]:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 160)).save(out, "JPEG")
    return {"name": "site.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def step_done(page: Page, action_label: str, status_label: str) -> str:
    """Wait for the popup to say step ``action_label`` was done, the case now
    ``status_label``."""
    until(
        page,
        "(document.querySelector('.popup-case .action-done') || {textContent: ''})"
        f".textContent.includes('操作成功（{action_label}），当前状态：{status_label}')",
    )
    return popup_text(page, ".popup-case")


def last_entry(page: Page) -> str:
    return popup_text(page, ".popup-case .timeline li:last-child")


def clock(page: Page) -> str:
    return popup_text(page, ".popup-case .clock")


def take(page: Page, step: str, note: str | None = None) -> None:
    """Write the note (if any) and press the step's button."""
    if note is not None:
        page.fill(".popup-case textarea", note)
    page.click(f".popup-case [data-action={step}]")


def confirm(page: Page) -> None:
    page.click(".popup-case [data-confirm]")


def events(database_url: str, case_id: int) -> list[tuple[str, str | None]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT e.event_type, d.code FROM case_events e LEFT JOIN departments d "
            "ON d.id = e.department_id WHERE e.case_id = %s ORDER BY e.at, e.id",
            (case_id,),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_five_people_carry_one_case_round_the_daily_loop_in_the_map_view(
    chrome: Browser, site: str, tokens: Any, database_url: str
) -> None:
    lon, lat, worker = one(database_url, QUIET_POINT, *CENTRE)
    first, lead_name = one(
        database_url,
        "SELECT (SELECT d.code FROM departments d JOIN case_categories k ON k.department_id = "
        "d.id WHERE k.code = 'manhole_cover'), l.name_zh FROM departments l WHERE l.code = %s",
        LEAD,
    )
    assert first != LEAD  # the category's department is not the one it is transferred to
    hotline = token_of(tokens, database_url, HOTLINE[0])
    caller = {"name": "王女士", "phone": "13812345678", "consentCallback": True}
    new = {"category": "manhole_cover", "lon": lon, "lat": lat,
           "description": "井盖缺失有人险些踩空", "caller": caller}  # fmt: skip
    made = graphql(site, hotline, "hotline", "CreateHotlineCase", {"input": new})
    case_id = int(made["data"]["createHotlineCase"]["case"]["id"])

    # The dispatcher: dispatch, transfer to the lead department, name the first one to help.
    dispatcher, console = signed_in(chrome, site, *DISPATCHER)
    open_case(dispatcher, case_id, lon, lat)
    assert "受理派遣" in clock(dispatcher) and "正常" in clock(dispatcher)
    assert "supervise" not in shown_steps(dispatcher)  # not a dispatcher's step
    take(dispatcher, "dispatch")
    step_done(dispatcher, "派遣", "已派遣")
    assert "处置" in clock(dispatcher) and "截止" in clock(dispatcher)
    take(dispatcher, "transfer", "属于执法范围")
    dispatcher.click(f".popup-case .step-form label:has-text('{lead_name}') input")
    shot(dispatcher, "loop-transfer")
    confirm(dispatcher)
    step_done(dispatcher, "转办", "已派遣")
    assert "转办" in last_entry(dispatcher) and "属于执法范围" in last_entry(dispatcher)
    assert one(database_url, "SELECT d.code FROM cases c JOIN departments d ON "
               "d.id = c.department_id WHERE c.id = %s", case_id)[0] == LEAD  # fmt: skip
    first_name = one(database_url, "SELECT name_zh FROM departments WHERE code = %s", first)[0]
    take(dispatcher, "add_co_handlers", "请协助排查管网")
    dispatcher.click(f".popup-case .step-form label:has-text('{first_name}') input")
    confirm(dispatcher)
    step_done(dispatcher, "协办部门", "已派遣")
    assert "分派协办" in last_entry(dispatcher) and first_name in last_entry(dispatcher)
    dispatcher.click(".maplibregl-popup-close-button")

    # The supervisor: 督办 with a deadline and a note.
    supervisor, supervisor_console = signed_in(chrome, site, *SUPERVISOR)
    try:
        open_case(supervisor, case_id, lon, lat)
        assert "supervise" in shown_steps(supervisor)
        assert not {"dispatch", "transfer", "start"} & set(shown_steps(supervisor))
        take(supervisor, "supervise", "群众反映强烈，请两日内处置")
        assert supervisor.locator(".popup-case input[type=datetime-local]").input_value()
        confirm(supervisor)
        step_done(supervisor, "督办", "已派遣")
        assert "督办" in last_entry(supervisor) and "两日内" in last_entry(supervisor)
        shot(supervisor, "loop-supervised")
        assert "supervise" not in shown_steps(supervisor)  # one open supervision at a time
        assert supervisor_console.errors == []
    finally:
        supervisor.context.close()

    # The lead department: answer the supervision, start, (its helper finishes), resolve.
    department, department_console = signed_in(chrome, site, *DEPARTMENT_STAFF)
    try:
        open_case(department, case_id, lon, lat)
        text = popup_text(department, ".popup-case")
        assert "督办待回复" in text and "两日内" in text
        assert {"answer_supervision", "start"} <= set(shown_steps(department))
        take(department, "answer_supervision", "已安排执法队员今日到场")
        step_done(department, "回复督办", "已派遣")
        assert "督办回复" in last_entry(department)
        assert "督办待回复" not in popup_text(department, ".popup-case")
        take(department, "start")
        step_done(department, "开始处置", "处置中")
        assert "resolve" not in shown_steps(department)  # the co-handling task is open
        # Parts must be bought: the department asks for 8 more working hours (延期).
        take(department, "request_extension", "需要采购新井盖")
        department.fill(".popup-case input[type=number]", "8")
        confirm(department)
        step_done(department, "申请延期", "处置中")
        assert "申请延期" in last_entry(department) and "待审批" in clock(department)
        assert "request_extension" not in shown_steps(department)  # one request at a time

        # The dispatcher approves it.
        open_case(dispatcher, case_id, lon, lat)
        assert "待审批：申请延期" in clock(dispatcher)
        take(dispatcher, "approve_clock_request", "同意延期一天")
        step_done(dispatcher, "批准申请", "处置中")
        assert "延期" in last_entry(dispatcher) and "待审批" not in clock(dispatcher)
        dispatcher.click(".maplibregl-popup-close-button")

        # The helping department has no demo account (README): its staff finish its task
        # through GraphQL, as their own front end would.
        helper_phone, task_id = one(
            database_url,
            "SELECT u.phone, k.id FROM case_tasks k JOIN users u ON u.department_id = "
            "k.department_id WHERE k.case_id = %s ORDER BY u.id LIMIT 1",
            case_id,
        )
        helper = token_of(tokens, database_url, helper_phone)
        done = graphql(site, helper, "collaboration", "FinishTask",
                       {"taskId": str(task_id), "note": "管网已排查无渗漏"})  # fmt: skip
        assert done["data"]["finishTask"]["__typename"] == "CasePayload", done
        department.click(".maplibregl-popup-close-button")
        open_case(department, case_id, lon, lat)
        assert "协办完成" in popup_text(department, ".popup-case .timeline")
        take(department, "resolve", "已补装井盖并设置警示")
        step_done(department, "处置完毕", "待核查")
        assert "处置完毕" in last_entry(department) and "核查结案" in clock(department)
        assert department_console.errors == []
    finally:
        department.context.close()

    # The cell's grid worker, standing by the case: the check with a photo and the position.
    worker_page, worker_console = on_site(chrome, site, worker_phone(database_url, worker),
                                          lon + 0.0002, lat)  # fmt: skip
    try:
        open_case(worker_page, case_id, lon, lat)
        assert "check" in shown_steps(worker_page)
        take(worker_page, "check", "井盖已补装牢固")
        worker_page.set_input_files(".popup-case input[type=file]", [photo()])
        shot(worker_page, "loop-check")
        confirm(worker_page)
        step_done(worker_page, "现场核查", "待核查")
        assert "核查通过" in last_entry(worker_page) and "井盖已补装牢固" in last_entry(worker_page)
        checked = one(database_url, "SELECT passed, distance_m, cardinality(photo_ids) FROM "
                      "case_checks WHERE case_id = %s", case_id)  # fmt: skip
        assert checked[0] is True and 10 < checked[1] < 40 and checked[2] == 1
        assert "check" not in shown_steps(worker_page)
        assert worker_console.errors == []
    finally:
        worker_page.context.close()

    # The dispatcher closes it.
    open_case(dispatcher, case_id, lon, lat)
    take(dispatcher, "close")
    text = step_done(dispatcher, "结案", "结案")
    assert "结案" in last_entry(dispatcher)
    assert dispatcher.locator(".popup-case .clock").count() == 0  # a closed case has no clock
    assert "callback" not in shown_steps(dispatcher)
    assert console.errors == [], text
    dispatcher.context.close()

    # The hotline call-taker calls the caller back: satisfied.
    call_taker, call_console = signed_in(chrome, site, *HOTLINE)
    try:
        # Closed cases are not drawn by default: the call-taker ticks them in the legend.
        call_taker.check("[data-layer='status:closed']")
        open_case(call_taker, case_id, lon, lat)
        assert "callback" in shown_steps(call_taker)
        take(call_taker, "callback", "已修好，谢谢")
        assert call_taker.locator(".popup-case input[value=SATISFIED]").is_checked()
        until(call_taker, "document.querySelector('.popup-case .step-form input[name^=caller]')")
        assert "王女士 · 13812345678" in popup_text(call_taker, ".popup-case .step-form")
        confirm(call_taker)
        step_done(call_taker, "回访", "结案")
        assert "回访" in last_entry(call_taker) and "满意" in last_entry(call_taker)
        assert "callback" not in shown_steps(call_taker)
        shot(call_taker, "loop-callback-done")
        assert call_console.errors == []
    finally:
        call_taker.context.close()

    assert events(database_url, case_id) == [
        ("reported", None),
        ("dispatched", first),
        ("transferred", LEAD),
        ("task_assigned", first),
        ("supervised", None),
        ("supervision_answered", None),
        ("started", None),
        ("extension_requested", None),
        ("extended", None),
        ("task_done", first),
        ("resolved", None),
        ("checked", None),
        ("closed", None),
        ("callback_recorded", None),
    ]
    satisfaction = one(database_url, "SELECT status, satisfaction FROM case_callbacks "
                       "WHERE case_id = %s", case_id)  # fmt: skip
    assert satisfaction == ("done", "satisfied")


def test_a_step_not_yours_is_not_offered_and_a_refusal_reads_as_words(
    chrome: Browser, site: str, tokens: Any, database_url: str
) -> None:
    lon, lat, worker = one(database_url, QUIET_POINT, *CENTRE)
    dispatcher = token_of(tokens, database_url, DISPATCHER[0])
    new = {"category": "manhole_cover", "lon": lon, "lat": lat, "description": "井盖松动"}
    case_id = graphql(site, dispatcher, "dispatch_flow", "CreateCase", {"input": new})["data"][
        "createCase"]["case"]["id"]  # fmt: skip
    for op, extra in (("DispatchCase", {}), ("StartCase", {}), ("ResolveCase", {"note": "已加固"})):
        answer = graphql(site, dispatcher, "dispatch_flow", op, {"id": case_id, **extra})
        assert next(iter(answer["data"].values()))["__typename"] == "CasePayload", answer

    # The dispatcher may not check on site, nor close before the check passed.
    page, console = signed_in(chrome, site, *DISPATCHER)
    try:
        open_case(page, int(case_id), lon, lat)
        steps = shown_steps(page)
        assert "check" not in steps and "close" not in steps and "reopen" in steps
        assert console.errors == []
    finally:
        page.context.close()

    # The cell's worker, 2 km away: the check is offered, the server refuses it, in words.
    before = len(events(database_url, int(case_id)))
    far, far_console = on_site(chrome, site, worker_phone(database_url, worker), lon + 0.02, lat)
    try:
        far.click("#lang")  # in English this time: the popup's words follow the page
        open_case(far, int(case_id), lon, lat)
        take(far, "check")
        assert far.inner_text(".popup-case [data-confirm]") == "Confirm: On-site check"
        assert "Photos taken on site" in popup_text(far, ".popup-case .step-form")
        confirm(far)  # no photo yet: said, nothing sent
        assert "Choose the photos taken on site first." in popup_text(
            far, ".popup-case .action-state")  # fmt: skip
        far.set_input_files(".popup-case input[type=file]", [photo()])
        confirm(far)
        until(far, "document.querySelector('.popup-case .action-state.error')")
        message = popup_text(far, ".popup-case .action-state")
        assert "m from case" in message and "within" in message, message
        assert len(events(database_url, int(case_id))) == before
        assert one(database_url, "SELECT count(*) FROM case_checks WHERE case_id = %s",
                   int(case_id))[0] == 0  # fmt: skip
        assert far_console.errors == []
    finally:
        far.context.close()
