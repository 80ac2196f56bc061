"""Aggregated tiles counted from the level-24 quadkeys cases carry (migration 0020).

A case's ``tile_key`` is the Morton code of the level-24 Web Mercator cell it falls in (x in
the even bits, y — from the top — in the odd ones), so the cases of tile (z, x, y) are exactly
the keys in ``[morton(x, y) << 2(24 − z), (morton(x, y) + 1) << 2(24 − z))``, and the tile's
64 × 64 aggregation cells are the next 12 bits. One index range scan (``ix_cases_tile_key``,
``ix_cases_public_tile_key``, which carry the columns the map filters on) then counts a tile
of 30,000 cases without reading the table. Cells are half-open, so a case on a tile's edge
counts in exactly one tile, as with the position-based statement this replaces.
"""

from __future__ import annotations

from psycopg import sql

from geo.layers import LayerView
from geo.queries.filters import Clauses

KEY_LEVEL = 24
#: log2 of the aggregation cells a tile side (64).
BIN_BITS = 6
#: The deepest zoom whose aggregation cells are whole level-24 cells.
MAX_KEYED_ZOOM = KEY_LEVEL - BIN_BITS


def keyed(view: LayerView, z: int) -> bool:
    """Whether a tile of ``view`` at zoom ``z`` is decided and aggregated on quadkeys."""
    return view.tile_key is not None and z <= MAX_KEYED_ZOOM


def _spread(v: int) -> int:
    out = 0
    for bit in range(KEY_LEVEL):
        out |= ((v >> bit) & 1) << (2 * bit)
    return out


def key_range(z: int, x: int, y: int) -> tuple[int, int]:
    """The half-open range of level-24 keys inside tile (z, x, y)."""
    shift = 2 * (KEY_LEVEL - z)
    first = _spread(x) | (_spread(y) << 1)
    return first << shift, (first + 1) << shift


def key_where(c: Clauses, view: LayerView) -> sql.Composable:
    """FROM/WHERE of the tile's own cases: the view's row filter, the caller's filters and the
    tile's key range (``%(k0)s``, ``%(k1)s``) — no position test."""
    assert view.tile_key is not None
    assert not c.ctes
    assert not c.joins
    key = sql.SQL("t.{k} >= %(k0)s AND t.{k} < %(k1)s").format(k=sql.Identifier(view.tile_key))
    return sql.SQL("FROM {} t WHERE {}").format(
        sql.Identifier(view.table), sql.SQL(" AND ").join([*c.where, key])
    )


def _compact(m: sql.Composable) -> sql.Composable:
    """The even bits 0..10 of a 12-bit Morton code as a 6-bit number."""
    return sql.SQL(" | ").join(
        sql.SQL("(({} >> {}) & {})").format(m, sql.Literal(i), sql.Literal(1 << i))
        for i in range(BIN_BITS)
    )


def more_than(where: sql.Composable) -> sql.Composable:
    """Whether the tile holds more than ``%(budget)s`` cases (reads at most one more key)."""
    return sql.SQL(
        "(SELECT count(*) FROM (SELECT 1 {where} LIMIT %(budget)s + 1) n) > %(budget)s"
    ).format(where=where)


def aggregate(
    view: LayerView, where: sql.Composable, name: str, extent: int, breakdown: str | None
) -> sql.Composable:
    """The aggregated tile: one point per non-empty cell at its centre, with ``count``,
    ``aggregated`` and ``<breakdown>_<value>`` counts (``%(kshift)s``: the key bits below a
    cell)."""
    value = (
        sql.SQL("t.{}::text").format(sql.Identifier(breakdown)) if breakdown else sql.SQL("NULL")
    )
    parts = sql.SQL(
        "jsonb_object_agg({prefix} || coalesce(g.v, 'none'), g.n)" if breakdown else "'{{}}'::jsonb"
    ).format(prefix=sql.Literal(f"{breakdown}_"))
    m = sql.SQL("g.m")
    cell = extent >> BIN_BITS
    return sql.SQL(
        "SELECT ST_AsMVT(a, {name}, {extent}, 'geom') FROM ("
        "SELECT ST_MakePoint((b.bx + 0.5) * {cell}, (b.by + 0.5) * {cell}) AS geom, "
        "b.count, true AS aggregated, b.parts FROM ("
        "SELECT {bx} AS bx, {by} AS by, sum(g.n)::int AS count, {parts} AS parts FROM ("
        "SELECT (t.{key} - %(k0)s) >> %(kshift)s AS m, {value} AS v, count(*)::int AS n "
        "{where} GROUP BY 1, 2) g GROUP BY g.m) b) a"
    ).format(
        name=sql.Literal(name), extent=sql.Literal(extent), cell=sql.Literal(cell),
        bx=_compact(m), by=_compact(sql.SQL("({} >> 1)").format(m)), parts=parts,
        key=sql.Identifier(view.tile_key or ""), value=value, where=where,
    )  # fmt: skip
