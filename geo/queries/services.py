"""Reads of the one-network services: the catalogue, applications (mine, a department's, one
with its timeline) and the notification inbox (status changes of my reports and
applications)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

from geo.access import Capability, Principal, application_scope
from geo.queries import Query, Rows

_ITEM = """json_build_object('code', i.code, 'name_zh', i.name_zh, 'name_en', i.name_en,
  'department', json_build_object('code', d.code, 'name_zh', d.name_zh, 'name_en', d.name_en),
  'online', i.online, 'legal_limit_days', i.legal_limit_days,
  'promised_limit_days', i.promised_limit_days, 'max_visits', i.max_visits"""

_ITEMS = sql.SQL(
    "SELECT {item}) FROM service_items i JOIN departments d ON d.id = i.department_id "
    "WHERE i.active AND (%(department)s::text IS NULL OR d.code = %(department)s) "
    "AND (%(q)s::text IS NULL OR i.name_zh ILIKE %(like)s OR i.name_en ILIKE %(like)s "
    "OR i.code ILIKE %(like)s) ORDER BY i.code LIMIT 200"
).format(item=sql.SQL(_ITEM))
_ONE_ITEM = sql.SQL(
    "SELECT {item}, 'description', i.description, 'conditions', i.conditions, "
    "'materials', i.materials, 'form_schema', i.form_schema) FROM service_items i "
    "JOIN departments d ON d.id = i.department_id WHERE i.active AND i.code = %(code)s"
).format(item=sql.SQL(_ITEM))
_APP = """json_build_object('id', a.public_id, 'service_code', a.service_code,
  'service_name_zh', i.name_zh, 'service_name_en', i.name_en, 'status', a.status,
  'submitted_at', a.submitted_at, 'accept_due', a.accept_due, 'accepted_at', a.accepted_at,
  'due_date', a.due_date, 'decided_at', a.decided_at, 'completed_at', a.completed_at,
  'updated_at', a.updated_at, 'department', d.code"""
_DETAIL = """'form', a.form, 'materials', a.materials,
  'applicant', CASE WHEN %(staff)s THEN json_build_object('id', u.id, 'display_name',
               u.display_name) END,
  'rating', (SELECT json_build_object('score', r.score, 'comment', r.comment) FROM ratings r
             WHERE r.object_type = 'application' AND r.object_id = a.id),
  'timeline', (SELECT coalesce(json_agg(json_build_object('event', e.event_type, 'from_status',
               e.from_status, 'to_status', e.to_status, 'note', e.note, 'detail', e.detail,
               'at', e.at) ORDER BY e.at, e.id), '[]') FROM application_events e
               WHERE e.application_id = a.id))"""
_FROM = (
    " FROM applications a JOIN service_items i ON i.code = a.service_code "
    "JOIN departments d ON d.id = a.department_id JOIN users u ON u.id = a.applicant_id "
)
_PAGE = (
    " AND (%(at)s::timestamptz IS NULL OR (a.submitted_at, a.id) < (%(at)s, %(id)s)) "
    "ORDER BY a.submitted_at DESC, a.id DESC LIMIT %(limit)s"
)
_MINE = sql.SQL(
    "SELECT {app}), a.submitted_at, a.id {from_} WHERE a.applicant_id = %(user)s {page}"
).format(app=sql.SQL(_APP), from_=sql.SQL(_FROM), page=sql.SQL(_PAGE))
# Staff lists: the applications the principal may handle (``application_scope``), in SQL.
_DEPARTMENT = (
    "SELECT {app}), a.submitted_at, a.id {from_} WHERE ({scope}) "
    "AND (%(status)s::text IS NULL OR a.status = %(status)s) {page}"
)
_ONE_APP = (
    "SELECT {app}, {detail}, a.applicant_id, a.department_id {from_} "
    "WHERE a.public_id = %(id)s AND ({scope})"
)
# The inbox: every status change of my reports (and of cases they are linked to) and of my
# applications, except the ones I caused myself; newest first.
_INBOX = sql.SQL("""
SELECT x.item, x.at, x.id FROM (
  SELECT json_build_object('id', 'case-' || e.id, 'object_type', 'report', 'object_id',
         c.public_id, 'event', e.event_type, 'status', e.to_status, 'at', e.at) AS item,
         e.at, e.id
  FROM cases c JOIN case_events e ON e.case_id = c.id
  WHERE (c.reporter_id = %(user)s OR c.id IN (SELECT linked_case_id FROM report_links
         WHERE user_id = %(user)s)) AND e.to_status IS NOT NULL
    AND e.actor_id IS DISTINCT FROM %(user)s
    AND (%(at)s::timestamptz IS NULL OR (e.at, e.id) < (%(at)s, %(id)s))
  UNION ALL
  SELECT json_build_object('id', 'application-' || e.id, 'object_type', 'application',
         'object_id', a.public_id, 'event', e.event_type, 'status', e.to_status, 'at', e.at),
         e.at, e.id
  FROM applications a JOIN application_events e ON e.application_id = a.id
  WHERE a.applicant_id = %(user)s AND e.actor_id IS DISTINCT FROM %(user)s
    AND (%(at)s::timestamptz IS NULL OR (e.at, e.id) < (%(at)s, %(id)s))
) x ORDER BY x.at DESC, x.id DESC LIMIT %(limit)s
""")
_DEPARTMENTS = sql.SQL("SELECT id, code, name_zh, name_en FROM departments")
_READ_THROUGH = sql.SQL("SELECT read_through FROM notification_reads WHERE user_id = %(user)s")


def _first(rows: Rows) -> Any:
    return rows[0][0] if rows else None


def _page(rows: Rows) -> list[tuple[dict[str, Any], datetime, int]]:
    return [(r[0], r[1], r[2]) for r in rows]


def items(q: str | None, department: str | None) -> Query[list[dict[str, Any]]]:
    like = f"%{q}%" if q else None
    return Query(_ITEMS, {"q": q, "like": like, "department": department},
                 lambda rows: [r[0] for r in rows])  # fmt: skip


def item(code: str) -> Query[dict[str, Any] | None]:
    return Query(_ONE_ITEM, {"code": code}, _first)


def _paging(after: tuple[datetime, int] | None, limit: int) -> dict[str, Any]:
    at, id_ = after if after else (None, None)
    return {"at": at, "id": id_, "limit": limit}


def my_applications(
    user_id: int, after: tuple[datetime, int] | None, limit: int
) -> Query[list[tuple[dict[str, Any], datetime, int]]]:
    return Query(_MINE, {"user": user_id, **_paging(after, limit)}, _page)


def _scoped(template: str, principal: Principal, **parts: str) -> sql.Composed:
    fixed = {k: sql.SQL(v) for k, v in parts.items()}
    return sql.SQL(template).format(scope=sql.SQL(application_scope(principal)), **fixed)


def department_applications(
    principal: Principal, status: str | None, after: tuple[datetime, int] | None, limit: int
) -> Query[list[tuple[dict[str, Any], datetime, int]]]:
    """The applications a staff member handles (their department's), newest first."""
    statement = _scoped(_DEPARTMENT, principal, app=_APP, from_=_FROM, page=_PAGE)
    return Query(statement, {"status": status, **_paging(after, limit)}, _page)


def application(
    public_id: str, principal: Principal
) -> Query[tuple[dict[str, Any], int, int] | None]:
    """One application the principal may see (see :func:`application_scope`): staff also get
    the applicant's name (personal data: the caller audits it)."""
    statement = _scoped(_ONE_APP, principal, app=_APP, detail=_DETAIL, from_=_FROM)
    staff = principal.can(Capability.HANDLE_APPLICATIONS)
    return Query(statement, {"id": public_id, "staff": staff},
                 lambda rows: (rows[0][0], rows[0][1], rows[0][2]) if rows else None)  # fmt: skip


def inbox(
    user_id: int, after: tuple[datetime, int] | None, limit: int
) -> Query[list[tuple[dict[str, Any], datetime, int]]]:
    return Query(_INBOX, {"user": user_id, **_paging(after, limit)}, _page)


def read_through(user_id: int) -> Query[datetime | None]:
    return Query(_READ_THROUGH, {"user": user_id}, _first)


def departments() -> Query[dict[int, dict[str, str]]]:
    """Every department's public name, by id (reference data: callers cache it)."""
    return Query(_DEPARTMENTS, {}, lambda rows: {
        r[0]: {"code": r[1], "name_zh": r[2], "name_en": r[3]} for r in rows})  # fmt: skip
