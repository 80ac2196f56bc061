"""Evaluation (考核) in GraphQL: the figures of a day, week, month or any range of days by
department, district, street, community, grid worker or category (``evaluation``), and the
cases behind any one figure (``evaluationCases``). Figures are defined in docs/evaluation.md
and computed by geo.queries.evaluation over ``case_facts``, within the caller's jurisdiction
(geo.access.evaluation_scope)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from geo import access
from geo.access import Capability
from geo.errors import InvalidInput
from geo.queries.evaluation import (
    FIGURES,
    evaluation_cases,
)
from geo.queries.filters import AttributeFilter
from geo.queries.search import rows
from geo.services.evaluation import Period, day_range, figures, share
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
        return share(self.handled_on_time, self.resolved)

    @strawberry.field(description="closedOnTime / closed.")
    def closed_on_time_rate(self) -> float | None:
        return share(self.closed_on_time, self.closed)

    @strawberry.field(description="reopened / received.")
    def reopened_rate(self) -> float | None:
        return share(self.reopened, self.received)

    @strawberry.field(description="transferred / received.")
    def transferred_rate(self) -> float | None:
        return share(self.transferred, self.received)

    @strawberry.field(description="returned / received.")
    def returned_rate(self) -> float | None:
        return share(self.returned, self.received)

    @strawberry.field(description="satisfied / rated.")
    def satisfaction_rate(self) -> float | None:
        return share(self.satisfied, self.rated)


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


RANGE_DOC = (
    "Either `from` and `to` (days, inclusive, in the city's time zone), or `period` and `date`."
)


async def table(
    info: Info, group_by: EvaluationDimension, start: date | None, end: date | None,
    period: EvaluationPeriod | None, day: date | None,
) -> EvaluationTable:  # fmt: skip
    principal = info.context.require(Capability.EVALUATE)
    zone = info.context.clocks.hours.zone
    since, until = _range(zone, start, end, period, day)
    async with info.context.pool.connection() as conn:
        found = await figures(conn, principal, group_by.value, since, until, zone,
                              median=_asks_for(info, "medianHandleMinutes"))  # fmt: skip
    keep = {f.name for f in dataclasses.fields(EvaluationRow) if f.init}
    rows_ = [EvaluationRow(**{k: v for k, v in r.items() if k in keep}) for r in found]
    return EvaluationTable(group_by=group_by, since=since, until=until, rows=rows_)


def _range(
    zone: Any, start: date | None, end: date | None, period: EvaluationPeriod | None,
    day: date | None,
) -> tuple[datetime, datetime]:  # fmt: skip
    return day_range(zone, start, end, None if period is None else Period(period.value), day)


async def cases(
    info: Info, group_by: EvaluationDimension, key: str | None, figure: EvaluationFigure,
    start: date | None, end: date | None, period: EvaluationPeriod | None, day: date | None,
    first: int, after: strawberry.ID | None,
) -> EvaluationCases:  # fmt: skip
    principal = info.context.require(Capability.EVALUATE)
    if not 1 <= first <= 500:
        raise InvalidInput("first must be between 1 and 500.", field="first")
    since, until = _range(info.context.clocks.hours.zone, start, end, period, day)
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
