"""SensorThings reads: a collection, its count, and one level of ``$expand`` per statement.

An addressed resource (``Things(1)/Datastreams``) is a chain of :class:`Step`; the target's rows
are those the principal may read (``access.sensor_scope``) that are linked to each step before
it. ``$expand`` loads the children of all parents of a level in one statement (a LATERAL join
per parent, so ``$top`` applies per parent): no statement per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.access import Principal, sensor_scope
from geo.errors import InvalidInput
from geo.queries import Query, Rows
from geo.queries.sensors_filter import Compiler, Params
from geo.queries.sensors_options import Options
from geo.queries.sensors_schema import ENTITY_SETS, EntitySet, Nav

type Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """One segment of a resource path: an entity set (or a navigation to it) and maybe an id."""

    entity: EntitySet
    id: int | None = None
    nav: Nav | None = None  # how this step is reached from the one before


def _s(text: str) -> sql.SQL:
    return sql.SQL(text)  # our constants only


def _visible(principal: Principal, entity: EntitySet, alias: str) -> sql.SQL:
    return _s(sensor_scope(principal, entity.name, alias))


def where_for(
    principal: Principal, steps: Sequence[Step], alias: str, params: Params
) -> sql.Composed:
    """The predicate on alias ``alias`` of the last step: visible, the id if given, linked to
    the steps before it (each of them visible too)."""
    target = steps[-1]
    parts: list[sql.Composable] = [_visible(principal, target.entity, alias)]
    if target.id is not None:
        parts.append(_s(f"{alias}.id = ") + params.add(target.id, "bigint"))
    if len(steps) > 1:
        assert target.nav is not None
        parent, pa = steps[-2], params.alias()
        link = target.nav.link.format(c=alias, p=pa)
        if target.nav.child_key is not None and parent.id is not None:
            # ``Datastreams(1)/Observations``: the key on the row itself (so its index serves
            # the order), the parent's existence and visibility checked once (an InitPlan).
            parts.append(_s(f"{alias}.{target.nav.child_key} = ") + params.add(parent.id, "bigint"))
            link = "TRUE"
        inner = where_for(principal, steps[:-1], pa, params)
        parts.append(_s(f"EXISTS (SELECT 1 FROM {parent.entity.table} {pa} WHERE ") + inner +  # noqa: S608
                     _s(f" AND {link})"))  # fmt: skip
    return sql.SQL(" AND ").join(parts) + _s("")


def columns(entity: EntitySet, select: Sequence[str] | None) -> list[str]:
    """The properties served (in order): those selected, or all."""
    return [n for n in entity.props if select is None or n in select]


def _select_list(entity: EntitySet, alias: str, names: Sequence[str]) -> sql.Composed:
    outs = [_s(f"{alias}.id")] + [_s(entity.props[n].out.format(a=alias)) for n in names]
    return sql.SQL(", ").join(outs) + _s("")


def _filter(entity: EntitySet, alias: str, options: Options, params: Params) -> sql.Composable:
    if options.filter is None:
        return _s("TRUE")
    return Compiler(entity, alias, params).condition(options.filter)


def _order(entity: EntitySet, alias: str, options: Options, params: Params) -> sql.Composed:
    keys: list[sql.Composable] = []
    compiler = Compiler(entity, alias, params)
    for expr, desc in options.orderby:
        value, kind = compiler.compile(expr)
        if kind == "geometry":
            raise InvalidInput("$orderby: geometries have no order.")
        # PostgreSQL's default null order both ways, so an index scan (forwards or backwards)
        # serves the order: "the newest 100 readings" reads 100 index entries, sorts nothing.
        keys.append(value + _s(" DESC" if desc else " ASC"))
    keys.append(_s(f"{alias}.id"))
    return sql.SQL(", ").join(keys) + _s("")


def _decode(names: Sequence[str], with_total: bool = False) -> Any:
    def decode(rows: Rows) -> list[Row]:
        found = []
        for row in rows:
            values = row[2:] if with_total else row
            item: Row = {"id": values[0], **dict(zip(names, values[1:], strict=True))}
            if with_total:
                item["@parent"], item["@total"] = row[0], row[1]
            found.append(item)
        return found

    return decode


def collection(principal: Principal, steps: Sequence[Step], options: Options) -> Query[list[Row]]:
    """The rows of the addressed resource, a page of ``options.top`` + 1 (the extra row tells
    that a next page exists)."""
    entity, params, a = steps[-1].entity, Params(), "e0"
    names = columns(entity, options.select)
    where = where_for(principal, steps, a, params)
    statement = (
        _s("SELECT ") + _select_list(entity, a, names) + _s(f" FROM {entity.table} {a} WHERE ")
        + where + _s(" AND ") + _filter(entity, a, options, params)
        + _s(" ORDER BY ") + _order(entity, a, options, params)
        + _s(" LIMIT ") + params.add(options.top + 1, "int")
        + _s(" OFFSET ") + params.add(options.skip, "int")
    )  # fmt: skip
    return Query(statement, params.values, _decode(names))


def count(principal: Principal, steps: Sequence[Step], options: Options) -> Query[int]:
    entity, params, a = steps[-1].entity, Params(), "e0"
    statement = (
        _s(f"SELECT count(*) FROM {entity.table} {a} WHERE ")  # noqa: S608
        + where_for(principal, steps, a, params) + _s(" AND ")
        + _filter(entity, a, options, params)
    )  # fmt: skip
    return Query(statement, params.values, lambda rows: int(rows[0][0]))


def expansion(
    principal: Principal, parent: EntitySet, ids: Sequence[int], nav_name: str, options: Options
) -> Query[list[Row]]:
    """The children through ``nav_name`` of the parents ``ids`` (each row carries
    ``@parent`` and ``@total``, the parent's count of children matching)."""
    nav = parent.navs[nav_name]
    child = ENTITY_SETS[nav.target]
    params, p, c = Params(), "px", "e1"
    names = columns(child, options.select)
    link = nav.link.format(c=c, p=p)
    statement = (
        _s(f"SELECT {p}.id, x.* FROM {parent.table} {p} CROSS JOIN LATERAL (SELECT "  # noqa: S608
           "count(*) OVER () AS total, ")
        + _select_list(child, c, names)
        + _s(f" FROM {child.table} {c} WHERE {link} AND ")
        + _visible(principal, child, c) + _s(" AND ") + _filter(child, c, options, params)
        + _s(" ORDER BY ") + _order(child, c, options, params)
        + _s(" LIMIT ") + params.add(options.top + 1, "int")
        + _s(" OFFSET ") + params.add(options.skip, "int")
        + _s(f") x WHERE {p}.id = ANY(") + params.add(list(ids), "bigint[]")
        + _s(f") ORDER BY {p}.id")
    )  # fmt: skip
    return Query(statement, params.values, _decode(names, with_total=True))


def exists(principal: Principal, steps: Sequence[Step]) -> Query[bool]:
    """Whether the addressed entity exists and is visible (for 404s of paths)."""
    entity, params, a = steps[-1].entity, Params(), "e0"
    statement = (
        _s(f"SELECT EXISTS (SELECT 1 FROM {entity.table} {a} WHERE ")  # noqa: S608
        + where_for(principal, steps, a, params) + _s(")")
    )  # fmt: skip
    return Query(statement, params.values, lambda rows: bool(rows[0][0]))
