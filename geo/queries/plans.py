"""Reads of the plan registry (预案): plans with their current version, every version of a
plan, and versions' measures. The surface checks READ_PLANS (geo.access) before asking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import sql

from geo.queries import Query


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    plan_id: int
    version: int
    title_zh: str
    title_en: str
    issuing_body: str
    valid_from: date
    valid_to: date | None
    scope_text: str
    scope_area: str | None  # GeoJSON
    change_note: str
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: int
    number: str
    hazard_type: str
    current_version: int
    created_at: datetime
    updated_at: datetime
    current: VersionRow


@dataclass(frozen=True, slots=True)
class MeasureRow:
    id: int
    version_id: int
    level: str
    position: int
    text_zh: str
    text_en: str
    department_id: int
    resources: list[dict[str, Any]]
    due_minutes: int


_VERSION = (
    "v.id, v.plan_id, v.version, v.title_zh, v.title_en, v.issuing_body, v.valid_from, "
    "v.valid_to, v.scope_text, ST_AsGeoJSON(v.scope_area, 7), v.change_note, v.created_by, "
    "v.created_at"
)


def _plans(rows: Any) -> list[PlanRow]:
    return [PlanRow(r[0], r[1], r[2], r[3], r[4], r[5], VersionRow(*r[6:])) for r in rows]


def plans(
    *, hazard_type: str | None = None, ids: list[int] | None = None, limit: int = 200
) -> Query[list[PlanRow]]:
    """Plans with their current version, by number."""
    statement = sql.SQL(
        "SELECT p.id, p.number, p.hazard_type, p.current_version, p.created_at, p.updated_at, "
        "{version} FROM plans p JOIN plan_versions v ON v.plan_id = p.id "
        "AND v.version = p.current_version "
        "WHERE (%(hazard)s::text IS NULL OR p.hazard_type = %(hazard)s) "
        "AND (%(ids)s::int[] IS NULL OR p.id = ANY(%(ids)s)) ORDER BY p.number LIMIT %(limit)s"
    ).format(version=sql.SQL(_VERSION))
    return Query(statement, {"hazard": hazard_type, "ids": ids, "limit": limit}, _plans)


def versions(plan_id: int) -> Query[list[VersionRow]]:
    """Every version of a plan, the newest first."""
    statement = sql.SQL(
        "SELECT {version} FROM plan_versions v WHERE v.plan_id = %(plan)s ORDER BY v.version DESC"
    ).format(version=sql.SQL(_VERSION))
    return Query(statement, {"plan": plan_id}, lambda rows: [VersionRow(*r) for r in rows])


def version_by_id(version_id: int) -> Query[VersionRow | None]:
    statement = sql.SQL("SELECT {version} FROM plan_versions v WHERE v.id = %(id)s").format(
        version=sql.SQL(_VERSION)
    )
    return Query(statement, {"id": version_id},
                 lambda rows: VersionRow(*rows[0]) if rows else None)  # fmt: skip


def measures(version_ids: list[int], level: str | None = None) -> Query[list[MeasureRow]]:
    """The measures of versions (of one level, if given), by version, level (I first) and
    position."""
    statement = sql.SQL(
        "SELECT id, version_id, level, position, text_zh, text_en, department_id, resources, "
        "due_minutes FROM plan_measures WHERE version_id = ANY(%(ids)s) "
        "AND (%(level)s::text IS NULL OR level = %(level)s) "
        "ORDER BY version_id, array_position(ARRAY['I','II','III','IV'], level::text), position"
    )
    return Query(statement, {"ids": version_ids, "level": level},
                 lambda rows: [MeasureRow(*r) for r in rows])  # fmt: skip
