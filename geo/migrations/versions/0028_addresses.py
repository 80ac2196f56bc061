"""The address base (issue 17, item 2): ``address_roads`` (each addressed road by name, with
trigram keys under GiST) and ``addresses`` (one row per door: road, number, building, district,
street, grid cell, standard labels, a normalised search text under GIN, the Point).

pg_trgm comes from 0010. The app role reads the tables through 0005's default privileges.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "address_roads",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("key_zh", sa.Text(), nullable=False),
        sa.Column("key_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_roads")),
        sa.UniqueConstraint("name_zh", name=op.f("uq_address_roads_name_zh")),
    )
    for column in ("key_zh", "key_en"):
        op.create_index(
            f"ix_address_roads_{column}_trgm", "address_roads", [column],
            postgresql_using="gist", postgresql_ops={column: "gist_trgm_ops"},
        )  # fmt: skip
    op.create_table(
        "addresses",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("road_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("building_zh", sa.Text(), nullable=True),
        sa.Column("building_en", sa.Text(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("label_zh", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=False),
        sa.Column("search", sa.Text(), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.CheckConstraint("number > 0", name=op.f("ck_addresses_number_positive")),
        sa.ForeignKeyConstraint(
            ["road_id"], ["address_roads.id"], name=op.f("fk_addresses_road_id_address_roads")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["admin_areas.id"], name=op.f("fk_addresses_district_id_admin_areas")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["admin_areas.id"], name=op.f("fk_addresses_street_id_admin_areas")
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_addresses_grid_cell_id_grid_cells"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    op.create_index("idx_addresses_geom", "addresses", ["geom"], postgresql_using="gist")
    op.create_index("ix_addresses_road_number", "addresses", ["road_id", "number"], unique=True)
    op.create_index(
        "ix_addresses_search_trgm", "addresses", ["search"], postgresql_using="gin",
        postgresql_ops={"search": "gin_trgm_ops"},
    )  # fmt: skip
    for column in ("district_id", "street_id", "grid_cell_id"):
        op.create_index(op.f(f"ix_addresses_{column}"), "addresses", [column])


def downgrade() -> None:
    op.drop_table("addresses")
    op.drop_table("address_roads")
