"""The plan registry (预案): the only writer of ``plans``, ``plan_versions`` and
``plan_measures``.

A plan is registered with its first version; a revision writes a new version (its measures
with it) and makes it the plan's current one — earlier versions stay as they were, readable,
and incidents keep the version they were activated from. Both need MANAGE_PLANS
(geo.access). Each step is one transaction: the draft is checked first, the departments it
names in the same statement that writes nothing when one is unknown.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.errors import Conflict, InvalidInput, NotFound
from geo.plan_enums import HazardType
from geo.queries import fetch
from geo.queries.incidents import place_check
from geo.services.plan_drafts import PlanDraft, check, department_ids

MAX_NUMBER = 200


async def _check_departments(conn: AsyncConnection[Any], draft: PlanDraft) -> None:
    wanted = sorted(department_ids(draft))
    cur = await conn.execute("SELECT id FROM departments WHERE id = ANY(%s)", (wanted,))
    found = {int(r[0]) for r in await cur.fetchall()}
    unknown = [str(i) for i in wanted if i not in found]
    if unknown:
        raise InvalidInput(f"No department with id {', '.join(unknown)}.", field="departmentId")


async def _check_area(conn: AsyncConnection[Any], geojson: str) -> None:
    found = await fetch(conn, place_check(geojson))  # in a transaction: a savepoint
    if not found.valid:
        raise InvalidInput(f"The scope's area is not a valid polygon: {found.reason}.",
                           field="area")  # fmt: skip


async def _insert_version(
    conn: AsyncConnection[Any], plan_id: int, version: int, draft: PlanDraft, actor: Principal,
    now: datetime,
) -> int:  # fmt: skip
    cur = await conn.execute(
        "INSERT INTO plan_versions (plan_id, version, title_zh, title_en, issuing_body, "
        "valid_from, valid_to, scope_text, scope_area, change_note, created_by, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326)), %s, %s, %s) RETURNING id",
        (plan_id, version, draft.title_zh, draft.title_en, draft.issuing_body, draft.valid_from,
         draft.valid_to, draft.scope_text, draft.scope_area, draft.change_note, actor.user_id,
         now),
    )  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    version_id = int(row[0])
    measures = [
        (version_id, level.value, n, m.text_zh, m.text_en, m.department_id,
         json.dumps([{"category": r.category.value, "count": r.count} for r in m.resources]),
         m.due_minutes)
        for level, ms in draft.levels.items() for n, m in enumerate(ms, start=1)
    ]  # fmt: skip
    async with conn.cursor() as c:
        await c.executemany(
            "INSERT INTO plan_measures (version_id, level, position, text_zh, text_en, "
            "department_id, resources, due_minutes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            measures,
        )
    return version_id


async def _checked(conn: AsyncConnection[Any], draft: PlanDraft, revision: bool) -> None:
    check(draft, revision)
    await _check_departments(conn, draft)
    if draft.scope_area is not None:
        try:
            async with conn.transaction():
                await _check_area(conn, draft.scope_area)
        except psycopg.errors.InternalError_ as exc:  # PostGIS could not read the GeoJSON
            raise InvalidInput(f"The scope's area is not a geometry PostGIS can read: {exc}.",
                               field="area") from None  # fmt: skip


async def create_plan(
    conn: AsyncConnection[Any], actor: Principal, *, number: str, hazard_type: HazardType,
    draft: PlanDraft, now: datetime,
) -> int:  # fmt: skip
    """Register a plan with its first version; its id. Conflict when the number is taken."""
    access.require(actor, C.MANAGE_PLANS)
    number = number.strip()
    if not number or len(number) > MAX_NUMBER:
        raise InvalidInput(f"A plan's number is 1 to {MAX_NUMBER} characters.", field="number")
    async with conn.transaction():
        await _checked(conn, draft, revision=False)
        cur = await conn.execute(
            "INSERT INTO plans (number, hazard_type, current_version, created_at, updated_at) "
            "VALUES (%s, %s, 1, %s, %s) ON CONFLICT (number) DO NOTHING RETURNING id",
            (number, hazard_type.value, now, now),
        )
        row = await cur.fetchone()
        if row is None:
            raise Conflict(f"A plan numbered {number!r} is already registered; revise it.")
        plan_id = int(row[0])
        await _insert_version(conn, plan_id, 1, draft, actor, now)
    return plan_id


async def revise_plan(
    conn: AsyncConnection[Any], actor: Principal, plan_id: int, *, draft: PlanDraft,
    now: datetime,
) -> int:  # fmt: skip
    """A new version of the plan, now its current one; the new version's number. The draft
    says what changed (``change_note``)."""
    access.require(actor, C.MANAGE_PLANS)
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT current_version FROM plans WHERE id = %s FOR UPDATE", (plan_id,)
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"No plan with id {plan_id}.")
        await _checked(conn, draft, revision=True)
        version = int(row[0]) + 1
        await _insert_version(conn, plan_id, version, draft, actor, now)
        await conn.execute(
            "UPDATE plans SET current_version = %s, updated_at = %s WHERE id = %s",
            (version, now, plan_id),
        )
    return version
