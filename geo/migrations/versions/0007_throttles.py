"""Abuse limits held in the database: login and one-time-code throttles

One row per key (an account at an address, an address, an account, a phone…): the attempts
charged in its window and until when it is blocked. ``geo.services.throttles`` charges an
attempt before the secret is evaluated, so concurrent guesses cannot slip past the limit.
``auth_failures`` stays: it is the record of failed guesses, no longer what limits count.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_throttles",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "window_started",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_auth_throttles_failures_not_negative")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_throttles")),
    )
    op.create_index(
        op.f("ix_auth_throttles_updated_at"), "auth_throttles", ["updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_throttles_updated_at"), table_name="auth_throttles")
    op.drop_table("auth_throttles")
