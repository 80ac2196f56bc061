"""The open-data page (``/open``) in Debian's Chromium with JavaScript switched off, as a
person reads it: the datasets' Chinese and English titles and publishers, the stylesheet
loaded under the page's CSP, and a download link that saves a file a CSV reader opens."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.mapview_helpers import chromium
from tests.running_server import running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_server(database_url) as base:
        yield base


def test_the_page_works_without_javascript(server: str, db: psycopg.Connection[Any]) -> None:
    with chromium() as browser:
        context = browser.new_context(java_script_enabled=False, accept_downloads=True)
        page = context.new_page()
        styles: list[int] = []
        page.on("response", lambda r: styles.append(r.status) if r.url.endswith(".css") else None)
        failed: list[str] = []  # any asset that did not load (the browser's own favicon aside)
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400
                and not r.url.endswith("/favicon.ico") else None)  # fmt: skip
        page.goto(f"{server}/open")
        headings = [h.strip() for h in page.locator("section.dataset h2").all_inner_texts()]
        assert any("道路" in h and "Roads" in h for h in headings), headings
        assert any("行政区划" in h and "Administrative areas" in h for h in headings), headings
        assert not any("建筑物" in h or "Buildings" in h for h in headings)
        roads = page.locator("section#roads")
        assert "交通委员会" in roads.inner_text() and "Transport Commission" in roads.inner_text()
        assert styles == [200] and failed == []
        with page.expect_download() as info:
            roads.get_by_role("link", name="Roads as CSV").click()
        saved = info.value
        assert saved.suggested_filename.startswith("roads-") and saved.suggested_filename.endswith(
            ".csv"
        )
        with open(saved.path(), encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(io.StringIO(f.read())))
        expected = db.execute("SELECT count(*) FROM roads").fetchone()
        assert expected is not None and len(rows) == expected[0]
        assert {"name_zh", "road_class", "wkt"} <= set(rows[0])
        context.close()
