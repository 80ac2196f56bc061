"""Hotline intake (市民热线): a call becomes a case (source ``hotline``) or is attached to an
open case about the same thing, the caller's contact kept in ``case_callers`` for the
callback (回访, geo.services.callbacks).

The caller's name and phone are restricted personal data: written and read only with
READ_PERSONAL, for cases of the actor's jurisdiction (geo.access.case_scope), every read
audited in the reading transaction, never in a public output (``case_callers`` is in no layer
view). Before creating, the call-taker asks for similar recent open cases nearby
(:func:`similar_cases`), ranked by distance, description similarity (pg_trgm) and category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.enums import OPEN_CASE_STATUSES, CaseEventType, CasePriority, CaseSource, CaseStatus
from geo.errors import Conflict, InvalidInput
from geo.params import LonLat
from geo.services import audit, cases

MAX_NAME = 50
MAX_CALLBACK_TIME = 100
_MOBILE = re.compile(r"1[3-9]\d{9}")
#: Two- and three-digit area codes (010 Beijing, 021 Shanghai, 022–029): the rest have four.
_SHORT_AREA = re.compile(r"0(10|2\d)")
_AREA = re.compile(r"0[1-9]\d{1,2}")
_LOCAL = re.compile(r"[2-9]\d{6,7}")
_EXTENSION = re.compile(r"\d{1,6}")


def normalise_phone(raw: str) -> str:
    """A Chinese mobile number (11 digits, 13x–19x; +86 or 86 before it is dropped), or a
    landline with its area code, written 0XX-XXXXXXXX (an extension after a further dash, or
    after 转); InvalidInput saying which forms are accepted."""
    text = re.sub(r"[\s()（）]", "", raw.strip()).replace("转", "-")
    if text.startswith("+86"):
        text = text[3:].lstrip("-")
    flat = text.replace("-", "")
    if flat.startswith("86") and len(flat) == 13:
        flat = flat[2:]
    if _MOBILE.fullmatch(flat):
        return flat
    parts = text.split("-")
    extension = parts.pop() if len(parts) == 3 else ""
    if len(parts) == 2:
        area, local = parts
    else:
        cut = 3 if _SHORT_AREA.match(flat) else 4
        area, local = flat[:cut], flat[cut:]
    if (len(parts) <= 2 and _AREA.fullmatch(area) and _LOCAL.fullmatch(local)
            and (not extension or _EXTENSION.fullmatch(extension))):  # fmt: skip
        return f"{area}-{local}" + (f"-{extension}" if extension else "")
    raise InvalidInput(
        f"{raw!r} is not a phone number we can call back: give a mobile number (11 digits "
        "starting 13–19, e.g. 13812345678) or a landline with its area code (e.g. "
        "021-62345678; an extension after a dash: 021-62345678-801).",
        field="phone",
    )


@dataclass(frozen=True)
class Caller:
    """Who called, as the call-taker wrote it down."""

    name: str
    phone: str
    callback_time: str | None = None
    consent_callback: bool = True

    def checked(self) -> Caller:
        name = self.name.strip()
        if not 1 <= len(name) <= MAX_NAME:
            raise InvalidInput(f"The caller's name is 1 to {MAX_NAME} characters "
                               "(a surname and 先生/女士 will do).", field="name")  # fmt: skip
        when = (self.callback_time or "").strip() or None
        if when is not None and len(when) > MAX_CALLBACK_TIME:
            raise InvalidInput(f"The preferred callback time is at most {MAX_CALLBACK_TIME} "
                               "characters.", field="callbackTime")  # fmt: skip
        return Caller(name, normalise_phone(self.phone), when, self.consent_callback)


def _may_keep_callers(actor: Principal) -> None:
    access.require(actor, C.CREATE_CASES)
    access.require(actor, C.READ_PERSONAL)


async def _keep(
    conn: AsyncConnection[Any], case_id: int, caller: Caller, actor: Principal, event_id: int
) -> int:
    row = await (
        await conn.execute(
            "INSERT INTO case_callers (case_id, name, phone, callback_time, consent_callback, "
            "taken_by, event_id) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                case_id,
                caller.name,
                caller.phone,
                caller.callback_time,
                caller.consent_callback,
                actor.user_id,
                event_id,
            ),
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def create_hotline_case(
    conn: AsyncConnection[Any],
    *,
    actor: Principal,
    caller: Caller,
    category: str,
    point: LonLat,
    description: str,
    address: str | None = None,
    priority: CasePriority = CasePriority.NORMAL,
) -> cases.CaseRecord:
    """A case from a call (source ``hotline``) with its caller kept: one transaction."""
    _may_keep_callers(actor)
    caller = caller.checked()
    if not description.strip():
        raise InvalidInput("Write down what the caller reported.", field="description")
    async with conn.transaction():
        case = await cases.create_case(
            conn, actor=actor, category=category, point=point, description=description,
            source=CaseSource.HOTLINE, priority=priority, address=address,
        )  # fmt: skip
        reported = await (
            await conn.execute(
                "SELECT min(id) FROM case_events WHERE case_id = %s AND event_type = 'reported'",
                (case.id,),
            )
        ).fetchone()
        assert reported is not None
        await _keep(conn, case.id, caller, actor, int(reported[0]))
    return case


async def attach_call(
    conn: AsyncConnection[Any], case_id: int, actor: Principal, caller: Caller, note: str
) -> cases.CaseRecord:
    """Another call about an open case: a ``call_attached`` event (the call's words, never the
    caller's contact) and the caller kept for the callback. ILLEGAL_TRANSITION for a case out
    of the workflow: a call about a closed case is a new case, or a dispatcher's reopen."""
    _may_keep_callers(actor)
    caller = caller.checked()
    if not note.strip():
        raise InvalidInput("Write down what the caller said about the case.", field="note")
    if len(note) > cases.MAX_DESCRIPTION:
        raise InvalidInput(f"The note is at most {cases.MAX_DESCRIPTION} characters.",
                           field="note")  # fmt: skip
    async with conn.transaction():
        case = await cases.lock_case(conn, case_id, actor)
        if CaseStatus(case.status) not in OPEN_CASE_STATUSES:
            raise Conflict(
                f"Case {case.public_id} is {case.status}: a call cannot be attached to it. "
                "Create a new case, or ask a dispatcher to reopen it.",
                case_status=case.status,
            )
        now = datetime.now(case.updated_at.tzinfo)
        await conn.execute("UPDATE cases SET updated_at = %s WHERE id = %s", (now, case.id))
        event_id = await cases.append_event(conn, case.id, CaseEventType.CALL_ATTACHED, None,
                                            None, actor, None, note, now)  # fmt: skip
        await _keep(conn, case.id, caller, actor, event_id)
    return await cases.get_case(conn, case.id, actor)


@dataclass(frozen=True)
class SimilarCase:
    case: dict[str, Any]  # the case row, as the layer view's columns
    distance_m: float
    text_similarity: float
    same_category: bool
    score: float


#: The ranking: closeness within the radius, the description's trigram similarity, the same
#: category (a related one — same department — scores 0 there).
DISTANCE_WEIGHT, TEXT_WEIGHT, CATEGORY_WEIGHT = 0.5, 0.3, 0.2


async def similar_cases(
    conn: AsyncConnection[Any],
    actor: Principal,
    *,
    point: LonLat,
    category: str,
    description: str,
    since: datetime,
    radius_m: float,
    limit: int,
) -> list[SimilarCase]:
    """Open cases of the actor's jurisdiction reported since ``since`` within ``radius_m`` of
    ``point``, of ``category`` or a related one (handled by the same department), best first."""
    access.require(actor, C.READ_CASES)
    scope = access.case_scope(actor, "c")
    statuses = [s.value for s in OPEN_CASE_STATUSES]
    query = f"""
        WITH here AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
        wanted AS (SELECT code, department_id FROM case_categories WHERE code = %(cat)s)
        SELECT c.id, ST_Distance(c.geom::geography, here.g::geography) AS distance_m,
               similarity(c.description, %(text)s) AS text_similarity,
               c.category = wanted.code AS same_category
        FROM cases c JOIN case_categories k ON k.code = c.category
        CROSS JOIN here CROSS JOIN wanted
        WHERE k.department_id = wanted.department_id
          AND c.status = ANY(%(statuses)s) AND c.reported_at >= %(since)s
          AND ST_DWithin(c.geom, here.g, %(degrees)s)
          AND ST_DWithin(c.geom::geography, here.g::geography, %(radius)s)
          AND ({scope})
    """  # noqa: S608 - the scope is geo.access' SQL from integers
    params = {
        "lon": point.lon,
        "lat": point.lat,
        "cat": category,
        "text": description,
        "statuses": statuses,
        "since": since,
        "radius": radius_m,
        "degrees": radius_m / 80_000,
    }  # the index's box: a degree is ≥ 80 km here; fmt: skip
    known = await (
        await conn.execute("SELECT 1 FROM case_categories WHERE code = %s", (category,))
    ).fetchone()
    if known is None:
        raise InvalidInput(f"Unknown case category {category!r}.", field="category")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        found = await cur.fetchall()
    ranked = []
    for r in found:
        closeness = max(0.0, 1 - r["distance_m"] / radius_m)
        text = float(r["text_similarity"] or 0)
        same = bool(r["same_category"])
        score = DISTANCE_WEIGHT * closeness + TEXT_WEIGHT * text + CATEGORY_WEIGHT * same
        ranked.append(SimilarCase({"id": r["id"]}, r["distance_m"], text, same, score))
    ranked.sort(key=lambda s: (-s.score, s.distance_m, s.case["id"]))
    return ranked[:limit]


#: A case's callers; {scope}: geo.access' SQL from integers.
_CALLERS = (
    "SELECT p.id, p.name, p.phone, p.callback_time, p.consent_callback, p.taken_at "
    "FROM case_callers p JOIN cases c ON c.id = p.case_id "
    "WHERE p.case_id = %s AND ({scope}) ORDER BY p.id"
)


async def callers_of(
    conn: AsyncConnection[Any], actor: Principal, case_id: int, surface: str = "graphql"
) -> list[dict[str, Any]]:
    """The callers of a case of the actor's jurisdiction (READ_PERSONAL), oldest first; the
    read is audited in the same transaction (no audit row, no callers)."""
    access.require(actor, C.READ_PERSONAL)
    scope = access.case_scope(actor, "c")
    async with conn.transaction():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_CALLERS.format(scope=scope), (case_id,))
            rows = await cur.fetchall()
        if rows:
            await audit.record(
                conn, actor_id=actor.user_id, actor_role=actor.audit_role,
                action="read_personal_data", object_type="case", object_id=case_id,
                client_addr=None, detail={"field": "callers", "surface": surface,
                                          "caller_ids": [r["id"] for r in rows]},
            )  # fmt: skip
    return rows
