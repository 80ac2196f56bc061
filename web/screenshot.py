"""Take the map view's screenshots for the docs from a running server, in headless Chromium.

    scripts/dev serve                      # the demo city on http://127.0.0.1:8000
    .venv/bin/python web/screenshot.py     # [base URL] [output folder, default docs/]

Debian's chromium through Playwright. Two pictures, as a person sees the page:

- ``mapview.png`` (desktop, 1280×800): the demo dispatcher logged in, a reported case's popup
  open with its workflow steps (what the server allows this user), the filter panel beside it;
- ``mapview-phone.png`` (phone, 390×844): the public view after "locate me", the panel open as
  a bottom sheet;
- ``mapview-incident.png`` (desktop): the emergency mode — the dispatcher activates the flood
  plan (level II) at a waterlogging point: the reach circle, the markers, the grid cells with
  their population, and the panel's tasks by department. The incident is closed afterwards
  (the timeline keeps it: take this picture on a demo database).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

ARGS = [
    "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
SETTLED = "(() => { const m = window.onemap && window.onemap.map; return !!(m &&"
SETTLED += " m.getSource('facilities') && m.loaded() && m.areTilesLoaded()); })()"
CENTRE = [121.475, 31.235]


def until(page: Page, expression: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {expression}")
        time.sleep(0.2)


def jump(page: Page, centre: list[float], zoom: float) -> None:
    page.evaluate(f"window.onemap.map.jumpTo({{center: {centre}, zoom: {zoom}}})")
    until(page, SETTLED)


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    until(page, SETTLED)
    page.click("#login-open")
    page.fill("input[name=phone]", "13800000006")
    page.fill("input[name=password]", "onemap-demo")
    page.click("#login-form [type=submit]")
    until(page, "!!window.onemap.map.getSource('cameras')")


def desktop(browser: Browser, base: str, out: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, base)
    page.select_option("#case-mode", "points")
    jump(page, CENTRE, 13.5)
    # A reported case near the middle: move it a little below the centre, so the popup fits.
    coords = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getCenter();"
        " const fs = m.queryRenderedFeatures({layers: ['cases']})"
        "   .filter(f => f.properties.status === 'reported');"
        " fs.sort((a, b) => c.distanceTo({lng: a.geometry.coordinates[0],"
        "   lat: a.geometry.coordinates[1]}) - c.distanceTo({lng: b.geometry.coordinates[0],"
        "   lat: b.geometry.coordinates[1]}));"
        " return fs.length ? fs[0].geometry.coordinates : null; })()"
    )
    if coords is None:
        raise SystemExit("no reported case near the centre to show")
    jump(page, coords, 16.5)
    page.evaluate("window.onemap.map.panBy([0, -250], {animate: false})")
    until(page, SETTLED)
    x, y = page.evaluate(
        "(() => { const m = window.onemap.map; const r = m.getContainer().getBoundingClientRect();"
        f" const p = m.project({coords}); return [p.x + r.left, p.y + r.top]; }})()"
    )
    page.mouse.click(x, y)
    page.wait_for_selector(".popup-case [data-action]")
    page.evaluate("document.getElementById('panel').scrollTop = 420")
    time.sleep(1)
    page.screenshot(path=out)
    page.context.close()


def incident(browser: Browser, base: str, out: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, base)
    jump(page, CENTRE, 13)
    # the waterlogging point nearest the centre
    coords = page.evaluate(
        "(() => { const m = window.onemap.map; const c = m.getCenter();"
        " const fs = m.queryRenderedFeatures({layers: ['facilities']})"
        "   .filter(f => f.properties.category === 'waterlogging_point');"
        " const d = (f) => c.distanceTo({lng: f.geometry.coordinates[0],"
        "   lat: f.geometry.coordinates[1]});"
        " fs.sort((a, b) => d(a) - d(b));"
        " return fs.length ? fs[0].geometry.coordinates : null; })()"
    )
    if coords is None:
        raise SystemExit("no waterlogging point near the centre")
    page.click("[data-tab=emergency]")
    until(page, "document.querySelectorAll('#em-plan option').length > 0")
    flood = page.evaluate(
        "[...document.querySelectorAll('#em-plan option')]"
        ".find(o => o.textContent.includes('城市防汛应急预案')).value"
    )
    page.select_option("#em-plan", flood)
    page.select_option("#em-level", "II")
    jump(page, coords, 13.2)
    page.click("#em-centre")
    page.click("#em-activate")
    page.wait_for_selector("#em-incident .em-head")
    until(page, SETTLED)
    page.evaluate("document.querySelector('[data-section=em_tasks]').scrollIntoView()")
    time.sleep(1)
    page.screenshot(path=out)
    # 256 colours: the map's many cell outlines and labels make a 600 kB picture otherwise
    image = Image.open(out).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, optimize=True
    )
    page.fill("#em-summary", "截图演示结束 (screenshot demo)")
    page.click("#em-close")
    page.wait_for_selector("#em-incident .em-head[data-status=closed]")
    page.context.close()


def phone(browser: Browser, base: str, out: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        device_scale_factor=1, geolocation={"longitude": 121.4425, "latitude": 31.2215,
                                            "accuracy": 40}, permissions=["geolocation"],
    )  # fmt: skip
    page = context.new_page()
    page.goto(f"{base}/")
    until(page, SETTLED)
    page.click("#locate")
    until(page, "document.getElementById('toast').textContent.includes('已定位')")
    until(page, "!window.onemap.map.isMoving()")
    page.evaluate("window.onemap.map.panBy([0, 200], {animate: false})")  # above the sheet
    until(page, SETTLED)
    page.click("#panel-toggle")
    time.sleep(1)
    page.screenshot(path=out)
    context.close()


def main(base: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            desktop(browser, base, folder / "mapview.png")
            phone(browser, base, folder / "mapview-phone.png")
            incident(browser, base, folder / "mapview-incident.png")
        finally:
            browser.close()
    print(f"wrote mapview.png, mapview-phone.png and mapview-incident.png in {folder}")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000",
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent.parent / "docs",
    )
