"""Each case carries its community, street and district (stamped by a trigger from its grid
cell), so a jurisdiction is a predicate on the case row itself: the planner estimates it from
the column statistics like any other filter. Derived as a join or as an array of cells, it was
misjudged and a district dispatcher's 5 km page took 1–8 s instead of tens of milliseconds
(scale-10 city, bench/ogc Q2d).

The same trigger stamps ``published`` (not of a sensitive category), and the public record's
index covers only the rows the public may see (published, not duplicates): the public view
then reads its index with no filter and no guess about how many rows a filter keeps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:56:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo.models import PUBLIC_ROWS, PUBLIC_TIME_SQL

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AREAS_OF_CELL = """
SELECT c.id, s.id, s.parent_id FROM grid_cells g
JOIN admin_areas c ON c.id = g.community_id JOIN admin_areas s ON s.id = c.parent_id
"""

STAMP = f"""
CREATE FUNCTION onemap_case_areas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {AREAS_OF_CELL} WHERE g.id = NEW.grid_cell_id
  INTO NEW.community_id, NEW.street_id, NEW.district_id;
  NEW.published := NOT coalesce(
    (SELECT k.sensitive FROM case_categories k WHERE k.code = NEW.category), false);
  RETURN NEW;
END $$
"""  # noqa: S608 - our constants only

#: A category made sensitive (or not) changes what its cases publish at once.
REPUBLISH = """
CREATE FUNCTION onemap_republish_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cases t SET published = NOT k.sensitive FROM case_categories k
  WHERE k.code = t.category AND t.published IS DISTINCT FROM NOT k.sensitive;
  RETURN NULL;
END $$
"""

PUBLIC_VIEW = f"""
CREATE OR REPLACE VIEW cases_public AS
SELECT c.id, c.public_id, c.category, c.status, c.priority, c.grid_cell_id,
       c.public_reported_at AS reported_at,
       {PUBLIC_TIME_SQL.format("c.closed_at")} AS closed_at,
       c.public_geom AS geom
FROM cases c
WHERE c.published AND c.status <> 'duplicate'
"""  # noqa: S608 - our constants only

#: Re-stamp the cases under a grid cell or an area whose parent changed (rare: a redrawn grid).
RESTAMP = """
CREATE FUNCTION onemap_restamp_case_areas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cases t SET community_id = c.id, street_id = s.id, district_id = s.parent_id
  FROM grid_cells g JOIN admin_areas c ON c.id = g.community_id
  JOIN admin_areas s ON s.id = c.parent_id
  WHERE g.id = t.grid_cell_id AND (t.community_id, t.street_id, t.district_id)
    IS DISTINCT FROM (c.id, s.id, s.parent_id);
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    for column in ("community_id", "street_id", "district_id"):
        op.add_column("cases", sa.Column(column, sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("published", sa.Boolean(), server_default=sa.text("true"),
                                     nullable=False))  # fmt: skip
    op.execute(STAMP)
    # ALWAYS: the seed loads with session_replication_role = replica, which skips other triggers.
    op.execute(
        "CREATE TRIGGER case_areas BEFORE INSERT OR UPDATE OF grid_cell_id ON cases "
        "FOR EACH ROW EXECUTE FUNCTION onemap_case_areas()"
    )
    op.execute("ALTER TABLE cases ENABLE ALWAYS TRIGGER case_areas")
    op.execute(RESTAMP)
    op.execute(
        "CREATE TRIGGER grid_cells_restamp_cases AFTER UPDATE OF community_id ON grid_cells "
        "FOR EACH STATEMENT EXECUTE FUNCTION onemap_restamp_case_areas()"
    )
    op.execute(
        "CREATE TRIGGER admin_areas_restamp_cases AFTER UPDATE OF parent_id ON admin_areas "
        "FOR EACH STATEMENT EXECUTE FUNCTION onemap_restamp_case_areas()"
    )
    op.execute(
        "UPDATE cases t SET community_id = c.id, street_id = s.id, district_id = s.parent_id, "
        "published = NOT k.sensitive FROM grid_cells g "
        "JOIN admin_areas c ON c.id = g.community_id JOIN admin_areas s ON s.id = c.parent_id, "
        "case_categories k WHERE g.id = t.grid_cell_id AND k.code = t.category"
    )
    op.execute(REPUBLISH)
    op.execute(
        "CREATE TRIGGER case_categories_republish AFTER UPDATE OF sensitive ON case_categories "
        "FOR EACH STATEMENT EXECUTE FUNCTION onemap_republish_cases()"
    )
    op.execute(PUBLIC_VIEW)
    op.drop_index("idx_cases_public_geom", table_name="cases", postgresql_using="gist")
    op.create_index("idx_cases_public_geom", "cases", ["public_geom"], postgresql_using="gist",
                    postgresql_where=sa.text(PUBLIC_ROWS))  # fmt: skip


def downgrade() -> None:
    op.drop_index("idx_cases_public_geom", table_name="cases", postgresql_using="gist")
    op.create_index("idx_cases_public_geom", "cases", ["public_geom"], postgresql_using="gist")
    op.execute(PUBLIC_VIEW.replace(
        "WHERE c.published AND c.status <> 'duplicate'",
        "WHERE c.status <> 'duplicate' AND c.category <> ALL (coalesce((SELECT array_agg(k.code) "
        "FROM case_categories k WHERE k.sensitive), '{}'))",
    ))  # fmt: skip
    op.execute("DROP TRIGGER case_categories_republish ON case_categories")
    op.execute("DROP FUNCTION onemap_republish_cases()")
    op.execute("DROP TRIGGER admin_areas_restamp_cases ON admin_areas")
    op.execute("DROP TRIGGER grid_cells_restamp_cases ON grid_cells")
    op.execute("DROP FUNCTION onemap_restamp_case_areas()")
    op.execute("DROP TRIGGER case_areas ON cases")
    op.execute("DROP FUNCTION onemap_case_areas()")
    for column in ("published", "district_id", "street_id", "community_id"):
        op.drop_column("cases", column)
