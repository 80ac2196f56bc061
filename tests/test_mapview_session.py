"""The command-centre screen stays live across token refreshes: the server ends a subscription
when the token it was opened with expires, so the map view reconnects on every refresh and the
live feed carries on. Driven in real headless Chromium against a server whose access tokens
last 30 s (the shortest the settings allow)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser

from tests.running_server import running_server
from tests.test_mapview_browser import (
    DISPATCHER,
    _create_case,
    browser,  # noqa: F401 - the module's Chromium, reused
    log_in,
    open_page,
    until,
)

TTL_S = 30


@pytest.fixture(scope="module")
def short_lived(database_url: str) -> Iterator[str]:
    with running_server(database_url, ONEMAP_AUTH_ACCESS_TTL_S=str(TTL_S)) as url:
        yield url


def test_the_live_feed_carries_on_past_the_first_token(
    browser: Browser,  # noqa: F811
    short_lived: str,
    tokens: Any,
    database_url: str,
) -> None:
    page, console = open_page(browser, short_lived, viewport={"width": 1280, "height": 800})
    try:
        log_in(page, *DISPATCHER)
        page.wait_for_selector("#logout:not([hidden])")
        page.click("[data-tab=feed]")
        time.sleep(TTL_S + 4)  # the first token has expired; the page refreshed it at 80 %
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT id FROM users WHERE phone = %s", [DISPATCHER[0]]).fetchone()
        assert row is not None
        case_id = _create_case(short_lived, tokens.issue_access(row[0], ["dispatcher"]))
        item = page.wait_for_selector(f"#feed [data-case-id='{case_id}']", timeout=15000)
        assert "垃圾满溢" in item.inner_text()
        notes = page.eval_on_selector_all("#feed li.note", "els => els.map(e => e.textContent)")
        assert not [n for n in notes if "ended" in n or "结束" in n], notes
        until(page, "!document.querySelector('#logout[hidden]')")
        assert console.errors == []
    finally:
        page.context.close()
