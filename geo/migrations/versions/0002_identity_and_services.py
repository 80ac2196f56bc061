"""Identity and the citizen app: one-time codes, refresh tokens, idempotency keys, report photos,
links and ratings, the health code, one-network services and applications, notifications, Open311.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:28:33.157939
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Histories are never rewritten (onemap_append_only() comes from 0001).
APPEND_ONLY_TABLES = ("application_events", "health_status_changes", "health_verifications")


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    op.create_index("ix_auth_failures_phone_at", "auth_failures", ["phone", "at"], unique=False)
    op.create_table(
        "health_rule_versions",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_health_rule_versions")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "uq_idempotency_keys_owner_operation_key",
        "idempotency_keys",
        ["owner", "operation", "key"],
        unique=True,
    )
    op.create_table(
        "open311_api_keys",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_api_keys_key_hash")),
    )
    op.create_table(
        "otp_codes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_codes")),
    )
    op.create_index(
        "ix_otp_codes_client_addr_created_at",
        "otp_codes",
        ["client_addr", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_otp_codes_phone_created_at", "otp_codes", ["phone", "created_at"], unique=False
    )
    op.create_table(
        "service_items",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("materials", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("legal_limit_days", sa.SmallInteger(), nullable=False),
        sa.Column("promised_limit_days", sa.SmallInteger(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("max_visits", sa.SmallInteger(), nullable=False),
        sa.Column("form_schema", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint(
            "promised_limit_days <= legal_limit_days",
            name=op.f("ck_service_items_promised_within_legal"),
        ),
        sa.CheckConstraint(
            "promised_limit_days > 0", name=op.f("ck_service_items_promised_positive")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_service_items_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_service_items")),
    )
    op.create_index(
        op.f("ix_service_items_department_id"), "service_items", ["department_id"], unique=False
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("service_code", sa.String(length=32), nullable=False),
        sa.Column("applicant_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("form", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("materials", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("supplements", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accept_due", sa.Date(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'accepted', 'rejected', 'needs_materials', 'under_review', 'approved', 'denied', 'completed', 'rated')",
            name=op.f("ck_applications_status"),
        ),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["users.id"], name=op.f("fk_applications_applicant_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_applications_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["service_items.code"],
            name=op.f("fk_applications_service_code_service_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("public_id", name=op.f("uq_applications_public_id")),
    )
    op.create_index(
        op.f("ix_applications_applicant_id"), "applications", ["applicant_id"], unique=False
    )
    op.create_index(
        "ix_applications_department_id_status",
        "applications",
        ["department_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_applications_service_code"), "applications", ["service_code"], unique=False
    )
    op.create_table(
        "health_appeals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("corrected_colour", sa.String(length=8), nullable=True),
        sa.Column("override_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "corrected_colour IS NULL OR corrected_colour IN ('green', 'yellow', 'red')",
            name=op.f("ck_health_appeals_corrected_colour"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'upheld', 'dismissed')", name=op.f("ck_health_appeals_status")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_health_appeals_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_appeals_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_appeals")),
    )
    op.create_index(op.f("ix_health_appeals_user_id"), "health_appeals", ["user_id"], unique=False)
    op.create_table(
        "health_declarations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("fever", sa.Boolean(), nullable=False),
        sa.Column("symptoms", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("contact_with_case", sa.Boolean(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_declarations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_declarations")),
    )
    op.create_index(
        "ix_health_declarations_user_id_at", "health_declarations", ["user_id", "at"], unique=False
    )
    op.create_table(
        "health_status",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("rule_version", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "colour IN ('green', 'yellow', 'red')", name=op.f("ck_health_status_colour")
        ),
        sa.ForeignKeyConstraint(
            ["rule_version"],
            ["health_rule_versions.version"],
            name=op.f("fk_health_status_rule_version_health_rule_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_status_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_health_status")),
        sa.UniqueConstraint("subject", name=op.f("uq_health_status_subject")),
    )
    op.create_table(
        "health_status_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("rule_version", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "colour IN ('green', 'yellow', 'red')", name=op.f("ck_health_status_changes_colour")
        ),
        sa.ForeignKeyConstraint(
            ["rule_version"],
            ["health_rule_versions.version"],
            name=op.f("fk_health_status_changes_rule_version_health_rule_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_status_changes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_status_changes")),
    )
    op.create_index(
        "ix_health_status_changes_user_id_at",
        "health_status_changes",
        ["user_id", "at"],
        unique=False,
    )
    op.create_table(
        "health_test_results",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "result IN ('negative', 'positive')", name=op.f("ck_health_test_results_result")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_health_test_results_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_test_results_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_test_results")),
    )
    op.create_index(
        op.f("ix_health_test_results_recorded_by"),
        "health_test_results",
        ["recorded_by"],
        unique=False,
    )
    op.create_index(
        "ix_health_test_results_user_id_sampled_at",
        "health_test_results",
        ["user_id", "sampled_at"],
        unique=False,
    )
    op.create_table(
        "health_verifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("verifier_id", sa.BigInteger(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_verifications_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["verifier_id"], ["users.id"], name=op.f("fk_health_verifications_verifier_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_verifications")),
    )
    op.create_index(
        "ix_health_verifications_user_id_at",
        "health_verifications",
        ["user_id", "at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_health_verifications_verifier_id"),
        "health_verifications",
        ["verifier_id"],
        unique=False,
    )
    op.create_table(
        "notification_reads",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("read_through", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_reads_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_reads")),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.BigInteger(), nullable=False),
        sa.Column("rater_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "object_type IN ('case', 'application')", name=op.f("ck_ratings_object_type")
        ),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_ratings_score_range")),
        sa.ForeignKeyConstraint(["rater_id"], ["users.id"], name=op.f("fk_ratings_rater_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    op.create_index(op.f("ix_ratings_rater_id"), "ratings", ["rater_id"], unique=False)
    op.create_index(
        "uq_ratings_object_type_object_id", "ratings", ["object_type", "object_id"], unique=True
    )
    op.create_table(
        "refresh_families",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_families_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_families")),
    )
    op.create_index(
        op.f("ix_refresh_families_user_id"), "refresh_families", ["user_id"], unique=False
    )
    op.create_table(
        "application_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_application_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_events_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_events")),
    )
    op.create_index(
        "ix_application_events_application_id_at",
        "application_events",
        ["application_id", "at"],
        unique=False,
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_attachments_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_attachments_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(
        op.f("ix_attachments_application_id"), "attachments", ["application_id"], unique=False
    )
    op.create_index(op.f("ix_attachments_owner_id"), "attachments", ["owner_id"], unique=False)
    op.create_table(
        "health_risk_cells",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("level IN ('medium', 'high')", name=op.f("ck_health_risk_cells_level")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_health_risk_cells_period")),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_health_risk_cells_grid_cell_id_grid_cells"),
        ),
        sa.ForeignKeyConstraint(
            ["set_by"], ["users.id"], name=op.f("fk_health_risk_cells_set_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_risk_cells")),
    )
    op.create_index(
        op.f("ix_health_risk_cells_grid_cell_id"),
        "health_risk_cells",
        ["grid_cell_id"],
        unique=False,
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["refresh_families.id"],
            name=op.f("fk_refresh_tokens_family_id_refresh_families"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"), "refresh_tokens", ["family_id"], unique=False
    )
    op.create_table(
        "health_checkins",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("facility_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_health_checkins_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_health_checkins_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_checkins")),
    )
    op.create_index(
        op.f("ix_health_checkins_facility_id"), "health_checkins", ["facility_id"], unique=False
    )
    op.create_index(
        "ix_health_checkins_user_id_at", "health_checkins", ["user_id", "at"], unique=False
    )
    op.create_table(
        "open311_requests",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["open311_api_keys.id"],
            name=op.f("fk_open311_requests_api_key_id_open311_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_open311_requests_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_open311_requests")),
    )
    op.create_index(
        op.f("ix_open311_requests_api_key_id"), "open311_requests", ["api_key_id"], unique=False
    )
    op.create_table(
        "report_links",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("linked_case_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_report_links_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["linked_case_id"], ["cases.id"], name=op.f("fk_report_links_linked_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_report_links_user_id_users")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_report_links")),
    )
    op.create_index(
        op.f("ix_report_links_linked_case_id"), "report_links", ["linked_case_id"], unique=False
    )
    op.create_index(op.f("ix_report_links_user_id"), "report_links", ["user_id"], unique=False)
    op.create_table(
        "report_photos",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_report_photos_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_report_photos_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_photos")),
    )
    op.create_index(op.f("ix_report_photos_case_id"), "report_photos", ["case_id"], unique=False)
    op.create_index(op.f("ix_report_photos_owner_id"), "report_photos", ["owner_id"], unique=False)
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION onemap_append_only()"
        )


def downgrade() -> None:
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.drop_index(op.f("ix_report_photos_owner_id"), table_name="report_photos")
    op.drop_index(op.f("ix_report_photos_case_id"), table_name="report_photos")
    op.drop_table("report_photos")
    op.drop_index(op.f("ix_report_links_user_id"), table_name="report_links")
    op.drop_index(op.f("ix_report_links_linked_case_id"), table_name="report_links")
    op.drop_table("report_links")
    op.drop_index(op.f("ix_open311_requests_api_key_id"), table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_index("ix_health_checkins_user_id_at", table_name="health_checkins")
    op.drop_index(op.f("ix_health_checkins_facility_id"), table_name="health_checkins")
    op.drop_table("health_checkins")
    op.drop_index(op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(op.f("ix_health_risk_cells_grid_cell_id"), table_name="health_risk_cells")
    op.drop_table("health_risk_cells")
    op.drop_index(op.f("ix_attachments_owner_id"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_application_id"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_application_events_application_id_at", table_name="application_events")
    op.drop_table("application_events")
    op.drop_index(op.f("ix_refresh_families_user_id"), table_name="refresh_families")
    op.drop_table("refresh_families")
    op.drop_index("uq_ratings_object_type_object_id", table_name="ratings")
    op.drop_index(op.f("ix_ratings_rater_id"), table_name="ratings")
    op.drop_table("ratings")
    op.drop_table("notification_reads")
    op.drop_index(op.f("ix_health_verifications_verifier_id"), table_name="health_verifications")
    op.drop_index("ix_health_verifications_user_id_at", table_name="health_verifications")
    op.drop_table("health_verifications")
    op.drop_index("ix_health_test_results_user_id_sampled_at", table_name="health_test_results")
    op.drop_index(op.f("ix_health_test_results_recorded_by"), table_name="health_test_results")
    op.drop_table("health_test_results")
    op.drop_index("ix_health_status_changes_user_id_at", table_name="health_status_changes")
    op.drop_table("health_status_changes")
    op.drop_table("health_status")
    op.drop_index("ix_health_declarations_user_id_at", table_name="health_declarations")
    op.drop_table("health_declarations")
    op.drop_index(op.f("ix_health_appeals_user_id"), table_name="health_appeals")
    op.drop_table("health_appeals")
    op.drop_index(op.f("ix_applications_service_code"), table_name="applications")
    op.drop_index("ix_applications_department_id_status", table_name="applications")
    op.drop_index(op.f("ix_applications_applicant_id"), table_name="applications")
    op.drop_table("applications")
    op.drop_index(op.f("ix_service_items_department_id"), table_name="service_items")
    op.drop_table("service_items")
    op.drop_index("ix_otp_codes_phone_created_at", table_name="otp_codes")
    op.drop_index("ix_otp_codes_client_addr_created_at", table_name="otp_codes")
    op.drop_table("otp_codes")
    op.drop_table("open311_api_keys")
    op.drop_index("uq_idempotency_keys_owner_operation_key", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("health_rule_versions")
    op.drop_index("ix_auth_failures_phone_at", table_name="auth_failures")
    op.drop_table("auth_failures")
