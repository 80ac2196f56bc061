"""One-network services (一网通办): the only writer of ``applications``, their events and the
attachments they use. One state machine, in the style of ``geo.services.cases``:

submitted → accepted (受理) | rejected (不予受理) | needs_materials (补正: once, listing
everything missing) → [the applicant supplements] → submitted; accepted → under_review (审查)
→ approved | denied → completed (办结) → rated (好差评).

Staff with the capability to handle applications move those of their jurisdiction's department
only (a city-wide account any). Due dates
count working days: acceptance within 5, the decision within the item's promised time limit.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator, FormatChecker
from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from geo.access import Capability, Principal, application_scope, require
from geo.citizen_enums import ApplicationStatus, RatedObject
from geo.citizen_errors import Unprocessable
from geo.errors import Conflict, InvalidInput, NotFound
from geo.services.reports import rate
from geo.services.workdays import Calendar

S = ApplicationStatus
LOCAL = ZoneInfo("Asia/Shanghai")
ACCEPT_WITHIN_DAYS = 5  # 行政许可法: decide on acceptance (or ask for 补正) within five days


@dataclass(frozen=True)
class Action:
    sources: frozenset[ApplicationStatus]
    target: ApplicationStatus
    note_required: bool = False


ACTIONS: dict[str, Action] = {
    "accept": Action(frozenset({S.SUBMITTED}), S.ACCEPTED),
    "reject": Action(frozenset({S.SUBMITTED}), S.REJECTED, note_required=True),
    "request_materials": Action(frozenset({S.SUBMITTED}), S.NEEDS_MATERIALS, note_required=True),
    "start_review": Action(frozenset({S.ACCEPTED}), S.UNDER_REVIEW),
    "approve": Action(frozenset({S.UNDER_REVIEW}), S.APPROVED),
    "deny": Action(frozenset({S.UNDER_REVIEW}), S.DENIED, note_required=True),
    "complete": Action(frozenset({S.APPROVED, S.DENIED}), S.COMPLETED),
}


@dataclass(frozen=True)
class Material:
    code: str
    attachment_id: int | None = None
    e_licence_id: str | None = None


async def _item(conn: AsyncConnection[Any], code: str) -> tuple[int, list[Any], dict[str, Any]]:
    row = await (
        await conn.execute(
            "SELECT department_id, materials, form_schema FROM service_items "
            "WHERE code = %s AND active", (code,),
        )
    ).fetchone()  # fmt: skip
    if row is None:
        raise NotFound(f"No service item {code!r}.", field="service_code")
    return row[0], row[1], row[2]


def check_form(schema: dict[str, Any], form: dict[str, Any]) -> None:
    errors = sorted(
        Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(form),
        key=lambda e: list(map(str, e.path)),
    )
    if errors:
        items = [{"field": ".".join(map(str, e.path)) or "(form)", "msg": e.message}
                 for e in errors[:20]]  # fmt: skip
        raise Unprocessable(
            "The form does not match the service's schema: "
            + "; ".join(f"{i['field']}: {i['msg']}" for i in items[:5]), errors=items,
        )  # fmt: skip


async def _materials(
    conn: AsyncConnection[Any],
    wanted: list[Any],
    given: list[Material],
    owner: int,
    must: Iterable[str],
) -> list[dict[str, Any]]:
    spec = {m["code"]: m for m in wanted}
    seen: dict[str, dict[str, Any]] = {}
    for m in given:
        rule = spec.get(m.code)
        if rule is None:
            raise InvalidInput(f"This service asks for no material {m.code!r}.", field="materials")
        if (m.attachment_id is None) == (m.e_licence_id is None):
            raise InvalidInput(f"Material {m.code!r}: give an attachment_id or an e_licence_id.")
        if m.e_licence_id is not None and not rule["e_licence"]:
            raise InvalidInput(f"Material {m.code!r} is not accepted as an electronic licence.")
        if m.attachment_id is not None:
            ok = await (
                await conn.execute(
                    "SELECT 1 FROM attachments WHERE id = %s AND owner_id = %s "
                    "AND application_id IS NULL", (m.attachment_id, owner),
                )
            ).fetchone()  # fmt: skip
            if ok is None:
                raise InvalidInput(f"Attachment {m.attachment_id} is not yours or already used.")
        seen[m.code] = {"code": m.code, "attachment_id": m.attachment_id,
                        "e_licence_id": m.e_licence_id}  # fmt: skip
    missing = [code for code in must if code not in seen]
    if missing:
        raise Unprocessable(f"Required materials are missing: {', '.join(missing)}.",
                            missing=missing)  # fmt: skip
    return list(seen.values())


async def _claim(conn: AsyncConnection[Any], app_id: int, materials: list[dict[str, Any]]) -> None:
    ids = [m["attachment_id"] for m in materials if m["attachment_id"] is not None]
    if ids:
        await conn.execute(
            "UPDATE attachments SET application_id = %s WHERE id = ANY(%s)", (app_id, ids)
        )


async def submit(
    conn: AsyncConnection[Any],
    *,
    applicant: int,
    service_code: str,
    form: dict[str, Any],
    materials: list[Material],
    calendar: Calendar,
) -> str:
    """A new application (its public id), validated against the item's form and materials."""
    async with conn.transaction():
        dept, wanted, schema = await _item(conn, service_code)
        check_form(schema, form)
        must = [m["code"] for m in wanted if m["required"]]
        used = await _materials(conn, wanted, materials, applicant, must)
        now = datetime.now(UTC)
        public_id = f"A{now:%Y%m%d}-{secrets.token_hex(4).upper()}"
        row = await (
            await conn.execute(
                "INSERT INTO applications (public_id, service_code, applicant_id, department_id, "
                "status, form, materials, submitted_at, accept_due, updated_at) "
                "VALUES (%s, %s, %s, %s, 'submitted', %s, %s, %s, %s, %s) RETURNING id",
                (public_id, service_code, applicant, dept, Jsonb(form), Jsonb(used), now,
                 calendar.add(now.astimezone(LOCAL).date(), ACCEPT_WITHIN_DAYS), now),
            )
        ).fetchone()  # fmt: skip
        assert row is not None
        await _claim(conn, row[0], used)
        await _event(conn, row[0], "submitted", None, S.SUBMITTED, applicant, None, {}, now)
    return public_id


async def _load(conn: AsyncConnection[Any], public_id: str, scope: str = "TRUE") -> tuple[Any, ...]:
    """The application, locked; NotFound outside ``scope`` (an ``application_scope``)."""
    row = await (
        await conn.execute(
            sql.SQL(
                "SELECT a.id, a.status, a.department_id, a.applicant_id, a.supplements, "
                "a.materials, a.service_code, i.promised_limit_days, i.materials "
                "FROM applications a JOIN service_items i ON i.code = a.service_code "
                "WHERE a.public_id = %s AND ({scope}) FOR UPDATE OF a"
            ).format(scope=sql.SQL(scope)), (public_id,),
        )
    ).fetchone()  # fmt: skip
    if row is None:
        raise NotFound(f"No application {public_id}.")
    return tuple(row)


async def act(
    conn: AsyncConnection[Any],
    public_id: str,
    action: str,
    *,
    actor: Principal,
    note: str | None,
    missing: list[str],
    calendar: Calendar,
) -> None:
    """A staff action on an application of the actor's department (its jurisdiction, in SQL:
    another department's application is not found)."""
    rule = ACTIONS.get(action)
    if rule is None:
        raise InvalidInput(f"Unknown action {action!r}; one of {', '.join(ACTIONS)}.")
    require(actor, Capability.HANDLE_APPLICATIONS)
    assert actor.user_id is not None
    actor_id = actor.user_id
    if rule.note_required and not (note and note.strip()):
        raise InvalidInput(f"'{action}' needs a note giving the reason.")
    async with conn.transaction():
        app_id, status, _, _, supplements, _, _, promised, wanted = await _load(
            conn, public_id, application_scope(actor)
        )
        if S(status) not in rule.sources:
            raise Conflict(f"Application {public_id} is {status}; '{action}' is not possible.",
                           application_status=status)  # fmt: skip
        now = datetime.now(UTC)
        changes: dict[str, Any] = {"status": rule.target.value, "updated_at": now}
        detail: dict[str, Any] = {}
        if action == "request_materials":
            if supplements >= 1:
                raise Conflict("Materials were already requested once (补正 happens once).")
            codes = {m["code"] for m in wanted}
            unknown = sorted(set(missing) - codes)
            if not missing or unknown:
                raise InvalidInput("List every missing material by its code (all at once): "
                                   f"one or more of {', '.join(sorted(codes))}.")  # fmt: skip
            changes["supplements"] = supplements + 1
            detail["missing"] = sorted(set(missing))
        elif action == "accept":
            changes["accepted_at"] = now
            changes["due_date"] = calendar.add(now.astimezone(LOCAL).date(), promised)
        elif action in ("approve", "deny"):
            changes["decided_at"] = now
        elif action == "complete":
            changes["completed_at"] = now
        await _update(conn, app_id, changes)
        await _event(conn, app_id, action, S(status), rule.target, actor_id, note, detail, now)


async def supplement(
    conn: AsyncConnection[Any],
    public_id: str,
    applicant: int,
    materials: list[Material],
    calendar: Calendar,
) -> None:
    """The applicant answers 补正 with everything that was listed; back to submitted."""
    async with conn.transaction():
        app_id, status, _, owner, _, have, _, _, wanted = await _load(conn, public_id)
        if owner != applicant:
            raise NotFound(f"No application {public_id}.")
        if status != S.NEEDS_MATERIALS.value:
            raise Conflict(f"Application {public_id} is {status}; no materials were requested.")
        row = await (
            await conn.execute(
                "SELECT detail->'missing' FROM application_events WHERE application_id = %s "
                "AND event_type = 'request_materials' ORDER BY id DESC LIMIT 1", (app_id,),
            )
        ).fetchone()  # fmt: skip
        listed = list(row[0]) if row and row[0] else []
        given = await _materials(conn, wanted, materials, applicant, listed)
        merged = {m["code"]: m for m in have} | {m["code"]: m for m in given}
        await _claim(conn, app_id, given)
        now = datetime.now(UTC)
        await _update(conn, app_id, {
            "status": S.SUBMITTED.value, "materials": Jsonb(list(merged.values())),
            "updated_at": now,
            "accept_due": calendar.add(now.astimezone(LOCAL).date(), ACCEPT_WITHIN_DAYS),
        })  # fmt: skip
        await _event(conn, app_id, "supplemented", S.NEEDS_MATERIALS, S.SUBMITTED, applicant,
                     None, {"materials": sorted(m["code"] for m in given)}, now)  # fmt: skip


async def rate_application(
    conn: AsyncConnection[Any], public_id: str, applicant: int, score: int, comment: str | None
) -> bool:
    async with conn.transaction():
        app_id, status, _, owner, *_ = await _load(conn, public_id)
        if owner != applicant:
            raise NotFound(f"No application {public_id}.")
        if status == S.RATED.value:
            return await rate(conn, RatedObject.APPLICATION, app_id, applicant, score, comment)
        if status != S.COMPLETED.value:
            raise Conflict(f"Application {public_id} is {status}; rate it once completed.")
        created = await rate(conn, RatedObject.APPLICATION, app_id, applicant, score, comment)
        now = datetime.now(UTC)
        await _update(conn, app_id, {"status": S.RATED.value, "updated_at": now})
        await _event(conn, app_id, "rated", S.COMPLETED, S.RATED, applicant, None,
                     {"score": score}, now)  # fmt: skip
    return created


async def attach(
    conn: AsyncConnection[Any],
    owner: int,
    sha256: str,
    content_type: str,
    size: int,
    filename: str,
) -> int:
    row = await (
        await conn.execute(
            "INSERT INTO attachments (owner_id, sha256, content_type, bytes, filename) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (owner, sha256, content_type, size, filename[:200]),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def _update(conn: AsyncConnection[Any], app_id: int, changes: dict[str, Any]) -> None:
    assignments = ", ".join(f"{col} = %({col})s" for col in changes)
    await conn.execute(
        f"UPDATE applications SET {assignments} WHERE id = %(id)s",  # noqa: S608 - our columns
        {**changes, "id": app_id},
    )


async def _event(
    conn: AsyncConnection[Any],
    app_id: int,
    event: str,
    from_: ApplicationStatus | None,
    to: ApplicationStatus,
    actor: int,
    note: str | None,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO application_events (application_id, event_type, from_status, to_status, "
        "actor_id, note, detail, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (app_id, event, from_ and from_.value, to.value, actor, note, Jsonb(detail), at),
    )
