"""Helpers for the map view's browser tests that read what a person reads (popups, panels,
the workflow steps): the page's vocabulary, the city's clock, and ways to open a popup as a
person does (by clicking where the thing is drawn)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from playwright.sync_api import Browser, ElementHandle, Page, ViewportSize, sync_playwright

from geo import access
from geo.access import Principal
from geo.services.identity import jurisdiction_of
from server.mapview.routes import STATIC
from tests.test_mapview_browser import (
    ARGS,
    CHROMIUM,
    Console,
    _graphql,
    jump,
    log_in,
    open_page,
    settle,
    until,
)

DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
DEPARTMENT_STAFF = ("13800000005", "onemap-demo")
CITY = ZoneInfo("Asia/Shanghai")
UNREADABLE = re.compile(r"\[object|\bundefined\b|\bnull\b|\bNaN\b")
#: Every layer a click may open, in the page's order of preference (app.js CLICKABLE).
CLICKABLE = (
    "['emergency-points', 'emergency-plot-points', 'emergency-plot-lines', "
    "'emergency-plot-dashes', 'sensors', 'cameras', 'live', 'cases', 'case-cells', 'facilities', "
    "'incident-points', 'buildings', 'warnings-fill', 'emergency-plot-fill']"
)


def readable(text: str) -> str:
    """The text, after checking that nothing in it is a program's value instead of words."""
    assert not UNREADABLE.search(text), text
    return text


def vocab(table: str) -> dict[str, str]:
    """The Chinese names of a vocab.js table (the page's vocabulary), by code."""
    text = (STATIC / "vocab.js").read_text(encoding="utf-8")
    body = re.search(rf"export const {table} = \{{(.*?)\}};", text, re.S)
    assert body is not None, table
    return dict(re.findall(r'\b([a-z_]+): \["([^"]+)"', body.group(1)))


def shanghai(value: datetime) -> str:
    """A time as the page writes it in Chinese (zh-CN, the city's time zone)."""
    return value.astimezone(CITY).strftime("%Y/%m/%d %H:%M")


def one(database_url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None, (query, args)
    return row


def click_feature(page: Page, layer: str, zoom: float, where: str = "true") -> None:
    """Centre the map on a rendered feature of ``layer`` (``where``: a JS test of ``f``) at
    ``zoom`` and click it where a person would: on its point on the screen."""
    coords = page.evaluate(
        f"window.onemap.map.queryRenderedFeatures({{layers: ['{layer}']}})"
        f".filter(f => {where}).map(f => f.geometry.coordinates)[0]"
    )
    assert coords, f"no {layer} feature where {where}"
    jump(page, coords, zoom)
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project({coords}); return [p.x + c.left, p.y + c.top]; }})()"
    )
    page.mouse.click(x, y)


def element(page: Page, selector: str, timeout_ms: float = 30000) -> ElementHandle:
    """The element once it shows."""
    found = page.wait_for_selector(selector, timeout=timeout_ms)
    assert found is not None, selector
    return found


def popup_text(page: Page, selector: str) -> str:
    return readable(page.locator(selector).inner_text())


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with software WebGL and WebRTC on loopback."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Browser, base: str, phone: str, password: str) -> tuple[Page, Console]:
    """A desktop-sized page, logged in as the user of ``phone`` through the login dialog."""
    page, console = open_page(browser, base, viewport=DESKTOP)
    log_in(page, phone, password)
    page.wait_for_selector("#logout:not([hidden])")
    until(page, "!!window.onemap.map.getSource('cases') && window.onemap.map.loaded()")
    settle(page)
    return page, console


def graphql(base: str, token: str, document: str, name: str, variables: dict[str, Any]) -> Any:
    """Operation ``name`` of a contract document, sent to the server as a front end sends it."""
    return _graphql(base, token, document, name, variables)


def allowed(base: str, token: str, case_id: int) -> set[str]:
    """The steps the server lists for this user and case, as the popup offers them (all but
    marking a duplicate, which needs the original case: GraphQL's alone)."""
    answer = graphql(base, token, "case_detail", "CaseDetail", {"id": str(case_id)})
    listed = {a.lower() for a in answer["data"]["case"]["allowedActions"]}
    return listed - {"mark_duplicate"}


def shown_steps(page: Page) -> list[str]:
    buttons = page.query_selector_all(".popup-case [data-action]")
    return [str(b.get_attribute("data-action")) for b in buttons]


async def principal(database_url: str, phone: str) -> Principal:
    """The principal a log-in gives: the account's roles and its jurisdiction."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (
            await conn.execute("SELECT id, roles FROM users WHERE phone = %s", [phone])
        ).fetchone()
        assert row is not None
        return Principal(row[0], frozenset(row[1]), None, await jurisdiction_of(conn, row[0]))


def principal_of(database_url: str, phone: str) -> Principal:
    """:func:`principal`, from sync code beside Playwright's own event loop (in a thread)."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, principal(database_url, phone)).result()


def token_of(tokens: Any, database_url: str, phone: str) -> str:
    """An access token as a log-in would give this user (roles and jurisdiction)."""
    who = principal_of(database_url, phone)
    return str(tokens.issue_access(who.user_id, sorted(who.roles), jurisdiction=who.jurisdiction))


#: A case of a status in a scope with nothing else clickable within 25 m: at zoom 18 a click
#: on its point can only mean it.
QUIET_CASE = """
SELECT c.id, ST_X(c.geom), ST_Y(c.geom) FROM cases c WHERE c.status = %s AND ({scope})
AND NOT EXISTS (SELECT 1 FROM cases o WHERE o.id <> c.id
                AND ST_DWithin(o.geom::geography, c.geom::geography, 25))
AND NOT EXISTS (SELECT 1 FROM facilities f
                WHERE ST_DWithin(f.geom::geography, c.geom::geography, 25))
AND NOT EXISTS (SELECT 1 FROM cameras k
                WHERE ST_DWithin(k.geom::geography, c.geom::geography, 25))
ORDER BY c.id LIMIT 1
"""


def open_case(page: Page, case_id: int, lon: float, lat: float) -> None:
    """Go to a case at zoom 18 and click its point; wait for its full popup."""
    jump(page, [lon, lat], 18)
    drawn = "window.onemap.map.queryRenderedFeatures({layers: ['cases', 'live']})"
    until(page, f"{drawn}.some(f => String(f.id ?? f.properties.id) === '{case_id}')")
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getContainer().getBoundingClientRect();"
        f" const p = m.project([{lon}, {lat}]); return [p.x + c.left, p.y + c.top]; }})()"
    )
    page.mouse.click(x, y)
    page.wait_for_selector(f".popup-case[data-case-id='{case_id}'] .timeline")


def open_staff_case(page: Page, database_url: str, phone: str, status: str) -> int:
    """Open the popup of a case of ``status`` that the user of ``phone`` may see in full."""
    scope = access.case_scope(principal_of(database_url, phone), "c")
    case_id, lon, lat = one(database_url, QUIET_CASE.format(scope=scope), status)
    open_case(page, case_id, lon, lat)
    return int(case_id)
