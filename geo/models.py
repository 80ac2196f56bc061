"""The one map's tables, as SQLAlchemy/GeoAlchemy2 models.

The models are the schema's source of truth for Alembic (``onemap migrate``); reads go through
``geo.queries`` (SQL built for PostGIS), writes through ``geo.services``. Storage SRID is 4326
(lon/lat); every geometry has a GiST index (GeoAlchemy2 creates it), every enumeration a CHECK.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.access import STORED_SCOPES
from geo.citizen_enums import (
    AppealStatus,
    ApplicationStatus,
    Colour,
    RatedObject,
    RiskLevel,
    TestResult,
)
from geo.enums import (
    AdminLevel,
    Audience,
    CallbackStatus,
    CameraStatus,
    CaseEventType,
    CasePriority,
    CaseSource,
    CaseStatus,
    ClockState,
    EscalationLevel,
    FacilityCategory,
    HealthRisk,
    LimitUnit,
    NotificationKind,
    Role,
    Satisfaction,
    Stage,
    SupervisionStatus,
    TaskKind,
    TaskStatus,
    UserStatus,
    sql_in,
)

SRID = 4326
#: How the public case record generalises a position and a time (see ``cases_public``).
PUBLIC_GRID_DEG = 0.001
PUBLIC_GEOM_SQL = (
    f"ST_SnapToGrid(geom, {PUBLIC_GRID_DEG / 2}, {PUBLIC_GRID_DEG / 2}, {PUBLIC_GRID_DEG}, "
    f"{PUBLIC_GRID_DEG})"
)
PUBLIC_TIME_SQL = "(date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
#: The cases the public record shows (and its GiST index covers).
PUBLIC_ROWS = "published AND status <> 'duplicate'"

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
        CheckConstraint(
            f"jurisdiction_scope IN {tuple(STORED_SCOPES)!r}", name="jurisdiction_scope"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(String(16), server_default=UserStatus.ACTIVE.value)
    password_hash: Mapped[str | None] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: Where a staff account sees and acts (``geo.access``): city, district / street /
    #: community (admin area ids), grid_cells (cell ids), department, own_cells (the cells the
    #: user is the worker of) or none. Citizens: none (they see their own reports).
    jurisdiction_scope: Mapped[str] = mapped_column(String(16), server_default="none")
    jurisdiction_ids: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{}'::integer[]")
    )
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
    __table_args__ = (
        CheckConstraint("time_limit_hours > 0", name="time_limit_positive"),
        CheckConstraint("check_radius_m BETWEEN 10 AND 5000", name="check_radius_range"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    time_limit_hours: Mapped[int] = mapped_column(Integer)
    citizen_reportable: Mapped[bool] = mapped_column(server_default=text("true"))
    #: Sensitive categories (an elderly person living alone asking for help) are never
    #: published, not even generalised.
    sensitive: Mapped[bool] = mapped_column(server_default=text("false"))
    #: 核查: closing a resolved case needs a passed on-site check within check_radius_m.
    requires_check: Mapped[bool] = mapped_column(server_default=text("false"))
    check_radius_m: Mapped[int] = mapped_column(Integer, server_default=text("100"))


class CaseStageLimit(Base):
    """A category's time limit for one stage of the workflow (geo.services.clocks), in working
    hours or working days on the city's calendar."""

    __tablename__ = "case_stage_limits"
    __table_args__ = (
        CheckConstraint(f"stage IN {sql_in(Stage)}", name="stage"),
        CheckConstraint(f"unit IN {sql_in(LimitUnit)}", name="unit"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    category: Mapped[str] = mapped_column(ForeignKey("case_categories.code"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))


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
        # Search by name (geo/queries/place_search.py): substrings and typos, pg_trgm.
        Index("ix_facilities_name_zh_trgm", "name_zh", postgresql_using="gin",
              postgresql_ops={"name_zh": "gin_trgm_ops"}),
        Index("ix_facilities_name_en_trgm", "name_en", postgresql_using="gin",
              postgresql_ops={"name_en": "gin_trgm_ops"}),
    )  # fmt: skip

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


class CameraRelay(Base):
    """Which server process holds a camera's relay (its one source pull): a lease the owner
    renews while it pulls and that another process may take once it has expired
    (docs/streams.md, "Cameras across processes"). Not data about the city: no surface
    shows it."""

    __tablename__ = "camera_relays"

    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``host:pid:nonce`` of the owning process.
    owner: Mapped[str] = mapped_column(Text)
    #: Where other processes pull the owner's relay (``http://host:port``, internal only).
    internal_url: Mapped[str] = mapped_column(Text)
    #: The owner's own public base URL, when processes are individually routable.
    public_url: Mapped[str | None] = mapped_column(Text)
    acquired_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    renewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
        # The sweep finds the open cases among a million closed ones (migration 0015), and
        # their stamps in the index alone (0019).
        Index(
            "ix_cases_open",
            "id",
            postgresql_where=text(
                "status IN ('reported', 'dispatched', 'in_progress', 'resolved')"
            ),
            postgresql_include=["updated_at"],
        ),
        Index(
            "idx_cases_public_geom",
            "public_geom",
            postgresql_using="gist",
            postgresql_where=text(PUBLIC_ROWS),
        ),
        # An aggregated tile counts its cases from one range of these (migration 0020),
        # filtered by the columns the map filters on, without reading the table.
        Index(
            "ix_cases_tile_key",
            "tile_key",
            postgresql_include=["status", "category", "reported_at", "district_id"],
        ),
        Index(
            "ix_cases_public_tile_key",
            "public_tile_key",
            postgresql_include=["status", "category", "public_reported_at"],
            postgresql_where=text(PUBLIC_ROWS),
        ),
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
    #: Indexed: the supervision sweep reads the cases changed since its last run.
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
    geom: Mapped[Any] = mapped_column(_geometry("POINT"), nullable=False)
    #: The generalised public record (view ``cases_public``): the position snapped to the
    #: centre of its 0.001° square (about 110 m × 95 m here), the report time to the hour.
    public_geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False),
        Computed(PUBLIC_GEOM_SQL, persisted=True),
    )
    public_reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), Computed(PUBLIC_TIME_SQL.format("reported_at"), persisted=True)
    )
    #: The level-24 Web Mercator cell of the position and of the public position, as a
    #: quadkey in Morton order (``onemap_tile_key``, migration 0020): every tile is one range.
    tile_key: Mapped[int] = mapped_column(
        BigInteger, Computed("onemap_tile_key(geom)", persisted=True)
    )
    public_tile_key: Mapped[int | None] = mapped_column(
        BigInteger, Computed(f"onemap_tile_key({PUBLIC_GEOM_SQL})", persisted=True)
    )
    #: The community, street and district of the case's grid cell, stamped by a trigger
    #: (migration 0004): jurisdictions filter on them directly (``geo.access.case_scope``).
    community_id: Mapped[int | None] = mapped_column(Integer)
    street_id: Mapped[int | None] = mapped_column(Integer)
    district_id: Mapped[int | None] = mapped_column(Integer)
    #: False for a case of a sensitive category (stamped by the same trigger; re-stamped when
    #: a category's sensitivity changes): such cases are never in ``cases_public``.
    published: Mapped[bool] = mapped_column(server_default=text("true"))


class CaseEvent(Base):
    """A case's timeline. Append-only: a trigger refuses UPDATE and DELETE."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(f"event_type IN {sql_in(CaseEventType)}", name="event_type"),
        CheckConstraint(
            f"to_status IS NULL OR to_status IN {sql_in(CaseStatus)}", name="to_status"
        ),
        Index("ix_case_events_case_id_at", "case_id", "at"),
        CheckConstraint(
            "(event_type IN ('extended', 'extension_requested')) = "
            "(extended_minutes IS NOT NULL AND extended_minutes > 0)",
            name="extended_minutes_iff_extension",
        ),
        CheckConstraint(
            "(event_type IN ('supervised', 'supervision_answered', 'supervision_missed')) = "
            "(supervision_id IS NOT NULL)",
            name="supervision_iff_supervision_event",
        ),
        CheckConstraint(
            f"(event_type = 'escalated') = (escalation_level IS NOT NULL AND escalation_level IN "
            f"{sql_in(EscalationLevel)})",
            name="escalation_level_iff_escalated",
        ),
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
    #: Working minutes an extension (延期) adds to the stage's limit.
    extended_minutes: Mapped[int | None] = mapped_column(Integer)
    #: The supervision (督办) a supervised / supervision_answered / _missed event is about.
    supervision_id: Mapped[int | None] = mapped_column(ForeignKey("supervisions.id"))
    #: The level an escalated event brought the case to.
    escalation_level: Mapped[str | None] = mapped_column(String(16))
    #: The department a transfer (转办) took the case from (``department_id``: where it went).
    from_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    #: The task a task event is about (co-handling, joint task).
    task_id: Mapped[int | None] = mapped_column(ForeignKey("case_tasks.id"))


class CaseTask(Base):
    """A department's part in a case it does not lead (geo.services.collaboration): a
    co-handling task (协办) a dispatcher named, or a joint task (吹哨报到) a street called it to.
    The lead (主办) is the case's own department; its part is the case itself."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(TaskKind)}", name="kind"),
        CheckConstraint(f"status IN {sql_in(TaskStatus)}", name="status"),
        CheckConstraint(
            "(status IN ('done', 'declined')) = (finished_at IS NOT NULL)",
            name="finished_iff_finished",
        ),
        Index("ix_case_tasks_department_id_case_id", "department_id", "case_id"),
        Index(
            "uq_case_tasks_one_open_per_department",
            "case_id",
            "department_id",
            unique=True,
            postgresql_where=text("status IN ('open', 'in_progress')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseFacts(Base):
    """A case's evaluation facts (考核, geo.services.case_facts, docs/evaluation.md): its
    dimensions copied from the case, and what its timeline says about time limits, reopening,
    transfers, returns and satisfaction. Rewritten with every event; never edited by hand."""

    __tablename__ = "case_facts"
    __table_args__ = (
        Index("ix_case_facts_reported_at", "reported_at"),
        Index("ix_case_facts_resolved_at", "resolved_at"),
        Index("ix_case_facts_closed_at", "closed_at"),
        Index("ix_case_facts_overdue_at", "overdue_at"),
        Index("ix_case_facts_rated_at", "rated_at"),
    )

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(Integer)
    district_id: Mapped[int | None] = mapped_column(Integer)
    street_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    grid_cell_id: Mapped[int] = mapped_column(Integer)
    grid_worker_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handle_minutes: Mapped[int | None] = mapped_column(Integer)
    handle_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopened: Mapped[int] = mapped_column(SmallInteger)
    transferred: Mapped[int] = mapped_column(SmallInteger)
    returned: Mapped[int] = mapped_column(SmallInteger)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseFiguresDaily(Base):
    """Evaluation figures per city day, district and dimension key (migration 0017): kept by a
    statement trigger on ``case_facts`` (its new rows added, its old ones taken away), so a
    month's table sums a few thousand rows (geo.queries.evaluation)."""

    __tablename__ = "case_figures_daily"

    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    received: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    resolved: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    handled_on_time: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    handle_count: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    handle_minutes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    closed: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    closed_on_time: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    overdue: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    reopened: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    transferred: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    returned: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    rated: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    satisfied: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class AuditEntry(Base):
    """Who did what to which object, when and from where. Append-only (trigger-enforced) and
    hash-chained (migration 0006, docs/audit.md): a BEFORE INSERT trigger sets ``seq`` (gap-free
    chain position), ``prev_hash`` (the row before's ``row_hash``; NULL for the first row),
    ``row_hash`` (SHA-256 of the row's canonical encoding) and ``at``; values a caller sends for
    them are overwritten."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary)
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


# --------------------------------------------------------------------------------------------
# Identity and the citizen app (issue 5): one-time codes, refresh tokens, idempotency, report
# photos and links, ratings, the health code, one-network services, notifications, Open311.
# Secrets (codes, refresh tokens, API keys) are stored only as SHA-256 hashes.
# --------------------------------------------------------------------------------------------


def _ts(index: bool = False) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), index=index)


def _ts_null() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True))


class OtpCode(Base):
    """A one-time login code: hashed, single use, short-lived."""

    __tablename__ = "otp_codes"
    __table_args__ = (
        Index("ix_otp_codes_phone_created_at", "phone", "created_at"),
        Index("ix_otp_codes_client_addr_created_at", "client_addr", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime] = _ts()
    consumed_at: Mapped[datetime | None] = _ts_null()


class AuthFailure(Base):
    """A failed code or password: the rate limiter counts these per phone and client."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_phone_at", "phone", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = _created_at()


class AuthThrottle(Base):
    """One abuse-limit key (``login:pair:<phone>@<addr>``, ``login:addr:…``, ``otp-send:…``):
    attempts charged in its window and until when it is blocked (``geo.services.throttles``)."""

    __tablename__ = "auth_throttles"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures_not_negative"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"), nullable=False)
    window_started: Mapped[datetime] = _created_at()
    blocked_until: Mapped[datetime | None] = _ts_null()
    #: The last success of an (account, address) pair: that address is vouched for.
    succeeded_at: Mapped[datetime | None] = _ts_null()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )


class RefreshFamily(Base):
    """The refresh tokens descending from one login; reuse of a rotated one revokes them all."""

    __tablename__ = "refresh_families"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = _created_at()
    revoked_at: Mapped[datetime | None] = _ts_null()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("refresh_families.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = _ts_null()


class IdempotencyKey(Base):
    """A completed creating request: written in the transaction that creates the resource."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("uq_idempotency_keys_owner_operation_key", "owner", "operation", "key",
              unique=True),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created_at()


class ReportPhoto(Base):
    """A photo of a citizen report, re-encoded without metadata; stored by content hash."""

    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class ReportLink(Base):
    """A citizen says their report is about the same thing as another open case."""

    __tablename__ = "report_links"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    linked_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = _created_at()


class Rating(Base):
    """好差评: one rating of a resolved case or a completed application, by its owner."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint(f"object_type IN {sql_in(RatedObject)}", name="object_type"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        Index("uq_ratings_object_type_object_id", "object_type", "object_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(BigInteger)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class HealthRuleVersion(Base):
    """A published version of the health-code rules (their text and order)."""

    __tablename__ = "health_rule_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    rules: Mapped[list[Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = _created_at()


class HealthDeclaration(Base):
    __tablename__ = "health_declarations"
    __table_args__ = (Index("ix_health_declarations_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    fever: Mapped[bool]
    symptoms: Mapped[list[str]] = mapped_column(ARRAY(Text))
    contact_with_case: Mapped[bool]
    at: Mapped[datetime] = _created_at()


class HealthTestResult(Base):
    __tablename__ = "health_test_results"
    __table_args__ = (
        CheckConstraint(f"result IN {sql_in(TestResult)}", name="result"),
        Index("ix_health_test_results_user_id_sampled_at", "user_id", "sampled_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    result: Mapped[str] = mapped_column(String(16))
    sampled_at: Mapped[datetime] = _ts()
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_at: Mapped[datetime] = _created_at()


class HealthCheckin(Base):
    """A venue check-in (场所码): which venue, when."""

    __tablename__ = "health_checkins"
    __table_args__ = (Index("ix_health_checkins_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    at: Mapped[datetime] = _created_at()


class HealthRiskCell(Base):
    """A grid cell declared at risk by a health officer, for a period."""

    __tablename__ = "health_risk_cells"
    __table_args__ = (
        CheckConstraint(f"level IN {sql_in(RiskLevel)}", name="level"),
        CheckConstraint("ends_at > starts_at", name="period"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    level: Mapped[str] = mapped_column(String(8))
    starts_at: Mapped[datetime] = _ts()
    ends_at: Mapped[datetime] = _ts()
    set_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class HealthStatus(Base):
    """A user's current code: colour, the rule that decided it, and their pairwise subject."""

    __tablename__ = "health_status"
    __table_args__ = (CheckConstraint(f"colour IN {sql_in(Colour)}", name="colour"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    colour: Mapped[str] = mapped_column(String(8))
    rule_version: Mapped[str] = mapped_column(ForeignKey("health_rule_versions.version"))
    rule_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = _created_at()


class HealthStatusChange(Base):
    """The history of a user's colour: every change, with the rule that fired."""

    __tablename__ = "health_status_changes"
    __table_args__ = (
        CheckConstraint(f"colour IN {sql_in(Colour)}", name="colour"),
        Index("ix_health_status_changes_user_id_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    colour: Mapped[str] = mapped_column(String(8))
    rule_version: Mapped[str] = mapped_column(ForeignKey("health_rule_versions.version"))
    rule_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _created_at()


class HealthVerification(Base):
    """An online verification of a health-code token: who verified whose code, and when."""

    __tablename__ = "health_verifications"
    __table_args__ = (Index("ix_health_verifications_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    jti: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    colour: Mapped[str | None] = mapped_column(String(8))
    valid: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _created_at()


class HealthAppeal(Base):
    """A request for correction; an upheld appeal may override the colour until a time."""

    __tablename__ = "health_appeals"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(AppealStatus)}", name="status"),
        CheckConstraint(
            f"corrected_colour IS NULL OR corrected_colour IN {sql_in(Colour)}",
            name="corrected_colour",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=AppealStatus.OPEN.value)
    created_at: Mapped[datetime] = _created_at()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = _ts_null()
    decision_note: Mapped[str | None] = mapped_column(Text)
    corrected_colour: Mapped[str | None] = mapped_column(String(8))
    override_until: Mapped[datetime | None] = _ts_null()


class ServiceItem(Base):
    """一网通办: a public service item with its materials, time limits and form schema."""

    __tablename__ = "service_items"
    __table_args__ = (
        CheckConstraint("promised_limit_days > 0", name="promised_positive"),
        CheckConstraint("promised_limit_days <= legal_limit_days", name="promised_within_legal"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    conditions: Mapped[str] = mapped_column(Text)
    materials: Mapped[list[Any]] = mapped_column(JSONB)
    legal_limit_days: Mapped[int] = mapped_column(SmallInteger)
    promised_limit_days: Mapped[int] = mapped_column(SmallInteger)
    online: Mapped[bool]
    max_visits: Mapped[int] = mapped_column(SmallInteger)
    form_schema: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(server_default=text("true"))


class Application(Base):
    """An application for a service item: submitted → … → completed → rated."""

    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(ApplicationStatus)}", name="status"),
        Index("ix_applications_department_id_status", "department_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("service_items.code"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(16))
    form: Mapped[dict[str, Any]] = mapped_column(JSONB)
    materials: Mapped[list[Any]] = mapped_column(JSONB)
    supplements: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    submitted_at: Mapped[datetime] = _ts()
    accept_due: Mapped[date]
    accepted_at: Mapped[datetime | None] = _ts_null()
    due_date: Mapped[date | None]
    decided_at: Mapped[datetime | None] = _ts_null()
    completed_at: Mapped[datetime | None] = _ts_null()
    updated_at: Mapped[datetime] = _created_at()


class ApplicationEvent(Base):
    """An application's timeline. Append-only (trigger-enforced)."""

    __tablename__ = "application_events"
    __table_args__ = (Index("ix_application_events_application_id_at", "application_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    event_type: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    at: Mapped[datetime] = _ts()


class Attachment(Base):
    """An uploaded material (image or PDF), owned by its uploader until used in an application."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class NotificationRead(Base):
    """How far a user has read their inbox (the inbox itself is their objects' timelines)."""

    __tablename__ = "notification_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    read_through: Mapped[datetime] = _ts()


class Open311ApiKey(Base):
    """A partner system's Open311 api_key (stored hashed)."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    partner: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the key may do: ``geo.access`` capabilities, of which ``access.partner`` honours
    #: only ``PARTNER_CAPABILITIES`` (posting requests). Migration 0009.
    capabilities: Mapped[list[str]] = mapped_column(
        ARRAY(Text), server_default=text("'{create_cases}'::text[]")
    )
    created_at: Mapped[datetime] = _created_at()
    revoked_at: Mapped[datetime | None] = _ts_null()


class Open311Request(Base):
    """What a partner sent with a case beyond the case itself (attributes, media URL)."""

    __tablename__ = "open311_requests"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    media_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


# -- supervision (督办, migration 0015) --------------------------------------------------------


class Supervision(Base):
    """A supervisor's 督办 of one case, or of a department's overdue cases, with its deadline:
    open until the handler answers (answered) or the deadline passes (missed, by the sweep)."""

    __tablename__ = "supervisions"
    __table_args__ = (
        CheckConstraint("kind IN ('case', 'department')", name="kind"),
        CheckConstraint(f"status IN {sql_in(SupervisionStatus)}", name="status"),
        CheckConstraint("(kind = 'case') = (case_id IS NOT NULL)", name="case_iff_kind"),
        CheckConstraint("(answered_at IS NULL) = (answer IS NULL)", name="answer_at"),
        Index("ix_supervisions_open_deadline", "deadline",
              postgresql_where=text("status = 'open'")),
        Index("uq_supervisions_open_case", "case_id", unique=True,
              postgresql_where=text("status = 'open' AND kind = 'case'")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    note: Mapped[str] = mapped_column(Text)
    deadline: Mapped[datetime] = _ts()
    status: Mapped[str] = mapped_column(String(16), server_default=SupervisionStatus.OPEN.value)
    created_at: Mapped[datetime] = _ts()
    answered_at: Mapped[datetime | None] = _ts_null()
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    missed_at: Mapped[datetime | None] = _ts_null()


class SupervisionCase(Base):
    """The cases a supervision covers (one for a case's, the overdue ones for a department's)."""

    __tablename__ = "supervision_cases"

    supervision_id: Mapped[int] = mapped_column(ForeignKey("supervisions.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)


#: The sweep's partial indexes on case_clock_states: (name, column, predicate).
CLOCK_STATE_INDEXES = (
    ("ix_case_clock_states_due_unnotified", "due_at", "notified <> 'overdue'"),
    ("ix_case_clock_states_warning_unnotified", "warning_at", "notified = 'on_time'"),
    ("ix_case_clock_states_district_due", "district_at", "escalation_level IS NULL"),
    ("ix_case_clock_states_city_due", "city_at", "escalation_level = 'district'"),
    ("ix_case_clock_states_pending", "case_id", "pending_at IS NOT NULL"),
    ("ix_case_clock_states_suspended", "case_id", "suspended"),
)


class CaseClockState(Base):
    """An open case's current stage clock as last computed (derived: the sweep and each case
    step write it), so warning and overdue lists filter and order in SQL. ``warning_at`` and
    ``due_at`` are null while suspended; ``state`` is as of ``computed_at`` (frozen while
    suspended); ``notified`` the furthest state notified in the stage; ``district_at`` /
    ``city_at`` when the case escalates; valid while ``case_updated_at`` = the case's."""

    __tablename__ = "case_clock_states"
    __table_args__ = (
        CheckConstraint(f"stage IN {sql_in(Stage)}", name="stage"),
        CheckConstraint(f"state IN {sql_in(ClockState)}", name="state"),
        CheckConstraint(f"notified IN {sql_in(ClockState)}", name="notified"),
        CheckConstraint(
            f"escalation_level IS NULL OR escalation_level IN {sql_in(EscalationLevel)}",
            name="escalation_level",
        ),
        CheckConstraint("suspended = (due_at IS NULL)", name="due_unless_suspended"),
        Index("ix_case_clock_states_due_at", "due_at", "case_id"),
        *(Index(name, column, postgresql_where=text(where))
          for name, column, where in CLOCK_STATE_INDEXES),
    )  # fmt: skip

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = _ts()
    warning_at: Mapped[datetime | None] = _ts_null()
    due_at: Mapped[datetime | None] = _ts_null()
    state: Mapped[str] = mapped_column(String(16))
    suspended: Mapped[bool] = mapped_column()
    limit_minutes: Mapped[int] = mapped_column(Integer)
    notified: Mapped[str] = mapped_column(String(16), server_default=ClockState.ON_TIME.value)
    escalation_level: Mapped[str | None] = mapped_column(String(16))
    district_at: Mapped[datetime | None] = _ts_null()
    city_at: Mapped[datetime | None] = _ts_null()
    pending_at: Mapped[datetime | None] = _ts_null()
    pending_notified_at: Mapped[datetime | None] = _ts_null()
    case_updated_at: Mapped[datetime] = _ts()
    computed_at: Mapped[datetime] = _ts()


class SupervisionSweep(Base):
    """The last sweep (one row): when it started (by the database's clock: the next one reads
    the cases changed since, less a margin), when it last reconciled every open case, and its
    counts."""

    __tablename__ = "supervision_sweeps"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    started_at: Mapped[datetime] = _ts()
    reconciled_at: Mapped[datetime] = _ts()
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)


class ReadMark(Base):
    """Read-your-writes across processes and hosts (docs/scale.md): the primary's WAL
    position after a signed-in user's last write, as a number, and until when their reads
    must see it. Unlogged: written by every write request and read on the primary only; a
    crash empties it, which costs nothing but the minute its marks last."""

    __tablename__ = "read_marks"
    __table_args__ = ({"prefixes": ["UNLOGGED"]},)

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    lsn: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[datetime] = _ts()


class StaffNotification(Base):
    """One notice to staff: to a user, a department's staff, the dispatchers or supervisors
    whose jurisdiction holds the case (``geo.access.notification_scope`` decides who)."""

    __tablename__ = "staff_notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(NotificationKind)}", name="kind"),
        CheckConstraint(f"audience IN {sql_in(Audience)}", name="audience"),
        CheckConstraint("(audience = 'user') = (user_id IS NOT NULL)", name="user_iff_user"),
        CheckConstraint(
            "audience <> 'department' OR department_id IS NOT NULL", name="department_named"
        ),
        CheckConstraint(
            "audience NOT IN ('dispatchers', 'district') OR case_id IS NOT NULL", name="case_named"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    audience: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    supervision_id: Mapped[int | None] = mapped_column(ForeignKey("supervisions.id"))
    stage: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(16))
    deadline: Mapped[datetime | None] = _ts_null()
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()


class StaffNotificationRead(Base):
    """How far a staff member has read their notifications (the newest id read)."""

    __tablename__ = "staff_notification_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    read_through: Mapped[int] = mapped_column(BigInteger)


# -- hotline intake, callbacks and on-site checks (市民热线, 回访, 核查) --------------------------


#: A Chinese mobile (11 digits, 1[3-9]…) or a landline with its area code (0XX-…, extension):
#: the form geo.services.hotline.normalise_phone writes.
CALLER_PHONE_SQL = "phone ~ '^(1[3-9][0-9]{9}|0[1-9][0-9]{1,2}-[0-9]{7,8}(-[0-9]{1,6})?)$'"


class CaseCaller(Base):
    """Someone who called the hotline (市民热线) about a case: restricted personal data, apart
    from ``cases`` so no public view picks it up; read only through geo.access (READ_PERSONAL,
    within the jurisdiction), every read audited."""

    __tablename__ = "case_callers"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 50", name="name_length"),
        CheckConstraint(CALLER_PHONE_SQL, name="phone_format"),
        CheckConstraint(
            "callback_time IS NULL OR char_length(callback_time) <= 100",
            name="callback_time_length",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(24))
    #: When the caller prefers to be called back (free text: "工作日下午").
    callback_time: Mapped[str | None] = mapped_column(Text)
    #: The caller agreed to a callback (回访) after the close.
    consent_callback: Mapped[bool] = mapped_column()
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The timeline event of the call (``call_attached``), or of the case's creation.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    taken_at: Mapped[datetime] = _created_at()


class CaseCallback(Base):
    """A callback (回访) due to a consenting caller once the case closed (one per close)."""

    __tablename__ = "case_callbacks"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(CallbackStatus)}", name="status"),
        CheckConstraint(
            f"satisfaction IS NULL OR satisfaction IN {sql_in(Satisfaction)}", name="satisfaction"
        ),
        CheckConstraint("(status = 'done') = (satisfaction IS NOT NULL)",
                        name="satisfaction_iff_done"),
        Index("uq_case_callbacks_caller_id_close_event_id", "caller_id", "close_event_id",
              unique=True),
        Index("ix_case_callbacks_pending", "id", postgresql_where=text("status = 'pending'")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    caller_id: Mapped[int] = mapped_column(ForeignKey("case_callers.id"))
    #: The ``closed`` event this callback follows: a reopened and closed case is called again.
    close_event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    status: Mapped[str] = mapped_column(String(16), server_default=CallbackStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None] = _ts_null()
    created_at: Mapped[datetime] = _created_at()


class CaseCheck(Base):
    """An on-site check (核查) of a resolved case: who, where, how far, which photos."""

    __tablename__ = "case_checks"
    __table_args__ = (CheckConstraint("cardinality(photo_ids) > 0", name="has_photos"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    passed: Mapped[bool] = mapped_column()
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    #: ``report_photos`` rows of the case the checker uploaded after it was resolved.
    photo_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _ts()


# The SensorThings tables live in their own module (registered on the same metadata).
# Plans and incidents (issue 16) likewise.
from geo import address_models as _address_models  # noqa: E402, F401
from geo import api_key_models as _api_key_models  # noqa: E402, F401
from geo import base_models as _base_models  # noqa: E402, F401
from geo import catalogue_models as _catalogue_models  # noqa: E402, F401
from geo import plan_models as _plan_models  # noqa: E402, F401
from geo import plot_models as _plot_models  # noqa: E402, F401
from geo import road_models as _road_models  # noqa: E402, F401
from geo import sensor_alarm_models as _sensor_alarm_models  # noqa: E402, F401
from geo import sensor_models as _sensor_models  # noqa: E402, F401
from geo import warning_models as _warning_models  # noqa: E402, F401
