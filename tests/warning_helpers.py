"""Shared helpers of the warnings tests: an area inside the city, citizens with a place, a
warning body as an officer sends it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tests.mobile_helpers import key, unique_phone

#: Half the side of the test square, in degrees (about 330 m north–south).
HALF = 0.003


def inside_facility(database_url: str, offset: int = 0) -> tuple[int, float, float]:
    """A facility well inside the city (a square of ±2·HALF around it lies in the districts)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "WITH city AS (SELECT ST_Union(geom) g FROM admin_areas WHERE level = 'district') "
            "SELECT f.id, ST_X(f.geom), ST_Y(f.geom) FROM facilities f, city "
            "WHERE ST_CoveredBy(ST_Expand(f.geom, %s), city.g) ORDER BY f.id OFFSET %s LIMIT 1",
            (HALF * 2, offset),
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1]), float(row[2])


def far_facility(database_url: str, lon: float, lat: float) -> tuple[int, float, float]:
    """A facility at least 2 km away from (lon, lat)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM facilities WHERE ST_DWithin(geom::geography,"
            " ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 2000) IS FALSE "
            "ORDER BY id LIMIT 1",
            (lon, lat),
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1]), float(row[2])


def square(lon: float, lat: float, half: float = HALF) -> list[list[float]]:
    """A closed ring around (lon, lat), counter-clockwise."""
    return [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
            [lon - half, lat + half], [lon - half, lat - half]]  # fmt: skip


def new_user(database_url: str, *roles: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO users (phone, display_name, roles) VALUES (%s, %s, %s) RETURNING id",
            (unique_phone("1361"), "预警测试", list(roles)),
        ).fetchone()
    assert row is not None
    return int(row[0])


def check_in(database_url: str, user_id: int, facility_id: int) -> None:
    """The citizen's latest venue check-in: one of their places."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO health_checkins (user_id, facility_id) VALUES (%s, %s)",
            (user_id, facility_id),
        )


def warning_body(ring: list[list[float]], **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    tag = key()[:6]
    body: dict[str, Any] = {
        "category": "Met", "urgency": "Expected", "severity": "Severe", "certainty": "Likely",
        "effective": now.isoformat(), "expires": (now + timedelta(hours=6)).isoformat(),
        "texts": {
            "zh-CN": {"event": "暴雨", "headline": f"暴雨橙色预警 {tag}",
                      "description": "预计未来6小时降雨量将达50毫米以上。",
                      "instruction": "避免前往低洼地带，注意防范城市内涝。"},
            "en-US": {"event": "Rainstorm", "headline": f"Orange rainstorm warning {tag}",
                      "description": "Over 50 mm of rain is expected in the next 6 hours.",
                      "instruction": "Keep away from low-lying areas."},
        },
        "area_desc": "测试区域 / Test area",
        "area": {"type": "Polygon", "coordinates": [ring]},
    }  # fmt: skip
    body.update(changes)
    return body


def count_warnings(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM warnings").fetchone()
    assert row is not None
    return int(row[0])
