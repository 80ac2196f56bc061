"""Cases carry the Web Mercator cell they fall in (a level-24 quadkey in Morton order, for
their position and for their public position), indexed with the columns the map filters on,
so an aggregated tile counts its cases from one index range, not from a million-row table.

Every tile of zoom z ≤ 24 is one contiguous range of level-24 keys; its 64 × 64 cells are the
keys' next 12 bits. On the scale-10 city a z11 tile of 30,000 cases took about 1 s through
the GiST index and the heap (bench/ogc Q6); from this index it reads the index alone.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLIC_ROWS = "published AND status <> 'duplicate'"

TILE_KEY = """
CREATE FUNCTION onemap_tile_key(g geometry) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  n CONSTANT double precision := 16777216;  -- 2^24 cells a side
  lat double precision := least(greatest(ST_Y(g), -85.0511287798), 85.0511287798);
  x bigint := least(greatest(floor((ST_X(g) + 180.0) / 360.0 * n), 0), n - 1);
  y bigint := least(greatest(floor(
    (1.0 - ln(tan(radians(lat)) + 1.0 / cos(radians(lat))) / pi()) / 2.0 * n), 0), n - 1);
  sx bigint;
  sy bigint;
BEGIN
  sx := (x | (x << 16)) & 281470681808895;       -- 0x0000FFFF0000FFFF
  sx := (sx | (sx << 8)) & 71777214294589695;    -- 0x00FF00FF00FF00FF
  sx := (sx | (sx << 4)) & 1085102592571150095;  -- 0x0F0F0F0F0F0F0F0F
  sx := (sx | (sx << 2)) & 3689348814741910323;  -- 0x3333333333333333
  sx := (sx | (sx << 1)) & 6148914691236517205;  -- 0x5555555555555555
  sy := (y | (y << 16)) & 281470681808895;
  sy := (sy | (sy << 8)) & 71777214294589695;
  sy := (sy | (sy << 4)) & 1085102592571150095;
  sy := (sy | (sy << 2)) & 3689348814741910323;
  sy := (sy | (sy << 1)) & 6148914691236517205;
  RETURN sx | (sy << 1);
END $$
"""

PUBLIC_VIEW = """
CREATE OR REPLACE VIEW cases_public AS
SELECT c.id, c.public_id, c.category, c.status, c.priority, c.grid_cell_id,
       c.public_reported_at AS reported_at,
       (date_trunc('hour', c.closed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS closed_at,
       c.public_geom AS geom,
       c.public_tile_key AS tile_key
FROM cases c
WHERE c.published AND c.status <> 'duplicate'
"""

OLD_PUBLIC_VIEW = """
CREATE OR REPLACE VIEW cases_public AS
SELECT c.id, c.public_id, c.category, c.status, c.priority, c.grid_cell_id,
       c.public_reported_at AS reported_at,
       (date_trunc('hour', c.closed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS closed_at,
       c.public_geom AS geom
FROM cases c
WHERE c.published AND c.status <> 'duplicate'
"""


def upgrade() -> None:
    op.execute(TILE_KEY)
    # public_geom's own expression: a generated column cannot read another one
    public = "ST_SnapToGrid(geom, 0.0005, 0.0005, 0.001, 0.001)"
    for column, source in (("tile_key", "geom"), ("public_tile_key", public)):
        op.add_column("cases", sa.Column(
            column, sa.BigInteger(), sa.Computed(f"onemap_tile_key({source})", persisted=True)
        ))  # fmt: skip
    op.execute(PUBLIC_VIEW)
    op.create_index("ix_cases_tile_key", "cases", ["tile_key"],
                    postgresql_include=["status", "category", "reported_at", "district_id"])  # fmt: skip
    op.create_index("ix_cases_public_tile_key", "cases", ["public_tile_key"],
                    postgresql_include=["status", "category", "public_reported_at"],
                    postgresql_where=sa.text(PUBLIC_ROWS))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_cases_public_tile_key", table_name="cases")
    op.drop_index("ix_cases_tile_key", table_name="cases")
    op.execute("DROP VIEW cases_public")
    op.execute(OLD_PUBLIC_VIEW)
    op.drop_column("cases", "public_tile_key")
    op.drop_column("cases", "tile_key")
    op.execute("DROP FUNCTION onemap_tile_key(geometry)")
