"""Look-ups by id for batched loaders (GraphQL DataLoaders): one statement per batch of keys.

Every look-up here is of data that is not jurisdiction-bound (cells, areas, departments, staff
names) or whose keys come only from rows already read under the caller's jurisdiction (a
case's timeline and tasks are loaded for cases read through the scoped view).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from geo.queries import Query, Rows

# name → (SQL selecting rows by id = ANY(%(ids)s), many rows per key?)
_SQL: dict[str, tuple[str, bool]] = {
    "grid_cell": (
        "SELECT id, code, name, community_id, worker_id, population, health_risk "
        "FROM grid_cells WHERE id = ANY(%(ids)s)",
        False,
    ),
    "admin_area": (
        "SELECT id, code, name_zh, name_en, level, parent_id, population "
        "FROM admin_areas WHERE id = ANY(%(ids)s)",
        False,
    ),
    "grid_cell_geometry": (
        "SELECT id, ST_AsGeoJSON(geom, 7) FROM grid_cells WHERE id = ANY(%(ids)s)",
        False,
    ),
    "admin_area_geometry": (
        "SELECT id, ST_AsGeoJSON(geom, 7) FROM admin_areas WHERE id = ANY(%(ids)s)",
        False,
    ),
    "department": (
        "SELECT id, code, name_zh, name_en, phone FROM departments WHERE id = ANY(%(ids)s)",
        False,
    ),
    "user": (
        "SELECT id, display_name, roles, department_id, phone FROM users WHERE id = ANY(%(ids)s)",
        False,
    ),
    "case_events": (
        "SELECT case_id, id, event_type, from_status, to_status, actor_id, department_id, note, "
        "at, extended_minutes, from_department_id, task_id, supervision_id, escalation_level "
        "FROM case_events "
        "WHERE case_id = ANY(%(ids)s) ORDER BY case_id, at, id",
        True,
    ),
    "case_tasks": (
        "SELECT case_id, id, case_id, department_id, kind, status, note, created_by, created_at, "
        "started_at, finished_at, updated_at FROM case_tasks WHERE case_id = ANY(%(ids)s) "
        "ORDER BY case_id, id",
        True,
    ),
    # Resolved cases whose close waits for an on-site check (核查, geo.services.follow_ups).
    "close_waits_for_check": (
        "SELECT c.id, k.requires_check AND NOT EXISTS (SELECT 1 FROM case_events e "
        "WHERE e.case_id = c.id AND e.event_type = 'checked' AND e.id > (SELECT max(r.id) "
        "FROM case_events r WHERE r.case_id = c.id AND r.event_type = 'resolved')) "
        "FROM cases c JOIN case_categories k ON k.code = c.category WHERE c.id = ANY(%(ids)s)",
        False,
    ),
    # The supervisions (督办) over each case not answered yet, oldest first, with whether each
    # is still open (before its deadline) and the case's own open one (one at a time).
    "case_supervisions": (
        "SELECT sc.case_id, s.id, s.kind, s.status, s.deadline, s.note, s.department_id, "
        "s.case_id FROM supervision_cases sc JOIN supervisions s ON s.id = sc.supervision_id "
        "WHERE sc.case_id = ANY(%(ids)s) AND s.answered_at IS NULL ORDER BY sc.case_id, s.id",
        True,
    ),
    # Callbacks (回访) waiting for a call-taker, per case.
    "pending_callbacks": (
        "SELECT case_id, id, caller_id FROM case_callbacks WHERE case_id = ANY(%(ids)s) "
        "AND status = 'pending' ORDER BY case_id, id",
        True,
    ),
}
LOOKUPS = frozenset(_SQL)


def by_ids(name: str, keys: Sequence[int]) -> Query[list[Any]]:
    """Rows of look-up ``name`` for ``keys``, in key order (None, or [] for many, if absent)."""
    statement, many = _SQL[name]

    def decode(rows: Rows) -> list[Any]:
        if many:
            grouped: dict[int, list[tuple[Any, ...]]] = {k: [] for k in keys}
            for r in rows:
                grouped[r[0]].append(r[1:])
            return [grouped[k] for k in keys]
        if name.endswith("_geometry"):
            texts = {r[0]: r[1] for r in rows}
            return [texts.get(k) for k in keys]
        by_id = {r[0]: r for r in rows}
        return [by_id.get(k) for k in keys]

    return Query(sql.SQL(statement), {"ids": list(keys)}, decode)


def department_ids() -> Query[list[int]]:
    return Query(sql.SQL("SELECT id FROM departments ORDER BY id"), {},
                 lambda rs: [r[0] for r in rs])  # fmt: skip


def case_event(event_id: int) -> Query[Any]:
    """One timeline event (subscriptions: the event a notification names)."""
    return Query(
        sql.SQL(
            "SELECT id, event_type, from_status, to_status, actor_id, department_id, note, at, "
            "extended_minutes, from_department_id, task_id, supervision_id, escalation_level "
            "FROM case_events WHERE id = %(id)s"
        ),
        {"id": event_id},
        lambda rs: rs[0] if rs else None,
    )


def audit_personal_reads(
    actor_id: int | None, role: str | None, client: str | None, keys: Sequence[tuple[int, int]]
) -> Query[None]:
    """One audit row per (case, reporter) whose reporter was read, in one statement."""
    statement = sql.SQL(
        "INSERT INTO audit_log (actor_id, actor_role, action, object_type, object_id, detail) "
        "SELECT %(actor)s, %(role)s, 'read_personal_data', 'case', k.case_id::text, "
        "jsonb_build_object('field', 'reporter', 'reporter_id', k.reporter_id, "
        "'client', %(client)s::text, 'surface', 'graphql') "
        "FROM unnest(%(cases)s::bigint[], %(reporters)s::bigint[]) AS k(case_id, reporter_id) "
        "RETURNING id"
    )
    params = {
        "actor": actor_id,
        "role": role,
        "client": client,
        "cases": [k[0] for k in keys],
        "reporters": [k[1] for k in keys],
    }
    return Query(statement, params, lambda rows: None)
