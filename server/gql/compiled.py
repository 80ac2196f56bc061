"""A fast path for big pages: PostGIS renders the requested nodes as JSON in one statement.

graphql-core completes a result field by field (~5–8 µs each): a page of 1,000 facilities with
eight fields costs ~50 ms of Python. When a connection's selection uses only plain fields
(scalars, enums, times, geometry, distance and the joined grid cell's plain fields) with no
directives, fragments or arguments, the page is rendered by SQL exactly as the typed path would
render it, and handed to graphql-core as :class:`PreRendered`, which the execution context
returns as is. Anything else (permission-checked fields, loaders, fragments) takes the typed
path. A test runs every shape both ways and compares the answers. The SQL itself is built by
:mod:`geo.queries.pages`; this module only reads the selection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.nodes import SelectedField, Selection

from geo.layers import LayerView
from geo.queries import pages


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


def _plain(selections: list[Selection]) -> list[SelectedField] | None:
    fields: list[SelectedField] = []
    for s in selections:
        if not isinstance(s, SelectedField) or s.directives or s.arguments:
            return None
        fields.append(s)
    return fields


def _fields(selections: list[Selection]) -> tuple[pages.Field, ...] | None:
    """The selection as geo.queries.pages fields, or None when it is not plain."""
    plain = _plain(selections)
    if plain is None:
        return None
    out: list[pages.Field] = []
    for f in plain:
        children: tuple[pages.Field, ...] = ()
        if f.selections:
            sub = _fields(f.selections)
            if sub is None:
                return None
            children = sub
        out.append(pages.Field(f.name, f.alias or f.name, children))
    return tuple(out)


@dataclass(frozen=True)
class Plan:
    """What to render: the node object, and where the page's nodes go in the connection."""

    node: sql.Composable
    shape: Callable[[list[Any], list[str]], dict[str, Any]]  # (nodes, cursors) → fields


def plan(type_name: str, connection: SelectedField, near: bool,
         view: LayerView) -> Plan | None:  # fmt: skip
    """A plan for a connection selection on ``view``, or None to take the typed path."""
    if not pages.renders(type_name) or connection.directives:
        return None
    top = _plain(connection.selections)
    if top is None:
        return None
    node_selection: list[Selection] | None = None
    outputs: list[tuple[str, str, list[SelectedField]]] = []  # (response key, kind, edge fields)
    for f in top:
        key = f.alias or f.name
        if f.name in ("pageInfo", "__typename", "totalCount"):
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
    fields = _fields(node_selection)
    node = None if fields is None else pages.node_object(type_name, fields, near, view)
    if node is None:
        return None

    def shape(nodes: list[Any], cursors: list[str]) -> dict[str, Any]:
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
                        item[e.alias or e.name] = cursors[i]
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
