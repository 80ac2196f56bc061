"""The synthetic weather provider: deterministic per place and hour, with the rainstorm and
gale signals at the China Meteorological Administration's thresholds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from geo.weather import SyntheticWeather, provider, warnings_for

pytestmark = pytest.mark.anyio


async def test_same_place_and_hour_same_weather() -> None:
    w = SyntheticWeather()
    at = datetime(2026, 7, 15, 8, 10, tzinfo=UTC)
    a = await w.current(121.48, 31.23, at)
    b = await w.current(121.481, 31.231, at.replace(minute=55))
    assert a == b and a.observed_at == at.replace(minute=0)
    hours = {(await w.current(121.48, 31.23, at.replace(hour=h))).rain_mm_h for h in range(24)}
    assert len(hours) > 5  # it does change through the day
    assert isinstance(provider("synthetic"), SyntheticWeather)


@pytest.mark.parametrize(
    ("rain", "wind", "signals"),
    [
        (0.0, 3.0, []),
        (4.0, 3.0, []),
        (4.2, 3.0, [("rainstorm", "blue")]),
        (9.0, 3.0, [("rainstorm", "yellow")]),
        (20.0, 11.0, [("rainstorm", "orange"), ("gale", "blue")]),
        (40.0, 3.0, [("rainstorm", "red")]),
    ],
)
def test_warning_signals(rain: float, wind: float, signals: list[tuple[str, str]]) -> None:
    assert [(w.kind, w.colour) for w in warnings_for(rain, wind)] == signals
