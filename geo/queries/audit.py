"""Reads of the audit trail for auditors (``GET /api/v1/audit``, ``onemap audit export``):
filters checked once (:meth:`AuditFilter.parse`), a keyset page by ``seq``, and the rows of an
export in chain order. Who may read is the policy's (``read_audit``); the callers audit every
read (``audit.read``, ``audit.export``)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from geo import access
from geo.errors import InvalidInput
from geo.queries import Query, Rows

#: The columns of a listed row and of an export, in order (the CSV header).
COLUMNS = (
    "seq", "id", "at", "actor_id", "actor_role", "action", "object_type", "object_id",
    "client_addr", "detail", "prev_hash", "row_hash",
)  # fmt: skip
#: ``client_addr`` as the chain hashes it (inet output: no /32 on a host), ``detail`` as jsonb
#: text: an export can be re-hashed offline (docs/audit.md).
_SELECT = sql.SQL(
    "SELECT a.seq, a.id, a.at, a.actor_id, a.actor_role, a.action, a.object_type, a.object_id, "
    "abbrev(a.client_addr), a.detail::text, encode(a.prev_hash, 'hex'), "
    "encode(a.row_hash, 'hex') FROM audit_log a WHERE {where} ORDER BY a.seq {order} {limit}"
)
_ACTION = re.compile(r"^[a-z0-9_.]{1,64}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)
MAX_LIMIT = 500


def known_roles() -> tuple[str, ...]:
    """The roles an audit row may name (the policy's)."""
    return tuple(sorted({*access.CITIZEN_ROLES, *access.STAFF_ROLE_NAMES}))


def parse_time(name: str, value: str | datetime | None) -> datetime | None:
    """An RFC 3339 date-time with its offset (``2026-11-30T08:00:00+08:00``, ``…Z``)."""
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset (RFC 3339), e.g. 2026-11-30T08:00:00Z.")
        return value
    if not _RFC3339.match(value):
        raise InvalidInput(
            f"{name} must be an RFC 3339 date-time with an offset, e.g. 2026-11-30T08:00:00Z "
            f"or 2026-11-30T16:00:00+08:00; got {value[:40]!r}."
        )
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(f"{name} is not a valid date-time: {value[:40]!r}.") from None


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor asks for; every field optional, all of them ANDed."""

    actor: int | None = None  # user id
    role: str | None = None  # actor_role, exactly
    action: str | None = None  # exactly, or a prefix: "camera.*"
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None  # at >= since
    until: datetime | None = None  # at < until
    client: str | None = None  # an address or a CIDR block, normalised

    @classmethod
    def parse(
        cls,
        *,
        actor: int | str | None = None,
        role: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        client: str | None = None,
        names: tuple[str, str] = ("from", "to"),
    ) -> AuditFilter:
        """The filter, or InvalidInput saying which value is wrong and what it should be
        (``names``: what the caller calls the time bounds)."""
        if actor is not None:
            try:
                actor = int(actor)
            except ValueError:
                message = f"actor must be a user id (an integer); got {actor!r}."
                raise InvalidInput(message) from None
            if not 0 < actor < 2**63:
                raise InvalidInput("actor must be a user id (a positive integer).")
        if role is not None and role not in known_roles():
            raise InvalidInput(f"role must be one of {', '.join(known_roles())}; got {role!r}.")
        if action is not None:
            stem = action.removesuffix("*")
            if not stem or not _ACTION.match(stem):
                raise InvalidInput(
                    "action must be an action name (letters, digits, '_' and '.') or a prefix "
                    f"ending in '*', e.g. camera.view.start or camera.*; got {action[:70]!r}."
                )
        for name, value, most in (("object_type", object_type, 32), ("object_id", object_id, 200)):
            if value is not None and not 0 < len(value) <= most:
                raise InvalidInput(f"{name} must have 1–{most} characters.")
        start, end = parse_time(names[0], since), parse_time(names[1], until)
        if start is not None and end is not None and start >= end:
            raise InvalidInput(f"{names[0]} must be before {names[1]} (the range is "
                               f"[{names[0]}, {names[1]})).")  # fmt: skip
        network = None
        if client is not None:
            try:
                network = str(ipaddress.ip_network(client.strip(), strict=False))
            except ValueError:
                raise InvalidInput(
                    "client must be an IP address or a CIDR block, e.g. 203.0.113.7 or "
                    f"10.0.0.0/8; got {client[:60]!r}."
                ) from None
        return cls(actor, role, action, object_type, object_id, start, end, network)

    def describe(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready (the audit row of a read records them)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None:
                continue
            name = {"since": "from", "until": "to"}.get(key, key)
            out[name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
        return out

    def where(self) -> tuple[sql.Composable, dict[str, Any]]:
        """The predicate and its parameters: only the filters that are set, so each query is
        planned for what it asks (an index on at, actor, object, or a scan of the seq index)."""
        parts: list[sql.Composable] = []
        params: dict[str, Any] = {}

        def add(clause: str, **values: Any) -> None:
            parts.append(sql.SQL(clause))
            params.update(values)

        if self.actor is not None:
            add("a.actor_id = %(actor)s", actor=self.actor)
        if self.role is not None:
            add("a.actor_role = %(role)s", role=self.role)
        if self.action is not None:
            if self.action.endswith("*"):
                add("starts_with(a.action, %(action)s)", action=self.action[:-1])
            else:
                add("a.action = %(action)s", action=self.action)
        if self.object_type is not None:
            add("a.object_type = %(object_type)s", object_type=self.object_type)
        if self.object_id is not None:
            add("a.object_id = %(object_id)s", object_id=self.object_id)
        if self.since is not None:
            add("a.at >= %(since)s", since=self.since)
        if self.until is not None:
            add("a.at < %(until)s", until=self.until)
        if self.client is not None:
            add("a.client_addr <<= %(client)s::inet", client=self.client)
        where = sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")
        return where, params


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "seq" or not value.isdigit():
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        message = "cursor is not one this API gave out; start from the first page."
        raise InvalidInput(message) from None


def _statement(f: AuditFilter, before: int | None, *, newest_first: bool, limit: int | None
               ) -> tuple[sql.Composed, dict[str, Any]]:  # fmt: skip
    where, params = f.where()
    if before is not None:
        where = sql.SQL("{} AND a.seq {} %(after)s").format(
            where, sql.SQL("<" if newest_first else ">"))  # fmt: skip
        params["after"] = before
    statement = _SELECT.format(
        where=where,
        order=sql.SQL("DESC" if newest_first else "ASC"),
        limit=sql.SQL("LIMIT %(limit)s") if limit is not None else sql.SQL(""),
    )
    if limit is not None:
        params["limit"] = limit
    return statement, params


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(COLUMNS, row, strict=True))


@dataclass(frozen=True)
class AuditPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def page(f: AuditFilter, cursor: str | None, limit: int) -> Query[AuditPage]:
    """Newest first; ``next_cursor`` continues below the page's last seq. ``detail`` is the
    jsonb text (the API parses it)."""
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1–{MAX_LIMIT}.")
    statement, params = _statement(f, decode_cursor(cursor), newest_first=True, limit=limit + 1)

    def decode(rows: Rows) -> AuditPage:
        items = [_entry(tuple(r)) for r in rows[:limit]]
        more = len(rows) > limit
        return AuditPage(items, encode_cursor(items[-1]["seq"]) if more and items else None)

    return Query(statement, params, decode)


def export(f: AuditFilter) -> Query[list[dict[str, Any]]]:
    """Every matching row in chain order (oldest first): stream it with a server-side cursor
    (``geo.services.audit.stream``) and :func:`csv_record` each row."""
    statement, params = _statement(f, None, newest_first=False, limit=None)
    return Query(statement, params, lambda rows: [_entry(tuple(r)) for r in rows])


def csv_record(row: tuple[Any, ...] | Mapping[str, Any]) -> list[str]:
    """One exported row as CSV fields (``COLUMNS``): times RFC 3339 in UTC with microseconds,
    NULL as an empty field, ``detail`` as its jsonb text."""
    values = list(row.values()) if isinstance(row, Mapping) else list(row)
    out = []
    for value in values:
        if value is None:
            out.append("")
        elif isinstance(value, datetime):
            out.append(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        else:
            out.append(str(value))
    return out
