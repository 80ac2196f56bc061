"""Shared plotting (指挥标绘, issue 16 item 4): what command seats draw on an incident.

``incident_plots`` holds each plot as it stands now — a Point, LineString or Polygon with a
symbol, a label and style hints — with a version counter for optimistic concurrency (an update
names the version it read). A removal is soft (``removed_at``): the replay shows it. Every
change is also an ``incident_events`` row carrying the plot's geometry and version then, so the
timeline alone gives any earlier state (geo.queries.replay_state).
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
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import sql_in
from geo.models import SRID, Base
from geo.plot_enums import PLOT_GEOMETRY_TYPES, PlotSymbol

GEOMETRY_CHECK = "GeometryType(geom) IN ('POINT', 'LINESTRING', 'POLYGON')"
assert len(PLOT_GEOMETRY_TYPES) == 3  # the CHECK above names the same three


class IncidentPlot(Base):
    __tablename__ = "incident_plots"
    __table_args__ = (
        CheckConstraint(f"symbol IN {sql_in(PlotSymbol)}", name="symbol"),
        CheckConstraint(GEOMETRY_CHECK, name="geometry_type"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("length(label) <= 200", name="label_length"),
        CheckConstraint("(removed_at IS NULL) = (removed_by IS NULL)", name="removed_by_when"),
        Index("ix_incident_plots_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(Text, server_default=text("''"))
    #: Style hints for the map (colour, width, dash, fill opacity …), a small JSON object.
    style: Mapped[Any] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
