"""Citizen reports (随手拍): a report IS a case, created through ``geo.services.cases``; this
module adds what belongs to the report — its photos, a link to a case about the same thing —
and the reporter's rating (好差评) after resolution.

The photo files are written before the transaction (by content hash, so a retry rewrites
nothing); the rows that point at them are written with the case, all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from geo import access
from geo.access import Capability, Principal
from geo.citizen_enums import RatedObject
from geo.enums import OPEN_CASE_STATUSES, CaseSource, CaseStatus
from geo.errors import Conflict, InvalidInput, NotFound
from geo.params import LonLat
from geo.queries import fetch
from geo.queries import reports as q
from geo.services import audit, case_facts
from geo.services.cases import CaseRecord, create_case

RATABLE = frozenset({CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value})


@dataclass(frozen=True)
class Photo:
    sha256: str
    content_type: str
    width: int
    height: int
    size: int


async def submit(
    conn: AsyncConnection[Any],
    *,
    actor: Principal,
    category: str,
    point: LonLat,
    description: str,
    address: str | None,
    photos: list[Photo],
    link_to: str | None,
    radius_m: float,
) -> tuple[CaseRecord, list[int]]:
    """The case for a report and the ids of its photos' rows (with the optional link), in the
    caller's transaction: ``idempotency.run_once`` opens it, so the key, the case and its rows
    commit together."""
    if conn.info.transaction_status == TransactionStatus.IDLE:
        raise RuntimeError("reports.submit runs inside the caller's transaction")
    case = await create_case(
        conn, actor=actor, category=category, point=point, description=description,
        source=CaseSource.CITIZEN_REPORT, address=address,
    )  # fmt: skip
    photo_ids = []
    for p in photos:
        row = await (
            await conn.execute(
                "INSERT INTO report_photos (case_id, owner_id, sha256, content_type, width, "
                "height, bytes) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (case.id, actor.user_id, p.sha256, p.content_type, p.width, p.height, p.size),
            )
        ).fetchone()
        assert row is not None
        photo_ids.append(int(row[0]))
    if link_to is not None:
        await link(conn, case, link_to, actor, radius_m)
    return case, photo_ids


async def owned_case(conn: AsyncConnection[Any], public_id: str, user_id: int) -> int:
    """The id of the reporter's case ``public_id``; NotFound for anyone else's (no leak)."""
    row = await (
        await conn.execute(
            "SELECT id FROM cases WHERE public_id = %s AND reporter_id = %s", (public_id, user_id)
        )
    ).fetchone()
    if row is None:
        raise NotFound(f"You have no report {public_id}.")
    return int(row[0])


async def link(
    conn: AsyncConnection[Any], case: CaseRecord, target: str, actor: Principal, radius_m: float
) -> None:
    """Say ``case`` is about the same thing as the open case ``target`` nearby (a suggestion
    dispatchers act on with mark_duplicate; the reporter then follows both)."""
    row = await (
        await conn.execute(
            "SELECT t.id, t.status, t.category, ST_Distance(t.geom::geography, c.geom::geography) "
            "FROM cases t, cases c WHERE t.public_id = %s AND c.id = %s",
            (target, case.id),
        )
    ).fetchone()
    if row is None:
        raise NotFound(f"No case {target} to link to.", field="case_id")
    target_id, status, category, distance = row
    if target_id == case.id:
        raise InvalidInput("A report cannot be linked to itself.", field="case_id")
    if status not in OPEN_CASE_STATUSES:
        raise Conflict(f"Case {target} is {status}: only open cases can be linked.")
    if category != case.category:
        raise InvalidInput(f"Case {target} is about {category}, not {case.category}.")
    if distance > radius_m:
        raise InvalidInput(f"Case {target} is {distance:.0f} m away; at most {radius_m:.0f} m.")
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO report_links (case_id, linked_case_id, user_id) VALUES (%s, %s, %s) "
            "ON CONFLICT (case_id) DO UPDATE SET linked_case_id = excluded.linked_case_id, "
            "created_at = now()",
            (case.id, target_id, actor.user_id),
        )


async def rate(
    conn: AsyncConnection[Any],
    object_type: RatedObject,
    object_id: int,
    rater_id: int,
    score: int,
    comment: str | None,
) -> bool:
    """One rating per object. True when stored now; False when the same one was already there;
    Conflict when a different one was."""
    if not 1 <= score <= 5:
        raise InvalidInput("score must be between 1 and 5.")
    if comment is not None and len(comment) > 1000:
        raise InvalidInput("The comment is longer than 1000 characters.")
    async with conn.transaction():
        row = await (
            await conn.execute(
                "INSERT INTO ratings (object_type, object_id, rater_id, score, comment) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (object_type, object_id) DO NOTHING "
                "RETURNING id", (object_type.value, object_id, rater_id, score, comment),
            )
        ).fetchone()  # fmt: skip
        if row is not None:
            if object_type == RatedObject.CASE:  # satisfaction in the case's evaluation facts
                await case_facts.refresh(conn, [object_id])
            return True
        old = await (
            await conn.execute(
                "SELECT score, comment FROM ratings WHERE object_type = %s AND object_id = %s",
                (object_type.value, object_id),
            )
        ).fetchone()
    if old is not None and (old[0], old[1]) == (score, comment):
        return False
    raise Conflict("This has already been rated; a rating cannot be changed.")


async def rate_case(
    conn: AsyncConnection[Any], case_id: int, rater_id: int, score: int, comment: str | None
) -> bool:
    row = await (
        await conn.execute("SELECT status FROM cases WHERE id = %s", (case_id,))
    ).fetchone()
    if row is None or row[0] not in RATABLE:
        status = row[0] if row else "unknown"
        raise Conflict(f"The report is {status}; it can be rated once resolved or closed.")
    return await rate(conn, RatedObject.CASE, case_id, rater_id, score, comment)


def may_read_photos(principal: Principal) -> Principal:
    """Report photos are personal data: their reporter (a citizen) and staff who may read
    photos; anyone else is refused before anything is looked up."""
    access.require(principal)
    if not (principal.is_citizen or principal.can(Capability.READ_PHOTOS)):
        access.require(principal, Capability.READ_PHOTOS)  # Forbidden, naming the capability
    return principal


def _photo_scope(principal: Principal) -> str:
    """Whose photos the principal sees: staff those of cases in their jurisdiction, a citizen
    those of their own reports (SQL on cases alias ``c``)."""
    if principal.can(Capability.READ_PHOTOS):
        return access.case_scope(principal, "c")
    if principal.is_citizen and principal.user_id is not None:
        return f"c.reporter_id = {int(principal.user_id)}"
    return "FALSE"


async def read_photo(
    conn: AsyncConnection[Any],
    principal: Principal,
    case_public_id: str,
    photo_id: int,
    client_addr: str | None,
) -> tuple[str, str]:
    """The stored photo (sha256, content type) of a report the principal may see, checked in
    the query; a read by anyone but the reporter is audited in the same transaction (no audit
    row, no photo). NotFound when there is none the principal may see (no leak of which)."""
    may_read_photos(principal)
    async with conn.transaction():
        found = await fetch(conn, q.photo(case_public_id, photo_id, _photo_scope(principal)))
        if found is None:
            raise NotFound("No such photo.")
        sha, content_type, reporter, case_id = found
        if reporter is None or reporter != principal.user_id:
            await audit.record(
                conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                action="report_photo.view", object_type="case", object_id=case_id,
                client_addr=client_addr, detail={"photo_id": photo_id},
            )  # fmt: skip
    return sha, content_type
