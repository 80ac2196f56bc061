"""DataLoaders: related objects for a whole page in one statement each (no N+1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql
from strawberry.dataloader import DataLoader

from geo.queries import Query, Rows

# name → (SQL selecting rows by id = ANY(%(ids)s), key column index, many rows per key?)
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
        "at FROM case_events WHERE case_id = ANY(%(ids)s) ORDER BY case_id, at, id",
        True,
    ),
}


def make_loader(ctx: Any, name: str) -> DataLoader[Any, Any]:
    if name == "audit_personal_data":
        return DataLoader(load_fn=lambda keys: _audit(ctx, keys))
    statement, many = _SQL[name]

    async def load(keys: list[int]) -> Sequence[Any]:
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

        result: list[Any] = await ctx.fetch(Query(sql.SQL(statement), {"ids": list(keys)}, decode))
        return result

    return DataLoader(load_fn=load)


async def _audit(ctx: Any, keys: list[tuple[int, int]]) -> list[None]:
    """One audit row per case whose reporter was read, written in one statement per batch."""
    principal = ctx.principal
    request = ctx.request
    client = request.client.host if request is not None and request.client else None
    statement = sql.SQL(
        "INSERT INTO audit_log (actor_id, actor_role, action, object_type, object_id, detail) "
        "SELECT %(actor)s, %(role)s, 'read_personal_data', 'case', k.case_id::text, "
        "jsonb_build_object('field', 'reporter', 'reporter_id', k.reporter_id, "
        "'client', %(client)s::text, 'surface', 'graphql') "
        "FROM unnest(%(cases)s::bigint[], %(reporters)s::bigint[]) AS k(case_id, reporter_id) "
        "RETURNING id"
    )
    params = {
        "actor": principal.user_id,
        "role": ",".join(sorted(principal.roles)),
        "client": client,
        "cases": [k[0] for k in keys],
        "reporters": [k[1] for k in keys],
    }
    await ctx.fetch(Query(statement, params, lambda rows: None))
    return [None for _ in keys]
