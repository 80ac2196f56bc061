"""The one map: areas, grid, departments and routing, facilities, cameras, cases, users, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:12:42.215167
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The case timeline and the audit log are append-only: history is never rewritten.
APPEND_ONLY_TABLES = ("case_events", "audit_log")
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION onemap_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_areas",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
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
        sa.CheckConstraint(
            "(level = 'district') = (parent_id IS NULL)",
            name=op.f("ck_admin_areas_parent_unless_district"),
        ),
        sa.CheckConstraint(
            "level IN ('district', 'street', 'community')", name=op.f("ck_admin_areas_level")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_admin_areas_geom_valid")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["admin_areas.id"], name=op.f("fk_admin_areas_parent_id_admin_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_areas")),
        sa.UniqueConstraint("code", name=op.f("uq_admin_areas_code")),
    )
    op.create_geospatial_index(
        "idx_admin_areas_geom",
        "admin_areas",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_admin_areas_level"), "admin_areas", ["level"], unique=False)
    op.create_index(op.f("ix_admin_areas_parent_id"), "admin_areas", ["parent_id"], unique=False)
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "seed_progress",
        sa.Column("layer", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("layer", name=op.f("pk_seed_progress")),
    )
    op.create_table(
        "case_categories",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("time_limit_hours", sa.Integer(), nullable=False),
        sa.Column(
            "citizen_reportable", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.CheckConstraint(
            "time_limit_hours > 0", name=op.f("ck_case_categories_time_limit_positive")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_case_categories_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_case_categories")),
    )
    op.create_index(
        op.f("ix_case_categories_department_id"), "case_categories", ["department_id"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("phone ~ '^\\+?[0-9]{6,15}$'", name=op.f("ck_users_phone_format")),
        sa.CheckConstraint(
            "roles <@ ARRAY['citizen', 'grid_worker', 'dispatcher', 'department_staff', 'verifier', 'health_officer', 'camera_viewer', 'analyst', 'admin']::text[]",
            name=op.f("ck_users_roles"),
        ),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("ck_users_status")),
        sa.CheckConstraint("cardinality(roles) > 0", name=op.f("ck_users_roles_not_empty")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_users_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("phone", name=op.f("uq_users_phone")),
    )
    op.create_index(op.f("ix_users_department_id"), "users", ["department_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("client_addr", postgresql.INET(), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"], unique=False)
    op.create_geospatial_table(
        "grid_cells",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=True),
        sa.Column("population", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("health_risk", sa.String(length=8), server_default="low", nullable=False),
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
        sa.CheckConstraint(
            "health_risk IN ('low', 'medium', 'high')", name=op.f("ck_grid_cells_health_risk")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_cells_geom_valid")),
        sa.CheckConstraint("population >= 0", name=op.f("ck_grid_cells_population_non_negative")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["admin_areas.id"],
            name=op.f("fk_grid_cells_community_id_admin_areas"),
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name=op.f("fk_grid_cells_worker_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cells")),
        sa.UniqueConstraint("code", name=op.f("uq_grid_cells_code")),
    )
    op.create_geospatial_index(
        "idx_grid_cells_geom",
        "grid_cells",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_grid_cells_community_id"), "grid_cells", ["community_id"], unique=False
    )
    op.create_index(op.f("ix_grid_cells_worker_id"), "grid_cells", ["worker_id"], unique=False)
    op.create_geospatial_table(
        "cameras",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("heading", sa.SmallInteger(), nullable=False),
        sa.Column("fov", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'unknown')", name=op.f("ck_cameras_status")
        ),
        sa.CheckConstraint("fov > 0 AND fov <= 360", name=op.f("ck_cameras_fov_range")),
        sa.CheckConstraint("heading >= 0 AND heading < 360", name=op.f("ck_cameras_heading_range")),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"], ["grid_cells.id"], name=op.f("fk_cameras_grid_cell_id_grid_cells")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("code", name=op.f("uq_cameras_code")),
    )
    op.create_geospatial_index(
        "idx_cameras_geom",
        "cameras",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_cameras_grid_cell_id"), "cameras", ["grid_cell_id"], unique=False)
    op.create_index(op.f("ix_cameras_status"), "cameras", ["status"], unique=False)
    op.create_geospatial_table(
        "cases",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), server_default="normal", nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=True),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'duplicate') = (duplicate_of IS NOT NULL)",
            name=op.f("ck_cases_duplicate_of_iff_duplicate"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_cases_priority")
        ),
        sa.CheckConstraint(
            "source IN ('citizen_report', 'grid_worker', 'camera', 'hotline', 'sensor')",
            name=op.f("ck_cases_source"),
        ),
        sa.CheckConstraint(
            "status IN ('reported', 'dispatched', 'in_progress', 'resolved', 'closed', 'rejected', 'duplicate')",
            name=op.f("ck_cases_status"),
        ),
        sa.CheckConstraint(
            "char_length(description) <= 4000", name=op.f("ck_cases_description_length")
        ),
        sa.CheckConstraint(
            "closed_at IS NULL OR closed_at >= reported_at", name=op.f("ck_cases_closed_after")
        ),
        sa.CheckConstraint(
            "resolved_at IS NULL OR resolved_at >= reported_at",
            name=op.f("ck_cases_resolved_after"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_cases_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["category"], ["case_categories.code"], name=op.f("fk_cases_category_case_categories")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_cases_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["cases.id"], name=op.f("fk_cases_duplicate_of_cases")
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"], ["grid_cells.id"], name=op.f("fk_cases_grid_cell_id_grid_cells")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_cases_reporter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("public_id", name=op.f("uq_cases_public_id")),
    )
    op.create_geospatial_index(
        "idx_cases_geom",
        "cases",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_cases_assignee_id"), "cases", ["assignee_id"], unique=False)
    op.create_index(op.f("ix_cases_category"), "cases", ["category"], unique=False)
    op.create_index(op.f("ix_cases_department_id"), "cases", ["department_id"], unique=False)
    op.create_index(
        "ix_cases_grid_cell_id_status", "cases", ["grid_cell_id", "status"], unique=False
    )
    op.create_index(op.f("ix_cases_reported_at"), "cases", ["reported_at"], unique=False)
    op.create_index(op.f("ix_cases_reporter_id"), "cases", ["reporter_id"], unique=False)
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_geospatial_table(
        "facilities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "category IN ('hospital', 'clinic', 'school', 'kindergarten', 'fire_station', 'police_station', 'shelter', 'hazard_source', 'waterlogging_point', 'park', 'venue', 'pharmacy', 'community_center', 'elderly_care', 'metro_station', 'test_site')",
            name=op.f("ck_facilities_category"),
        ),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 0", name=op.f("ck_facilities_capacity_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"], ["grid_cells.id"], name=op.f("fk_facilities_grid_cell_id_grid_cells")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("code", name=op.f("uq_facilities_code")),
    )
    op.create_geospatial_index(
        "idx_facilities_geom",
        "facilities",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_facilities_category"), "facilities", ["category"], unique=False)
    op.create_index(
        op.f("ix_facilities_grid_cell_id"), "facilities", ["grid_cell_id"], unique=False
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event_type IN ('reported', 'dispatched', 'started', 'resolved', 'closed', 'rejected', 'reopened', 'marked_duplicate', 'commented')",
            name=op.f("ck_case_events_event_type"),
        ),
        sa.CheckConstraint(
            "to_status IS NULL OR to_status IN ('reported', 'dispatched', 'in_progress', 'resolved', 'closed', 'rejected', 'duplicate')",
            name=op.f("ck_case_events_to_status"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_case_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_case_events_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_actor_id"), "case_events", ["actor_id"], unique=False)
    op.create_index("ix_case_events_case_id_at", "case_events", ["case_id", "at"], unique=False)
    op.execute(APPEND_ONLY_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION onemap_append_only()"
        )


def downgrade() -> None:
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS onemap_append_only()")
    op.drop_index("ix_case_events_case_id_at", table_name="case_events")
    op.drop_index(op.f("ix_case_events_actor_id"), table_name="case_events")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_facilities_grid_cell_id"), table_name="facilities")
    op.drop_index(op.f("ix_facilities_category"), table_name="facilities")
    op.drop_geospatial_index(
        "idx_facilities_geom", table_name="facilities", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("facilities")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_index(op.f("ix_cases_reporter_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_reported_at"), table_name="cases")
    op.drop_index("ix_cases_grid_cell_id_status", table_name="cases")
    op.drop_index(op.f("ix_cases_department_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_category"), table_name="cases")
    op.drop_index(op.f("ix_cases_assignee_id"), table_name="cases")
    op.drop_geospatial_index(
        "idx_cases_geom", table_name="cases", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("cases")
    op.drop_index(op.f("ix_cameras_status"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_grid_cell_id"), table_name="cameras")
    op.drop_geospatial_index(
        "idx_cameras_geom", table_name="cameras", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("cameras")
    op.drop_index(op.f("ix_grid_cells_worker_id"), table_name="grid_cells")
    op.drop_index(op.f("ix_grid_cells_community_id"), table_name="grid_cells")
    op.drop_geospatial_index(
        "idx_grid_cells_geom", table_name="grid_cells", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid_cells")
    op.drop_index("ix_audit_log_object", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_users_department_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_case_categories_department_id"), table_name="case_categories")
    op.drop_table("case_categories")
    op.drop_table("seed_progress")
    op.drop_table("departments")
    op.drop_index(op.f("ix_admin_areas_parent_id"), table_name="admin_areas")
    op.drop_index(op.f("ix_admin_areas_level"), table_name="admin_areas")
    op.drop_geospatial_index(
        "idx_admin_areas_geom",
        table_name="admin_areas",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("admin_areas")
