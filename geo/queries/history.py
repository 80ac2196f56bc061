"""What an "as of" read may ask (docs/history.md): an instant the layer's history covers.

The history of a tracked table (migration 0031) starts when it began to be kept — or earlier,
when a data load recorded dated changes — and ends now. Before its start nothing is known
(an empty answer would claim the layer was empty); after now nothing is known yet. Both are
refused with the bounds, so a caller can correct the instant. "Now" is the database's clock,
the one that stamps the versions.
"""

from __future__ import annotations

from datetime import datetime

from psycopg import sql

from geo.errors import InvalidInput
from geo.layers import LayerView, as_of
from geo.queries import Query, Rows

_BOUNDS = sql.SQL(
    "SELECT h.starts, now() FROM history_tables h WHERE h.history_table::regclass = "
    "to_regclass(%(history)s)"
)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def checked(view: LayerView, when: datetime, what: str = "asOf") -> Query[LayerView]:
    """The history view of ``view`` for a read as of ``when`` (its row filter, so the same
    access rules); InvalidInput when the layer keeps no history or ``when`` lies outside it."""
    historic = as_of(view)
    if historic is None:
        raise InvalidInput(f"{view.name} keeps no history: {what} is not available for it.")
    if when.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone (Z or an offset such as +08:00).")

    def decode(rows: Rows) -> LayerView:
        if not rows:
            raise InvalidInput(f"{view.name} keeps no history: {what} is not available for it.")
        starts, now = rows[0]
        if when < starts:
            raise InvalidInput(
                f"{what} {_iso(when)} is before the history of {view.name} starts "
                f"({_iso(starts)}): nothing is known of it then."
            )
        if when > now:
            raise InvalidInput(
                f"{what} {_iso(when)} is in the future (now is {_iso(now)}): history "
                "answers for past instants only."
            )
        return historic

    name = historic.table
    if historic.schema is not None:
        name = f"{_quoted(historic.schema)}.{_quoted(historic.table)}"
    return Query(_BOUNDS, {"history": name}, decode)


def _quoted(identifier: str) -> str:
    """An identifier as ``to_regclass`` reads it quoted (from the database catalog, never input)."""
    return '"' + identifier.replace('"', '""') + '"'
