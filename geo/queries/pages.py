"""Pages rendered by PostGIS: one statement returns a page's nodes as the JSON GraphQL would
produce (server/gql/compiled.py decides when a selection is plain enough; this module only
builds the SQL).

Each node is ``json_build_object(…)`` over the page's rows of a layer view (alias t), its grid
cell (gc) and department (d). A field whose column the view lacks renders as null: the public
case record has no due or resolved time and no department, and the typed path says the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core
from psycopg import sql

from geo.layers import LayerView
from geo.queries import Query, Rows, keyset
from geo.queries.filters import AttributeFilter, SpatialFilter, clauses
from geo.queries.keyset import Order


@dataclass(frozen=True, slots=True)
class Field:
    """A selected field: its name, its response key and, for objects, its own fields."""

    name: str
    key: str
    children: tuple[Field, ...] = ()


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
#: Related objects rendered from a join: field → (join alias, its fields, the types having it,
#: the view column the join needs).
NESTED: dict[str, tuple[str, dict[str, str], frozenset[str], str]] = {
    "gridCell": ("gc", CELL_FIELDS, frozenset({"Facility", "Camera", "Case"}), "grid_cell_id"),
    "department": ("d", DEPARTMENT_FIELDS, frozenset({"Case"}), "department_id"),
}
JOINS = {
    "gc": ("grid_cell_id", "LEFT JOIN grid_cells gc ON gc.id = t.grid_cell_id"),
    "d": ("department_id", "LEFT JOIN departments d ON d.id = t.department_id"),
}

#: GraphQL field → (SQL expression, the view column it reads or "" for always present), per
#: type (t: the layer's row).
FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "Facility": {
        "id": ("t.id::text", ""), "code": ("t.code", ""),
        "category": ("upper(t.category)", ""), "nameZh": ("t.name_zh", ""),
        "nameEn": ("t.name_en", ""), "address": ("t.address", "address"),
        "capacity": ("t.capacity", "capacity"), "geometry": (POINT, ""),
        "__typename": ("'Facility'", ""),
    },
    "Camera": {
        "id": ("t.id::text", ""), "code": ("t.code", ""), "name": ("t.name", ""),
        "heading": ("t.heading", ""), "fov": ("t.fov", ""), "status": ("upper(t.status)", ""),
        "lastSeenAt": (_ts("t.last_seen_at"), "last_seen_at"), "geometry": (POINT, ""),
        "__typename": ("'Camera'", ""),
    },
    "Case": {
        "id": ("t.id::text", ""), "publicId": ("t.public_id", ""),
        "category": ("t.category", ""), "status": ("upper(t.status)", ""),
        "priority": ("upper(t.priority)", ""),
        "reportedAt": (_ts("t.reported_at"), "reported_at"),
        "dueAt": (_ts("t.due_at"), "due_at"),
        "resolvedAt": (_ts("t.resolved_at"), "resolved_at"),
        "closedAt": (_ts("t.closed_at"), "closed_at"), "geometry": (POINT, ""),
        "__typename": ("'Case'", ""),
    },
}  # fmt: skip


#: Fields of the full case record only: where the view is the public record the typed path
#: answers them (with its FORBIDDEN error), so they render only on an ``internal`` view.
FULL_FIELDS: dict[str, dict[str, str]] = {
    "Case": {
        "description": "t.description", "address": "t.address", "source": "upper(t.source)",
        "duplicateOfId": "t.duplicate_of::text",
    },
}  # fmt: skip
EVENT_FIELDS = {
    "id": "e.id::text", "eventType": "upper(e.event_type)",
    "fromStatus": "upper(e.from_status)", "toStatus": "upper(e.to_status)", "note": "e.note",
    "at": _ts("e.at"), "__typename": "'CaseEvent'",
}  # fmt: skip
#: A case's timeline, oldest first, as the typed path's loader orders it.
EVENTS = (
    "(SELECT coalesce(json_agg(json_build_object({}) ORDER BY e.at, e.id), '[]'::json) "
    "FROM case_events e WHERE e.case_id = t.id)"
)


def renders(type_name: str) -> bool:
    return type_name in FIELDS


def node_object(
    type_name: str, fields: Sequence[Field], near: bool, view: LayerView
) -> sql.Composable | None:
    """``json_build_object(…)`` for one node, or None when a field cannot be rendered here."""
    known = FIELDS[type_name]
    parts: list[sql.Composable] = []
    for f in fields:
        if f.name == "distanceM":
            expr: sql.Composable = sql.SQL("t._d" if near else "NULL")
        elif f.name in NESTED and type_name in NESTED[f.name][2]:
            alias, nested, _, column = NESTED[f.name]
            if not f.children or any(c.name not in nested for c in f.children):
                return None
            inner = [
                sql.SQL("{}, {}").format(sql.Literal(c.key), sql.SQL(nested[c.name]))
                for c in f.children
            ]
            expr = (
                sql.SQL(
                    "CASE WHEN {a}.id IS NULL THEN NULL ELSE json_build_object({f}) END"
                ).format(a=sql.Identifier(alias), f=sql.SQL(", ").join(inner))
                if column in view.columns
                else sql.SQL("NULL")
            )
        elif f.name == "events" and type_name == "Case" and view.internal:
            if not f.children or any(c.name not in EVENT_FIELDS for c in f.children):
                return None
            expr = sql.SQL(EVENTS).format(sql.SQL(", ").join(
                sql.SQL("{}, {}").format(sql.Literal(c.key), sql.SQL(EVENT_FIELDS[c.name]))
                for c in f.children
            ))  # fmt: skip
        elif f.name in FULL_FIELDS.get(type_name, {}) and view.internal:
            expr = sql.SQL(FULL_FIELDS[type_name][f.name])
        elif f.name in known:
            text, column = known[f.name]
            expr = sql.SQL(text if not column or column in view.columns else "NULL")
        else:
            return None
        parts.append(sql.SQL("{}, {}").format(sql.Literal(f.key), expr))
    # json_build_object takes at most 100 arguments; selections that big take the typed path.
    if not parts or len(parts) > 50:
        return None
    return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(parts))


def page_json(
    view: LayerView,
    spatial: SpatialFilter,
    attributes: AttributeFilter,
    node: sql.Composable,
    *,
    limit: int,
    order: Order,
) -> Query[tuple[list[Any], list[tuple[str | None, int]], int]]:
    """(rendered nodes, each node's (key text, id) for its cursor, rows found up to
    limit + 1) in one statement, in ``order`` after the row its cursor names.

    The page's rows are chosen first (with the distance computed once per row, when searching
    near a point: a spheroid distance is the costly part); only they are joined to their cell
    and department and rendered. The view's row filter (and so the caller's jurisdiction)
    applies as in every read."""
    c = clauses(view, spatial, attributes)
    c.params.update(limit=limit + 1)
    after = order.where(c.params)
    if after is not None:
        c.where.append(after)
    near = spatial.near is not None
    select: list[sql.Composable] = [sql.SQL("t.*")]
    if near:
        select.append(sql.SQL(f"{DISTANCE} AS _d"))
    select += [sql.SQL("{} AS _kv").format(order.value()),
               sql.SQL("{} AS _k").format(order.text())]  # fmt: skip
    inner = order.order_by("_d" if near and order.key is keyset.DISTANCE else "")
    page = c.sql(
        sql.SQL(", ").join(select), view,
        sql.SQL("ORDER BY {} LIMIT %(limit)s").format(inner),
    )  # fmt: skip
    outer = order.order_by("t._kv" if order.key is not None else "")
    joins = [sql.SQL(j) for column, j in JOINS.values() if column in view.columns]
    statement = sql.SQL(
        "SELECT coalesce(json_agg({node} ORDER BY {outer}), '[]')::text, "
        "coalesce(json_agg(json_build_array(t._k, t.id) ORDER BY {outer}), '[]')::text "
        "FROM ({page}) t {joins}"
    ).format(node=node, outer=outer, page=page, joins=sql.SQL(" ").join(joins))

    def decode(result: Rows) -> tuple[list[Any], list[tuple[str | None, int]], int]:
        nodes: list[Any] = pydantic_core.from_json(result[0][0])  # several × json.loads
        keys = [(k, int(i)) for k, i in pydantic_core.from_json(result[0][1])]
        return nodes[:limit], keys[:limit], len(nodes)

    return Query(statement, c.params, decode)
