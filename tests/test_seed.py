"""The demo city: a tiling grid, every point in exactly one cell, counts, idempotence."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from geo import migrate
from geo.enums import Role
from geo.passwords import verify_password
from geo.sensor_alarm_models import MOVED_RULES
from seed.generate import CAMERAS, CASES, FACILITIES
from seed.load import DEMO_PASSWORD, seed, staff_accounts
from seed.vocab import LATER_CATEGORIES
from tests.conftest import ROOT, TEST_SCALE, sqlalchemy_url

Conn = psycopg.Connection[Any]


def _one(conn: Conn, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


# Children must cover their parent exactly: the symmetric difference has no area, and the
# children's areas add up to the parent's (any overlap would count twice).
TILING = """
SELECT p.code,
       ST_Area(ST_SymDifference(p.geom, ST_Union(c.geom))) AS gap_or_excess,
       abs(sum(ST_Area(c.geom)) - ST_Area(p.geom)) AS overlap
FROM {parent} p JOIN {child} c ON c.{fk} = p.id
{where}
GROUP BY p.id
HAVING ST_Area(ST_SymDifference(p.geom, ST_Union(c.geom))) > 1e-12
    OR abs(sum(ST_Area(c.geom)) - ST_Area(p.geom)) > 1e-12
"""


@pytest.mark.parametrize(
    ("parent", "child", "fk", "where"),
    [
        ("admin_areas", "grid_cells", "community_id", "WHERE p.level = 'community'"),
        ("admin_areas", "admin_areas", "parent_id", "WHERE p.level = 'street'"),
        ("admin_areas", "admin_areas", "parent_id", "WHERE p.level = 'district'"),
    ],
)
def test_children_tile_their_parent(db: Conn, parent: str, child: str, fk: str, where: str) -> None:
    bad = db.execute(TILING.format(parent=parent, child=child, fk=fk, where=where)).fetchall()
    assert bad == []


def test_the_hierarchy_has_realistic_size(db: Conn) -> None:
    levels = dict(db.execute("SELECT level, count(*) FROM admin_areas GROUP BY level").fetchall())
    assert levels["district"] == 6
    assert 40 <= levels["street"] <= 60
    assert 250 <= levels["community"] <= 400
    assert 1_800 <= _one(db, "SELECT count(*) FROM grid_cells") <= 2_200
    assert _one(db, "SELECT count(*) FROM grid_cells WHERE worker_id IS NULL") == 0
    lon0, lat0, lon1, lat1 = (
        db.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) e FROM admin_areas WHERE level = 'district') x"
        ).fetchone()
        or ()
    )
    assert 121.40 <= lon0 < lon1 <= 121.58
    assert 31.16 <= lat0 < lat1 <= 31.32


def test_grid_cells_do_not_overlap_each_other(db: Conn) -> None:
    overlapping = _one(
        db,
        "SELECT count(*) FROM grid_cells a JOIN grid_cells b "
        "ON a.id < b.id AND a.geom && b.geom AND ST_Overlaps(a.geom, b.geom)",
    )
    assert overlapping == 0


@pytest.mark.parametrize("table", ["facilities", "cameras", "cases"])
def test_every_point_lies_in_exactly_one_grid_cell_its_own(db: Conn, table: str) -> None:
    misplaced = _one(
        db,
        f"SELECT count(*) FROM {table} t WHERE "
        "(SELECT count(*) FROM grid_cells g WHERE ST_Intersects(g.geom, t.geom)) <> 1 "
        "OR NOT EXISTS (SELECT 1 FROM grid_cells g WHERE g.id = t.grid_cell_id "
        "AND ST_Contains(g.geom, t.geom))",
    )
    assert misplaced == 0


def test_counts_follow_the_scale(db: Conn) -> None:
    assert _one(db, "SELECT count(*) FROM facilities") == FACILITIES.target(TEST_SCALE) == 1_000
    assert _one(db, "SELECT count(*) FROM cameras") == CAMERAS.target(TEST_SCALE) == 100
    # Seeded cases only (their public ids have seven digits): other tests may add cases.
    seeded = "SELECT count(*) FROM cases WHERE public_id ~ '^[0-9]{8}-[0-9]{7}$'"
    assert _one(db, seeded) == CASES.target(TEST_SCALE) == 1_015
    # The figures promised for the demo and the benchmark city.
    assert (FACILITIES.target(1), CAMERAS.target(1), CASES.target(1)) == (20_000, 2_000, 50_000)
    assert (FACILITIES.target(10), CASES.target(10)) == (200_000, 1_000_000)


def test_every_category_and_status_is_present(db: Conn) -> None:
    facility_categories = _one(db, "SELECT count(DISTINCT category) FROM facilities")
    statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM cases")}
    assert facility_categories == 16
    assert statuses == {
        "reported", "dispatched", "in_progress", "resolved", "closed", "rejected", "duplicate",
    }  # fmt: skip
    roles = {r[0] for r in db.execute("SELECT DISTINCT unnest(roles) FROM users")}
    assert roles == {r.value for r in Role}


def test_case_timelines_are_consistent(db: Conn) -> None:
    """Each case's events start with 'reported', run forward in time, and their last status
    change ends in its status (tests/test_seed_history.py checks the history in detail)."""
    broken = _one(
        db,
        """
        SELECT count(*) FROM cases c
        JOIN LATERAL (
          SELECT array_agg(e.event_type ORDER BY e.at, e.id) AS types,
                 array_agg(e.to_status ORDER BY e.at, e.id)
                   FILTER (WHERE e.to_status IS NOT NULL) AS statuses,
                 min(e.at) AS first_at
          FROM case_events e WHERE e.case_id = c.id) e ON true
        WHERE e.types[1] <> 'reported' OR e.first_at <> c.reported_at
           OR e.statuses[array_length(e.statuses, 1)] <> c.status
           OR (c.status = 'closed' AND c.closed_at IS NULL)
           OR (c.status IN ('dispatched', 'in_progress') AND c.due_at IS NULL)
        """,
    )
    assert broken == 0
    duplicates_pointing_nowhere = _one(
        db,
        "SELECT count(*) FROM cases c WHERE c.status = 'duplicate' AND NOT EXISTS "
        "(SELECT 1 FROM cases o WHERE o.id = c.duplicate_of AND o.category = c.category)",
    )
    assert duplicates_pointing_nowhere == 0


def test_the_data_is_marked_synthetic(db: Conn) -> None:
    unmarked = _one(
        db, "SELECT count(*) FROM facilities WHERE attributes->>'synthetic' IS DISTINCT FROM 'true'"
    )
    assert unmarked == 0


def test_seeding_is_idempotent_and_scales_up_by_prefix(empty_database_url: str) -> None:
    """0.01 then 0.02 loads the first rows of the same sequence; a repeat adds nothing."""
    migrate.upgrade(sqlalchemy_url(empty_database_url))
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        first = seed(conn, 0.01)
        assert first.added["cases"] == CASES.target(0.01) == 125
        grown = seed(conn, 0.02)
        devices = _one(conn, "SELECT count(*) FROM sta_things")
        assert 0 < first.added["sensors"] < devices == first.added["sensors"] + grown.added[
            "sensors"]  # fmt: skip
        readings = _one(conn, "SELECT count(*) FROM sta_observations")
        assert first.added["readings"] + grown.added["readings"] == readings
        later = ("sensors", "readings", "department_layers", "past_versions.")
        rows = {k: v for k, v in grown.added.items() if not k.startswith(later)}
        assert rows == {"facilities": 200, "cameras": 20, "cases": 308 - 125}
        # the new facilities' past (docs/history.md): 1 in 100 more closed, 1 in 80 renamed
        assert (grown.added["past_versions.closed"], grown.added["past_versions.renamed"]) == (2, 2)
        # the department layers follow the grid, the parks and the roads (docs/catalogue.md)
        assert _one(conn, "SELECT count(*) FROM dept_ecological_red_lines") == _one(
            conn, "SELECT count(*) FROM facilities WHERE category = 'park'")  # fmt: skip
        assert _one(conn, "SELECT count(*) FROM dept_planning_zones") == _one(
            conn, "SELECT count(*) FROM grid_cells") > 0  # fmt: skip
        # each case has its evaluation facts (geo.services.case_facts)
        assert _one(conn, "SELECT count(*) FROM cases c WHERE NOT EXISTS "
                    "(SELECT 1 FROM case_facts f WHERE f.case_id = c.id)") == 0  # fmt: skip
        again = seed(conn, 0.02)
        assert again.total_added == 0
        smaller = seed(conn, 0.01)
        assert smaller.total_added == 0
        public_ids = [r[0] for r in conn.execute("SELECT public_id FROM cases ORDER BY public_id")]
        codes = [r[0] for r in conn.execute("SELECT code FROM facilities ORDER BY code")]
        events = _one(conn, "SELECT count(*) FROM case_events")
    assert len(public_ids) == len(set(public_ids)) == 308
    assert codes == [f"F{i:07d}" for i in range(1, 401)]
    assert sorted(p[-7:] for p in public_ids) == [f"{i:07d}" for i in range(1, 309)]
    assert events > 308


def test_demo_accounts_match_the_readme_and_log_in(db: Conn) -> None:
    readme = (ROOT / "README.md").read_text()
    listed = dict(re.findall(r"^\| (1380000\d{4}) \| (\w+)", readme, flags=re.M))
    assert listed == {phone: role.value for phone, _, role, _ in staff_accounts()}
    for phone, role in listed.items():
        row = db.execute("SELECT password_hash, roles FROM users WHERE phone = %s", (phone,))
        password_hash, roles = row.fetchone() or (None, None)
        assert roles == [role]
        assert verify_password(password_hash, DEMO_PASSWORD)
        assert not verify_password(password_hash, "wrong")


def test_an_older_city_gets_the_later_categories_and_its_rules_move(db: Conn) -> None:
    """A database seeded before the sensor categories existed (made so here, in a transaction
    the fixture rolls back): the next seed adds them with their time limits, and the default
    gas and cable rules leave the categories they were first routed to."""
    for rule, old, _new in MOVED_RULES:
        db.execute("UPDATE sensor_rules SET category = %s WHERE name = %s", (old, rule))
    db.execute("DELETE FROM case_stage_limits WHERE category = ANY(%s)", (list(LATER_CATEGORIES),))
    db.execute("DELETE FROM case_categories WHERE code = ANY(%s)", (list(LATER_CATEGORIES),))
    report = seed(db, TEST_SCALE)
    assert report.added.get("categories") == len(LATER_CATEGORIES)
    later = list(LATER_CATEGORIES)
    routed = dict(db.execute(
        "SELECT c.code, d.code FROM case_categories c JOIN departments d ON d.id = "
        "c.department_id WHERE c.code = ANY(%s)", (later,)).fetchall())  # fmt: skip
    assert routed == {"gas_leak": "fire_rescue", "cable_overheat": "power_grid"}
    limits = db.execute("SELECT count(*) FROM case_stage_limits WHERE category = ANY(%s)",
                        (list(LATER_CATEGORIES),)).fetchone()  # fmt: skip
    assert limits == (3 * len(LATER_CATEGORIES),)  # dispatch, handle, check
    rules = dict(db.execute("SELECT name, category FROM sensor_rules WHERE name = ANY(%s)",
                            ([r for r, _, _ in MOVED_RULES],)).fetchall())  # fmt: skip
    assert rules == {rule: new for rule, _old, new in MOVED_RULES}
    assert "categories" not in seed(db, TEST_SCALE).added  # once
