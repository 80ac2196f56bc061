"""Reads for Open311 GeoReport v2: services (the citizen-reportable case categories) and
service requests (cases). Anonymous callers get the public case fields and a position rounded
to ~10 m; partner systems (a valid api_key) also get the description and address."""

from __future__ import annotations

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

_REQUEST = """json_build_object('service_request_id', c.public_id,
  'status', CASE WHEN c.status IN ('closed', 'rejected', 'duplicate') THEN 'closed'
            ELSE 'open' END,
  'status_notes', NULL, 'service_name', cc.name_zh || ' / ' || cc.name_en,
  'service_code', c.category,
  'description', CASE WHEN %(partner)s THEN c.description END,
  'agency_responsible', d.name_zh, 'service_notice', NULL,
  'requested_datetime', c.reported_at, 'updated_datetime', c.updated_at,
  'expected_datetime', c.due_at,
  'address', CASE WHEN %(partner)s THEN c.address END, 'address_id', NULL, 'zipcode', NULL,
  'lat', CASE WHEN %(partner)s THEN ST_Y(c.geom) ELSE round(ST_Y(c.geom)::numeric, 4) END,
  'long', CASE WHEN %(partner)s THEN ST_X(c.geom) ELSE round(ST_X(c.geom)::numeric, 4) END,
  'media_url', CASE WHEN %(partner)s THEN o.media_url END)"""

_REQUESTS = sql.SQL("""
SELECT {request} FROM cases c
JOIN case_categories cc ON cc.code = c.category
LEFT JOIN departments d ON d.id = c.department_id
LEFT JOIN open311_requests o ON o.case_id = c.id
WHERE (%(ids)s::text[] IS NULL OR c.public_id = ANY(%(ids)s))
  AND (%(ids)s::text[] IS NOT NULL OR c.reported_at >= %(start)s AND c.reported_at < %(end)s)
  AND (%(codes)s::text[] IS NULL OR c.category = ANY(%(codes)s))
  AND (%(status)s::text IS NULL OR (c.status IN ('closed', 'rejected', 'duplicate'))
       = (%(status)s = 'closed'))
ORDER BY c.reported_at DESC, c.id DESC LIMIT %(limit)s
""").format(request=sql.SQL(_REQUEST))


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
    partner: bool,
) -> Query[list[dict[str, Any]]]:
    params = {"ids": ids, "codes": codes, "status": status, "start": start, "end": end,
              "limit": limit, "partner": partner}  # fmt: skip
    return Query(_REQUESTS, params, lambda rows: [r[0] for r in rows])
