"""Reads of the sensors' alarms, states and rules (GraphQL's ``sensorAlarms``,
``sensorStates``, ``sensorRules`` and the ``sensorAlarms`` subscription).

Alarms and states are sensor data: those of a critical device (a Thing marked ``critical``)
exist only for callers with READ_SENSORS, as its Datastreams do (``access.sensor_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo import access
from geo.access import Principal
from geo.queries import Query


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: int
    datastream_id: int
    datastream: str
    thing_id: int
    thing: str
    rule_id: int
    rule: str
    level: str
    peak_level: str
    state: str
    raised_at: datetime
    last_at: datetime
    last_value: float
    peak_value: float
    cleared_at: datetime | None
    case_id: int | None
    case_public_id: str | None


@dataclass(frozen=True, slots=True)
class StateRow:
    datastream_id: int
    datastream: str
    thing_id: int
    thing: str
    state: str
    since: datetime | None
    latest_time: datetime | None
    latest_result: Any
    #: The device's state on the map: the worst of its Datastreams' (migration 0022).
    thing_state: str


_ALARMS = """
SELECT a.id, a.datastream_id, d.name, a.thing_id, t.name, a.rule_id, r.name, a.level,
  a.peak_level, coalesce(s.state, 'normal'), a.raised_at, a.last_at, a.last_value,
  a.peak_value, a.cleared_at, a.case_id, c.public_id
FROM sensor_alarms a JOIN sta_datastreams d ON d.id = a.datastream_id
JOIN sta_things t ON t.id = a.thing_id JOIN sensor_rules r ON r.id = a.rule_id
LEFT JOIN sensor_datastream_states s ON s.datastream_id = a.datastream_id
LEFT JOIN cases c ON c.id = a.case_id
WHERE ({scope}) AND {where}
ORDER BY a.raised_at DESC, a.id DESC LIMIT %(limit)s
"""


def _alarms(principal: Principal, where: str, params: dict[str, Any]) -> Query[list[AlarmRow]]:
    statement = sql.SQL(_ALARMS).format(
        scope=sql.SQL(access.sensor_scope(principal, "Things", "t")), where=sql.SQL(where)
    )
    return Query(statement, params, lambda rows: [AlarmRow(*r) for r in rows])


def sensor_alarms(
    principal: Principal, *, active: bool | None, thing_id: int | None, limit: int
) -> Query[list[AlarmRow]]:
    """The newest alarms first: open ones (``active``), cleared ones, or both (None)."""
    where = {True: "a.cleared_at IS NULL", False: "a.cleared_at IS NOT NULL", None: "TRUE"}[active]
    if thing_id is not None:
        where += " AND a.thing_id = %(thing)s"
    return _alarms(principal, where, {"limit": limit, "thing": thing_id})


def sensor_alarm(principal: Principal, alarm_id: int) -> Query[list[AlarmRow]]:
    """One alarm (an empty list when there is none the caller may see)."""
    return _alarms(principal, "a.id = %(id)s", {"id": alarm_id, "limit": 1})


def sensor_states(
    principal: Principal, *, states: list[str] | None, datastream_id: int | None, limit: int
) -> Query[list[StateRow]]:
    """Datastreams' states for the map (those without a stored state are normal), those
    not normal first."""
    statement = sql.SQL(
        "SELECT d.id, d.name, t.id, t.name, coalesce(s.state, 'normal'), s.since, "
        "d.latest_phenomenon_time, d.latest_result, t.state FROM sta_datastreams d "
        "JOIN sta_things t ON t.id = d.thing_id "
        "LEFT JOIN sensor_datastream_states s ON s.datastream_id = d.id "
        "WHERE ({scope}) AND (%(states)s::text[] IS NULL "
        "OR coalesce(s.state, 'normal') = ANY(%(states)s)) "
        "AND (%(ds)s::bigint IS NULL OR d.id = %(ds)s) "
        "ORDER BY coalesce(s.state, 'normal') = 'normal', d.id LIMIT %(limit)s"
    ).format(scope=sql.SQL(access.sensor_scope(principal, "Things", "t")))
    return Query(statement, {"states": states, "ds": datastream_id, "limit": limit},
                 lambda rows: [StateRow(*r) for r in rows])  # fmt: skip


def sensor_rules() -> Query[list[dict[str, Any]]]:
    """Every rule (the caller is an admin: MANAGE_SENSORS, checked by the surface)."""
    statement = sql.SQL(
        "SELECT id, name, observed_property, kind, reference, warning_level, alarm_level, "
        "hysteresis, min_duration_s, min_readings, update_step, rearm_s, category, priority, "
        "enabled, updated_at FROM sensor_rules ORDER BY id"
    )
    names = ("id", "name", "observed_property", "kind", "reference", "warning_level",
             "alarm_level", "hysteresis", "min_duration_s", "min_readings", "update_step",
             "rearm_s", "category", "priority", "enabled", "updated_at")  # fmt: skip
    return Query(statement, {}, lambda rows: [dict(zip(names, r, strict=True)) for r in rows])
