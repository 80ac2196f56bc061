"""What ``onemap simulate sensors`` reads before it publishes: the demo city's synthetic devices
(one row per Datastream, with its kind, period, warning line, facility code and district) and
the rules the scenarios must outlast (docs/sensors.md, "Simulating the city").

Only Things marked ``synthetic`` with a ``kind`` the seed knows are read: a simulator must
never speak for a real device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

#: The seeded kinds (seed.sensor_kinds), as ``properties.kind``.
KINDS = ("smoke_detector", "gas_detector", "water_level_gauge", "cable_temperature_sensor")

_DEVICES = """
SELECT d.id, t.id, t.properties ->> 'kind', t.critical,
  coalesce(d.properties -> 'period', t.properties -> 'period') #>> '{}',
  coalesce(d.properties -> 'warningLine', t.properties -> 'warningLine') #>> '{}',
  f.code, dist.code, t.name
FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
LEFT JOIN facilities f ON f.id = t.facility_id
LEFT JOIN grid_cells g ON g.id = t.grid_cell_id
LEFT JOIN admin_areas c ON c.id = g.community_id
LEFT JOIN admin_areas s ON s.id = c.parent_id
LEFT JOIN admin_areas dist ON dist.id = s.parent_id
WHERE t.properties @> '{"synthetic": true}' AND t.properties ->> 'kind' = ANY(%(kinds)s)
  AND (%(district)s::text IS NULL OR dist.code = %(district)s)
ORDER BY d.id
"""

_DISTRICTS = "SELECT code FROM admin_areas WHERE level = 'district' ORDER BY code"

_RULES = """
SELECT observed_property, warning_level, alarm_level, hysteresis, min_duration_s, min_readings
FROM sensor_rules WHERE enabled AND kind = 'threshold' AND observed_property = ANY(%(props)s)
"""


@dataclass(frozen=True, slots=True)
class Device:
    datastream_id: int
    thing_id: int
    kind: str
    critical: bool
    period: float | None
    warning_line: float | None
    facility_code: str | None
    district: str | None
    name: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A threshold rule's levels and what it needs held before it raises."""

    warning_level: float
    alarm_level: float
    hysteresis: float
    min_duration_s: int
    min_readings: int


def _float(text: Any) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def devices(conn: psycopg.Connection[Any], district: str | None) -> list[Device]:
    rows = conn.execute(_DEVICES, {"kinds": list(KINDS), "district": district}).fetchall()
    return [Device(int(r[0]), int(r[1]), str(r[2]), bool(r[3]), _float(r[4]), _float(r[5]),
                   r[6], r[7], str(r[8])) for r in rows]  # fmt: skip


def districts(conn: psycopg.Connection[Any]) -> list[str]:
    return [str(r[0]) for r in conn.execute(_DISTRICTS).fetchall()]


def threshold_rules(conn: psycopg.Connection[Any], props: list[str]) -> dict[str, Rule]:
    """The enabled threshold rule of each observed property (the strictest when several)."""
    out: dict[str, Rule] = {}
    for prop, *levels in conn.execute(_RULES, {"props": props}).fetchall():
        rule = Rule(float(levels[0]), float(levels[1]), float(levels[2]), int(levels[3]),
                    int(levels[4]))  # fmt: skip
        have = out.get(prop)
        if have is None or rule.min_duration_s > have.min_duration_s:
            out[prop] = rule
    return out
