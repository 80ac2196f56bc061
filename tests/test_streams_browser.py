"""The player page in real headless Chromium (Debian's, driven by Playwright) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.test_streams_whep import DEMO, RunningServer, seeded_camera, stream_settings, token

pytestmark = pytest.mark.anyio

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # WebRTC on 127.0.0.1: allow loopback candidates, show real addresses instead of mDNS names.
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[RunningServer]:
    with RunningServer(stream_settings(database_url)) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def users(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = dict(conn.execute("SELECT phone, id FROM users").fetchall())
    return {name: int(rows[phone]) for name, phone in DEMO.items()}


async def until(page: Page, expression: str, timeout_s: float) -> None:
    """Poll ``expression`` (Playwright's wait_for_function evals in the page, which the page's
    Content-Security-Policy rightly forbids; evaluate goes through the debugger instead)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await page.evaluate(expression):
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {expression}"
        await asyncio.sleep(0.1)


async def test_chromium_plays_the_player_page(
    server: RunningServer, browser: Browser, users: dict[str, int], database_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    camera_id, _ = await seeded_camera(database_url, 4)
    page = await browser.new_page()
    url = f"{server.base}/streams/cameras/{camera_id}#token={token(server, users, 'viewer')}"
    response = await page.goto(url)
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.url.endswith(f"/streams/cameras/{camera_id}")  # the token left the address bar
    await until(page, "document.getElementById('video').videoWidth > 0", 20)
    first = await page.evaluate("document.getElementById('video').currentTime")
    await asyncio.sleep(1.5)
    later = await page.evaluate("document.getElementById('video').currentTime")
    assert later > first + 0.5, (first, later)
    size = await page.evaluate(
        "(v => [v.videoWidth, v.videoHeight])(document.querySelector('video'))"
    )
    assert size == [640, 360]
    assert await page.text_content("#state") == ""
    await page.screenshot(path=tmp_path / "player.png")
    assert len(server.app.state.streams.sessions.by_id) == 1
    await page.close()  # pagehide → DELETE
    for _ in range(50):
        if not server.app.state.streams.sessions.by_id:
            break
        await asyncio.sleep(0.1)
    assert not server.app.state.streams.sessions.by_id


async def test_the_player_says_why_it_cannot_play(
    server: RunningServer, browser: Browser, users: dict[str, int], database_url: str
) -> None:
    camera_id, _ = await seeded_camera(database_url, 4)
    page = await browser.new_page()
    analyst = token(server, users, "analyst")
    await page.goto(f"{server.base}/streams/cameras/{camera_id}#token={analyst}")
    await until(page, "document.getElementById('state').textContent.includes('roles')", 10)
    await page.goto(f"{server.base}/streams/cameras/{camera_id}")
    await page.evaluate("sessionStorage.clear()")
    await page.reload()
    assert "sign-in" in (await page.text_content("#state") or "")
    await page.close()
