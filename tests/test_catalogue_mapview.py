"""The catalogue's department layers in the map view, in a real Chromium: the demo city's
planning zones and ecological red lines (public) are in every visitor's layer list and drawn
on the map; the water-supply pipes (internal) only once a member of staff logs in; a switch in
the list hides a layer. And a layer registered from the command line while the server runs is
in the next visitor's list (docs/catalogue.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import ROOT, database_roles
from tests.mapview_helpers import DEPARTMENT_STAFF, chromium, click_feature, popup_text
from tests.running_server import running_server
from tests.test_mapview_browser import jump, log_in, open_page, settle, until

pytestmark = pytest.mark.slow
ONEMAP = str(Path(sys.executable).with_name("onemap"))
#: A grid cell's middle in the city centre (the planning zones tile the grid).
CENTRE = [121.4737, 31.2304]


@pytest.fixture(scope="module")
def base(database_url: str) -> Iterator[str]:
    with running_server(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _listed(page: Page) -> dict[str, str]:
    """The department layers in the layer list: data-layer → the label a person reads."""
    found: dict[str, str] = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#legend-catalogue input')]"
        ".map((b) => [b.dataset.layer, b.closest('label').textContent.trim()]))"
    )
    return found


def _drawn(page: Page, layer: str) -> int:
    count: int = page.evaluate(
        f"window.onemap.map.queryRenderedFeatures({{layers: ['{layer}']}}).length"
    )
    return count


def test_visitors_see_the_public_department_layers_drawn(browser: Browser, base: str) -> None:
    page, console = open_page(browser, base, viewport={"width": 1280, "height": 800})
    try:
        listed = _listed(page)
        assert listed["catalogue:planning_zones"] == "控制性详细规划 Planning zones"
        assert listed["catalogue:ecological_red_lines"] == "生态保护红线 Ecological red lines"
        assert "catalogue:water_pipes" not in listed
        assert page.is_visible("#catalogue-heading")
        jump(page, CENTRE, 14)
        until(page, "window.onemap.map.queryRenderedFeatures({layers: "
                    "['catalogue:planning_zones:fill']}).length > 0")  # fmt: skip
        zones = page.evaluate(
            "window.onemap.map.queryRenderedFeatures({layers: ['catalogue:planning_zones:fill']})"
            ".map((f) => f.properties.land_use)"
        )
        assert set(zones) <= {"residential", "commercial", "mixed", "industrial", "green",
                              "public_service"}  # fmt: skip
        page.click("input[data-layer='catalogue:planning_zones']")
        until(page, "window.onemap.map.getLayoutProperty('catalogue:planning_zones:fill', "
                    "'visibility') === 'none'")  # fmt: skip
        until(page, "window.onemap.map.queryRenderedFeatures({layers: "
                    "['catalogue:planning_zones:fill']}).length === 0")  # fmt: skip
        assert (
            page.evaluate(
                "window.onemap.map.getLayoutProperty("
                "'catalogue:ecological_red_lines:fill', 'visibility')"
            )
            != "none"
        )
        assert not console.errors
    finally:
        page.context.close()


def test_staff_see_the_internal_pipe_network(browser: Browser, base: str) -> None:
    page, console = open_page(browser, base, viewport={"width": 1280, "height": 800})
    try:
        log_in(page, *DEPARTMENT_STAFF)
        page.wait_for_selector("#logout:not([hidden])")
        until(page, "!!document.querySelector(\"input[data-layer='catalogue:water_pipes']\")")
        assert _listed(page)["catalogue:water_pipes"] == "供水管网 Water-supply pipe network"
        settle(page)
        jump(page, CENTRE, 14)
        until(page, "window.onemap.map.queryRenderedFeatures({layers: "
                    "['catalogue:water_pipes:line']}).length > 0")  # fmt: skip
        assert not console.errors
    finally:
        page.context.close()


def test_a_layer_registered_from_the_command_line_joins_the_list(
    browser: Browser, base: str, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS test_map_trees; "
            "CREATE TABLE test_map_trees (id integer PRIMARY KEY, species text, "
            "geom geometry(Point, 4326)); "
            "INSERT INTO test_map_trees SELECT i, 'ginkgo', "
            "ST_SetSRID(ST_MakePoint(121.4737 + i * 0.0005, 31.2304), 4326) "
            "FROM generate_series(1, 10) i"
        )
        conn.execute(f'GRANT SELECT ON test_map_trees TO "{database_roles().app}"')
    env = {**os.environ, "ONEMAP_DATABASE_URL": database_url, "ONEMAP_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [ONEMAP, "layers", "register", "test_map_trees", "test_map_trees", "--title",
         "古树名木 Heritage trees", "--owner", "greening_landscape", "--data-class", "public",
         "--licence", "CC-BY-4.0"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    try:
        page, console = open_page(browser, base, viewport={"width": 1280, "height": 800})
        try:
            for _ in range(50):  # the server hears of it by NOTIFY, in well under a second
                if "catalogue:test_map_trees" in _listed(page):
                    break
                page.reload()
                settle(page)
            assert _listed(page)["catalogue:test_map_trees"] == "古树名木 Heritage trees"
            jump(page, CENTRE, 15)
            until(page, "window.onemap.map.queryRenderedFeatures({layers: "
                        "['catalogue:test_map_trees:point']}).length > 0")  # fmt: skip
            click_feature(page, "catalogue:test_map_trees:point", 17)
            shown = popup_text(page, ".onemap-popup")
            assert "古树名木 Heritage trees" in shown and "ginkgo" in shown
            assert not console.errors
        finally:
            page.context.close()
    finally:
        subprocess.run([ONEMAP, "layers", "unregister", "test_map_trees"], env=env, cwd=ROOT,
                       capture_output=True, timeout=60, check=False)  # fmt: skip
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE test_map_trees")
