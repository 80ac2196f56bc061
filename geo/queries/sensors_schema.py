"""The SensorThings entity model as SQL: each entity set's table, properties and navigation.

Everything here is a constant of ours; the query builders compose it with ``psycopg.sql`` and
put every value from a request in bind parameters. ``{a}`` stands for the entity's table alias,
``{p}``/``{c}`` for a parent and a child alias in a navigation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: How a property is read, filtered and ordered: number, text, time, json, geometry.
type Kind = str

_TS = "to_jsonb({a}.{col})"


def _interval(start: str, end: str) -> str:
    """A time that may be an interval: ``start`` or ``start/end`` (ISO 8601)."""
    return (
        f"CASE WHEN {{a}}.{end} IS NULL OR {{a}}.{end} = {{a}}.{start} "
        f"THEN to_jsonb({{a}}.{start}) "
        f"ELSE to_jsonb((to_jsonb({{a}}.{start}) #>> '{{{{}}}}') || '/' || "
        f"(to_jsonb({{a}}.{end}) #>> '{{{{}}}}')) END"
    )


@dataclass(frozen=True, slots=True)
class Prop:
    out: str  # SQL giving the JSON value served
    expr: str  # SQL giving the value filtered and ordered on
    kind: Kind


def _col(col: str, kind: Kind = "text") -> Prop:
    return Prop(f"to_jsonb({{a}}.{col})", f"{{a}}.{col}", kind)


def _json(col: str) -> Prop:
    return Prop(f"{{a}}.{col}", f"{{a}}.{col}", "json")


def _geom(col: str = "geom") -> Prop:
    # 15 decimals: what a client sent comes back unchanged (PostGIS rounds to 9 by default)
    return Prop(f"ST_AsGeoJSON({{a}}.{col}, 15)::jsonb", f"{{a}}.{col}", "geometry")


def _time(start: str, end: str) -> Prop:
    return Prop(_interval(start, end), f"{{a}}.{start}", "time")


@dataclass(frozen=True, slots=True)
class Nav:
    target: str  # entity set
    many: bool
    #: A predicate tying child alias {c} to parent alias {p}.
    link: str
    #: For a to-one navigation: the parent's column holding the child's id.
    key: str | None = None
    #: For a to-many navigation by foreign key: the child's column holding the parent's id.
    child_key: str | None = None


def _m2m(table: str, mine: str, theirs: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM {table} lk WHERE lk.{mine} = {{p}}.id "  # noqa: S608
        f"AND lk.{theirs} = {{c}}.id)"
    )


def _one(target: str, fk: str) -> Nav:
    return Nav(target, False, f"{{c}}.id = {{p}}.{fk}", fk)


def _many(target: str, fk: str) -> Nav:
    return Nav(target, True, f"{{c}}.{fk} = {{p}}.id", child_key=fk)


@dataclass(frozen=True, slots=True)
class EntitySet:
    name: str
    singular: str
    table: str
    props: Mapping[str, Prop]
    navs: Mapping[str, Nav]


_BASE = {"name": _col("name"), "description": _col("description")}

ENTITY_SETS: Mapping[str, EntitySet] = {
    "Things": EntitySet("Things", "Thing", "sta_things",
        {**_BASE, "properties": _json("properties")},
        {"Locations": Nav("Locations", True,
                          _m2m("sta_thing_locations", "thing_id", "location_id")),
         "HistoricalLocations": _many("HistoricalLocations", "thing_id"),
         "Datastreams": _many("Datastreams", "thing_id")}),
    "Locations": EntitySet("Locations", "Location", "sta_locations",
        {**_BASE, "encodingType": _col("encoding_type"), "location": _geom(),
         "properties": _json("properties")},
        {"Things": Nav("Things", True, _m2m("sta_thing_locations", "location_id", "thing_id")),
         "HistoricalLocations": Nav("HistoricalLocations", True, _m2m(
             "sta_historical_location_locations", "location_id", "historical_location_id"))}),
    "HistoricalLocations": EntitySet("HistoricalLocations", "HistoricalLocation",
        "sta_historical_locations", {"time": _col("time", "time")},
        {"Thing": _one("Things", "thing_id"),
         "Locations": Nav("Locations", True, _m2m(
             "sta_historical_location_locations", "historical_location_id", "location_id"))}),
    "Datastreams": EntitySet("Datastreams", "Datastream", "sta_datastreams",
        {**_BASE, "unitOfMeasurement": _json("unit_of_measurement"),
         "observationType": _col("observation_type"),
         "phenomenonTime": _time("phenomenon_time_start", "phenomenon_time_end"),
         "resultTime": _time("result_time_start", "result_time_end"),
         "properties": _json("properties")},
        {"Thing": _one("Things", "thing_id"), "Sensor": _one("Sensors", "sensor_id"),
         "ObservedProperty": _one("ObservedProperties", "observed_property_id"),
         "Observations": _many("Observations", "datastream_id")}),
    "Sensors": EntitySet("Sensors", "Sensor", "sta_sensors",
        {**_BASE, "encodingType": _col("encoding_type"), "metadata": _col("metadata"),
         "properties": _json("properties")},
        {"Datastreams": _many("Datastreams", "sensor_id")}),
    "ObservedProperties": EntitySet("ObservedProperties", "ObservedProperty",
        "sta_observed_properties",
        {"name": _col("name"), "definition": _col("definition"),
         "description": _col("description"), "properties": _json("properties")},
        {"Datastreams": _many("Datastreams", "observed_property_id")}),
    "Observations": EntitySet("Observations", "Observation", "sta_observations",
        {"phenomenonTime": _time("phenomenon_time", "phenomenon_time_end"),
         "result": _json("result"), "resultTime": _col("result_time", "time"),
         "resultQuality": _json("result_quality"),
         "validTime": _time("valid_time_start", "valid_time_end"),
         "parameters": _json("parameters")},
        {"Datastream": _one("Datastreams", "datastream_id"),
         "FeatureOfInterest": _one("FeaturesOfInterest", "feature_of_interest_id")}),
    "FeaturesOfInterest": EntitySet("FeaturesOfInterest", "FeatureOfInterest",
        "sta_features_of_interest",
        {**_BASE, "encodingType": _col("encoding_type"), "feature": _geom(),
         "properties": _json("properties")},
        {"Observations": _many("Observations", "feature_of_interest_id")}),
}  # fmt: skip

#: The id property, as written in requests.
ID_NAMES = ("id", "@iot.id")
ID = Prop("to_jsonb({a}.id)", "{a}.id", "number")


def entity_set(name: str) -> EntitySet | None:
    return ENTITY_SETS.get(name)


def prop(entity: EntitySet, name: str) -> Prop | None:
    if name in ID_NAMES:
        return ID
    return entity.props.get(name)
