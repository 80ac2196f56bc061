"""Evaluation figures (考核) for a principal: the range of whole city days, the table (daily
figures where they apply, the facts otherwise, the median when asked) and the rates — one
function shared by GraphQL (``evaluation``) and the export (``GET /api/v1/evaluation``).
docs/evaluation.md defines every figure."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from geo import access
from geo.access import Capability, Principal
from geo.errors import InvalidInput
from geo.queries import fetch
from geo.queries.evaluation import ROLLUP_ZONE, evaluation_medians, evaluation_table

#: The longest range, in days.
MAX_DAYS = 3660
#: Each rate: (name, numerator, denominator).
RATES = (
    ("handled_on_time_rate", "handled_on_time", "resolved"),
    ("closed_on_time_rate", "closed_on_time", "closed"),
    ("reopened_rate", "reopened", "received"),
    ("transferred_rate", "transferred", "received"),
    ("returned_rate", "returned", "received"),
    ("satisfaction_rate", "satisfied", "rated"),
)


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def day_range(
    zone: ZoneInfo, start: date | None, end: date | None, period: Period | None,
    day: date | None,
) -> tuple[datetime, datetime]:  # fmt: skip
    """[since, until) of whole days in the city's time zone: ``start``–``end`` inclusive, or
    the day, week or month holding ``day``."""
    if period is not None:
        if day is None or start is not None or end is not None:
            raise InvalidInput("Give either period and date, or from and to.")
        if period is Period.DAY:
            start, end = day, day
        elif period is Period.WEEK:
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=6)
        else:
            start = day.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if start is None or end is None:
        raise InvalidInput("Give either period and date, or from and to.")
    if end < start:
        raise InvalidInput("to comes before from.", field="to")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput("A range is at most ten years.", field="to")
    since = datetime.combine(start, time(0), zone)
    return since, datetime.combine(end + timedelta(days=1), time(0), zone)


async def figures(
    conn: AsyncConnection[Any], principal: Principal, dimension: str, since: datetime,
    until: datetime, zone: ZoneInfo, *, median: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """The table's rows (total first) within the principal's jurisdiction, with the rates;
    ``median``: also the median handling minutes (it sorts every resolved case of the range)."""
    access.require(principal, Capability.EVALUATE)
    scope = access.evaluation_scope(principal, "f")
    # Whole days before today come from the daily figures when they count the city's days.
    districts = access.evaluation_districts(principal) if str(zone) == ROLLUP_ZONE else None
    today = datetime.combine(datetime.now(zone).date(), time(0), zone)
    rows = await fetch(conn, evaluation_table(dimension, scope, since, until,
                                              districts=districts, today=today))  # fmt: skip
    medians = (
        await fetch(conn, evaluation_medians(dimension, scope, since, until)) if median else {}
    )
    for row in rows:
        key = row["key"]
        row["key"] = None if key is None else str(key)
        row["median_handle_minutes"] = medians.get(row["key"])
        for name, part, whole in RATES:
            row[name] = share(row[part], row[whole])
    return rows
