"""Open data and sharing (issue 17, item 4): departments' API keys (``api_keys``: stored
hashed, granted a set of datasets, expiring, revocable, with a per-minute quota) and their
usage per day and dataset (``api_key_usage``). geo/api_key_models.py tells the model.

The app role reads and writes the tables through 0005's default privileges.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-01 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0034"
down_revision: str | Sequence[str] | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("datasets", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), server_default=sa.text("600"),
                  nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("rate_per_minute > 0", name=op.f("ck_api_keys_rate_positive")),
        sa.CheckConstraint("cardinality(datasets) > 0", name=op.f("ck_api_keys_datasets_given")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_api_keys_department_id_departments")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_api_keys_created_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"],
                                name=op.f("fk_api_keys_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )  # fmt: skip
    op.create_index(op.f("ix_api_keys_department_id"), "api_keys", ["department_id"])
    op.create_table(
        "api_key_usage",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("requests", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"],
                                name=op.f("fk_api_key_usage_key_id_api_keys")),
        sa.PrimaryKeyConstraint("key_id", "day", "dataset", name=op.f("pk_api_key_usage")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("api_key_usage")
    op.drop_index(op.f("ix_api_keys_department_id"), table_name="api_keys")
    op.drop_table("api_keys")
