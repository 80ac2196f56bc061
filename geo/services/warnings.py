"""The writer of CAP warnings (预警发布): issue an Alert, Update it, Cancel it.

An Update or a Cancel never changes the message it replaces: it is a new message whose
``references`` names the old one, as CAP 1.2 does; the old one stops being current
(``geo.queries.warnings``). Only the current message of a chain can be replaced (a second
Update of the same message is a Conflict), and a Cancel ends the chain. Every message is
audited. Delivery to citizens (Web Push) follows the commit: ``geo.services.warning_push``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from geo import access
from geo.access import Capability, Principal
from geo.errors import Conflict, InvalidInput, NotFound
from geo.queries import fetch
from geo.queries.warnings import CapMessage, message_by_id
from geo.services import audit
from geo.services.warning_input import CleanDraft, WarningDraft, check
from geo.warning_enums import LANGUAGES, CapMsgType, CapScope


@dataclass(frozen=True)
class Issuer:
    """Who the city's warnings come from (settings): CAP ``sender`` (an address), the default
    ``senderName``, and the city's short name in identifiers (``onemap-<city>-<date>-<n>``)."""

    sender: str
    sender_name: str
    city: str


_AREA_CHECK = """
WITH a AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(area)s), 4326) AS g)
SELECT ST_IsValid(a.g), ST_IsValidReason(a.g),
  ST_CoveredBy(a.g, (SELECT ST_Union(geom) FROM admin_areas WHERE level = 'district'))
FROM a
"""
_COLUMNS = (
    "id",
    "identifier",
    "sender",
    "sent",
    "status",
    "msg_type",
    "scope",
    "references_id",
    "category",
    "urgency",
    "severity",
    "certainty",
    "effective",
    "onset",
    "expires",
    "texts",
    "area_desc",
    "incident_id",
    "issued_by",
)
_INSERT = (
    f"INSERT INTO warnings ({', '.join(_COLUMNS)}, geom) VALUES "  # noqa: S608 - our names
    f"({', '.join(f'%({c})s' for c in _COLUMNS)}, "
    "ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%(area)s), 4326)))"
)


async def _check_area(conn: AsyncConnection[Any], area: dict[str, Any]) -> None:
    cur = await conn.execute(_AREA_CHECK, {"area": Jsonb(area)})
    row = await cur.fetchone()
    assert row is not None
    valid, reason, inside = row
    if not valid:
        raise InvalidInput(f"The area is not a valid polygon: {reason}.", field="area")
    if not inside:
        raise InvalidInput(
            "The area reaches outside the city: draw it within the city's districts.", field="area"
        )


async def _check_incident(conn: AsyncConnection[Any], incident_id: int | None) -> None:
    if incident_id is None:
        return
    cur = await conn.execute("SELECT 1 FROM incidents WHERE id = %s", (incident_id,))
    if await cur.fetchone() is None:
        raise InvalidInput(f"No incident has the id {incident_id}.", field="incident_id")


async def _write(
    conn: AsyncConnection[Any],
    principal: Principal,
    issuer: Issuer,
    draft: CleanDraft,
    msg_type: CapMsgType,
    replaced: int | None,
) -> CapMessage:
    await _check_area(conn, draft.area)
    await _check_incident(conn, draft.incident_id)
    cur = await conn.execute("SELECT nextval(pg_get_serial_sequence('warnings', 'id'))")
    row = await cur.fetchone()
    assert row is not None
    new_id = int(row[0])
    sent = datetime.now(UTC).replace(microsecond=0)
    values = {
        "id": new_id,
        "identifier": f"onemap-{issuer.city}-{sent:%Y%m%d}-{new_id}",
        "sender": issuer.sender,
        "sent": sent,
        "status": draft.status,
        "msg_type": msg_type.value,
        "scope": CapScope.PUBLIC.value,
        "references_id": replaced,
        "category": draft.category,
        "urgency": draft.urgency,
        "severity": draft.severity,
        "certainty": draft.certainty,
        "effective": draft.effective,
        "onset": draft.onset,
        "expires": draft.expires,
        "texts": Jsonb(draft.texts),
        "area_desc": draft.area_desc,
        "incident_id": draft.incident_id,
        "issued_by": principal.user_id,
        "area": Jsonb(draft.area),
    }
    await conn.execute(_INSERT, values)
    await audit.record(
        conn,
        actor_id=principal.user_id,
        actor_role=principal.audit_role,
        action=f"warning.{msg_type.value.lower()}",
        object_type="warning",
        object_id=new_id,
        client_addr=None,
        detail={
            "identifier": values["identifier"],
            "severity": draft.severity,
            "status": draft.status,
            "references": replaced,
        },
    )
    written = await fetch(conn, message_by_id(new_id))
    assert written is not None
    return written


async def issue(
    conn: AsyncConnection[Any], principal: Principal, draft: WarningDraft, issuer: Issuer
) -> CapMessage:
    """A new Alert. Forbidden without ISSUE_WARNINGS; InvalidInput naming the wrong field."""
    access.require(principal, Capability.ISSUE_WARNINGS)
    clean = check(draft, now=_now(), default_sender=issuer.sender_name)
    async with conn.transaction():
        return await _write(conn, principal, issuer, clean, CapMsgType.ALERT, None)


async def _replaceable(conn: AsyncConnection[Any], identifier: str) -> tuple[int, dict[str, Any]]:
    """The current message ``identifier`` (locked): NotFound, or Conflict when it was replaced
    already, is a Cancel or has expired."""
    cur = await conn.execute(
        "SELECT w.id, w.msg_type, w.expires <= now(), s.identifier, w.status, w.texts, "
        "w.category, w.urgency, w.severity, w.certainty, w.onset, w.expires, w.area_desc, "
        "ST_AsGeoJSON(w.geom)::jsonb, w.incident_id FROM warnings w "
        "LEFT JOIN warnings s ON s.references_id = w.id WHERE w.identifier = %s FOR UPDATE OF w",
        (identifier,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No warning has the identifier {identifier!r}.")
    if row[3] is not None:
        raise Conflict(
            f"Warning {identifier} was replaced by {row[3]}: update or cancel that one.",
            replaced_by=row[3],
        )
    if row[1] == CapMsgType.CANCEL.value:
        raise Conflict(f"Warning {identifier} is a Cancel: nothing follows it.")
    if row[2]:
        raise Conflict(f"Warning {identifier} has expired.")
    keys = (
        "status",
        "texts",
        "category",
        "urgency",
        "severity",
        "certainty",
        "onset",
        "expires",
        "area_desc",
        "area",
        "incident_id",
    )
    return int(row[0]), dict(zip(keys, row[4:], strict=True))


async def update(
    conn: AsyncConnection[Any],
    principal: Principal,
    identifier: str,
    draft: WarningDraft,
    issuer: Issuer,
) -> CapMessage:
    """An Update of the current message ``identifier``, with the whole new content."""
    access.require(principal, Capability.ISSUE_WARNINGS)
    clean = check(draft, now=_now(), default_sender=issuer.sender_name)
    async with conn.transaction():
        old_id, old = await _replaceable(conn, identifier)
        if clean.status != old["status"]:
            raise InvalidInput(
                f"An Update keeps the status of the warning ({old['status']}).", field="status"
            )
        return await _write(conn, principal, issuer, clean, CapMsgType.UPDATE, old_id)


#: How a Cancel's headline begins, per language.
CANCELLED = {"zh-CN": "解除：", "en-US": "Cancelled: "}


async def cancel(
    conn: AsyncConnection[Any],
    principal: Principal,
    identifier: str,
    issuer: Issuer,
    note: str | None = None,
) -> CapMessage:
    """A Cancel of the current message ``identifier``: its content, headlines marked
    cancelled, the note (if any) as the description, in force until the old one would have
    expired."""
    access.require(principal, Capability.ISSUE_WARNINGS)
    if note is not None and len(note) > 4000:
        raise InvalidInput("The note is longer than 4000 characters.", field="note")
    async with conn.transaction():
        old_id, old = await _replaceable(conn, identifier)
        texts = {}
        for language in LANGUAGES:
            block = dict(old["texts"][language])
            block["headline"] = (CANCELLED[language] + block["headline"])[:160]
            if note and note.strip():
                block["description"] = note.strip()
            texts[language] = block
        now = _now()
        clean = CleanDraft(
            status=old["status"],
            category=old["category"],
            urgency=old["urgency"],
            severity=old["severity"],
            certainty=old["certainty"],
            effective=now,
            onset=old["onset"],
            expires=old["expires"],
            texts=texts,
            area_desc=old["area_desc"],
            area=old["area"],
            incident_id=old["incident_id"],
        )
        return await _write(conn, principal, issuer, clean, CapMsgType.CANCEL, old_id)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
