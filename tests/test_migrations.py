"""Alembic: upgrade from empty, downgrade to base, and models ≡ migrations."""

from __future__ import annotations

import psycopg
import pytest

from geo import migrate
from tests.conftest import sqlalchemy_url

TABLES = {
    "admin_areas", "grid_cells", "departments", "case_categories", "facilities", "cameras",
    "camera_relays",
    "address_roads", "addresses", "buildings", "houses", "persons", "organisations",
    "building_population",
    # 0034: open data: departments' API keys and their usage
    "api_keys", "api_key_usage",
    "cases", "case_events", "users", "audit_log", "seed_progress",
    # 0002: identity and the citizen app
    "otp_codes", "auth_failures", "refresh_families", "refresh_tokens", "idempotency_keys",
    "report_photos", "report_links", "ratings", "health_rule_versions", "health_declarations",
    "health_test_results", "health_checkins", "health_risk_cells", "health_status",
    "health_status_changes", "health_verifications", "health_appeals", "service_items",
    "applications", "application_events", "attachments", "notification_reads",
    "open311_api_keys", "open311_requests",
    # 0007: abuse limits
    "auth_throttles",
    # 0012: case clocks
    "case_stage_limits",
    # 0015: supervision
    "supervisions", "supervision_cases", "case_clock_states", "staff_notifications",
    "staff_notification_reads", "supervision_sweeps",
    # 0013: collaboration
    "case_tasks",
    # 0014: evaluation
    "case_facts",
    # 0017: daily evaluation figures
    "case_figures_daily",
    # 0016: hotline intake and callback, the on-site check
    "case_callers", "case_callbacks", "case_checks",
    # 0018: SensorThings (sta_observations' monthly and default partitions are not counted)
    "sta_things", "sta_locations", "sta_thing_locations", "sta_historical_locations",
    "sta_historical_location_locations", "sta_sensors", "sta_observed_properties",
    "sta_datastreams", "sta_features_of_interest", "sta_observations",
    # 0021: sensor rules, alarms and states
    "sensor_rules", "sensor_rule_states", "sensor_alarms", "sensor_datastream_states",
    # 0023: the MQTT broker's accounts
    "sta_mqtt_accounts",
    # 0024: emergency plans and incidents
    "plans", "plan_versions", "plan_measures", "incidents", "incident_tasks", "incident_events",
    # 0025: CAP warnings and their Web Push
    "warnings", "push_subscriptions", "warning_deliveries",
    # 0026: the road network and its conditions
    "roads", "road_vertices", "road_conditions", "road_closures",
    # 0027: shared plotting on incidents
    "incident_plots",
    # 0030: the layer catalogue
    "catalogue_layers",
    # 0031: history (the tracked tables' versions, and the list of them)
    "history_tables", "buildings_history", "facilities_history",
    # 0033: read-your-writes' marks (unlogged)
    "read_marks",
}  # fmt: skip


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        ).fetchall()
    return {r[0] for r in rows} - {"spatial_ref_sys", "alembic_version"}


def test_upgrade_from_empty_then_downgrade_to_base(empty_database_url: str) -> None:
    url = sqlalchemy_url(empty_database_url)
    assert migrate.current_revision(url) is None

    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    assert _tables(empty_database_url) == TABLES

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    assert _tables(empty_database_url) == set()


def test_autogenerate_finds_nothing_to_do(empty_database_url: str) -> None:
    url = sqlalchemy_url(empty_database_url)
    migrate.upgrade(url)
    assert migrate.pending_model_changes(url) == []


def test_every_geometry_has_a_gist_index(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        missing = conn.execute("""
            SELECT c.f_table_name, c.f_geometry_column, c.srid FROM geometry_columns c
            WHERE c.f_table_schema = 'public'
              AND c.f_table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'public')
              AND NOT EXISTS (
              SELECT 1 FROM pg_indexes i
              WHERE i.tablename = c.f_table_name AND i.indexdef ILIKE '%USING gist%'
                AND i.indexdef LIKE '%' || c.f_geometry_column || '%')
        """).fetchall()
        srids = conn.execute(
            "SELECT DISTINCT srid FROM geometry_columns WHERE f_table_schema = 'public'"
        ).fetchall()
    assert missing == []
    assert srids == [(4326,)]


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("UPDATE cases SET status = 'lost' WHERE id = (SELECT min(id) FROM cases)",
         "ck_cases_status"),
        ("UPDATE facilities SET category = 'castle' WHERE id = (SELECT min(id) FROM facilities)",
         "ck_facilities_category"),
        ("UPDATE users SET roles = ARRAY['emperor'] WHERE id = (SELECT min(id) FROM users)",
         "ck_users_roles"),
        ("UPDATE cameras SET heading = 400 WHERE id = (SELECT min(id) FROM cameras)",
         "ck_cameras_heading_range"),
    ],
)  # fmt: skip
def test_enumerations_are_checked_by_the_database(
    db: psycopg.Connection[object], statement: str, constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        db.execute(statement)


@pytest.mark.parametrize("table", ["case_events", "audit_log"])
def test_history_tables_are_append_only(db: psycopg.Connection[object], table: str) -> None:
    db.execute(
        "INSERT INTO audit_log (action, object_type, object_id) VALUES ('test', 'case', '1')"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute(f"DELETE FROM {table}")


def test_cases_carry_the_areas_of_their_cell(db: psycopg.Connection[object]) -> None:
    """The trigger-stamped areas (the jurisdiction columns) match the grid, for seeded cases,
    a case moved to another cell, and the cases of a cell moved to another community."""
    wrong = """
        SELECT count(*) FROM cases t JOIN grid_cells g ON g.id = t.grid_cell_id
        JOIN admin_areas c ON c.id = g.community_id JOIN admin_areas s ON s.id = c.parent_id
        WHERE (t.community_id, t.street_id, t.district_id)
              IS DISTINCT FROM (c.id, s.id, s.parent_id)
    """
    assert db.execute(wrong).fetchone() == (0,)
    far = db.execute(
        "SELECT g.id, g.community_id FROM grid_cells g ORDER BY g.id DESC LIMIT 1"
    ).fetchone()
    assert far is not None
    db.execute("UPDATE cases SET grid_cell_id = %s WHERE id = (SELECT min(id) FROM cases)",
               (far[0],))  # fmt: skip
    other = db.execute(
        "SELECT id FROM admin_areas WHERE level = 'community' AND id <> %s ORDER BY id LIMIT 1",
        (far[1],),
    ).fetchone()
    assert other is not None
    db.execute("UPDATE grid_cells SET community_id = %s WHERE id = %s", (other[0], far[0]))
    assert db.execute(wrong).fetchone() == (0,)
    moved = db.execute(
        "SELECT community_id FROM cases WHERE id = (SELECT min(id) FROM cases)"
    ).fetchone()
    assert moved == (other[0],)


def test_a_category_made_sensitive_leaves_the_public_record(db: psycopg.Connection[object]) -> None:
    public = "SELECT count(*) FROM cases_public WHERE category = 'road_damage'"
    before = db.execute(public).fetchone()
    assert before is not None and before[0] > 0
    db.execute("UPDATE case_categories SET sensitive = true WHERE code = 'road_damage'")
    assert db.execute(public).fetchone() == (0,)
    db.execute("UPDATE case_categories SET sensitive = false WHERE code = 'road_damage'")
    assert db.execute(public).fetchone() == before
