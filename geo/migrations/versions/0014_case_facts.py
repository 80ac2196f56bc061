"""Case facts for evaluation (考核): one row per case with its dimensions and what its timeline
says about time limits, reopening, transfers, returns and satisfaction (docs/evaluation.md)

Written by geo.services.case_facts in the transaction of every case event and rating, and
rebuilt in bulk by ``onemap evaluation rebuild``; this revision creates the table empty and
``onemap migrate`` fills it for the cases already there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPS = ("reported_at", "resolved_at", "closed_at", "overdue_at", "rated_at")


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("grid_worker_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reported_at", ts, nullable=False),
        sa.Column("resolved_at", ts, nullable=True),
        sa.Column("closed_at", ts, nullable=True),
        sa.Column("handle_minutes", sa.Integer(), nullable=True),
        sa.Column("handle_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("handled_on_time", sa.Boolean(), nullable=True),
        sa.Column("closed_on_time", sa.Boolean(), nullable=True),
        sa.Column("overdue_at", ts, nullable=True),
        sa.Column("reopened", sa.SmallInteger(), nullable=False),
        sa.Column("transferred", sa.SmallInteger(), nullable=False),
        sa.Column("returned", sa.SmallInteger(), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("rated_at", ts, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_facts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_facts")),
    )
    for column in TIMESTAMPS:
        op.create_index(op.f(f"ix_case_facts_{column}"), "case_facts", [column])


def downgrade() -> None:
    op.drop_table("case_facts")
