"""Emergency plans (预案) and the incidents activated from them (issue 16, items 2 and 3).

- ``plans``: the registry entry — number, hazard type, the current version's number.
- ``plan_versions``: each revision is a new row (title, issuing body, validity, scope and its
  optional area); old versions stay readable. Activation uses the plan's current version.
- ``plan_measures``: a version's measures per response level (I–IV), in order: text, the
  responsible department, the resources needed (facility categories and counts), a due time.
- ``incidents``: a plan version activated at a place (a point with a reach, or an area) and a
  level; the context gathered then is stored with it (``context``) for replay.
- ``incident_tasks``: one per measure of each level the incident has been at.
- ``incident_events``: the timeline, append-only (a trigger refuses UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import sql_in
from geo.models import SRID, Base
from geo.plan_enums import (
    HazardType,
    IncidentEventType,
    IncidentStatus,
    IncidentTaskStatus,
    ResponseLevel,
)


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _ts_null() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True))


def _level(column: str = "level") -> CheckConstraint:
    return CheckConstraint(f"{column} IN {sql_in(ResponseLevel)}", name=column)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(f"hazard_type IN {sql_in(HazardType)}", name="hazard_type"),
        CheckConstraint("current_version >= 1", name="current_version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    #: The plan's document number (文号), e.g. 银政办发〔2026〕12号.
    number: Mapped[str] = mapped_column(Text, unique=True)
    hazard_type: Mapped[str] = mapped_column(String(32), index=True)
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "version"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    issuing_body: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    scope_text: Mapped[str] = mapped_column(Text)
    scope_area: Mapped[Any | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True)
    )
    #: What this revision changed (empty for the first version).
    change_note: Mapped[str] = mapped_column(Text, server_default=text("''"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _ts()


class PlanMeasure(Base):
    __tablename__ = "plan_measures"
    __table_args__ = (
        _level(),
        UniqueConstraint("version_id", "level", "position"),
        CheckConstraint("due_minutes > 0", name="due_minutes_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    level: Mapped[str] = mapped_column(String(4))
    position: Mapped[int] = mapped_column(Integer)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    #: [{"category": a FacilityCategory, "count": n}, …]
    resources: Mapped[Any] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    #: The task made from it is due this long after it is assigned.
    due_minutes: Mapped[int] = mapped_column(Integer, server_default=text("60"))


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        _level(),
        CheckConstraint(f"status IN {sql_in(IncidentStatus)}", name="status"),
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL AND summary IS NOT NULL)",
            name="closed_iff_summary",
        ),
        CheckConstraint("reach_m >= 0", name="reach_not_negative"),
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(Text, unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    level: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    #: The place: a Point (with its reach) or a (Multi)Polygon.
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
    reach_m: Mapped[float] = mapped_column(Double)
    title: Mapped[str] = mapped_column(Text)
    #: The context gathered at activation (geo.services.incident_context), kept as it was.
    context: Mapped[Any] = mapped_column(JSONB)
    started_at: Mapped[datetime] = _ts()
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = _ts_null()
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str | None] = mapped_column(Text)


class IncidentTask(Base):
    __tablename__ = "incident_tasks"
    __table_args__ = (
        _level(),
        CheckConstraint(f"status IN {sql_in(IncidentTaskStatus)}", name="status"),
        CheckConstraint("(status = 'refused') = (reason IS NOT NULL)", name="refused_iff_reason"),
        UniqueConstraint("incident_id", "measure_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("plan_measures.id"))
    level: Mapped[str] = mapped_column(String(4))
    position: Mapped[int] = mapped_column(Integer)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    resources: Mapped[Any] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IncidentEvent(Base):
    """An incident's timeline. Append-only: a trigger refuses UPDATE and DELETE."""

    __tablename__ = "incident_events"
    __table_args__ = (
        CheckConstraint(f"event_type IN {sql_in(IncidentEventType)}", name="event_type"),
        CheckConstraint(f"level IS NULL OR level IN {sql_in(ResponseLevel)}", name="level"),
        CheckConstraint(
            f"from_level IS NULL OR from_level IN {sql_in(ResponseLevel)}", name="from_level"
        ),
        Index("ix_incident_events_incident_id_at", "incident_id", "at"),
        CheckConstraint(
            "(event_type IN ('plot_added', 'plot_updated', 'plot_removed')) = "
            "(plot_id IS NOT NULL AND geom IS NOT NULL AND detail IS NOT NULL)",
            name="plot_iff_plot_event",
        ),
        Index("ix_incident_events_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    event_type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The actor's role as the audit log writes it (access.Principal.audit_role).
    actor_role: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(4))
    from_level: Mapped[str | None] = mapped_column(String(4))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("incident_tasks.id"))
    note: Mapped[str | None] = mapped_column(Text)
    #: A plot event's plot (geo/plot_models.py) and, as it was then, its geometry and
    #: {symbol, label, style, version}: the replay's state at a moment comes from these.
    plot_id: Mapped[int | None] = mapped_column(ForeignKey("incident_plots.id"))
    geom: Mapped[Any | None] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
    detail: Mapped[Any | None] = mapped_column(JSONB)
