"""Read-your-writes across processes and hosts (issue 18 item 1, docs/scale.md): ``read_marks``
holds, per signed-in writer, the primary's WAL position after their last write and until when
their reads must see it. UNLOGGED: only the primary reads it, and a crash that empties it loses
at most a minute of marks. The app role writes it through 0005's default privileges.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-01 00:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | Sequence[str] | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_marks",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("lsn", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_read_marks")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("read_marks")
