"""Take the README's screenshot of the map view (docs/mapview.png) from a running server.

    scripts/dev serve                      # the demo city on http://127.0.0.1:8000
    .venv/bin/python web/screenshot.py     # [base URL] [output PNG]

Debian's chromium through Playwright: logs in as the demo dispatcher, runs the incident tool on
a point in the city and plays the nearest camera, then saves the page as a person sees it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ARGS = [
    "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
SETTLED = "(() => { const m = window.onemap && window.onemap.map; return !!(m &&"
SETTLED += " m.getSource('facilities') && m.loaded() && m.areTilesLoaded()); })()"


def until(page: Page, expression: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {expression}")
        time.sleep(0.2)


def main(base: str, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/")
        until(page, SETTLED)
        page.click("#login-open")
        page.fill("input[name=phone]", "13800000006")
        page.fill("input[name=password]", "onemap-demo")
        page.click("#login-form [type=submit]")
        until(page, "!!window.onemap.map.getSource('cameras')")
        until(page, SETTLED)
        page.click("[data-tab=incident]")
        page.select_option("#incident-radius", "500")
        page.click("#incident-pick")
        page.click("#map", position={"x": 480, "y": 380})
        page.wait_for_selector("#incident-results [data-section=cameras] button.play")
        until(page, SETTLED)
        page.locator("[data-section=cameras] button.play").first.click()
        until(page, "(document.querySelector('.popup-camera video') || {}).videoWidth > 0")
        page.evaluate("document.getElementById('panel').scrollTop = 0")
        time.sleep(1.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=out)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000",
        Path(
            sys.argv[2]
            if len(sys.argv) > 2
            else Path(__file__).parent.parent / "docs" / "mapview.png"
        ),
    )
