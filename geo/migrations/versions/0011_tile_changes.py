"""Vector tiles hear of every change: a statement that inserts, updates or deletes cases,
facilities or cameras sends ``NOTIFY onemap_tile_changes`` with the positions it touched (old
and new; a case's public, generalised position too), so every server process drops exactly the
cached tiles that draw them (server/ogc/tile_cache.py). Sent by statement triggers, so no
writer can forget it and a bulk load sends one notice.

Payload: ``{"layer": "cases", "points": [[lon, lat], …]}`` (distinct positions, 7 decimals), or
``{"layer": …, "all": true}`` when a statement touched more than 100 positions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "onemap_tile_changes"
MAX_POINTS = 100
TABLES = ("cases", "facilities", "cameras")


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION onemap_tile_notify(layer text, pts geometry[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  n integer;
  points jsonb;
BEGIN
  SELECT count(*), jsonb_agg(jsonb_build_array(x, y)) INTO n, points
  FROM (SELECT DISTINCT round(ST_X(g)::numeric, 7) AS x, round(ST_Y(g)::numeric, 7) AS y
        FROM unnest(pts) g WHERE g IS NOT NULL) s;
  IF n = 0 THEN
    RETURN;
  ELSIF n > {MAX_POINTS} THEN
    PERFORM pg_notify('{CHANNEL}', json_build_object('layer', layer, 'all', true)::text);
  ELSE
    PERFORM pg_notify('{CHANNEL}', json_build_object('layer', layer, 'points', points)::text);
  END IF;
END $$""")  # noqa: S608 - our constants only
    # Transition tables exist only for the trigger's own events: each branch reads the ones
    # its operation has (PL/pgSQL plans a statement when it first runs it).
    op.execute("""
CREATE FUNCTION onemap_tile_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  pts geometry[] := '{}';
  more geometry[];
BEGIN
  IF TG_OP <> 'INSERT' THEN
    IF TG_TABLE_NAME = 'cases' THEN
      SELECT array_agg(g) INTO more
      FROM (SELECT geom FROM old_rows UNION ALL SELECT public_geom FROM old_rows) s(g);
    ELSE
      SELECT array_agg(geom) INTO more FROM old_rows;
    END IF;
    pts := pts || coalesce(more, '{}');
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF TG_TABLE_NAME = 'cases' THEN
      SELECT array_agg(g) INTO more
      FROM (SELECT geom FROM new_rows UNION ALL SELECT public_geom FROM new_rows) s(g);
    ELSE
      SELECT array_agg(geom) INTO more FROM new_rows;
    END IF;
    pts := pts || coalesce(more, '{}');
  END IF;
  PERFORM onemap_tile_notify(TG_TABLE_NAME::text, pts);
  RETURN NULL;
END $$""")
    for table in TABLES:
        op.execute(f"""
CREATE TRIGGER {table}_tiles_insert AFTER INSERT ON {table}
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION onemap_tile_changes()""")
        op.execute(f"""
CREATE TRIGGER {table}_tiles_update AFTER UPDATE ON {table}
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION onemap_tile_changes()""")
        op.execute(f"""
CREATE TRIGGER {table}_tiles_delete AFTER DELETE ON {table}
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION onemap_tile_changes()""")


def downgrade() -> None:
    for table in TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_tiles_{event} ON {table}")
    op.execute("DROP FUNCTION onemap_tile_changes()")
    op.execute("DROP FUNCTION onemap_tile_notify(text, geometry[])")
