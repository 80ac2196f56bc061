"""Keyset paging: the order of a layer's page and the place the previous page ended.

A page is ``ORDER BY <key> [DESC], t.id [DESC] LIMIT n`` and the next one starts after the
last row's ``(key, id)``: ``WHERE (<key>, t.id) > (%(k_value)s, %(k_id)s)`` (``<`` when
descending). Unlike an offset, this never skips or repeats a row when rows are inserted or
leave the filter between pages, and costs the same at any depth (an index on the key serves
it). A row whose key itself changes between pages (a case ordered by status that changes
status) moves, as it would on any board.

Keys are total with the id as tie-breaker; nullable columns are ordered through ``coalesce``
(no due time sorts after every due time). The key's value travels in the cursor as PostgreSQL
prints it (``::text``) and is cast back to the key's type, so timestamps keep their
microseconds and floats their last digit (PostgreSQL ≥ 12 prints the shortest exact form).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from geo.errors import InvalidInput
from geo.layers import LayerView


@dataclass(frozen=True, slots=True)
class SortKey:
    """An ordering a layer offers: its API name, its SQL on alias ``t``, the SQL type its
    value is cast back to, and the view column it needs ("" when always present)."""

    name: str
    expr: str
    sql_type: str
    column: str = ""


DISTANCE = SortKey("DISTANCE", "ST_Distance(t.geom::geography, p.g::geography)", "float8")
_PRIORITY = "array_position(ARRAY['low', 'normal', 'high', 'urgent']::text[], t.priority::text)"
_STATUS = (
    "array_position(ARRAY['reported', 'dispatched', 'in_progress', 'resolved', 'closed', "
    "'rejected', 'duplicate']::text[], t.status::text)"
)

#: The orderings of each layer (by view name), beside ID and, with a point, DISTANCE.
KEYS: dict[str, dict[str, SortKey]] = {
    "cases": {
        k.name: k
        for k in (
            SortKey("REPORTED_AT", "t.reported_at", "timestamptz", "reported_at"),
            SortKey(
                "DUE_AT", "coalesce(t.due_at, 'infinity'::timestamptz)", "timestamptz", "due_at"
            ),
            SortKey("PRIORITY", _PRIORITY, "int4", "priority"),
            SortKey("STATUS", _STATUS, "int4", "status"),
            SortKey("PUBLIC_ID", "t.public_id", "text", "public_id"),
        )
    },
    "facilities": {
        k.name: k
        for k in (
            SortKey("CODE", "t.code", "text", "code"),
            SortKey("NAME_ZH", "t.name_zh", "text", "name_zh"),
            SortKey("NAME_EN", "t.name_en", "text", "name_en"),
            SortKey("CATEGORY", "t.category", "text", "category"),
            SortKey("CAPACITY", "coalesce(t.capacity, -1)", "int4", "capacity"),
        )
    },
    "cameras": {
        k.name: k
        for k in (
            SortKey("CODE", "t.code", "text", "code"),
            SortKey("NAME", "t.name", "text", "name"),
            SortKey("STATUS", "t.status", "text", "status"),
            SortKey(
                "LAST_SEEN_AT",
                "coalesce(t.last_seen_at, '-infinity'::timestamptz)",
                "timestamptz",
                "last_seen_at",
            ),
        )
    },
    "grid_cells": {
        k.name: k
        for k in (
            SortKey("CODE", "t.code", "text", "code"),
            SortKey("NAME", "t.name", "text", "name"),
            SortKey("POPULATION", "coalesce(t.population, -1)", "int4", "population"),
        )
    },
    "admin_areas": {
        k.name: k
        for k in (
            SortKey("CODE", "t.code", "text", "code"),
            SortKey("NAME_ZH", "t.name_zh", "text", "name_zh"),
            SortKey("NAME_EN", "t.name_en", "text", "name_en"),
            SortKey("POPULATION", "coalesce(t.population, -1)", "int4", "population"),
        )
    },
}


@dataclass(frozen=True, slots=True)
class Order:
    """A page's order (``key`` None: by id alone) and where the previous page ended."""

    key: SortKey | None = None
    descending: bool = False
    after: tuple[str | None, int] | None = None  # (the key's text, id) of the last row

    @property
    def label(self) -> str:
        return f"{self.key.name if self.key else 'ID'}:{'DESC' if self.descending else 'ASC'}"

    def value(self) -> sql.Composable:
        """The key's typed value of row ``t`` (the id when ordering by id)."""
        return sql.SQL(self.key.expr if self.key else "t.id")

    def text(self) -> sql.Composable:
        """The key as the cursor carries it."""
        return sql.SQL(f"({self.key.expr})::text" if self.key else "NULL::text")

    def where(self, params: dict[str, Any]) -> sql.Composable | None:
        """The predicate "after the previous page" (None on the first page)."""
        if self.after is None:
            return None
        value, last_id = self.after
        op = sql.SQL("<" if self.descending else ">")
        params["k_id"] = last_id
        if self.key is None:
            return sql.SQL("t.id {} %(k_id)s").format(op)
        params["k_value"] = value
        return sql.SQL("({}, t.id) {} (%(k_value)s::{}, %(k_id)s)").format(
            self.value(), op, sql.SQL(self.key.sql_type)
        )

    def order_by(self, value: str = "") -> sql.Composable:
        """``ORDER BY`` terms; ``value`` names a column already holding the key (an outer
        query's), else the key's expression."""
        direction = " DESC" if self.descending else ""
        key = value or (self.key.expr if self.key else "")
        if not key:
            return sql.SQL(f"t.id{direction}")
        return sql.SQL(f"{key}{direction}, t.id{direction}")


def order(
    view: LayerView, field: str | None, descending: bool, near: bool, after: str | None
) -> Order:
    """The order a request asks for (``field`` None: by distance with a point, else by id),
    checked against the view, with its cursor decoded: InvalidInput with the reason."""
    key: SortKey | None = None
    if field in (None, "ID"):
        key = DISTANCE if field is None and near else None
    elif field == "DISTANCE":
        if not near:
            raise InvalidInput("orderBy DISTANCE needs a point: give where.near.")
        key = DISTANCE
    else:
        key = KEYS.get(view.name, {}).get(field)
        if key is None:
            raise InvalidInput(f"{view.name} cannot be ordered by {field}.")
        if key.column and key.column not in view.columns and key.column != "id":
            raise InvalidInput(
                f"ordering by {field} needs the full record, which this caller does not read."
            )
    chosen = Order(key, descending)
    return Order(key, descending, None if after is None else decode(after, chosen.label))


_VERSION = "k1"


def cursor(label: str, value: str | None, row_id: int) -> str:
    """The opaque cursor of a row in an order labelled ``label``."""
    raw = json.dumps([_VERSION, label, value, row_id], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str, label: str) -> tuple[str | None, int]:
    """A cursor's (key text, id), checked to belong to the order ``label``."""
    try:
        padded = text + "=" * (-len(text) % 4)
        version, made_for, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        valid = (
            version == _VERSION
            and isinstance(made_for, str)
            and (value is None or isinstance(value, str))
            and isinstance(row_id, int)
            and not isinstance(row_id, bool)
            and 0 <= row_id < 2**63
            and (value is None or len(value) <= 200)
        )
    except (ValueError, TypeError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidInput("after is not a cursor this API gave out; start from the first page.")
    if made_for != label:
        raise InvalidInput(
            f"after was given out for the order {made_for}, not {label}: page with the order "
            "that made it, or start from the first page."
        )
    return value, row_id
