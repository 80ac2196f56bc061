"""CAP 1.2 warnings and their Web Push delivery (issue 16, item 5; geo/warning_models.py)

- ``warnings``: one row per CAP message (Alert, or an Update / Cancel referencing the message
  it replaces), its two info blocks' texts (zh-CN, en-US) and its area (MultiPolygon).
- ``push_subscriptions``: citizens' browsers (PushSubscription), with the device's last
  position if the app sent one.
- ``warning_deliveries``: the push service's answer per message and subscription.
- The role ``warning_officer``.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 21:10:03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ROLES_BEFORE = (
    "citizen", "grid_worker", "dispatcher", "department_staff", "verifier", "health_officer",
    "camera_viewer", "analyst", "admin", "auditor", "supervisor", "hotline_operator",
    "plan_manager",
)  # fmt: skip
ROLES_AFTER = (*ROLES_BEFORE, "warning_officer")


def _roles_check(roles: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_users_roles"), "users", type_="check")
    op.create_check_constraint("roles", "users", f"roles <@ ARRAY{list(roles)}::text[]")


def upgrade() -> None:
    _roles_check(ROLES_AFTER)
    op.create_geospatial_table(
        "push_subscriptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.Text(), nullable=False),
        sa.Column("auth", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(endpoint) <= 2000", name=op.f("ck_push_subscriptions_endpoint_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_geospatial_index(
        "idx_push_subscriptions_geom",
        "push_subscriptions",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_push_subscriptions_user_id"), "push_subscriptions", ["user_id"], unique=False
    )
    op.create_geospatial_table(
        "warnings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column(
            "sent", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("msg_type", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("references_id", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("certainty", sa.String(length=16), nullable=False),
        sa.Column("effective", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onset", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("texts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("area_desc", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("issued_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(msg_type = 'Alert') = (references_id IS NULL)",
            name=op.f("ck_warnings_references_for_updates"),
        ),
        sa.CheckConstraint(
            "category IN ('Geo', 'Met', 'Safety', 'Security', 'Rescue', 'Fire', 'Health', 'Env', 'Transport', 'Infra', 'CBRNE', 'Other')",
            name=op.f("ck_warnings_category"),
        ),
        sa.CheckConstraint(
            "certainty IN ('Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown')",
            name=op.f("ck_warnings_certainty"),
        ),
        sa.CheckConstraint(
            "msg_type IN ('Alert', 'Update', 'Cancel')", name=op.f("ck_warnings_msg_type")
        ),
        sa.CheckConstraint(
            "scope IN ('Public', 'Restricted', 'Private')", name=op.f("ck_warnings_scope")
        ),
        sa.CheckConstraint(
            "severity IN ('Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown')",
            name=op.f("ck_warnings_severity"),
        ),
        sa.CheckConstraint(
            "status IN ('Actual', 'Exercise', 'System', 'Test', 'Draft')",
            name=op.f("ck_warnings_status"),
        ),
        sa.CheckConstraint(
            "texts ? 'zh-CN' AND texts ? 'en-US'", name=op.f("ck_warnings_texts_both_languages")
        ),
        sa.CheckConstraint(
            "urgency IN ('Immediate', 'Expected', 'Future', 'Past', 'Unknown')",
            name=op.f("ck_warnings_urgency"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_warnings_geom_valid")),
        sa.CheckConstraint("expires > effective", name=op.f("ck_warnings_expires_after_effective")),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["users.id"], name=op.f("fk_warnings_issued_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["references_id"], ["warnings.id"], name=op.f("fk_warnings_references_id_warnings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
        sa.UniqueConstraint("identifier", name=op.f("uq_warnings_identifier")),
        sa.UniqueConstraint("references_id", name=op.f("uq_warnings_references_id")),
    )
    op.create_geospatial_index(
        "idx_warnings_geom",
        "warnings",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_warnings_expires"), "warnings", ["expires"], unique=False)
    op.create_table(
        "warning_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("warning_id", sa.BigInteger(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.SmallInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "outcome IN ('delivered', 'gone', 'failed')", name=op.f("ck_warning_deliveries_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["push_subscriptions.id"],
            name=op.f("fk_warning_deliveries_subscription_id_push_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_warning_deliveries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["warnings.id"],
            name=op.f("fk_warning_deliveries_warning_id_warnings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_deliveries")),
    )
    op.create_index(
        op.f("ix_warning_deliveries_subscription_id"),
        "warning_deliveries",
        ["subscription_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_warning_deliveries_warning_id"), "warning_deliveries", ["warning_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_warning_deliveries_warning_id"), table_name="warning_deliveries")
    op.drop_index(op.f("ix_warning_deliveries_subscription_id"), table_name="warning_deliveries")
    op.drop_table("warning_deliveries")
    op.drop_index(op.f("ix_warnings_expires"), table_name="warnings")
    op.drop_geospatial_index(
        "idx_warnings_geom", table_name="warnings", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("warnings")
    op.drop_index(op.f("ix_push_subscriptions_user_id"), table_name="push_subscriptions")
    op.drop_geospatial_index(
        "idx_push_subscriptions_geom",
        table_name="push_subscriptions",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("push_subscriptions")
    op.execute("DELETE FROM users WHERE roles = ARRAY['warning_officer']::text[]")
    op.execute("UPDATE users SET roles = array_remove(roles, 'warning_officer')")
    _roles_check(ROLES_BEFORE)
