"""Search by name: pg_trgm and trigram indexes on facility names

Place search (``geo/queries/place_search.py``) finds facilities by any part of their Chinese or
English name and tolerates typos: ``ILIKE '%…%'`` and pg_trgm's word similarity, both served by
GIN trigram indexes. pg_trgm is a trusted extension (PostgreSQL ≥ 13): a database owner may
create it; ``onemap db provision`` creates it as the admin, like PostGIS. Areas, grid cells and
case categories are small enough to scan.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in ("name_zh", "name_en"):
        op.create_index(
            f"ix_facilities_{column}_trgm", "facilities", [column], postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )  # fmt: skip


def downgrade() -> None:
    for column in ("name_zh", "name_en"):
        op.drop_index(f"ix_facilities_{column}_trgm", table_name="facilities")
