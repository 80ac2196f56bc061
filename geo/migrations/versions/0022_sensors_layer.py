"""Sensors on the one map: every Thing carries the point it stands at (its first current
Location), its kind and its state — the worst of its Datastreams' states (alarm, warning,
offline, normal) — kept by triggers, so the ``sensors`` layer (OGC collection, tiles, GraphQL
layer, map view) reads one indexed table whoever wrote the Locations or the states (the API,
the MQTT ingest, the seed). A change of position or state tells the tile caches
(``onemap_tile_changes``, layer ``sensors``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "('normal', 'warning', 'alarm', 'offline')"

#: The Things' points and states, recomputed for a set of Things.
RESTAMP = """
CREATE FUNCTION onemap_sensor_things_restamp(ids bigint[]) RETURNS void
LANGUAGE sql AS $$
  UPDATE sta_things t SET geom = s.geom, state = s.state
  FROM (SELECT x.id,
          (SELECT ST_PointOnSurface(l.geom) FROM sta_thing_locations tl
           JOIN sta_locations l ON l.id = tl.location_id WHERE tl.thing_id = x.id
           ORDER BY tl.location_id LIMIT 1) AS geom,
          coalesce((SELECT st.state FROM sta_datastreams d
           JOIN sensor_datastream_states st ON st.datastream_id = d.id WHERE d.thing_id = x.id
           ORDER BY array_position(ARRAY['alarm', 'warning', 'offline', 'normal'], st.state)
           LIMIT 1), 'normal') AS state
        FROM unnest(ids) AS x(id)) s
  WHERE t.id = s.id AND (t.geom, t.state) IS DISTINCT FROM (s.geom, s.state)
$$
"""

#: Statement triggers: which Things a statement touched, from its transition tables.
TRIGGERS = {
    "sta_thing_locations": "SELECT thing_id FROM {rows}",
    "sta_locations": "SELECT tl.thing_id FROM {rows} r JOIN sta_thing_locations tl "
    "ON tl.location_id = r.id",
    "sensor_datastream_states": "SELECT d.thing_id FROM {rows} r JOIN sta_datastreams d "
    "ON d.id = r.datastream_id",
}

TILES = """
CREATE FUNCTION onemap_sensor_tiles() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  pts geometry[] := '{}';
  more geometry[];
BEGIN
  IF TG_OP <> 'INSERT' THEN
    SELECT array_agg(geom) INTO more FROM old_rows;
    pts := pts || coalesce(more, '{}');
  END IF;
  IF TG_OP <> 'DELETE' THEN
    SELECT array_agg(geom) INTO more FROM new_rows;
    pts := pts || coalesce(more, '{}');
  END IF;
  PERFORM onemap_tile_notify('sensors', pts);
  RETURN NULL;
END $$
"""


def _restamp_trigger(table: str, which: str) -> None:
    for op_name, rows in (("INSERT", "new_rows"), ("UPDATE", "new_rows"), ("DELETE", "old_rows")):
        name = f"onemap_{table}_{op_name.lower()}_things"
        source = which.format(rows=rows)
        op.execute(f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM onemap_sensor_things_restamp(ARRAY(SELECT DISTINCT s.id FROM ({source}) s(id)));
  RETURN NULL;
END $$""")  # noqa: S608 - our constants only
        ref = "NEW" if rows == "new_rows" else "OLD"
        op.execute(f"""
CREATE TRIGGER {table}_{op_name.lower()}_things AFTER {op_name} ON {table}
REFERENCING {ref} TABLE AS {rows} FOR EACH STATEMENT EXECUTE FUNCTION {name}()""")
        # ALWAYS: a bulk load with session_replication_role = replica stamps too
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_{op_name.lower()}_things")


def upgrade() -> None:
    op.add_column("sta_things", sa.Column("geom", Geometry("POINT", srid=4326,
                                                           spatial_index=False)))  # fmt: skip
    op.add_column("sta_things", sa.Column("state", sa.String(16),
                                          server_default=sa.text("'normal'"), nullable=False))  # fmt: skip
    op.add_column("sta_things", sa.Column("kind", sa.Text(), sa.Computed(
        "properties ->> 'kind'", persisted=True)))  # fmt: skip
    op.create_check_constraint("state", "sta_things", f"state IN {STATES}")
    op.create_index("idx_sta_things_geom", "sta_things", ["geom"], postgresql_using="gist")
    op.execute(RESTAMP)
    for table, which in TRIGGERS.items():
        _restamp_trigger(table, which)
    op.execute(TILES)
    for op_name, rows in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                          ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")):  # fmt: skip
        op.execute(f"""
CREATE TRIGGER sta_things_tiles_{op_name.lower()} AFTER {op_name} ON sta_things
REFERENCING {rows} FOR EACH STATEMENT EXECUTE FUNCTION onemap_sensor_tiles()""")
    op.execute("SELECT onemap_sensor_things_restamp(ARRAY(SELECT id FROM sta_things))")


def downgrade() -> None:
    for op_name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER sta_things_tiles_{op_name} ON sta_things")
    op.execute("DROP FUNCTION onemap_sensor_tiles()")
    for table in TRIGGERS:
        for op_name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_{op_name}_things ON {table}")
            op.execute(f"DROP FUNCTION onemap_{table}_{op_name}_things()")
    op.execute("DROP FUNCTION onemap_sensor_things_restamp(bigint[])")
    op.drop_index("idx_sta_things_geom", table_name="sta_things", postgresql_using="gist")
    op.drop_constraint("ck_sta_things_state", "sta_things")
    op.drop_column("sta_things", "kind")
    op.drop_column("sta_things", "state")
    op.drop_column("sta_things", "geom")
