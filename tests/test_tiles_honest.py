"""Honest tiles: above the per-tile budget a point layer's tile carries counts on a grid that
sum to the truth; tiles take the filters /items takes. Decoded with mapbox-vector-tile and held
against SQL counts of the same tile envelope (the budget is lowered in the settings)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from geo import access
from geo.access import CITY, Jurisdiction, Principal, Scope
from server.app import create_app
from server.kernel.auth.tokens import TokenService
from server.kernel.settings import Settings
from tests.tile_helpers import features, in_envelope, tile_at, url

BUDGET = 40
PUBLIC_CASES = "t.status <> 'duplicate' AND t.category NOT IN "
Z, X, Y = tile_at(12)


@pytest.fixture(scope="module")
def small(settings: Settings) -> Iterator[TestClient]:
    """The app with a per-tile budget of 40 features."""
    ogc = settings.ogc.model_copy(update={"tile_feature_cap": BUDGET})
    app = create_app(settings.model_copy(update={"ogc": ogc}))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def staff(tokens: TokenService, scope: Jurisdiction = CITY) -> dict[str, str]:
    token = tokens.issue_access(5, ["dispatcher"], jurisdiction=scope)
    return {"Authorization": f"Bearer {token}"}


def test_a_dense_tile_is_aggregated_and_sums_to_the_truth(
    small: TestClient, db: psycopg.Connection[Any]
) -> None:
    truth = in_envelope(db, "cases_public", "TRUE", Z, X, Y)
    assert truth > 3 * BUDGET
    r = small.get(url("cases", Z, X, Y))
    assert r.status_code == 200
    cells = features(r.content, "cases")
    assert cells
    assert all(c["properties"]["aggregated"] is True for c in cells)
    assert sum(c["properties"]["count"] for c in cells) == truth
    # the breakdown by status sums to each cell's count, and to the truth per status
    by_status: Counter[str] = Counter()
    for c in cells:
        parts = {k: v for k, v in c["properties"].items() if k.startswith("status_")}
        assert sum(parts.values()) == c["properties"]["count"]
        by_status.update({k.removeprefix("status_"): v for k, v in parts.items()})
    rows = db.execute(
        "SELECT status, count(*) FROM cases_public t WHERE ST_Intersects("
        "ST_Transform(t.geom, 3857), ST_TileEnvelope(%s, %s, %s)) GROUP BY status", (Z, X, Y)
    ).fetchall()  # fmt: skip
    assert dict(by_status) == {s: n for s, n in rows}
    # no personal data in a public aggregate: counts only
    assert {k for c in cells for k in c["properties"]} <= {"count", "aggregated"} | {
        f"status_{s}" for s in by_status
    }


@pytest.mark.parametrize("district", [False, True])
def test_a_staff_tile_counts_only_the_callers_jurisdiction(
    small: TestClient, tokens: TokenService, db: psycopg.Connection[Any], district: bool
) -> None:
    scope = CITY
    if district:
        row = db.execute(
            "SELECT a.id FROM admin_areas a WHERE a.level = 'district' AND ST_Contains(a.geom, "
            "ST_SetSRID(ST_MakePoint(121.4737, 31.2304), 4326))"
        ).fetchone()
        assert row is not None
        scope = Jurisdiction(Scope.DISTRICT, (int(row[0]),))
    principal = Principal(5, frozenset({"dispatcher"}), jurisdiction=scope)
    view = access.view_for(principal, "cases")
    assert view is not None
    truth = in_envelope(db, "cases", view.row_filter, Z, X, Y)
    assert truth > BUDGET
    cells = features(small.get(url("cases", Z, X, Y), headers=staff(tokens, scope)).content,
                     "cases")  # fmt: skip
    assert sum(c["properties"]["count"] for c in cells) == truth


def test_below_the_budget_a_tile_holds_the_features(
    small: TestClient, db: psycopg.Connection[Any]
) -> None:
    z, x, y = tile_at(16)
    inside = in_envelope(db, "cases_public", "TRUE", z, x, y)
    assert 0 < inside <= BUDGET
    found = features(small.get(url("cases", z, x, y)).content, "cases")
    assert inside <= len(found) <= BUDGET  # the buffer may add a few from around the edge
    assert all("public_id" in f["properties"] and "count" not in f["properties"] for f in found)


@pytest.mark.parametrize(
    ("layer", "table", "query", "where"),
    [
        ("cases", "cases_public", "status=closed", "t.status = 'closed'"),
        ("cases", "cases_public", "priority=high&status=closed",
         "t.priority = 'high' AND t.status = 'closed'"),
        ("cases", "cases_public", "datetime=2026-01-01T00:00:00Z/..",
         "t.reported_at >= '2026-01-01T00:00:00Z'"),
        ("cases", "cases_public", "filter=status IN ('reported','dispatched') AND priority<>'low'",
         "t.status IN ('reported', 'dispatched') AND t.priority <> 'low'"),
        ("cases", "cases_public", 'filter-lang=cql2-json&filter={"op":"=","args":'
         '[{"property":"status"},"closed"]}', "t.status = 'closed'"),
        ("facilities", "facilities", "category=school", "t.category = 'school'"),
        ("facilities", "facilities", "filter=capacity > 500",
         "t.capacity > 500 AND t.category <> 'hazard_source'"),
    ],
)  # fmt: skip
def test_filtered_tiles_count_what_the_filter_matches(
    small: TestClient, db: psycopg.Connection[Any], layer: str, table: str, query: str,
    where: str,
) -> None:  # fmt: skip
    z = 12 if layer == "cases" else 11
    _, x, y = tile_at(z)
    truth = in_envelope(db, table, where, z, x, y)
    assert truth > 0
    r = small.get(url(layer, z, x, y, query))
    assert r.status_code == 200, r.text
    found = features(r.content, layer)
    if truth > BUDGET:
        assert sum(f["properties"]["count"] for f in found) == truth
    else:
        assert truth <= len(found)
        assert all("count" not in f["properties"] for f in found)


def test_a_filter_changes_the_tile_and_its_etag(small: TestClient) -> None:
    plain = small.get(url("cases", Z, X, Y))
    closed = small.get(url("cases", Z, X, Y, "status=closed"))
    assert plain.headers["etag"] != closed.headers["etag"]
    cells = features(closed.content, "cases")
    assert any(f["properties"].get("status_closed", 0) > 0 for f in cells)
    assert all(set(f["properties"]) <= {"count", "aggregated", "status_closed"} for f in cells)


@pytest.mark.parametrize(
    "query",
    ["colour=red", "limit=10", "bbox=0,0,1,1", "f=json", "capacity=many",
     "filter=status ==", "filter=nosuch = 1", "filter-lang=sql&filter=status='x'",
     "datetime=yesterday", "filter-crs=EPSG:3857&filter=status='closed'"],
)  # fmt: skip
def test_bad_tile_parameters_are_400(small: TestClient, query: str) -> None:
    layer = "facilities" if query.startswith("capacity") else "cases"
    r = small.get(url(layer, Z, X, Y, query))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "InvalidParameterValue"


def test_datetime_needs_a_temporal_layer(small: TestClient) -> None:
    r = small.get(url("facilities", Z, X, Y, "datetime=2026-01-01"))
    assert r.status_code == 400
    assert "temporal" in r.json()["description"]
