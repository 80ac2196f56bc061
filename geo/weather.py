"""Weather at an incident's place: a small provider interface, and the demo city's synthetic
provider (chosen by ``ONEMAP_EMERGENCY_WEATHER_PROVIDER``; a real one — a meteorological
bureau's API — implements the same Protocol).

The synthetic provider is deterministic: the same place and hour give the same weather, so an
incident's stored context can be checked and replayed. Its warnings follow the China
Meteorological Administration's rainstorm signals (暴雨预警信号: blue ≥ 50 mm in 12 h, yellow
≥ 50 mm in 6 h, orange ≥ 50 mm in 3 h, red ≥ 100 mm in 3 h) read as hourly rates, and its gale
signal (大风: blue at force 6, ≥ 10.8 m/s).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class WeatherWarning:
    kind: str  # rainstorm, gale
    colour: str  # blue, yellow, orange, red
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class Weather:
    provider: str
    observed_at: datetime
    rain_mm_h: float
    wind_speed_m_s: float
    wind_direction_deg: float
    temperature_c: float
    warnings: list[WeatherWarning] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["observed_at"] = self.observed_at.isoformat()
        return out


class WeatherProvider(Protocol):
    name: str

    async def current(self, lon: float, lat: float, at: datetime) -> Weather:
        """The weather at (lon, lat) at ``at``."""
        ...


#: Hourly rain rates at which each rainstorm signal is raised (mm/h), highest first.
RAIN_SIGNALS = (("red", 100 / 3), ("orange", 50 / 3), ("yellow", 50 / 6), ("blue", 50 / 12))
_COLOUR_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
GALE_M_S = 10.8


def warnings_for(rain_mm_h: float, wind_m_s: float) -> list[WeatherWarning]:
    found = []
    for colour, rate in RAIN_SIGNALS:
        if rain_mm_h >= rate:
            found.append(WeatherWarning(
                "rainstorm", colour, f"暴雨{_COLOUR_ZH[colour]}预警信号",
                f"Rainstorm {colour} warning"))  # fmt: skip
            break
    if wind_m_s >= GALE_M_S:
        found.append(WeatherWarning("gale", "blue", "大风蓝色预警信号", "Gale blue warning"))
    return found


class SyntheticWeather:
    """Deterministic demo weather: a summer storm cell over the city, varying by hour and by
    ~1 km square."""

    name = "synthetic"

    async def current(self, lon: float, lat: float, at: datetime) -> Weather:
        hour = at.replace(minute=0, second=0, microsecond=0)
        key = f"{round(lon, 2)}:{round(lat, 2)}:{hour.isoformat()}"
        digest = hashlib.sha256(key.encode()).digest()
        u = [b / 255 for b in digest[:4]]
        # Rain peaks in the late afternoon, as convective storms do.
        daily = 0.5 + 0.5 * math.sin((hour.hour - 11) / 24 * 2 * math.pi)
        rain = round(max(0.0, daily * 40 * u[0] - 2), 1)
        wind = round(2 + 12 * u[1] * daily, 1)
        return Weather(
            provider=self.name,
            observed_at=hour,
            rain_mm_h=rain,
            wind_speed_m_s=wind,
            wind_direction_deg=round(360 * u[2]),
            temperature_c=round(22 + 10 * u[3] - 4 * daily, 1),
            warnings=warnings_for(rain, wind),
        )


PROVIDERS: dict[str, type[SyntheticWeather]] = {"synthetic": SyntheticWeather}


def provider(name: str) -> WeatherProvider:
    """The provider ``name`` (settings check the name; unknown names are a start-up error)."""
    return PROVIDERS[name]()
