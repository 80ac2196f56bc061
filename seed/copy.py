"""COPY rows into a table, and ids reserved for them: how every seed step writes in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql


def copy_rows(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Iterable[Any]
) -> None:
    """``rows`` (tuples in ``columns``' order) into ``table`` with one COPY."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)


def reserve_ids(conn: psycopg.Connection[Any], table: str, count: int) -> list[int]:
    """``count`` ids from ``table``'s id sequence (rows COPYed with them can refer to each
    other in the same load)."""
    if not count:
        return []
    return [r[0] for r in conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        (table, count),
    )]  # fmt: skip
