"""The SensorThings tables (OGC SensorThings API 1.1 Part 1: Sensing), as models.

Eight entity types in ``sta_`` tables; docs/sensors.md draws them. ``sta_observations`` is
range-partitioned by phenomenon time (monthly partitions made ahead by
``sta_ensure_observation_partitions``, migration 0018; a default partition catches the rest),
so its partitions are not models: Alembic compares the parent only. Deletes cascade as the
standard says (a Thing takes its Datastreams and HistoricalLocations, a Datastream its
Observations, …) through the foreign keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import SensorState, sql_in
from geo.models import SRID, Base

#: The observation types of the standard (O&M 2.0) a Datastream may declare.
OBSERVATION_TYPES = (
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
)


def _json() -> Mapped[dict[str, Any] | None]:
    return mapped_column(JSONB)


def _geometry() -> Any:
    return Geometry("GEOMETRY", srid=SRID, spatial_index=True)


def _ts_null() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True))


def _cascade(target: str) -> Any:
    return ForeignKey(target, ondelete="CASCADE")


class StaThing(Base):
    """A Thing: a device or station. ``critical`` things (critical infrastructure) are internal:
    the public does not see them, their Locations or their readings (docs/sensors.md)."""

    __tablename__ = "sta_things"
    __table_args__ = (
        CheckConstraint(f"state IN {sql_in(SensorState)}", name="state"),
        Index("idx_sta_things_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    properties: Mapped[dict[str, Any] | None] = _json()
    critical: Mapped[bool] = mapped_column(server_default=text("false"), index=True)
    #: The grid cell its (current) Location lies in, stamped by the sensor service in SQL.
    grid_cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facilities.id", ondelete="SET NULL"), index=True
    )
    #: The map's view of the Thing (migration 0022, kept by triggers): the point of its first
    #: current Location, the worst of its Datastreams' states, its ``properties.kind``.
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=True
    )
    state: Mapped[str] = mapped_column(String(16), server_default=text("'normal'"))
    kind: Mapped[str | None] = mapped_column(
        Text, Computed("properties ->> 'kind'", persisted=True)
    )


class StaLocation(Base):
    __tablename__ = "sta_locations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    encoding_type: Mapped[str] = mapped_column(Text)
    properties: Mapped[dict[str, Any] | None] = _json()
    geom: Mapped[Any] = mapped_column(_geometry(), nullable=False)


class StaThingLocation(Base):
    """A Thing's current Locations (many to many)."""

    __tablename__ = "sta_thing_locations"

    thing_id: Mapped[int] = mapped_column(_cascade("sta_things.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        _cascade("sta_locations.id"), primary_key=True, index=True
    )


class StaHistoricalLocation(Base):
    __tablename__ = "sta_historical_locations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    thing_id: Mapped[int] = mapped_column(_cascade("sta_things.id"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StaHistoricalLocationLocation(Base):
    __tablename__ = "sta_historical_location_locations"

    historical_location_id: Mapped[int] = mapped_column(
        _cascade("sta_historical_locations.id"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(
        _cascade("sta_locations.id"), primary_key=True, index=True
    )


class StaSensor(Base):
    __tablename__ = "sta_sensors"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    encoding_type: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[str] = mapped_column("metadata", Text)
    properties: Mapped[dict[str, Any] | None] = _json()


class StaObservedProperty(Base):
    __tablename__ = "sta_observed_properties"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    definition: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    properties: Mapped[dict[str, Any] | None] = _json()


class StaDatastream(Base):
    """A Datastream, with its latest observation kept for the map (``latest_*``)."""

    __tablename__ = "sta_datastreams"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    observation_type: Mapped[str] = mapped_column(Text)
    unit_of_measurement: Mapped[dict[str, Any]] = mapped_column(JSONB)
    properties: Mapped[dict[str, Any] | None] = _json()
    thing_id: Mapped[int] = mapped_column(_cascade("sta_things.id"), index=True)
    sensor_id: Mapped[int] = mapped_column(_cascade("sta_sensors.id"), index=True)
    observed_property_id: Mapped[int] = mapped_column(
        _cascade("sta_observed_properties.id"), index=True
    )
    phenomenon_time_start: Mapped[datetime | None] = _ts_null()
    phenomenon_time_end: Mapped[datetime | None] = _ts_null()
    result_time_start: Mapped[datetime | None] = _ts_null()
    result_time_end: Mapped[datetime | None] = _ts_null()
    latest_observation_id: Mapped[int | None] = mapped_column(BigInteger)
    latest_phenomenon_time: Mapped[datetime | None] = _ts_null()
    latest_result: Mapped[Any] = mapped_column(JSONB, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "observation_type IN (" + ", ".join(f"'{t}'" for t in OBSERVATION_TYPES) + ")",
            name="observation_type",
        ),
    )


class StaFeatureOfInterest(Base):
    """A FeatureOfInterest. ``internal`` when a critical Thing's observations point at it."""

    __tablename__ = "sta_features_of_interest"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    encoding_type: Mapped[str] = mapped_column(Text)
    properties: Mapped[dict[str, Any] | None] = _json()
    internal: Mapped[bool] = mapped_column(server_default=text("false"))
    geom: Mapped[Any] = mapped_column(_geometry(), nullable=False)


class StaObservation(Base):
    """An Observation, in the partition of its phenomenon time's month."""

    __tablename__ = "sta_observations"
    __table_args__ = (
        PrimaryKeyConstraint("id", "phenomenon_time", name="pk_sta_observations"),
        # One reading per Datastream and time: a redelivered or retried one is stored once.
        Index("uq_sta_observations_datastream_id_phenomenon_time", "datastream_id",
              "phenomenon_time", unique=True),
        {"postgresql_partition_by": "RANGE (phenomenon_time)"},
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    phenomenon_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    phenomenon_time_end: Mapped[datetime | None] = _ts_null()
    result_time: Mapped[datetime | None] = _ts_null()
    valid_time_start: Mapped[datetime | None] = _ts_null()
    valid_time_end: Mapped[datetime | None] = _ts_null()
    result: Mapped[Any] = mapped_column(JSONB)
    result_quality: Mapped[Any] = mapped_column(JSONB, nullable=True)
    parameters: Mapped[dict[str, Any] | None] = _json()
    datastream_id: Mapped[int] = mapped_column(_cascade("sta_datastreams.id"))
    feature_of_interest_id: Mapped[int] = mapped_column(
        _cascade("sta_features_of_interest.id"), index=True
    )


class StaMqttAccount(Base):
    """An account of the MQTT broker made from the registry (migration 0023): a device's (one
    per Thing: it may publish to its Datastreams' topics only) or a reader's (``public``: the
    topics of non-critical Datastreams; ``internal``: all). The password is kept only as its
    Mosquitto ``$7$`` (PBKDF2-SHA512) hash, what the broker's password_file holds."""

    __tablename__ = "sta_mqtt_accounts"
    __table_args__ = (
        CheckConstraint(
            "(thing_id IS NULL) <> (reader IS NULL) AND "
            "(reader IS NULL OR reader IN ('public', 'internal'))",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    thing_id: Mapped[int | None] = mapped_column(_cascade("sta_things.id"), unique=True)
    reader: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    rotated_at: Mapped[datetime | None] = _ts_null()
