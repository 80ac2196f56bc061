"""Staff accounts (``onemap users create``): roles, department and jurisdiction, checked
against the policy (``geo.access``) and the map before anything is written. Each account made
is a row of the audit trail (``user.create``: no actor, the operating-system user who ran the
command in ``detail``)."""

from __future__ import annotations

import getpass
from typing import Any

from psycopg import Connection

from geo import access
from geo.access import Scope
from geo.errors import Conflict, InvalidInput
from geo.services import audit
from geo.services.identity import check_phone


def parse_jurisdiction(conn: Connection[Any], text: str) -> tuple[str, list[int]]:
    """``scope[:codes]`` → (stored scope, ids): admin-area codes of that level, or grid-cell
    codes. InvalidInput naming what is wrong (an unknown code, a code of another level)."""
    scope, _, codes_text = text.partition(":")
    codes = [c.strip() for c in codes_text.split(",") if c.strip()]
    if scope not in access.STORED_SCOPES or scope == Scope.NONE.value:
        raise InvalidInput(f"unknown jurisdiction {scope!r}; use {access.JURISDICTION_SYNTAX}.")
    takes_codes = scope in (*(s.value for s in access.AREA_SCOPES), Scope.GRID_CELLS.value)
    if takes_codes != bool(codes):
        need = "needs codes after a colon" if takes_codes else "takes no codes"
        raise InvalidInput(f"jurisdiction {scope!r} {need}.")
    if not codes:
        return scope, []
    if scope == Scope.GRID_CELLS.value:
        rows = conn.execute("SELECT code, id FROM grid_cells WHERE code = ANY(%s)", (codes,))
    else:
        rows = conn.execute(
            "SELECT code, id FROM admin_areas WHERE code = ANY(%s) AND level = %s::text",
            (codes, scope),
        )
    found = dict(rows.fetchall())
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidInput(f"no {scope.replace('_', ' ')} with code {', '.join(missing)}.")
    return scope, sorted(found[c] for c in codes)


def create_staff(
    conn: Connection[Any],
    *,
    phone: str,
    name: str,
    roles: list[str],
    password_hash: str,
    department: str | None,
    jurisdiction: str | None = None,
) -> int:
    """A staff account; Conflict if the phone is taken. ``jurisdiction`` is written as
    :data:`geo.access.JURISDICTION_SYNTAX`; None gives the role's default."""
    check_phone(phone)
    roles = access.check_staff_roles(roles)
    with conn.transaction():
        dept_id = None
        if department is not None:
            found = conn.execute(
                "SELECT id FROM departments WHERE code = %s", (department,)
            ).fetchone()
            if found is None:
                raise InvalidInput(f"No department {department!r}.")
            dept_id = found[0]
        if access.needs_department(roles) and dept_id is None:
            raise InvalidInput("These roles need a department: give --department.")
        ids: list[int] = []
        if jurisdiction is None:
            scope = access.default_scope(roles)
        else:
            scope, ids = parse_jurisdiction(conn, jurisdiction)
        if scope == Scope.DEPARTMENT.value and dept_id is None:
            raise InvalidInput("A department jurisdiction needs --department.")
        made = conn.execute(
            "INSERT INTO users (phone, display_name, roles, password_hash, department_id, "
            "jurisdiction_scope, jurisdiction_ids) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (phone) DO NOTHING RETURNING id",
            (phone, name, roles, password_hash, dept_id, scope, ids),
        ).fetchone()
        if made is None:
            raise Conflict(f"A user with phone {phone} exists already.")
        audit.record_sync(conn, audit.Entry(
            None, None, "user.create", "user", int(made[0]),
            detail={"roles": sorted(roles), "department": department, "scope": scope,
                    "jurisdiction_ids": ids, "via": "cli", "os_user": _os_user()},
        ))  # fmt: skip
    return int(made[0])


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's arbitrary user)
        return None
