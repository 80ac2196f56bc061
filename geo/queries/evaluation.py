"""Evaluation figures (考核) over ``case_facts`` for a time range, grouped by one dimension,
and the cases behind any one figure (drill-down). docs/evaluation.md defines every figure;
the SQL here is that definition: each is a count (or mean, median) of the facts rows whose
anchor instant lies in the range, with the figure's condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput
from geo.queries import Query, Rows

#: dimension → (the facts column, the label of a key: SQL on {key} giving its name).
DIMENSIONS: dict[str, tuple[str, str]] = {
    "department": ("department_id", "SELECT name_zh FROM departments WHERE id = {key}::int"),
    "district": ("district_id", "SELECT name_zh FROM admin_areas WHERE id = {key}::int"),
    "street": ("street_id", "SELECT name_zh FROM admin_areas WHERE id = {key}::int"),
    "community": ("community_id", "SELECT name_zh FROM admin_areas WHERE id = {key}::int"),
    "worker": ("grid_worker_id", "SELECT display_name FROM users WHERE id = {key}::bigint"),
    "category": ("category", "SELECT name_zh FROM case_categories WHERE code = {key}"),
}
#: The city day ``case_figures_daily`` counts on (migration 0017).
ROLLUP_ZONE = "Asia/Shanghai"
#: What the daily rows sum (migration 0017), beside the figures: the mean's parts.
SUMMED = ("handle_count", "handle_minutes")

_IN = "{col} >= %(since)s AND {col} < %(until)s"
_NOW = "now()"


@dataclass(frozen=True)
class Figure:
    """A count: the rows whose ``anchor`` lies in the range and that meet ``condition``."""

    anchor: str
    condition: str = "TRUE"

    def predicate(self) -> str:
        extra = "" if self.condition == "TRUE" else f" AND {self.condition}"
        return _IN.format(col=self.anchor) + extra


#: The counted figures (docs/evaluation.md); rates and times are built from them.
FIGURES: dict[str, Figure] = {
    "received": Figure("reported_at"),
    "resolved": Figure("resolved_at"),
    "handled_on_time": Figure("resolved_at", "handled_on_time"),
    "closed": Figure("closed_at", "status = 'closed'"),
    "closed_on_time": Figure("closed_at", "status = 'closed' AND closed_on_time"),
    "overdue": Figure("overdue_at", f"overdue_at <= {_NOW}"),
    "reopened": Figure("reported_at", "reopened > 0"),
    "transferred": Figure("reported_at", "transferred > 0"),
    "returned": Figure("reported_at", "returned > 0"),
    "rated": Figure("rated_at", "satisfied IS NOT NULL"),
    "satisfied": Figure("rated_at", "satisfied"),
}
ANCHORS = sorted({f.anchor for f in FIGURES.values()})


def _check(dimension: str, since: datetime, until: datetime) -> str:
    if dimension not in DIMENSIONS:
        raise InvalidInput(f"Cannot evaluate by {dimension!r}; one of {', '.join(DIMENSIONS)}.")
    if until <= since:
        raise InvalidInput("The range is empty: its end must come after its start.")
    return DIMENSIONS[dimension][0]


def _any_anchor() -> str:
    return "(" + " OR ".join(f"({_IN.format(col=a)})" for a in ANCHORS) + ")"


def _from_facts(column: str, scope: str, since: str, until: str) -> str:
    """The figures of ``[since, until)`` (placeholders) counted on the facts, by key."""

    def within(predicate: str) -> str:
        return predicate.replace("%(since)s", since).replace("%(until)s", until)

    counts = ", ".join(
        f"count(*) FILTER (WHERE {within(f.predicate())}) AS {name}" for name, f in FIGURES.items()
    )
    resolved = within(FIGURES["resolved"].predicate())
    anchors = within(_any_anchor())
    return (
        f"SELECT {column}::text AS key, {counts}, "  # noqa: S608 - names from the tables above
        f"count(handle_minutes) FILTER (WHERE {resolved}) AS handle_count, "
        f"sum(handle_minutes) FILTER (WHERE {resolved}) AS handle_minutes "
        f"FROM case_facts f WHERE ({scope}) AND {anchors} GROUP BY 1"
    )


def evaluation_table(
    dimension: str, scope: str, since: datetime, until: datetime, *,
    districts: tuple[int, ...] | None = None, today: datetime | None = None,
) -> Query[list[dict[str, Any]]]:  # fmt: skip
    """One row per key of ``dimension`` with a figure in the range, and a total row (key
    None, first); ``scope`` is the caller's predicate on alias f (geo.access).

    With ``districts`` (() for the whole city, else the caller's districts: what
    geo.access.evaluation_districts says) and ``today`` (the city's midnight today), the days
    before today are summed from ``case_figures_daily`` and only today's part is counted on the
    facts: the same numbers, a month in milliseconds. Without, everything is counted on the
    facts. The median is not here (:func:`evaluation_medians`)."""
    column = _check(dimension, since, until)
    sums = ", ".join(f"sum({name}) AS {name}" for name in (*FIGURES, *SUMMED))
    params: dict[str, Any] = {"since": since, "until": until, "dimension": dimension}
    if districts is not None and today is not None and since < today:
        split = min(until, today)
        params.update(d0=since.date(), d1=split.date(), split=split,
                      districts=list(districts))  # fmt: skip
        only = "" if not districts else " AND district_id = ANY(%(districts)s)"
        daily = (
            f"SELECT key, {sums} FROM case_figures_daily WHERE dimension = %(dimension)s "  # noqa: S608
            f"AND day >= %(d0)s AND day < %(d1)s{only} GROUP BY key"
        )
        parts = [daily]
        if until > today:
            parts.append(_from_facts(column, scope, "%(split)s", "%(until)s"))
    else:
        parts = [_from_facts(column, scope, "%(since)s", "%(until)s")]
    union = " UNION ALL ".join(f"({p})" for p in parts)
    label = DIMENSIONS[dimension][1].format(key="e.key")
    shown = ", ".join(f"coalesce(sum({name}), 0)::bigint AS {name}" for name in FIGURES)
    statement = f"""
    WITH e AS (
      SELECT key, {shown}, sum(handle_minutes)::float8 / nullif(sum(handle_count), 0)
               AS mean_handle_minutes, GROUPING(key) AS total
      FROM ({union}) u GROUP BY GROUPING SETS ((key), ())
    )
    SELECT e.*, CASE WHEN e.total = 0 THEN ({label}) END AS label FROM e
    WHERE e.total = 1 OR {" OR ".join(f"e.{n} > 0" for n in FIGURES)}
    ORDER BY e.total DESC, e.received DESC, e.key
    """  # noqa: S608 - identifiers and predicates from the tables above and geo.access
    names = [*FIGURES, "mean_handle_minutes"]

    def decode(rows: Rows) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            key, *values, total, label = row
            item = dict(zip(names, values, strict=True))
            item.update(key=None if total else key, label=label, total=bool(total))
            out.append(item)
        return out

    return Query(sql.SQL(statement), params, decode)


def evaluation_medians(
    dimension: str, scope: str, since: datetime, until: datetime
) -> Query[dict[str | None, float | None]]:
    """The median handling minutes of the cases resolved in the range, by key (None: all)."""
    column = _check(dimension, since, until)
    statement = f"""
    SELECT {column}::text, percentile_cont(0.5) WITHIN GROUP (ORDER BY handle_minutes),
           GROUPING({column}::text)
    FROM case_facts f WHERE ({scope}) AND {FIGURES["resolved"].predicate()}
    GROUP BY GROUPING SETS (({column}::text), ())
    """  # noqa: S608 - identifiers and predicates from the tables above and geo.access

    def decode(rows: Rows) -> dict[str | None, float | None]:
        return {None if total else key: median for key, median, total in rows}

    return Query(sql.SQL(statement), {"since": since, "until": until}, decode)


def evaluation_cases(
    dimension: str, key: str | None, figure: str, scope: str, since: datetime,
    until: datetime, after: int | None, limit: int,
) -> Query[list[int]]:  # fmt: skip
    """The ids of the cases behind one figure (of one key, or of the total when ``key`` is
    None), in id order after ``after``: the drill-down."""
    column = _check(dimension, since, until)
    if figure not in FIGURES:
        raise InvalidInput(f"No figure {figure!r}; one of {', '.join(FIGURES)}.")
    key_clause = "TRUE" if key is None else f"{column}::text = %(key)s"
    statement = f"""
    SELECT case_id FROM case_facts f
    WHERE ({scope}) AND {key_clause} AND {FIGURES[figure].predicate()}
      AND case_id > %(after)s
    ORDER BY case_id LIMIT %(limit)s
    """  # noqa: S608 - identifiers and predicates from the tables above and geo.access
    params = {"since": since, "until": until, "key": key, "after": after or 0, "limit": limit}

    def decode(rows: Rows) -> list[int]:
        return [int(r[0]) for r in rows]

    return Query(sql.SQL(statement), params, decode)
