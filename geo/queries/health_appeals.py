"""Reads of health-code appeals: a citizen's own, the ones officers decide, one by id.

Rows come back as dicts keyed like the API's appeal model, so the surfaces only validate them.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from geo.queries import Query, Rows

_COLUMNS = (
    "a.id, a.status, a.reason, a.created_at, a.decided_at, a.decision_note, a.corrected_colour, "
    "a.override_until"
)
APPEAL_FIELDS = ("id", "status", "reason", "created_at", "decided_at", "decision_note",
                 "corrected_colour", "override_until")  # fmt: skip
OFFICER_FIELDS = (*APPEAL_FIELDS, "user_id", "display_name", "colour", "rule_id")

_MINE = sql.SQL(
    f"SELECT {_COLUMNS} FROM health_appeals a WHERE a.user_id = %(user)s "  # noqa: S608
    "ORDER BY a.id DESC LIMIT 100"
)
_ONE = sql.SQL(f"SELECT {_COLUMNS} FROM health_appeals a WHERE a.id = %(id)s")  # noqa: S608
# What an officer needs to decide: the appeal, who made it, and the code it is about.
_BY_STATUS = sql.SQL(
    f"SELECT {_COLUMNS}, a.user_id, u.display_name, s.colour, s.rule_id "  # noqa: S608
    "FROM health_appeals a JOIN users u ON u.id = a.user_id "
    "LEFT JOIN health_status s ON s.user_id = a.user_id WHERE a.status = %(status)s "
    "ORDER BY a.id LIMIT 200"
)


def _dicts(fields: tuple[str, ...]) -> Any:
    def decode(rows: Rows) -> list[dict[str, Any]]:
        return [dict(zip(fields, r, strict=True)) for r in rows]

    return decode


def mine(user_id: int) -> Query[list[dict[str, Any]]]:
    return Query(_MINE, {"user": user_id}, _dicts(APPEAL_FIELDS))


def by_status(status: str) -> Query[list[dict[str, Any]]]:
    return Query(_BY_STATUS, {"status": status}, _dicts(OFFICER_FIELDS))


def one(appeal_id: int) -> Query[list[dict[str, Any]]]:
    return Query(_ONE, {"id": appeal_id}, _dicts(APPEAL_FIELDS))
