"""The access policy: staff jurisdictions, sensitive case categories, the generalised public
case record (``cases_public``: position on a 0.001° grid, time to the hour, no text, no
sensitive categories, no duplicates).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from geo.models import PUBLIC_GEOM_SQL, PUBLIC_TIME_SQL

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPES = ("city", "district", "street", "community", "grid_cells", "department", "none",
          "own_cells")  # fmt: skip

#: One public record per case: every public surface (OGC, tiles, GraphQL, Open311, the
#: citizen app's nearby list) reads this view and nothing more exact. The sensitive categories
#: are one array computed once per statement (an InitPlan), not a join: as a semi-join the
#: planner drove a 5 km box from the category list, one index scan per category (1.8 s).
CASES_PUBLIC = f"""
CREATE VIEW cases_public AS
SELECT c.id, c.public_id, c.category, c.status, c.priority, c.grid_cell_id,
       c.public_reported_at AS reported_at,
       {PUBLIC_TIME_SQL.format("c.closed_at")} AS closed_at,
       c.public_geom AS geom
FROM cases c
WHERE c.status <> 'duplicate'
  AND c.category <> ALL (coalesce((SELECT array_agg(k.code) FROM case_categories k
                                   WHERE k.sensitive), '{{}}'))
"""  # noqa: S608 - our constants only


def upgrade() -> None:
    op.add_column("users", sa.Column("jurisdiction_scope", sa.String(length=16),
                                     server_default="none", nullable=False))  # fmt: skip
    op.add_column("users", sa.Column("jurisdiction_ids", postgresql.ARRAY(sa.Integer()),
                                     server_default=sa.text("'{}'::integer[]"),
                                     nullable=False))  # fmt: skip
    op.create_check_constraint("jurisdiction_scope", "users",
                               f"jurisdiction_scope IN {SCOPES!r}")  # fmt: skip
    # Existing staff keep what they had: grid workers their cells, department staff their
    # department, everyone else the whole city.
    op.execute(
        "UPDATE users SET jurisdiction_scope = CASE "
        "WHEN 'dispatcher' = ANY(roles) OR 'admin' = ANY(roles) OR 'analyst' = ANY(roles) "
        "OR 'camera_viewer' = ANY(roles) OR 'verifier' = ANY(roles) "
        "OR 'health_officer' = ANY(roles) THEN 'city' "
        "WHEN 'department_staff' = ANY(roles) THEN 'department' "
        "WHEN 'grid_worker' = ANY(roles) THEN 'own_cells' ELSE 'none' END"
    )
    op.add_column("case_categories", sa.Column("sensitive", sa.Boolean(),
                                               server_default=sa.text("false"),
                                               nullable=False))  # fmt: skip
    op.execute("UPDATE case_categories SET sensitive = true WHERE code = 'elderly_help'")
    op.add_column("cases", sa.Column(
        "public_geom", Geometry("POINT", srid=4326, spatial_index=False),
        sa.Computed(PUBLIC_GEOM_SQL, persisted=True), nullable=True))  # fmt: skip
    op.add_column("cases", sa.Column(
        "public_reported_at", sa.DateTime(timezone=True),
        sa.Computed(PUBLIC_TIME_SQL.format("reported_at"), persisted=True),
        nullable=True))  # fmt: skip
    op.create_index("idx_cases_public_geom", "cases", ["public_geom"], postgresql_using="gist")
    op.execute(CASES_PUBLIC)


def downgrade() -> None:
    op.execute("DROP VIEW cases_public")
    op.drop_index("idx_cases_public_geom", table_name="cases", postgresql_using="gist")
    op.drop_column("cases", "public_reported_at")
    op.drop_column("cases", "public_geom")
    op.drop_column("case_categories", "sensitive")
    op.drop_constraint("jurisdiction_scope", "users", type_="check")
    op.drop_column("users", "jurisdiction_ids")
    op.drop_column("users", "jurisdiction_scope")
