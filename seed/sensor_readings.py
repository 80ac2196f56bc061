"""The seeded devices' last 24 hours of readings: plausible, with small noise and a daily
cycle, and always under the default rules' warning levels (geo.sensor_alarm_models
``DEFAULT_RULES``), so a freshly seeded city has no alarm.

- smoke obscuration (%/m): clean air, 0.02–0.2, a little more at dinner time; at most 0.9
  (warning 1.5);
- gas (% LEL): a hazard source's store breathes 0.3–4, more in the afternoon's warmth; a
  kitchen reads next to nothing but at lunch and dinner; at most 6 (warning 10);
- water level (m): a dry road, 0–8 cm of standing water drying in the afternoon; at most
  10 cm under the gauge's warning line (0.3–0.5 m; warning at the line);
- cable temperature (°C): the season's air in the substation plus the traction load's heat,
  which follows the metro's timetable (nothing at night, peaks at the rush hours) with about
  45 minutes of thermal lag; at most 60 (warning 70), rising at most ~0.2 °C/min (warning 1).

Times are seconds since the epoch, the hours of the cycles China Standard Time (UTC+8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seed.sensor_kinds import Kind

DAY = 86_400
CST = 8 * 3600
WARNING_LINES = np.array([0.3, 0.35, 0.4, 0.45, 0.5])
#: The metro's traction load through the day (hour → share of the peak).
LOAD_HOURS = [0, 1, 5, 6, 7.5, 9, 11, 16, 17.5, 19, 21, 23, 24]
LOAD = [0.05, 0.02, 0.02, 0.4, 1.0, 0.85, 0.55, 0.6, 1.0, 0.8, 0.5, 0.2, 0.05]

Floats = NDArray[np.float64]


def slot_times(now: int, period: int, phase: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each device's reading times in the 24 hours up to ``now`` (devices × readings, oldest
    first): every ``period`` seconds, at the device's own ``phase`` within the period."""
    last = (now - phase) // period * period + phase
    back = np.arange(DAY // period - 1, -1, -1, dtype=np.int64) * period
    return last[:, None] - back[None, :]


def warning_line(u: Floats) -> Floats:
    """A gauge's warning line (m) from a uniform draw."""
    top = len(WARNING_LINES) - 1
    lines: Floats = WARNING_LINES[np.minimum((u * len(WARNING_LINES)).astype(int), top)]
    return lines


def values(kind: Kind, times: NDArray[np.int64], u: Floats, z: Floats) -> Floats:
    """Readings at ``times`` (devices × readings) of devices of ``kind``: ``u`` their uniform
    draws (devices × 3), ``z`` standard normal noise (devices × readings)."""
    hour = ((times + CST) % DAY) / 3600.0
    a, b = u[:, 0:1], u[:, 1:2]
    match kind.model or kind.code:
        case "smoke_detector":
            x = 0.02 + 0.16 * a + 0.08 * b * _bump(hour, 18.5, 1.5) + 0.02 * z
            top = np.full_like(a, 0.9)
        case "gas_store":
            x = 0.3 + 2.7 * a + b * (0.5 + 0.5 * np.cos(2 * np.pi * (hour - 14) / 24)) + 0.25 * z
            top = np.full_like(a, 6.0)
        case "gas_kitchen":
            meals = _bump(hour, 11.75, 0.8) + _bump(hour, 18.0, 1.0)
            x = 0.8 * a + (0.5 + 2.5 * b) * meals + 0.2 * z
            top = np.full_like(a, 6.0)
        case "water_level_gauge":
            x = 0.08 * a**2 * (1 - 0.3 * _bump(hour, 14.5, 3.0)) + 0.003 * z
            top = warning_line(u[:, 2])[:, None] - 0.1
        case "cable_temperature_sensor":
            load = np.interp((hour - 0.75) % 24, LOAD_HOURS, LOAD)
            x = _air(times) + 3 * np.cos(2 * np.pi * (hour - 14) / 24) + 4 + (15 + 15 * a) * load
            x = x + 0.3 * z
            top = np.full_like(a, 60.0)
        case other:
            raise ValueError(f"no readings model for {other}")
    return np.round(np.clip(x, 0.0, top), kind.decimals) + 0.0  # no -0.0


def _bump(hour: Floats, centre: float, width: float) -> Floats:
    """A daily bump of height 1 at ``centre`` (hours), across midnight."""
    d = (hour - centre + 12) % 24 - 12
    return np.exp(-0.5 * (d / width) ** 2)


def _air(times: NDArray[np.int64]) -> Floats:
    """Shanghai's mean air temperature for the day of the year: ~6 °C in late January,
    ~28 °C in late July."""
    day = (times // DAY) % 365.2425
    return 17 - 11 * np.cos(2 * np.pi * (day - 20) / 365.2425)


@dataclass
class Series:
    """A chunk's readings: COPY text of ``sta_observations`` rows, and each Datastream's
    (first time, last time, latest result as JSON)."""

    copy_text: str = ""
    count: int = 0
    extents: dict[int, tuple[str, str, str]] = field(default_factory=dict)


def readings(
    devices: Sequence[tuple[Any, ...]], streams: list[int], fois: list[int], now: int,
    u: NDArray[np.float64], z: NDArray[np.float64], where: NDArray[np.float64],
) -> Series:  # fmt: skip
    """The readings of ``devices`` (seed.sensors: row in the chunk first, kind second; their
    Datastreams and FeaturesOfInterest by position) up to ``now``, a kind at a time. The
    chunk's draws by row: ``u[:, 1:]`` the models' parameters, ``z`` the noise, ``where[:, 2]``
    the phase within the period."""
    out = Series()
    lines: list[str] = []
    by_kind: dict[int, tuple[Kind, list[int]]] = {}
    for k, device in enumerate(devices):
        by_kind.setdefault(id(device[1]), (device[1], []))[1].append(k)
    for kind, members in by_kind.values():
        rows = np.array([devices[k][0] for k in members])
        phase = (where[rows, 2] * kind.period).astype(np.int64)
        times = slot_times(now, kind.period, phase)
        vals = values(kind, times, u[rows, 1:], z[rows, : times.shape[1]])
        stamps = np.char.add(np.datetime_as_string(times.astype("datetime64[s]")), "+00")
        for j, k in enumerate(members):
            head = f"{streams[k]}\t{fois[k]}\t"
            text = list(map(repr, vals[j].tolist()))  # a float's repr is its JSON
            times_j = stamps[j].tolist()
            lines.extend(map("".join, zip([head] * len(text), times_j, ["\t"] * len(text),
                                          times_j, ["\t"] * len(text), text,
                                          ["\n"] * len(text), strict=True)))  # fmt: skip
            out.extents[streams[k]] = (times_j[0], times_j[-1], text[-1])
        out.count += times.size
    out.copy_text = "".join(lines)
    return out
