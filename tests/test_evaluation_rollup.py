"""The daily figures (case_figures_daily, kept by a trigger on case_facts) give exactly what
counting the facts gives, for every dimension, city-wide and for one district — after the seed
and after cases move through the workflow."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from geo.queries import fetch_sync
from geo.queries.evaluation import DIMENSIONS, evaluation_table

SH = ZoneInfo("Asia/Shanghai")


def _both(
    conn: psycopg.Connection[Any], dimension: str, scope: str, districts: tuple[int, ...],
    since: datetime, until: datetime,
) -> tuple[Any, Any]:  # fmt: skip
    today = datetime.combine(datetime.now(SH).date(), time(0), SH)
    daily = fetch_sync(conn, evaluation_table(dimension, scope, since, until,
                                              districts=districts, today=today))  # fmt: skip
    counted = fetch_sync(conn, evaluation_table(dimension, scope, since, until))
    return daily, counted


@pytest.mark.parametrize("dimension", sorted(DIMENSIONS))
def test_daily_figures_equal_the_counted_facts(database_url: str, dimension: str) -> None:
    today = datetime.combine(datetime.now(SH).date(), time(0), SH)
    with psycopg.connect(database_url) as conn:
        district = conn.execute("SELECT id FROM admin_areas WHERE level = 'district' "
                                "ORDER BY code LIMIT 1").fetchone()  # fmt: skip
        assert district is not None
        for since, until in ((today - timedelta(days=200), today + timedelta(days=1)),
                             (today - timedelta(days=40), today - timedelta(days=10))):  # fmt: skip
            daily, counted = _both(conn, dimension, "TRUE", (), since, until)
            assert daily == counted
            assert daily[0]["total"] and daily[0]["received"] > 0
            scope = f"f.district_id = ANY(ARRAY[{int(district[0])}])"
            daily, counted = _both(conn, dimension, scope, (int(district[0]),), since, until)
            assert daily == counted
