"""Reads of citizen reports: mine (keyset pages), one of mine with its timeline, open cases of
a category nearby (the public record only), a photo's metadata (within a scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql

from geo.enums import INTERNAL_CASE_EVENTS
from geo.params import LonLat, Radius
from geo.queries import Query, Rows

_REPORT = """json_build_object(
  'id', c.public_id, 'category', c.category, 'status', c.status, 'description', c.description,
  'address', c.address, 'lon', round(ST_X(c.geom)::numeric, 7), 'lat',
  round(ST_Y(c.geom)::numeric, 7), 'reported_at', c.reported_at, 'updated_at', c.updated_at,
  'resolved_at', c.resolved_at, 'closed_at', c.closed_at,
  'department', (SELECT json_build_object('code', d.code, 'name_zh', d.name_zh,
                 'name_en', d.name_en) FROM departments d WHERE d.id = c.department_id),
  'linked_case', (SELECT t.public_id FROM report_links l JOIN cases t ON t.id = l.linked_case_id
                  WHERE l.case_id = c.id),
  'photos', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'content_type',
             p.content_type, 'width', p.width, 'height', p.height) ORDER BY p.id), '[]')
             FROM report_photos p WHERE p.case_id = c.id),
  'rating', (SELECT json_build_object('score', r.score, 'comment', r.comment)
             FROM ratings r WHERE r.object_type = 'case' AND r.object_id = c.id))"""

_MINE = sql.SQL(
    "SELECT {report}, c.reported_at, c.id FROM cases c WHERE c.reporter_id = %(user)s "
    "AND (%(at)s::timestamptz IS NULL OR (c.reported_at, c.id) < (%(at)s, %(id)s)) "
    "ORDER BY c.reported_at DESC, c.id DESC LIMIT %(limit)s"
).format(report=sql.SQL(_REPORT))
#: The notes between staff a reporter's timeline leaves out (comments, returns, tasks).
_INTERNAL = sorted(e.value for e in INTERNAL_CASE_EVENTS)
_ONE = sql.SQL(
    "SELECT {report}, (SELECT coalesce(json_agg(json_build_object('event', e.event_type, "
    "'from_status', e.from_status, 'to_status', e.to_status, 'at', e.at) ORDER BY e.at, e.id), "
    "'[]') FROM case_events e WHERE e.case_id = c.id AND e.event_type <> ALL(%(internal)s)) "
    "FROM cases c WHERE c.public_id = %(id)s AND c.reporter_id = %(user)s"
).format(report=sql.SQL(_REPORT))
# Open cases of the category near the point, nearest first (FixMyStreet's duplicate check).
# Anyone may ask, so it reads the public record (``cases_public``) and nothing more exact: its
# position and hour as they are, distances from that position; no sensitive categories.
_NEARBY = sql.SQL("""
SELECT json_build_object('id', v.public_id, 'category', v.category, 'status', v.status,
  'reported_at', v.reported_at, 'distance_m', round(ST_Distance(v.geom::geography, p.g)::numeric),
  'lon', ST_X(v.geom), 'lat', ST_Y(v.geom))
FROM cases_public v, (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g) p
WHERE v.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(dx)s, %(dy)s)
  AND ST_DWithin(v.geom::geography, p.g, %(r)s) AND v.category = %(category)s
  AND v.status IN ('reported', 'dispatched', 'in_progress', 'resolved')
ORDER BY ST_Distance(v.geom::geography, p.g), v.id LIMIT %(limit)s
""")
# ``scope`` is a geo.access predicate on cases alias c: who may see which photo is decided here.
_PHOTO = (
    "SELECT p.sha256, p.content_type, c.reporter_id, c.id FROM report_photos p "
    "JOIN cases c ON c.id = p.case_id WHERE c.public_id = %(case)s AND p.id = %(photo)s "
    "AND ({scope})"
)


def _page(rows: Rows) -> list[tuple[dict[str, Any], datetime, int]]:
    return [(r[0], r[1], r[2]) for r in rows]


def my_reports(
    user_id: int, after: tuple[datetime, int] | None, limit: int
) -> Query[list[tuple[dict[str, Any], datetime, int]]]:
    at, id_ = after if after else (None, None)
    return Query(_MINE, {"user": user_id, "at": at, "id": id_, "limit": limit}, _page)


def _one(rows: Rows) -> dict[str, Any] | None:
    if not rows:
        return None
    report: dict[str, Any] = rows[0][0]
    report["timeline"] = rows[0][1]
    return report


def my_report(user_id: int, public_id: str) -> Query[dict[str, Any] | None]:
    return Query(_ONE, {"user": user_id, "id": public_id, "internal": _INTERNAL}, _one)


def nearby_open(
    point: LonLat, category: str, radius: Radius, limit: int = 5
) -> Query[list[dict[str, Any]]]:
    dx, dy = radius.degree_margins(point.lat)
    params = {"lon": point.lon, "lat": point.lat, "dx": dx, "dy": dy, "r": radius.metres,
              "category": category, "limit": limit}  # fmt: skip
    return Query(_NEARBY, params, lambda rows: [r[0] for r in rows])


def photo(
    case_public_id: str, photo_id: int, scope: str
) -> Query[tuple[str, str, int | None, int] | None]:
    """A photo's file and case, if ``scope`` (SQL on cases alias ``c``) holds its case."""
    return Query(
        sql.SQL(_PHOTO).format(scope=sql.SQL(scope)),
        {"case": case_public_id, "photo": photo_id},
        lambda rows: (rows[0][0], rows[0][1], rows[0][2], rows[0][3]) if rows else None,
    )
