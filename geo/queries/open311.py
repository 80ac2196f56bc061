"""Reads for Open311 GeoReport v2: services (the citizen-reportable case categories), service
requests (cases, as GeoReport records) and partner api_keys.

What a request shows is the access policy's (``geo.access.open311_scope``): a partner reads
the requests it posted in full — description, address, exact place and times, media URL,
attributes, the case's own department and due time. Every other request, for everyone, is
the case's public record (``cases_public``) and nothing more exact: its generalised position
and hour, no description, address or media; sensitive categories and duplicates are not there
at all. Its agency is the category's department (public through services.json), not the
case's current one. Statuses come from the case workflow (:data:`STATUSES`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from geo.enums import CaseStatus
from geo.queries import Query, Rows

S = CaseStatus
#: Each workflow status as GeoReport's status (open/closed) and its status_notes.
STATUSES: Mapping[CaseStatus, tuple[str, str]] = {
    S.REPORTED: ("open", "已受理，等待派遣 / Received, awaiting dispatch"),
    S.DISPATCHED: ("open", "已派遣至责任部门 / Dispatched to the responsible department"),
    S.IN_PROGRESS: ("open", "处置中 / Being handled"),
    S.RESOLVED: ("open", "已处置，等待核查 / Handled, awaiting the dispatcher's check"),
    S.CLOSED: ("closed", "已结案 / Closed: handled and checked"),
    S.REJECTED: ("closed", "不予受理 / Not accepted"),
    S.DUPLICATE: ("closed", "重复报告，已并入先前的请求 / Duplicate of an earlier request"),
}
CLOSED = sorted(s.value for s, (open_closed, _) in STATUSES.items() if open_closed == "closed")


@dataclass(frozen=True, slots=True)
class Service:
    """A citizen-reportable case category and the department it is routed to."""

    code: str
    name_zh: str
    name_en: str
    department_zh: str
    department_en: str
    time_limit_hours: int

    @property
    def name(self) -> str:
        return f"{self.name_zh} / {self.name_en}"

    @property
    def agency(self) -> str:
        return f"{self.department_zh} / {self.department_en}"

    @property
    def notice(self) -> str:
        """What happens to a request (GeoReport's service_notice)."""
        h = self.time_limit_hours
        return (
            f"由{self.department_zh}处理，时限{h}小时 / {self.department_en} handles it "
            f"within {h} hours of dispatch."
        )

    def as_open311(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": f"{self.name_en}: {self.notice}",
            "metadata": True,
            "type": "realtime",
            "keywords": f"{self.name_zh}, {self.name_en}",
            "group": self.agency,
        }


_SERVICES = sql.SQL("""
SELECT c.code, c.name_zh, c.name_en, d.name_zh, d.name_en, c.time_limit_hours
FROM case_categories c JOIN departments d ON d.id = c.department_id
WHERE c.citizen_reportable AND (%(code)s::text IS NULL OR c.code = %(code)s) ORDER BY c.code
""")

# Two branches: the caller's own requests in full (the policy's predicate on o), and the public
# record of every other request. Filters on the public branch see the generalised values.
_REQUESTS = """
WITH own AS (
  SELECT c.id, c.public_id, c.category, c.status, c.department_id, c.description, c.address,
         o.media_url, o.attributes, c.reported_at, c.updated_at, c.due_at,
         ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, true AS full_record
  FROM open311_requests o JOIN cases c ON c.id = o.case_id
  WHERE ({own}) AND {filters}
), public AS (
  SELECT c.id, c.public_id, c.category, c.status, NULL::int, NULL::text, NULL::text, NULL::text,
         NULL::jsonb, c.reported_at, c.closed_at, NULL::timestamptz,
         ST_X(c.geom), ST_Y(c.geom), false
  FROM cases_public c
  WHERE {filters} AND c.id NOT IN (SELECT id FROM own)
)
SELECT r.public_id, r.status, r.category, r.description, r.address, r.media_url, r.attributes,
       r.reported_at, r.updated_at, r.due_at, r.lon, r.lat, r.full_record,
       cc.name_zh, cc.name_en, cd.name_zh, cd.name_en, cc.time_limit_hours, d.name_zh, d.name_en
FROM (SELECT * FROM own UNION ALL SELECT * FROM public) r
JOIN case_categories cc ON cc.code = r.category
JOIN departments cd ON cd.id = cc.department_id
LEFT JOIN departments d ON d.id = r.department_id
ORDER BY r.reported_at DESC, r.id DESC LIMIT %(limit)s OFFSET %(offset)s
"""
# A list of ids overrides every other filter (GeoReport v2); otherwise the date window.
_FILTERS = """(%(ids)s::text[] IS NULL OR c.public_id = ANY(%(ids)s))
  AND (%(ids)s::text[] IS NOT NULL OR c.reported_at >= %(start)s AND c.reported_at < %(end)s
  AND (%(codes)s::text[] IS NULL OR c.category = ANY(%(codes)s))
  AND (%(closed)s::boolean IS NULL OR (c.status = ANY(%(closed_statuses)s)) = %(closed)s))"""
_PARTNER = sql.SQL(
    "SELECT id, capabilities FROM open311_api_keys WHERE key_hash = %(hash)s AND revoked_at IS NULL"
)


def services(code: str | None = None) -> Query[list[Service]]:
    """The services (one by ``code``, or all), by code."""
    return Query(_SERVICES, {"code": code}, lambda rows: [Service(*r) for r in rows])


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Which requests: by ids (which override everything else), or reported in [start, end)
    with optional service codes and open/closed status; newest first, a page of them."""

    ids: list[str] | None
    codes: list[str] | None
    closed: bool | None
    start: datetime
    end: datetime
    limit: int
    offset: int = 0


def requests(wanted: RequestFilter, own: str) -> Query[list[dict[str, Any]]]:
    """GeoReport records of requests; ``own`` is ``geo.access.open311_scope`` (SQL text on
    alias o): those requests in full, every other one as its public record."""
    statement = sql.SQL(_REQUESTS.format(own=own, filters=_FILTERS))
    params = {
        "ids": wanted.ids,
        "codes": wanted.codes,
        "closed": wanted.closed,
        "closed_statuses": CLOSED,
        "start": wanted.start,
        "end": wanted.end,
        "limit": wanted.limit,
        "offset": wanted.offset,
    }
    return Query(statement, params, _records)


def _w3c(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def _records(rows: Rows) -> list[dict[str, Any]]:
    return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        public_id,
        status,
        code,
        description,
        address,
        media_url,
        attributes,
        requested,
        updated,
        due,
        lon,
        lat,
        full,
        name_zh,
        name_en,
        dept_zh,
        dept_en,
        hours,
        own_zh,
        own_en,
    ) = row
    service = Service(code, name_zh, name_en, dept_zh, dept_en, hours)
    open_closed, notes = STATUSES[CaseStatus(status)]
    record = {
        "service_request_id": public_id,
        "status": open_closed,
        "status_notes": notes,
        "service_name": service.name,
        "service_code": code,
        "description": description or None,
        "agency_responsible": f"{own_zh} / {own_en}" if own_zh else service.agency,
        "service_notice": service.notice,
        "requested_datetime": _w3c(requested),
        "updated_datetime": _w3c(updated),
        "expected_datetime": _w3c(due),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": media_url,
    }
    if full:
        record["attributes"] = stored_attributes(attributes or {})
    return record


def stored_attributes(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """A request's attribute values as GeoReport-style pairs, by code, one per value (a
    multivaluelist gives one pair per key chosen), as they were posted (``attribute[code]``)."""
    pairs = []
    for code, value in sorted(values.items()):
        for one in value if isinstance(value, list) else [value]:
            pairs.append({"code": code, "value": str(one)})
    return pairs


def partner_key(api_key: str) -> Query[tuple[int, list[str]] | None]:
    """A partner's live api_key (stored as its SHA-256 only): its id and granted rights."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return Query(
        _PARTNER,
        {"hash": digest},
        lambda rows: (int(rows[0][0]), list(rows[0][1])) if rows else None,
    )
