"""Cameras across processes (issue 18, item 3): ``camera_relays``, one row per camera whose
relay a server process holds — the owner's id, the internal address other processes pull the
relay from, its public URL when it has one of its own, and the lease's expiry, renewed by the
owner's heartbeat (docs/streams.md, "Cameras across processes").

The app role reads and writes the table through 0005's default privileges.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01 00:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | Sequence[str] | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_relays",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("internal_url", sa.Text(), nullable=False),
        sa.Column("public_url", sa.Text(), nullable=True),
        sa.Column(
            "acquired_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "renewed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_camera_relays_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_relays")),
    )


def downgrade() -> None:
    op.drop_table("camera_relays")
