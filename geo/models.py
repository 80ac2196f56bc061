"""The one map's tables, as SQLAlchemy/GeoAlchemy2 models.

The models are the schema's source of truth for Alembic (``onemap migrate``); reads go through
``geo.queries`` (SQL built for PostGIS), writes through ``geo.services``. Storage SRID is 4326
(lon/lat); every geometry has a GiST index (GeoAlchemy2 creates it), every enumeration a CHECK.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.enums import (
    AdminLevel,
    CameraStatus,
    CaseEventType,
    CasePriority,
    CaseSource,
    CaseStatus,
    FacilityCategory,
    HealthRisk,
    Role,
    UserStatus,
    sql_in,
)

SRID = 4326

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _geometry(kind: str) -> Any:
    return Geometry(kind, srid=SRID, spatial_index=True)


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class AdminArea(Base):
    """District (区) → street (街道) → community (社区)."""

    __tablename__ = "admin_areas"
    __table_args__ = (
        CheckConstraint(f"level IN {sql_in(AdminLevel)}", name="level"),
        CheckConstraint(
            "(level = 'district') = (parent_id IS NULL)", name="parent_unless_district"
        ),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_areas.id"), index=True)
    population: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(_geometry("MULTIPOLYGON"), nullable=False)


class User(Base):
    """Citizens and staff. Personal data: never in public outputs."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"roles <@ ARRAY{list(r.value for r in Role)}::text[]", name="roles"),
        CheckConstraint("cardinality(roles) > 0", name="roles_not_empty"),
        CheckConstraint(f"status IN {sql_in(UserStatus)}", name="status"),
        CheckConstraint("phone ~ '^\\+?[0-9]{6,15}$'", name="phone_format"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(String(16), server_default=UserStatus.ACTIVE.value)
    password_hash: Mapped[str | None] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    created_at: Mapped[datetime] = _created_at()


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))


class CaseCategory(Base):
    """The category → department routing table, with each category's time limit."""

    __tablename__ = "case_categories"
    __table_args__ = (CheckConstraint("time_limit_hours > 0", name="time_limit_positive"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    time_limit_hours: Mapped[int] = mapped_column(Integer)
    citizen_reportable: Mapped[bool] = mapped_column(server_default=text("true"))


class GridCell(Base):
    """网格: every point of the city lies in exactly one cell, with a responsible worker."""

    __tablename__ = "grid_cells"
    __table_args__ = (
        CheckConstraint(f"health_risk IN {sql_in(HealthRisk)}", name="health_risk"),
        CheckConstraint("population >= 0", name="population_non_negative"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(ForeignKey("admin_areas.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    population: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    health_risk: Mapped[str] = mapped_column(String(8), server_default=HealthRisk.LOW.value)
    geom: Mapped[Any] = mapped_column(_geometry("MULTIPOLYGON"), nullable=False)


class Facility(Base):
    __tablename__ = "facilities"
    __table_args__ = (
        CheckConstraint(f"category IN {sql_in(FacilityCategory)}", name="category"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    updated_at: Mapped[datetime] = _created_at()
    geom: Mapped[Any] = mapped_column(_geometry("POINT"), nullable=False)


class Camera(Base):
    """A camera. ``source`` (its stream URL) never leaves the stream service."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(CameraStatus)}", name="status"),
        CheckConstraint("heading >= 0 AND heading < 360", name="heading_range"),
        CheckConstraint("fov > 0 AND fov <= 360", name="fov_range"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    heading: Mapped[int] = mapped_column(SmallInteger)
    fov: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(
        String(16), server_default=CameraStatus.UNKNOWN.value, index=True
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    geom: Mapped[Any] = mapped_column(_geometry("POINT"), nullable=False)


class Case(Base):
    """A city-management case: discover → dispatch → handle → check → close."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(CaseStatus)}", name="status"),
        CheckConstraint(f"priority IN {sql_in(CasePriority)}", name="priority"),
        CheckConstraint(f"source IN {sql_in(CaseSource)}", name="source"),
        CheckConstraint("char_length(description) <= 4000", name="description_length"),
        CheckConstraint(
            "(status = 'duplicate') = (duplicate_of IS NOT NULL)", name="duplicate_of_iff_duplicate"
        ),
        CheckConstraint("resolved_at IS NULL OR resolved_at >= reported_at", name="resolved_after"),
        CheckConstraint("closed_at IS NULL OR closed_at >= reported_at", name="closed_after"),
        Index("ix_cases_grid_cell_id_status", "grid_cell_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    category: Mapped[str] = mapped_column(ForeignKey("case_categories.code"), index=True)
    description: Mapped[str] = mapped_column(Text, server_default="")
    address: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(8), server_default=CasePriority.NORMAL.value)
    source: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _created_at()
    geom: Mapped[Any] = mapped_column(_geometry("POINT"), nullable=False)


class CaseEvent(Base):
    """A case's timeline. Append-only: a trigger refuses UPDATE and DELETE."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(f"event_type IN {sql_in(CaseEventType)}", name="event_type"),
        CheckConstraint(
            f"to_status IS NULL OR to_status IN {sql_in(CaseStatus)}", name="to_status"
        ),
        Index("ix_case_events_case_id_at", "case_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    event_type: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who did what to which object, when and from where. Append-only (trigger-enforced)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(Text)
    client_addr: Mapped[str | None] = mapped_column(INET)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class SeedProgress(Base):
    """How many rows of each seeded layer are loaded: makes ``onemap seed`` idempotent."""

    __tablename__ = "seed_progress"

    layer: Mapped[str] = mapped_column(String(32), primary_key=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = _created_at()
