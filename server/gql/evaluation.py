"""Evaluation (考核) in GraphQL: the figures of a day, week, month or any range of days by
department, district, street, community, grid worker or category (``evaluation``), and the
cases behind any one figure (``evaluationCases``). Figures are defined in docs/evaluation.md
and computed by geo.queries.evaluation over ``case_facts``, within the caller's jurisdiction
(geo.access.evaluation_scope)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

import strawberry

from geo import access
from geo.access import Capability
from geo.errors import InvalidInput
from geo.queries.evaluation import (
    FIGURES,
    ROLLUP_ZONE,
    evaluation_cases,
    evaluation_medians,
    evaluation_table,
)
from geo.queries.filters import AttributeFilter
from geo.queries.search import rows
from server.gql.context import Info
from server.gql.types import Case


@strawberry.enum(description="What evaluation figures are grouped by.")
class EvaluationDimension(Enum):
    DEPARTMENT = "department"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID_WORKER = "worker"  # the worker of the case's grid cell
    CATEGORY = "category"


@strawberry.enum(description="A range of days ending with the given date's period.")
class EvaluationPeriod(Enum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"


@strawberry.enum(description="A counted figure of docs/evaluation.md, to drill down into.")
class EvaluationFigure(Enum):
    RECEIVED = "received"
    RESOLVED = "resolved"
    HANDLED_ON_TIME = "handled_on_time"
    CLOSED = "closed"
    CLOSED_ON_TIME = "closed_on_time"
    OVERDUE = "overdue"
    REOPENED = "reopened"
    TRANSFERRED = "transferred"
    RETURNED = "returned"
    RATED = "rated"
    SATISFIED = "satisfied"


assert {f.value for f in EvaluationFigure} == set(FIGURES), "one enum value per figure"


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


@strawberry.type(description="One key's figures (or the total's) over the range; every count "
                 "is defined in docs/evaluation.md, each rate is the quotient of two counts "
                 "(null when the divisor is 0).")  # fmt: skip
class EvaluationRow:
    key: str | None = strawberry.field(description="The department, area or worker id, or "
                                       "the category code; null on the total row.")  # fmt: skip
    label: str | None = strawberry.field(description="Its name; null on the total row.")
    total: bool
    received: int
    resolved: int
    handled_on_time: int
    closed: int
    closed_on_time: int
    overdue: int
    reopened: int
    transferred: int
    returned: int
    rated: int
    satisfied: int
    mean_handle_minutes: float | None = strawberry.field(
        description="Mean working minutes in the handle stage of the cases resolved in range."
    )
    median_handle_minutes: float | None = strawberry.field(
        description="Median working minutes in the handle stage of the cases resolved in "
        "range (computed only when asked for: it sorts them)."
    )

    @strawberry.field(description="handledOnTime / resolved.")
    def handled_on_time_rate(self) -> float | None:
        return _share(self.handled_on_time, self.resolved)

    @strawberry.field(description="closedOnTime / closed.")
    def closed_on_time_rate(self) -> float | None:
        return _share(self.closed_on_time, self.closed)

    @strawberry.field(description="reopened / received.")
    def reopened_rate(self) -> float | None:
        return _share(self.reopened, self.received)

    @strawberry.field(description="transferred / received.")
    def transferred_rate(self) -> float | None:
        return _share(self.transferred, self.received)

    @strawberry.field(description="returned / received.")
    def returned_rate(self) -> float | None:
        return _share(self.returned, self.received)

    @strawberry.field(description="satisfied / rated.")
    def satisfaction_rate(self) -> float | None:
        return _share(self.satisfied, self.rated)


@strawberry.type(description="Evaluation figures over [since, until).")
class EvaluationTable:
    group_by: EvaluationDimension
    since: datetime
    until: datetime
    rows: list[EvaluationRow] = strawberry.field(
        description="The total first, then each key with a figure in range, most received first."
    )


@strawberry.type(description="A page of the cases behind one figure, in id order.")
class EvaluationCases:
    cases: list[Case]
    next_after: strawberry.ID | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last."
    )


def _asks_for(info: Info, name: str) -> bool:
    """Whether the operation selects ``rows { name }`` of this field."""
    for field in info.selected_fields:
        for sub in field.selections:
            if getattr(sub, "name", None) == "rows":
                return any(getattr(x, "name", None) == name for x in sub.selections)
    return False


def day_range(
    zone: Any, start: date | None, end: date | None, period: EvaluationPeriod | None,
    day: date | None,
) -> tuple[datetime, datetime]:  # fmt: skip
    """[since, until) of whole days in the city's time zone: ``from``–``to`` inclusive, or the
    day, week or month holding ``date``."""
    if period is not None:
        if day is None or start is not None or end is not None:
            raise InvalidInput("Give either period and date, or from and to.")
        if period is EvaluationPeriod.DAY:
            start, end = day, day
        elif period is EvaluationPeriod.WEEK:
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=6)
        else:
            start = day.replace(day=1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if start is None or end is None:
        raise InvalidInput("Give either period and date, or from and to.")
    if end < start:
        raise InvalidInput("to comes before from.", field="to")
    if (end - start).days > 3660:
        raise InvalidInput("A range is at most ten years.", field="to")
    since = datetime.combine(start, time(0), zone)
    return since, datetime.combine(end + timedelta(days=1), time(0), zone)


RANGE_DOC = (
    "Either `from` and `to` (days, inclusive, in the city's time zone), or `period` and `date`."
)


async def table(
    info: Info, group_by: EvaluationDimension, start: date | None, end: date | None,
    period: EvaluationPeriod | None, day: date | None,
) -> EvaluationTable:  # fmt: skip
    principal = info.context.require(Capability.EVALUATE)
    zone = info.context.clocks.hours.zone
    since, until = day_range(zone, start, end, period, day)
    scope = access.evaluation_scope(principal, "f")
    # Whole days before today come from the daily figures when they count the city's days.
    districts = access.evaluation_districts(principal) if str(zone) == ROLLUP_ZONE else None
    today = datetime.combine(datetime.now(zone).date(), time(0), zone)
    found = await info.context.fetch(evaluation_table(
        group_by.value, scope, since, until, districts=districts, today=today))  # fmt: skip
    medians: dict[str | None, float | None] = {}
    if _asks_for(info, "medianHandleMinutes"):  # a sort of every resolved case: only if asked
        medians = await info.context.fetch(evaluation_medians(group_by.value, scope, since, until))
    rows_ = []
    for r in found:
        key = r.pop("key")
        key = None if key is None else str(key)
        rows_.append(EvaluationRow(key=key, median_handle_minutes=medians.get(key), **r))
    return EvaluationTable(group_by=group_by, since=since, until=until, rows=rows_)


async def cases(
    info: Info, group_by: EvaluationDimension, key: str | None, figure: EvaluationFigure,
    start: date | None, end: date | None, period: EvaluationPeriod | None, day: date | None,
    first: int, after: strawberry.ID | None,
) -> EvaluationCases:  # fmt: skip
    principal = info.context.require(Capability.EVALUATE)
    if not 1 <= first <= 500:
        raise InvalidInput("first must be between 1 and 500.", field="first")
    since, until = day_range(info.context.clocks.hours.zone, start, end, period, day)
    try:
        cursor = int(after) if after is not None else None
    except ValueError:
        raise InvalidInput("after is not a cursor of this list.", field="after") from None
    scope = access.evaluation_scope(principal, "f")
    ids = await info.context.fetch(evaluation_cases(
        group_by.value, key, figure.value, scope, since, until, cursor, first + 1))  # fmt: skip
    more = len(ids) > first
    ids = ids[:first]
    view = info.context.view("cases")  # the caller's view: full cases of their jurisdiction
    found = await info.context.fetch(rows(view, None, AttributeFilter(equals={"id": ids}),
                                          limit=first)) if ids else []  # fmt: skip
    by_id = {int(r["id"]): r for r in found}
    page = [Case.from_row(by_id[i], full=view.internal) for i in ids if i in by_id]
    return EvaluationCases(cases=page, next_after=strawberry.ID(str(ids[-1])) if more else None)
