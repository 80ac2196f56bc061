"""The on-site check (核查): before a resolved case of a category that requires it
(``case_categories.requires_check``) may close, someone with CHECK_ON_SITE (a grid worker of
the case's cells) goes there and confirms it with photos, standing within the category's
``check_radius_m`` of the case. Passed: a ``checked`` event (the dispatcher may then close).
Not passed: ``check_failed``, which sends the case back to the handler (resolved →
in_progress), its handle clock starting afresh.

The photos are ``report_photos`` rows of the case the checker uploaded after the case was
resolved (the same storage, cleaning and audited reads as report photos). Every check is kept
in ``case_checks``: who, where, how far, which photos, passed or not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import CaseEventType, CaseStatus
from geo.errors import Conflict, InvalidInput
from geo.params import LonLat
from geo.services import audit, cases
from geo.services.reports import Photo

MAX_PHOTOS = 9


async def check(
    conn: AsyncConnection[Any],
    case_id: int,
    actor: Principal,
    *,
    passed: bool,
    point: LonLat,
    photo_ids: list[int],
    note: str | None,
) -> cases.CaseRecord:
    """Record an on-site check of a resolved case of the actor's jurisdiction whose category
    requires one and that has not passed one since it was resolved (Conflict otherwise)."""
    access.require(actor, C.CHECK_ON_SITE)
    text = (note or "").strip() or None
    if not passed and text is None:
        raise InvalidInput("A failed check needs a note: what is still wrong.", field="note")
    if text is not None and len(text) > cases.MAX_DESCRIPTION:
        raise InvalidInput(f"The note is at most {cases.MAX_DESCRIPTION} characters.",
                           field="note")  # fmt: skip
    if not photo_ids:
        raise InvalidInput("An on-site check needs at least one photo taken there.",
                           field="photoIds")  # fmt: skip
    if len(set(photo_ids)) > MAX_PHOTOS:
        raise InvalidInput(f"At most {MAX_PHOTOS} photos per check.", field="photoIds")
    async with conn.transaction():
        case = await cases.lock_case(conn, case_id, actor)
        if case.status != CaseStatus.RESOLVED.value:
            raise Conflict(
                f"Case {case.public_id} is {case.status}; an on-site check is of a resolved case.",
                case_status=case.status,
            )
        row = await (
            await conn.execute(
                "SELECT ST_Distance(c.geom::geography, "
                "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), k.check_radius_m, "
                "k.requires_check, EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id "
                "AND e.event_type = 'checked' AND e.id > (SELECT max(r.id) FROM case_events r "
                "WHERE r.case_id = c.id AND r.event_type = 'resolved')) "
                "FROM cases c JOIN case_categories k ON k.code = c.category WHERE c.id = %s",
                (point.lon, point.lat, case.id),
            )
        ).fetchone()
        assert row is not None
        distance, radius, required, passed_already = float(row[0]), int(row[1]), row[2], row[3]
        if not required:
            raise Conflict(f"Case {case.public_id} is of a category closed without an on-site "
                           "check.", case_status=case.status)  # fmt: skip
        if passed_already:
            raise Conflict(f"Case {case.public_id} passed its on-site check already; the "
                           "dispatcher may close it.", case_status=case.status)  # fmt: skip
        if distance > radius:
            raise InvalidInput(
                f"You are {distance:.0f} m from case {case.public_id}; an on-site check must "
                f"be made within {radius} m of it.",
                field="lon",
            )
        wanted = sorted(set(photo_ids))
        found = await (
            await conn.execute(
                "SELECT array_agg(p.id ORDER BY p.id) FROM report_photos p "
                "WHERE p.id = ANY(%s) AND p.case_id = %s AND p.owner_id = %s "
                "AND p.created_at >= %s",
                (wanted, case.id, actor.user_id, case.resolved_at),
            )
        ).fetchone()
        have = set(found[0] or []) if found else set()
        if missing := [i for i in wanted if i not in have]:
            raise InvalidInput(
                f"Photo {', '.join(map(str, missing))} is not one you uploaded for case "
                f"{case.public_id} since it was resolved: upload the photos taken on site.",
                field="photoIds",
            )
        now = datetime.now(UTC)
        if passed:
            await conn.execute("UPDATE cases SET updated_at = %s WHERE id = %s", (now, case.id))
            event_id = await cases.append_event(conn, case.id, CaseEventType.CHECKED, None, None,
                                                actor, None, text, now)  # fmt: skip
            record = await cases.get_case(conn, case.id, actor)
        else:
            record = await cases.reopen_after(conn, case, actor, text, CaseEventType.CHECK_FAILED)
            last_event = "SELECT max(id) FROM case_events WHERE case_id = %s"
            last = await (await conn.execute(last_event, (case.id,))).fetchone()
            assert last is not None
            event_id = int(last[0])
        await conn.execute(
            "INSERT INTO case_checks (case_id, event_id, checker_id, passed, lon, lat, "
            "distance_m, photo_ids, note, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (case.id, event_id, actor.user_id, passed, point.lon, point.lat, distance, wanted,
             text, now),
        )  # fmt: skip
    return record


async def add_photos(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, stored: list[Photo]
) -> tuple[cases.CaseRecord, list[int]]:
    """Photos taken on site for the check of a resolved case of the actor's jurisdiction
    (CHECK_ON_SITE): ``report_photos`` rows owned by the checker (the files are already
    stored by content hash). Their ids go into :func:`check`."""
    access.require(actor, C.CHECK_ON_SITE)
    if not stored:
        raise InvalidInput("Send at least one photo.", field="photos")
    async with conn.transaction():
        case = await cases.lock_case(conn, case_id, actor)
        if case.status != CaseStatus.RESOLVED.value:
            raise Conflict(f"Case {case.public_id} is {case.status}; check photos are taken "
                           "of a resolved case.", case_status=case.status)  # fmt: skip
        ids = []
        for p in stored:
            row = await (
                await conn.execute(
                    "INSERT INTO report_photos (case_id, owner_id, sha256, content_type, width, "
                    "height, bytes) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (case.id, actor.user_id, p.sha256, p.content_type, p.width, p.height, p.size),
                )
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        await audit.record(
            conn, actor_id=actor.user_id, actor_role=actor.audit_role,
            action="case_photo.upload", object_type="case", object_id=case.id,
            client_addr=None, detail={"photo_ids": ids, "purpose": "check"},
        )  # fmt: skip
    return case, ids
