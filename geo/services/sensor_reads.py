"""SensorThings reads as a whole: a page of the addressed resource, its count, and every level of
``$expand`` (one statement per level and navigation, whatever the number of rows).

Errors a client's ``$filter`` can cause at run time (a division by zero, a text that is no
time, a geometry literal PostGIS cannot parse) are InvalidInput (400), never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from geo.access import Principal
from geo.errors import InvalidInput, NotFound
from geo.queries import Query, fetch
from geo.queries import sensors as q
from geo.queries.sensors_options import Expand, Options
from geo.queries.sensors_schema import ENTITY_SETS, EntitySet


@dataclass(frozen=True)
class Page:
    rows: list[q.Row]
    more: bool
    total: int | None


async def _run[T](conn: AsyncConnection[Any], query: Query[T]) -> T:
    try:
        return await fetch(conn, query)
    except (psycopg.errors.DataError, psycopg.errors.InternalError_) as exc:
        diag = exc.diag.message_primary or type(exc).__name__
        if isinstance(exc, psycopg.errors.InternalError_) and "geometry" not in diag.lower():
            raise
        raise InvalidInput(f"The request's $filter could not be evaluated: {diag}.") from None


async def read_page(
    conn: AsyncConnection[Any], principal: Principal, steps: Sequence[q.Step], options: Options
) -> Page:
    """A page of the addressed collection, with its expansions and (``$count``) its count."""
    rows = await _run(conn, q.collection(principal, steps, options))
    more = options.top > 0 and len(rows) > options.top  # $top=0: a count alone, no next page
    rows = rows[: options.top]
    total = await _run(conn, q.count(principal, steps, options)) if options.count else None
    await expand(conn, principal, steps[-1].entity, rows, options.expand)
    return Page(rows, more, total)


async def read_one(
    conn: AsyncConnection[Any], principal: Principal, steps: Sequence[q.Step], options: Options
) -> q.Row:
    """The addressed entity; NotFound when it does not exist or is not the caller's to see."""
    page = await read_page(conn, principal, steps, Options(
        select=options.select, expand=options.expand, top=1))  # fmt: skip
    if not page.rows:
        raise NotFound(f"No {_describe(steps)}.")
    return page.rows[0]


async def require_path(
    conn: AsyncConnection[Any], principal: Principal, steps: Sequence[q.Step]
) -> None:
    """NotFound unless every entity named by id along the path exists (and is visible)."""
    for i, step in enumerate(steps):
        if step.id is not None and not await _run(conn, q.exists(principal, steps[: i + 1])):
            raise NotFound(f"No {_describe(steps[: i + 1])}.")


async def expand(
    conn: AsyncConnection[Any],
    principal: Principal,
    entity: EntitySet,
    rows: list[q.Row],
    expands: Sequence[Expand],
) -> None:
    """Attach each expansion to ``rows`` in place: a list (to-many, with ``Nav@more`` and
    ``Nav@count``) or an entity or None (to-one)."""
    if not rows:
        return
    ids = [int(r["id"]) for r in rows]
    for item in expands:
        nav = entity.navs[item.nav]
        child = ENTITY_SETS[nav.target]
        found = await _run(conn, q.expansion(principal, entity, ids, item.nav, item.options))
        by_parent: dict[int, list[q.Row]] = {}
        totals: dict[int, int] = {}
        for row in found:
            parent = int(row.pop("@parent"))
            totals[parent] = int(row.pop("@total"))
            by_parent.setdefault(parent, []).append(row)
        children = [r for group in by_parent.values() for r in group[: item.options.top]]
        await expand(conn, principal, child, children, item.options.expand)
        for row in rows:
            group = by_parent.get(int(row["id"]), [])
            if nav.many:
                row[item.nav] = group[: item.options.top]
                row[f"{item.nav}@more"] = 0 < item.options.top < len(group)
                if item.options.count:
                    row[f"{item.nav}@count"] = totals.get(int(row["id"]), 0)
            else:
                row[item.nav] = group[0] if group else None


def _describe(steps: Sequence[q.Step]) -> str:
    return "/".join(
        f"{s.entity.name if s.nav is None else _nav_name(s)}"
        + (f"({s.id})" if s.id is not None else "")
        for s in steps
    )


def _nav_name(step: q.Step) -> str:
    return step.entity.name if step.nav is None or step.nav.many else step.entity.singular
