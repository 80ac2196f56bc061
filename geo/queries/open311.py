"""Reads for Open311 GeoReport v2: services (the citizen-reportable case categories), service
requests (cases) and partner api_keys.

GET of requests is public, so a request is the case's public record (``cases_public``) and
nothing more exact: its position and hour as the view has them, no description, address or
media; sensitive categories and duplicates are not there at all. The agency is the category's
department (public through services.json), not the case's current one."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.queries import Query

_SERVICES = sql.SQL("""
SELECT json_build_object('service_code', c.code, 'service_name', c.name_zh || ' / ' || c.name_en,
  'description', c.name_en || ': reported to ' || d.name_en, 'metadata', true,
  'type', 'realtime', 'keywords', c.name_en, 'group', d.name_en)
FROM case_categories c JOIN departments d ON d.id = c.department_id
WHERE c.citizen_reportable AND (%(code)s::text IS NULL OR c.code = %(code)s) ORDER BY c.code
""")

_REQUEST = """json_build_object('service_request_id', v.public_id,
  'status', CASE WHEN v.status IN ('closed', 'rejected') THEN 'closed' ELSE 'open' END,
  'status_notes', NULL, 'service_name', cc.name_zh || ' / ' || cc.name_en,
  'service_code', v.category, 'description', NULL,
  'agency_responsible', d.name_zh, 'service_notice', NULL,
  'requested_datetime', v.reported_at, 'updated_datetime', v.closed_at,
  'expected_datetime', NULL, 'address', NULL, 'address_id', NULL, 'zipcode', NULL,
  'lat', ST_Y(v.geom), 'long', ST_X(v.geom), 'media_url', NULL)"""

_REQUESTS = sql.SQL("""
SELECT {request} FROM cases_public v
JOIN case_categories cc ON cc.code = v.category
LEFT JOIN departments d ON d.id = cc.department_id
WHERE (%(ids)s::text[] IS NULL OR v.public_id = ANY(%(ids)s))
  AND (%(ids)s::text[] IS NOT NULL OR v.reported_at >= %(start)s AND v.reported_at < %(end)s)
  AND (%(codes)s::text[] IS NULL OR v.category = ANY(%(codes)s))
  AND (%(status)s::text IS NULL OR (v.status IN ('closed', 'rejected'))
       = (%(status)s = 'closed'))
ORDER BY v.reported_at DESC, v.id DESC LIMIT %(limit)s
""").format(request=sql.SQL(_REQUEST))
_PARTNER = sql.SQL(
    "SELECT id FROM open311_api_keys WHERE key_hash = %(hash)s AND revoked_at IS NULL"
)


def services(code: str | None = None) -> Query[list[dict[str, Any]]]:
    return Query(_SERVICES, {"code": code}, lambda rows: [r[0] for r in rows])


def requests(
    *,
    ids: list[str] | None,
    codes: list[str] | None,
    status: str | None,
    start: datetime,
    end: datetime,
    limit: int,
) -> Query[list[dict[str, Any]]]:
    """Public records of requests: by id, or reported (to the hour) in [start, end)."""
    params = {"ids": ids, "codes": codes, "status": status, "start": start, "end": end,
              "limit": limit}  # fmt: skip
    return Query(_REQUESTS, params, lambda rows: [r[0] for r in rows])


def partner_key(api_key: str) -> Query[int | None]:
    """The id of a partner's live api_key (stored as its SHA-256 only)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return Query(_PARTNER, {"hash": digest}, lambda rows: int(rows[0][0]) if rows else None)
