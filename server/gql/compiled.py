"""A fast path for big pages: PostGIS renders the requested nodes as JSON in one statement.

graphql-core completes a result field by field (~5–8 µs each): a page of 1,000 facilities with
eight fields costs ~50 ms of Python. When a connection's selection uses only plain fields
(scalars, enums, times, geometry, distance and the joined grid cell's plain fields) with no
directives, fragments or arguments, the page is rendered by SQL exactly as the typed path would
render it, and handed to graphql-core as :class:`PreRendered`, which the execution context
returns as is. Anything else (permission-checked fields, loaders, fragments) takes the typed
path. A test runs every shape both ways and compares the answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.nodes import SelectedField, Selection

from geo.layers import LayerView
from geo.queries import Query, Rows
from geo.queries.search import AttributeFilter, SpatialFilter, clauses


@dataclass(frozen=True, slots=True)
class PreRendered:
    """A value already in its response form (the JSON graphql-core would have produced)."""

    value: Any


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def complete_value(self, *args: Any, **kwargs: Any) -> Any:
        result = args[4] if len(args) > 4 else kwargs["result"]
        if isinstance(result, PreRendered):
            return result.value
        return super().complete_value(*args, **kwargs)


def _ts(col: str) -> str:
    # Python's datetime.isoformat(): microseconds only when there are any.
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN mod(date_part('microseconds', {col})::bigint, 1000000) = 0 "
        f"""THEN to_char({col}, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') """
        f"""ELSE to_char({col}, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') END"""
    )


POINT = (
    "json_build_object('type', 'Point', "
    "'coordinates', json_build_array(ST_X(t.geom), ST_Y(t.geom)))"
)
DISTANCE = "ST_Distance(t.geom::geography, p.g::geography)"

CELL_FIELDS = {
    "id": "gc.id::text", "code": "gc.code", "name": "gc.name", "population": "gc.population",
    "healthRisk": "upper(gc.health_risk)", "__typename": "'GridCell'",
}  # fmt: skip
DEPARTMENT_FIELDS = {
    "id": "d.id::text", "code": "d.code", "nameZh": "d.name_zh", "nameEn": "d.name_en",
    "__typename": "'Department'",
}  # fmt: skip
#: Related objects rendered from a join: field → (join alias, its fields, the types having it).
NESTED: dict[str, tuple[str, dict[str, str], frozenset[str]]] = {
    "gridCell": ("gc", CELL_FIELDS, frozenset({"Facility", "Camera", "Case"})),
    "department": ("d", DEPARTMENT_FIELDS, frozenset({"Case"})),
}
JOINS = {
    "gc": "LEFT JOIN grid_cells gc ON gc.id = t.grid_cell_id",
    "d": "LEFT JOIN departments d ON d.id = t.department_id",
}

#: GraphQL field → SQL expression, per type (t: the layer, gc: the joined grid cell).
FIELDS: dict[str, dict[str, str]] = {
    "Facility": {
        "id": "t.id::text", "code": "t.code", "category": "upper(t.category)",
        "nameZh": "t.name_zh", "nameEn": "t.name_en", "address": "t.address",
        "capacity": "t.capacity", "geometry": POINT, "__typename": "'Facility'",
    },
    "Camera": {
        "id": "t.id::text", "code": "t.code", "name": "t.name", "heading": "t.heading",
        "fov": "t.fov", "status": "upper(t.status)", "lastSeenAt": _ts("t.last_seen_at"),
        "geometry": POINT, "__typename": "'Camera'",
    },
    "Case": {
        "id": "t.id::text", "publicId": "t.public_id", "category": "t.category",
        "status": "upper(t.status)", "priority": "upper(t.priority)",
        "reportedAt": _ts("t.reported_at"), "dueAt": _ts("t.due_at"),
        "resolvedAt": _ts("t.resolved_at"), "closedAt": _ts("t.closed_at"),
        "geometry": POINT, "__typename": "'Case'",
    },
}  # fmt: skip


def _plain(selections: list[Selection]) -> list[SelectedField] | None:
    fields: list[SelectedField] = []
    for s in selections:
        if not isinstance(s, SelectedField) or s.directives or s.arguments:
            return None
        fields.append(s)
    return fields


def _node_object(type_name: str, selections: list[Selection], near: bool) -> sql.Composable | None:
    """``json_build_object(…)`` for one node, or None when the selection is not plain."""
    fields = _plain(selections)
    known = FIELDS[type_name]
    if fields is None:
        return None
    parts: list[sql.Composable] = []
    for f in fields:
        if f.name == "distanceM":
            expr: sql.Composable = sql.SQL("t._d" if near else "NULL")
        elif f.name in NESTED and type_name in NESTED[f.name][2]:
            alias, nested, _ = NESTED[f.name]
            sub = _plain(f.selections)
            if sub is None or any(c.name not in nested for c in sub):
                return None
            inner = [
                sql.SQL("{}, {}").format(sql.Literal(c.alias or c.name), sql.SQL(nested[c.name]))
                for c in sub
            ]
            expr = sql.SQL(
                "CASE WHEN {a}.id IS NULL THEN NULL ELSE json_build_object({f}) END"
            ).format(a=sql.Identifier(alias), f=sql.SQL(", ").join(inner))
        elif f.name in known:
            expr = sql.SQL(known[f.name])
        else:
            return None
        parts.append(sql.SQL("{}, {}").format(sql.Literal(f.alias or f.name), expr))
    # json_build_object takes at most 100 arguments; selections that big take the typed path.
    if not parts or len(parts) > 50:
        return None
    return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(parts))


@dataclass(frozen=True)
class Plan:
    """What to render: the node object, and where the page's nodes go in the connection."""

    node: sql.Composable
    shape: Callable[[list[Any], int], dict[str, Any]]  # (nodes, offset) → connection fields


def plan(type_name: str, connection: SelectedField, near: bool,
         cursor: Callable[[int], str]) -> Plan | None:  # fmt: skip
    """A plan for a connection selection, or None to take the typed path."""
    if type_name not in FIELDS or connection.directives:
        return None
    top = _plain(connection.selections)
    if top is None:
        return None
    node_selection: list[Selection] | None = None
    outputs: list[tuple[str, str, list[SelectedField]]] = []  # (response key, kind, edge fields)
    for f in top:
        key = f.alias or f.name
        if f.name == "pageInfo" or f.name == "__typename":
            continue  # the typed path resolves these; they are cheap
        if f.name == "nodes":
            sel = f.selections
        elif f.name == "edges":
            edge = _plain(f.selections)
            if edge is None or any(e.name not in ("cursor", "node", "__typename") for e in edge):
                return None
            nodes = [e for e in edge if e.name == "node"]
            if len(nodes) != 1:
                return None
            sel = nodes[0].selections
            outputs.append((key, "edges", edge))
        else:
            return None
        if node_selection is not None and _signature(sel) != _signature(node_selection):
            return None  # nodes and edges.node must ask for the same thing
        node_selection = sel
        if f.name == "nodes":
            outputs.append((key, "nodes", []))
    if node_selection is None:
        return None
    node = _node_object(type_name, node_selection, near)
    if node is None:
        return None

    def shape(nodes: list[Any], offset: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, kind, edge in outputs:
            if kind == "nodes":
                result[key] = nodes
                continue
            rendered = []
            for i, n in enumerate(nodes):
                item: dict[str, Any] = {}
                for e in edge:
                    if e.name == "cursor":
                        item[e.alias or e.name] = cursor(offset + i)
                    elif e.name == "__typename":
                        item[e.alias or e.name] = f"{type_name}Edge"
                    else:
                        item[e.alias or e.name] = n
                rendered.append(item)
            result[key] = rendered
        return result

    return Plan(node, shape)


def _signature(selections: list[Selection]) -> str:
    return repr(selections)


def page_json(
    view: LayerView,
    spatial: SpatialFilter,
    attributes: AttributeFilter,
    node: sql.Composable,
    *,
    limit: int,
    offset: int,
) -> Query[tuple[list[Any], int]]:
    """(rendered nodes, rows found up to limit + 1) in one statement.

    The page's rows are chosen first (with the distance computed once per row, when searching
    near a point: a spheroid distance is the costly part); only they are joined to their cell
    and department and rendered."""
    c = clauses(view, spatial, attributes)
    c.params.update(limit=limit + 1, offset=offset)
    near = spatial.near is not None
    select = sql.SQL(f"t.*, {DISTANCE} AS _d" if near else "t.*")
    order = sql.SQL("_d, t.id" if near else "t.id")
    page = c.sql(
        select, view.table, sql.SQL("ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s").format(order)
    )
    joins = [sql.SQL(j) for a, j in JOINS.items() if a == "gc" or "department_id" in view.columns]
    statement = sql.SQL(
        "SELECT coalesce(json_agg({node} ORDER BY {order}), '[]')::text FROM ({page}) t {joins}"
    ).format(node=node, order=sql.SQL("t._d, t.id" if near else "t.id"), page=page,
             joins=sql.SQL(" ").join(joins))  # fmt: skip

    def decode(result: Rows) -> tuple[list[Any], int]:
        nodes: list[Any] = json.loads(result[0][0])
        return nodes[:limit], len(nodes)

    return Query(statement, c.params, decode)
