"""The road network (issue 16, item 1) and its conditions and closures (路况), as models.

``roads`` holds the edges of a pgRouting graph: each row is a stretch of road between two
vertices of ``road_vertices`` (``source`` → ``target``, the direction its geometry runs), with
its free-flow travel time each way in seconds (``cost_s``, ``reverse_cost_s``: length over
speed limit; ``reverse_cost_s`` is -1 on a one-way road, which pgRouting reads as "no way
back"). ``road_conditions`` keeps each road's latest congestion (a speed factor in (0, 1]:
0.5 halves the speed), ``road_closures`` its closures, open while ``ends_at`` is unset or
ahead. Routing (geo.queries.routing) divides the cost by the factor and leaves closed roads
out. docs/roads.md tells the whole model.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import sql_in
from geo.models import SRID, Base


class RoadClass(StrEnum):
    EXPRESSWAY = "expressway"  # 快速路: grade-separated, meets arterials at interchanges
    ARTERIAL = "arterial"  # 主干路
    LOCAL = "local"  # 支路
    LANE = "lane"  # 弄


#: The classes a map shows below zoom 12 (the tiles generalise the rest away).
MAJOR_CLASSES = (RoadClass.EXPRESSWAY, RoadClass.ARTERIAL)


class RoadVertex(Base):
    __tablename__ = "road_vertices"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=False
    )


class Road(Base):
    __tablename__ = "roads"
    __table_args__ = (
        CheckConstraint(f"road_class IN {sql_in(RoadClass)}", name="road_class"),
        CheckConstraint("speed_kmh > 0 AND lanes > 0 AND length_m >= 0", name="positive"),
        CheckConstraint(
            "cost_s >= 0 AND (reverse_cost_s = -1 AND one_way OR reverse_cost_s = cost_s "
            "AND NOT one_way)",
            name="costs",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    road_class: Mapped[str] = mapped_column(Text, index=True)
    speed_kmh: Mapped[int] = mapped_column(SmallInteger)
    lanes: Mapped[int] = mapped_column(SmallInteger)
    one_way: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[int] = mapped_column(ForeignKey("road_vertices.id"), index=True)
    target: Mapped[int] = mapped_column(ForeignKey("road_vertices.id"), index=True)
    length_m: Mapped[float] = mapped_column(Double)
    cost_s: Mapped[float] = mapped_column(Double)
    reverse_cost_s: Mapped[float] = mapped_column(Double)
    geom: Mapped[Any] = mapped_column(
        Geometry("LINESTRING", srid=SRID, spatial_index=True), nullable=False
    )


class RoadCondition(Base):
    """A road's latest congestion: travel time is divided by ``speed_factor``."""

    __tablename__ = "road_conditions"
    __table_args__ = (
        CheckConstraint("speed_factor > 0 AND speed_factor <= 1", name="speed_factor"),
    )

    road_id: Mapped[int] = mapped_column(
        ForeignKey("roads.id", ondelete="CASCADE"), primary_key=True
    )
    speed_factor: Mapped[float] = mapped_column(Double)
    observed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RoadClosure(Base):
    """A closure of a road from ``starts_at``, until ``ends_at`` (None: until reopened)."""

    __tablename__ = "road_closures"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="interval"),
        CheckConstraint("length(reason) BETWEEN 1 AND 500", name="reason"),
        # The closures in force: routing asks for them on every query.
        Index("ix_road_closures_open", "road_id", postgresql_where=text("ends_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    road_id: Mapped[int] = mapped_column(ForeignKey("roads.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    reopened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
