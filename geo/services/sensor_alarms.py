"""Rules → alarms: the evaluation of each stored batch of Observations.

Called once per batch by the writer of Observations (geo.services.sensor_observations), in its
transaction, for every Datastream of the batch. Cheap on the ingest path: one statement reads
the rules that apply to the batch's Datastreams with their stored states, the state machine
runs over the readings in memory, one statement stores the rules' states back — no
statement per reading. A Datastream under no rule costs the one read; alarms, cases and live
events (geo.services.sensor_effects) are written only when a level changes or a peak grows.

The state machine per Datastream and rule (docs/sensors.md, "Rules and alarms"):

- a reading's value is the result (less the rule's reference, e.g. the warning line) for a
  threshold rule, its change per minute since the previous reading for a rate rule;
- a higher level (warning, alarm) is raised when its condition has held ``min_duration_s``
  and ``min_readings`` readings in a row (a spike shorter than that raises nothing);
- a level is left at once when the value falls below it less ``hysteresis``;
- readings older than the newest evaluated one are stored but not evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo.enums import SensorLevel, SensorRuleKind, SensorState
from geo.services import sensor_effects

L = SensorLevel
RANK = {L.NORMAL: 0, L.WARNING: 1, L.ALARM: 2}

_READ = """
SELECT d.id, d.thing_id, ds.level, ds.state, r.id, r.kind, r.warning_level, r.alarm_level,
  r.hysteresis, r.min_duration_s, r.min_readings,
  CASE WHEN r.reference IS NULL THEN 0 ELSE coalesce(
    CASE WHEN jsonb_typeof(d.properties -> r.reference) = 'number'
         THEN (d.properties ->> r.reference)::float8 END,
    CASE WHEN jsonb_typeof(t.properties -> r.reference) = 'number'
         THEN (t.properties ->> r.reference)::float8 END) END,
  s.level, s.pending_since, s.pending_count, s.last_time, s.last_value
FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
JOIN sta_observed_properties op ON op.id = d.observed_property_id
LEFT JOIN sensor_datastream_states ds ON ds.datastream_id = d.id
LEFT JOIN sensor_rules r ON r.enabled AND r.observed_property IN (lower(op.name), op.definition)
LEFT JOIN sensor_rule_states s ON s.datastream_id = d.id AND s.rule_id = r.id
WHERE d.id = ANY(%(ids)s)
"""
_STORE = """
INSERT INTO sensor_rule_states (datastream_id, rule_id, level, pending_since, pending_count,
  last_time, last_value)
SELECT * FROM jsonb_to_recordset(%(rows)s) AS x(datastream_id bigint, rule_id int, level text,
  pending_since timestamptz, pending_count int, last_time timestamptz, last_value float8)
ON CONFLICT (datastream_id, rule_id) DO UPDATE SET level = excluded.level,
  pending_since = excluded.pending_since, pending_count = excluded.pending_count,
  last_time = excluded.last_time, last_value = excluded.last_value
"""


@dataclass
class Machine:
    """A Datastream's state under one rule, stepped through readings in time order."""

    datastream_id: int
    thing_id: int
    rule_id: int
    kind: SensorRuleKind
    warning: float
    alarm: float
    hysteresis: float
    min_duration_s: int
    min_readings: int
    reference: float
    level: SensorLevel = L.NORMAL
    pending_since: datetime | None = None
    pending_count: int = 0
    last_time: datetime | None = None
    last_value: float | None = None
    #: (from, to, at, value) for each change of level, in order.
    changes: list[tuple[SensorLevel, SensorLevel, datetime, float]] = field(default_factory=list)
    #: The values read while above normal: (at, value).
    raised: list[tuple[datetime, float]] = field(default_factory=list)

    def _target(self, x: float) -> SensorLevel:
        """The level ``x`` calls for: a level held now is left only below it less hysteresis."""
        held = RANK[self.level]
        alarm = self.alarm - (self.hysteresis if held >= 2 else 0)
        warning = self.warning - (self.hysteresis if held >= 1 else 0)
        return L.ALARM if x >= alarm else L.WARNING if x >= warning else L.NORMAL

    def step(self, at: datetime, result: float) -> None:
        if self.last_time is not None and at <= self.last_time:
            return
        previous, before = self.last_value, self.last_time
        self.last_time, self.last_value = at, result
        if self.kind is SensorRuleKind.RATE:
            if previous is None or before is None:
                return
            x = (result - previous) / ((at - before).total_seconds() / 60)
        else:
            x = result - self.reference
        target = self._target(x)
        if RANK[target] > RANK[self.level]:
            if self.pending_since is None:
                self.pending_since, self.pending_count = at, 0
            self.pending_count += 1
            held = (at - self.pending_since).total_seconds()
            if held >= self.min_duration_s and self.pending_count >= self.min_readings:
                self._change(target, at, x)
        else:
            self.pending_since, self.pending_count = None, 0
            if target != self.level:
                self._change(target, at, x)
        if self.level is not L.NORMAL:
            self.raised.append((at, x))

    def _change(self, target: SensorLevel, at: datetime, x: float) -> None:
        self.changes.append((self.level, target, at, x))
        self.level = target
        self.pending_since, self.pending_count = None, 0

    def stored(self) -> dict[str, Any]:
        return {"datastream_id": self.datastream_id, "rule_id": self.rule_id,
                "level": self.level.value,
                "pending_since": self.pending_since and self.pending_since.isoformat(),
                "pending_count": self.pending_count,
                "last_time": self.last_time and self.last_time.isoformat(),
                "last_value": self.last_value}  # fmt: skip


def _number(result: Any) -> float | None:
    if isinstance(result, bool) or not isinstance(result, int | float):
        return None
    return float(result)


def _readings(rows: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, float]]:
    """A batch's numeric readings in time order (others are not evaluated)."""
    found = []
    for row in rows:
        value = _number(row.get("result"))
        if value is None:
            continue
        at = row["phenomenon_time"]
        found.append((datetime.fromisoformat(at) if isinstance(at, str) else at, value))
    return sorted(found, key=lambda r: r[0])


async def evaluate(
    conn: AsyncConnection[Any], batch: Mapping[int, Sequence[Mapping[str, Any]]]
) -> None:
    """Evaluate a stored batch: Datastream id → its new rows (``phenomenon_time``,
    ``result``, as the writer stores them), inside the writer's transaction."""
    if not batch:
        return
    cur = await conn.execute(_READ, {"ids": list(batch)})
    machines: list[Machine] = []
    states: dict[int, tuple[int, str | None, str | None]] = {}
    parsed: dict[int, list[tuple[datetime, float]]] = {}
    for row in await cur.fetchall():
        ds, thing, ds_level, ds_state, rule_id = row[:5]
        states[ds] = (thing, ds_level, ds_state)
        if rule_id is None or row[11] is None:
            continue  # no rule, or the rule's reference is missing on this device
        kind, warning, alarm, hysteresis, min_s, min_n, reference = row[5:12]
        level, pending_since, pending_count, last_time, last_value = row[12:]
        machine = Machine(
            ds,
            thing,
            rule_id,
            SensorRuleKind(kind),
            warning,
            alarm,
            hysteresis,
            min_s,
            min_n,
            reference,
            L(level or L.NORMAL),
            pending_since,
            pending_count or 0,
            last_time,
            last_value,
        )
        if ds not in parsed:
            parsed[ds] = _readings(batch[ds])
        for at, value in parsed[ds]:
            machine.step(at, value)
        machines.append(machine)
    if machines:
        await conn.execute(_STORE, {"rows": Jsonb([m.stored() for m in machines])})
    for machine in machines:
        if machine.changes or machine.raised:
            await sensor_effects.apply(
                conn, machine.datastream_id, machine.thing_id, machine.rule_id,
                machine.changes, machine.raised,
            )  # fmt: skip
    await _datastream_states(conn, states, machines)


async def _datastream_states(
    conn: AsyncConnection[Any],
    states: Mapping[int, tuple[int, str | None, str | None]],
    machines: Sequence[Machine],
) -> None:
    """Each Datastream's state for the map: its rules' highest level; a reading brings an
    offline one back. Written only where it changed."""
    levels: dict[int, SensorLevel] = {}
    for m in machines:
        if RANK[m.level] >= RANK[levels.get(m.datastream_id, L.NORMAL)]:
            levels[m.datastream_id] = m.level
    changed = []
    for ds, (thing, old_level, old_state) in states.items():
        level = levels.get(ds) or L(old_level or L.NORMAL)
        if (old_state or SensorState.NORMAL.value) != level.value:
            changed.append((ds, thing, level, old_state == SensorState.OFFLINE.value))
    if changed:
        await sensor_effects.set_states(conn, changed)
