"""The demo city's devices, live: when each reports and what it reads, for ``onemap simulate
sensors`` (the publisher is server/sensors_sim.py; docs/sensors.md, "Simulating the city").

**Time.** ``speed`` compresses the devices' periods (a 30-minute gauge reports every 30 s at
speed 60) and the scenarios' timelines; every reading's time is the real clock's now, so the
server never sees a reading from the future, and the normal readings follow the real time of
day — the seeded models (seed.sensor_readings) continued where the seed left them, each
device with the parameters and phase the seed drew for it. Only the cadence is faster: a
model's daily cycle run ``speed`` times faster would turn the cable sensors' rush-hour warming
into a rate-of-change alarm. For the same reason the noise shrinks with the cadence
(``z / √speed``): readings closer in time are closer in value.

**Scenarios.** ``rainstorm``: the water-level gauges rise over their warning line, stay over
the rule's alarm level long enough for it to raise (its ``min_duration_s`` is real time, so a
scenario never lasts less than that, whatever the speed), then fall well below the line less
the hysteresis and the alarms clear. ``gas-leak``: one restaurant kitchen's gas detector climbs
past the alarm level (25 % LEL) and back. Devices in a scenario report every ``FAST_S`` at
most, as a real detector does once it alarms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.queries.sensor_sim import Device, Rule
from seed.generate import FACILITIES
from seed.geography import SEED
from seed.sensor_kinds import CABLE, HAZARD_GAS, KITCHEN_GAS, SMOKE, WATER, Kind
from seed.sensor_readings import Floats, values
from seed.sensors import LAYER_NUMBER

MODELS = {"smoke_detector": SMOKE, "water_level_gauge": WATER, "cable_temperature_sensor": CABLE}
SCENARIOS = ("none", "rainstorm", "gas-leak")
#: A device in a scenario reports at least this often (real seconds).
FAST_S = 2.0
#: A scenario starts this long (real seconds) after the first readings.
LEAD_S = 3.0
#: The scenarios' phases in simulated seconds (rise, hold, fall) and their peaks over the
#: rule's alarm level.
RAIN = (15 * 60, 40 * 60, 20 * 60)
RAIN_PEAK = (0.08, 0.25)  # metres over line + alarm level, per gauge
GAS = (5 * 60, 10 * 60, 10 * 60)
GAS_PEAK = 15.0  # % LEL over the alarm level


def kind_of(device: Device) -> Kind:
    if device.kind == "gas_detector":
        return HAZARD_GAS if device.critical else KITCHEN_GAS
    return MODELS[device.kind]


def _draws(code: str | None, stream: int, cache: dict[int, tuple[Floats, Floats]]) -> Floats:
    """The seed's draws for the facility ``code`` (F0000123): its readings' three parameters
    and its phase within the period, as seed.sensors drew them; a device the seed did not
    place gets draws of its own Datastream id."""
    if code is None or not (code.startswith("F") and code[1:].isdigit()):
        return np.random.default_rng([SEED, LAYER_NUMBER, 1_000_000 + stream]).random(4)
    row = int(code[1:]) - 1
    chunk, i = divmod(row, FACILITIES.chunk)
    if chunk not in cache:
        rng = np.random.default_rng([SEED, LAYER_NUMBER, chunk])
        u = rng.random((FACILITIES.chunk, 4))
        rng.standard_normal((FACILITIES.chunk, 48))
        cache[chunk] = (u, rng.random((FACILITIES.chunk, 3)))
    u, where = cache[chunk]
    return np.array([*u[i, 1:], where[i, 2]])


@dataclass
class Episode:
    """A scenario on some devices (their positions in the fleet): real seconds since the
    simulator started at which each starts to rise, and the phases' lengths."""

    members: NDArray[np.int64]
    start: NDArray[np.float64]
    rise: float
    hold: float
    fall: float
    base: NDArray[np.float64]  # where each rises from and falls back to
    peak: NDArray[np.float64]

    @property
    def end(self) -> float:
        return float(self.start.max()) + self.rise + self.hold + self.fall

    def value(self, k: NDArray[np.int64], t: float, noise: NDArray[np.float64]) -> Floats:
        """The readings of members ``k`` (positions in ``members``) ``t`` seconds in; NaN
        outside the episode (the normal model's reading then)."""
        s = t - self.start[k]
        base, peak = self.base[k], self.peak[k]
        up = base + (peak - base) * np.clip(s / self.rise, 0, 1)
        down = peak + (base - peak) * np.clip((s - self.rise - self.hold) / self.fall, 0, 1)
        x = np.where(s < self.rise, up, down) + noise * (peak - base) * 0.01
        inside = (s >= 0) & (s <= self.rise + self.hold + self.fall)
        return np.where(inside, np.maximum(x, 0.0), np.nan)


class Fleet:
    """The devices simulated: their models, parameters, cadence and the scenario's episode."""

    def __init__(self, devices: Sequence[Device], speed: float) -> None:
        self.devices = list(devices)
        self.speed = speed
        cache: dict[int, tuple[Floats, Floats]] = {}
        draws = np.array([_draws(d.facility_code, d.datastream_id, cache) for d in devices])
        self.u = draws[:, :3].reshape(-1, 3)
        self.kinds = [kind_of(d) for d in devices]
        period = np.array([d.period or k.period for d, k in zip(devices, self.kinds, strict=True)])
        self.interval = np.maximum(period / speed, 0.05)
        #: When each reports next (real seconds since start): its seeded phase, compressed.
        self.due = draws[:, 3].reshape(-1) * self.interval
        self.episode: Episode | None = None
        self.rng = np.random.default_rng()

    def by_model(self, idx: NDArray[np.int64]) -> dict[int, tuple[Kind, NDArray[np.int64]]]:
        out: dict[int, tuple[Kind, list[int]]] = {}
        for i in idx.tolist():
            out.setdefault(id(self.kinds[i]), (self.kinds[i], []))[1].append(i)
        return {key: (kind, np.array(members)) for key, (kind, members) in out.items()}

    def readings(self, idx: NDArray[np.int64], t: float, epoch: int) -> NDArray[np.float64]:
        """The readings of devices ``idx`` due ``t`` real seconds in, at the real ``epoch``."""
        out = np.empty(len(idx))
        where = {int(i): n for n, i in enumerate(idx.tolist())}
        for kind, members in self.by_model(idx).values():
            z = self.rng.standard_normal((len(members), 1)) / math.sqrt(max(self.speed, 1.0))
            times = np.full((len(members), 1), epoch, dtype=np.int64)
            got = values(kind, times, self.u[members], z)[:, 0]
            out[[where[int(i)] for i in members]] = got
        if self.episode is not None:
            ep = self.episode
            pos = np.searchsorted(ep.members, idx)
            last = len(ep.members) - 1
            hit = (pos <= last) & (ep.members[np.minimum(pos, last)] == idx)
            if hit.any():
                k = pos[hit]
                x = ep.value(k, t, self.rng.standard_normal(len(k)))
                decimals = self.kinds[int(idx[hit][0])].decimals
                out[hit] = np.where(np.isnan(x), out[hit], np.round(x, decimals))
        return out

    def advance(self, idx: NDArray[np.int64], t: float) -> None:
        """Devices ``idx`` reported at ``t``: their next time, faster while in the episode."""
        step = self.interval[idx].copy()
        ep = self.episode
        if ep is not None:
            inside = np.isin(idx, ep.members) & (t < ep.end + 2 * FAST_S)
            step[inside] = np.minimum(step[inside], FAST_S)
        self.due[idx] = np.maximum(self.due[idx] + step, t + step * 0.5)


def hold_s(rule: Rule, interval: float) -> float:
    """Real seconds over the alarm level that the rule surely raises within: its minimum
    duration and readings, with a margin of readings (phases differ)."""
    return rule.min_duration_s + (rule.min_readings + 1) * interval + 1


def rainstorm(fleet: Fleet, rule: Rule) -> Episode:
    """Every gauge of the fleet rises over its line by the rule's alarm level and more, each a
    little after the last (the storm crossing the district)."""
    members = np.array(
        [i for i, d in enumerate(fleet.devices)
         if d.kind == "water_level_gauge" and d.warning_line is not None]
    )  # fmt: skip
    if len(members) == 0:
        raise ValueError("no water-level gauge with a warning line to flood")
    return _episode(fleet, members, rule, RAIN, _rain_peaks(fleet, members, rule))


def _rain_peaks(fleet: Fleet, members: NDArray[np.int64], rule: Rule) -> NDArray[np.float64]:
    lines = np.array([fleet.devices[i].warning_line for i in members], dtype=float)
    lo, hi = RAIN_PEAK
    peaks: Floats = lines + rule.alarm_level + lo + (hi - lo) * fleet.u[members, 0]
    return peaks


def gas_leak(fleet: Fleet, rule: Rule, datastream: int | None) -> Episode:
    """One gas detector (``datastream``, else the first restaurant kitchen's) past the alarm
    level and back."""

    def chosen(d: Device) -> bool:
        return d.datastream_id == datastream if datastream is not None else not d.critical

    pick = [i for i, d in enumerate(fleet.devices) if d.kind == "gas_detector" and chosen(d)]
    if not pick:
        what = f"gas detector of Datastream {datastream}" if datastream else "kitchen gas detector"
        raise ValueError(f"no {what} among the simulated devices")
    members = np.array(pick[:1])
    return _episode(fleet, members, rule, GAS, np.array([rule.alarm_level + GAS_PEAK]))


def _episode(fleet: Fleet, members: NDArray[np.int64], rule: Rule,
             phases: tuple[int, int, int], peak: NDArray[np.float64]) -> Episode:  # fmt: skip
    fast = float(min(FAST_S, fleet.interval[members].max()))
    rise, hold, fall = (p / fleet.speed for p in phases)
    rise, fall = max(rise, 3 * fast), max(fall, 3 * fast)
    hold = max(hold, hold_s(rule, fast))
    spread = min(rise, 3.0) * fleet.u[members, 1]
    epoch = int(time.time())  # the base: the model's level now (a dry road, an idle kitchen)
    base = np.array([values(fleet.kinds[i], np.array([[epoch]]), fleet.u[i : i + 1],
                            np.zeros((1, 1)))[0, 0] for i in members])  # fmt: skip
    return Episode(members, LEAD_S + spread, rise, hold, fall, np.minimum(base, peak * 0.2), peak)
