"""The simulator's readings judged by the rules' own state machine (geo.services.sensor_alarms
``Machine``, with the session city's default rules) on a clock of the test's own, no broker:
normal readings at any speed raise nothing — not even the cable sensors' rate-of-change rule,
through the morning rush — and a rainstorm under the *default* water rule (60 s held, real
time) raises each gauge once and clears it; a gas leak alarms its one detector."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest

from geo.enums import SensorLevel, SensorRuleKind
from geo.queries import sensor_sim as q
from geo.services.sensor_alarms import Machine
from seed import simulate as sim

Conn = psycopg.Connection[Any]
#: 06:45 China Standard Time: the traction load (and the cables' heat) is climbing.
MORNING = int(datetime(2026, 11, 30, 22, 45, tzinfo=UTC).timestamp())


def _machines(db: Conn, fleet: sim.Fleet) -> dict[int, list[Machine]]:
    rules = db.execute("SELECT id, observed_property, kind, reference, warning_level, "
                       "alarm_level, hysteresis, min_duration_s, min_readings FROM sensor_rules "
                       "WHERE enabled").fetchall()  # fmt: skip
    prop = {"smoke_detector": "smoke obscuration", "gas_detector": "gas concentration",
            "water_level_gauge": "water level",
            "cable_temperature_sensor": "cable temperature"}  # fmt: skip
    out: dict[int, list[Machine]] = {}
    for i, d in enumerate(fleet.devices):
        for rid, observed, kind, reference, warning, alarm, hyst, min_s, min_n in rules:
            if observed != prop[d.kind] or (reference and d.warning_line is None):
                continue
            ref = d.warning_line if reference else 0.0
            out.setdefault(i, []).append(Machine(d.datastream_id, d.thing_id, rid,
                                                 SensorRuleKind(kind), warning, alarm, hyst,
                                                 min_s, min_n, float(ref or 0.0)))  # fmt: skip
    return out


def _run(db: Conn, fleet: sim.Fleet, seconds: float, epoch: int = MORNING) -> dict[int, Any]:
    """Step the fleet ``seconds`` of real time (as server.sensors_sim.run does, on a clock of
    our own) and judge every reading: each device's machines."""
    machines = _machines(db, fleet)
    start = datetime.fromtimestamp(epoch, UTC)
    for t in np.arange(0.0, seconds, 0.25):
        due = np.nonzero(fleet.due <= t)[0]
        if not len(due):
            continue
        at = start + timedelta(seconds=float(t))
        for i, value in zip(due.tolist(), fleet.readings(due, float(t), epoch + int(t)).tolist(),
                            strict=True):  # fmt: skip
            for m in machines.get(i, []):
                m.step(at, value)
        fleet.advance(due, float(t))
    return machines


@pytest.fixture(scope="module")
def devices(database_url: str) -> list[q.Device]:
    with psycopg.connect(database_url) as conn:
        return q.devices(conn, None)


@pytest.mark.parametrize(("speed", "seconds"), [(60, 1800), (600, 300)])
def test_normal_readings_raise_nothing(
    db: Conn, devices: list[q.Device], speed: float, seconds: float
) -> None:
    fleet = sim.Fleet(devices, speed)
    machines = _run(db, fleet, seconds)
    judged = [m for ms in machines.values() for m in ms]
    assert len(judged) > len(devices)  # the cables twice
    assert all(m.last_time is not None for m in judged)  # every device reported
    assert [(m.datastream_id, m.changes) for m in judged if m.changes] == []


def _levels(m: Machine) -> list[SensorLevel]:
    return [to for _from, to, _at, _value in m.changes]


@pytest.mark.parametrize("speed", [60, 600])
def test_a_rainstorm_under_the_default_rule_raises_each_gauge_once(
    db: Conn, devices: list[q.Device], speed: float
) -> None:
    rules = q.threshold_rules(db, ["water level"])
    assert rules["water level"].min_duration_s == 60  # the default: held in real time
    fleet = sim.Fleet(devices, speed)
    fleet.episode = episode = sim.rainstorm(fleet, rules["water level"])
    assert episode.hold >= 60
    machines = _run(db, fleet, episode.end + 3 * sim.FAST_S)
    flooded = set(episode.members.tolist())
    assert flooded and flooded <= set(machines)
    for i, m in ((i, m) for i, ms in machines.items() for m in ms):
        if i in flooded:  # up (maybe through warning) to alarm, once, and back to normal
            levels = _levels(m)
            assert levels.count(SensorLevel.ALARM) == 1 and levels[-1] == SensorLevel.NORMAL, (
                m.changes)  # fmt: skip
        elif fleet.devices[i].kind != "water_level_gauge":
            assert m.changes == []


def test_a_gas_leak_alarms_one_detector(db: Conn, devices: list[q.Device]) -> None:
    rules = q.threshold_rules(db, ["gas concentration"])
    fleet = sim.Fleet(devices, 600)
    fleet.episode = episode = sim.gas_leak(fleet, rules["gas concentration"], None)
    machines = _run(db, fleet, episode.end + 3 * sim.FAST_S)
    changed: Callable[[Machine], bool] = lambda m: bool(m.changes)  # noqa: E731
    moved = [(fleet.devices[i].kind, _levels(m)) for i, ms in machines.items() for m in ms
             if changed(m)]  # fmt: skip
    assert len(moved) == 1
    kind, levels = moved[0]
    assert kind == "gas_detector" and SensorLevel.ALARM in levels
    assert levels[-1] == SensorLevel.NORMAL
