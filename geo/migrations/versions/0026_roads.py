"""The road network (issue 16, item 1): ``roads`` (edges of a pgRouting graph, with their
free-flow costs in seconds), ``road_vertices``, and the conditions and closures (路况) routing
respects: ``road_conditions`` (a road's latest speed factor), ``road_closures``.

pgRouting is an untrusted extension: the owner role cannot create it. Provisioning (and the
test databases) create it beforehand, as they do PostGIS; where it is missing this revision
creates it as the migrating user (a superuser on a development machine) and returns to the
owner. The app role reads and writes the new tables through 0005's default privileges.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLASSES = "('expressway', 'arterial', 'local', 'lane')"


def _ensure_pgrouting() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT FROM pg_extension WHERE extname = 'pgrouting'")).first():
        return
    role = bind.execute(sa.text("SELECT current_user, session_user")).one()
    if role[0] != role[1]:
        op.execute("RESET ROLE")
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    if role[0] != role[1]:
        op.execute(f'SET ROLE "{role[0]}"')


def upgrade() -> None:
    _ensure_pgrouting()
    op.create_table(
        "road_vertices",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_vertices")),
    )
    op.create_index("idx_road_vertices_geom", "road_vertices", ["geom"], postgresql_using="gist")
    op.create_table(
        "roads",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("road_class", sa.Text(), nullable=False),
        sa.Column("speed_kmh", sa.SmallInteger(), nullable=False),
        sa.Column("lanes", sa.SmallInteger(), nullable=False),
        sa.Column("one_way", sa.Boolean(), nullable=False),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("length_m", sa.Double(), nullable=False),
        sa.Column("cost_s", sa.Double(), nullable=False),
        sa.Column("reverse_cost_s", sa.Double(), nullable=False),
        sa.Column("geom", Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False),
        sa.CheckConstraint(f"road_class IN {CLASSES}", name=op.f("ck_roads_road_class")),
        sa.CheckConstraint(
            "speed_kmh > 0 AND lanes > 0 AND length_m >= 0", name=op.f("ck_roads_positive")
        ),
        sa.CheckConstraint(
            "cost_s >= 0 AND (reverse_cost_s = -1 AND one_way OR reverse_cost_s = cost_s "
            "AND NOT one_way)",
            name=op.f("ck_roads_costs"),
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["road_vertices.id"], name=op.f("fk_roads_source_road_vertices")
        ),
        sa.ForeignKeyConstraint(
            ["target"], ["road_vertices.id"], name=op.f("fk_roads_target_road_vertices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads")),
    )
    op.create_index("idx_roads_geom", "roads", ["geom"], postgresql_using="gist")
    op.create_index(op.f("ix_roads_road_class"), "roads", ["road_class"])
    op.create_index(op.f("ix_roads_source"), "roads", ["source"])
    op.create_index(op.f("ix_roads_target"), "roads", ["target"])
    op.create_table(
        "road_conditions",
        sa.Column("road_id", sa.BigInteger(), nullable=False),
        sa.Column("speed_factor", sa.Double(), nullable=False),
        sa.Column(
            "observed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "speed_factor > 0 AND speed_factor <= 1", name=op.f("ck_road_conditions_speed_factor")
        ),
        sa.ForeignKeyConstraint(
            ["road_id"],
            ["roads.id"],
            ondelete="CASCADE",
            name=op.f("fk_road_conditions_road_id_roads"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_road_conditions_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("road_id", name=op.f("pk_road_conditions")),
    )
    op.create_table(
        "road_closures",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("road_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "starts_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reopened_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at >= starts_at", name=op.f("ck_road_closures_interval")
        ),
        sa.CheckConstraint(
            "length(reason) BETWEEN 1 AND 500", name=op.f("ck_road_closures_reason")
        ),
        sa.ForeignKeyConstraint(
            ["road_id"],
            ["roads.id"],
            ondelete="CASCADE",
            name=op.f("fk_road_closures_road_id_roads"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_road_closures_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["reopened_by"], ["users.id"], name=op.f("fk_road_closures_reopened_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_closures")),
    )
    op.create_index(op.f("ix_road_closures_road_id"), "road_closures", ["road_id"])
    op.create_index(
        "ix_road_closures_open", "road_closures", ["road_id"],
        postgresql_where=sa.text("ends_at IS NULL"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("road_closures")
    op.drop_table("road_conditions")
    op.drop_table("roads")
    op.drop_table("road_vertices")
    # The pgrouting extension stays: other databases' objects may use it, and only a
    # superuser could drop it.
