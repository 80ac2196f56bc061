"""An incident's replay (复盘, issue 16 item 6): one ordered timeline of everything about it.

One statement, five sources, each row (time, source, kind, actor role, geometry, facts):

- ``incident``: its own events (activation, tasks, level changes, plots, the close);
- ``warning``: CAP messages tied to it (``warnings.incident_id``): issued, updated, cancelled;
- ``video``: viewing sessions of the cameras of its stored context while it ran (the audit
  trail's ``camera.view.start`` / ``camera.view.end``), among the cameras the reader may see
  so (geo.access.replay_camera_scope);
- ``case``: events of cases within its reach while it ran (geo.access.replay_case_scope: the
  public record's cases at their public place for readers without case rights);
- ``sensor``: sensor alarms raised or cleared within its reach while it ran
  (geo.access.sensor_scope).

"Within its reach": within ``reach_m`` metres (on the spheroid) of its place, inside it for an
area. "While it ran": from its start to its close (or now). ``since``/``until`` narrow all of
it. Texts for people are made by geo.replay_text; no citizen's name or phone is selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo import access
from geo.access import Principal
from geo.queries import Query
from geo.replay_text import summary

#: Sources in the order they sort at the same instant.
SOURCES = ("incident", "warning", "video", "case", "sensor")


@dataclass(frozen=True, slots=True)
class ReplayRow:
    at: datetime
    source: str
    kind: str
    actor_role: str | None
    geometry: str | None  # GeoJSON
    facts: dict[str, Any]
    ref: int  # the row's id in its source


@dataclass(frozen=True, slots=True)
class ReplayEntry:
    at: datetime
    source: str
    kind: str
    actor_role: str | None
    summary_zh: str
    summary_en: str
    geometry: str | None  # GeoJSON
    ref: int


_STATEMENT = """
WITH i AS (
  SELECT id, geom, reach_m, started_at, coalesce(closed_at, now()) AS ended_at, context,
    ST_Expand(geom, reach_m / (111320.0 * cos(radians(ST_Y(ST_PointOnSurface(geom))))) + 1e-6,
              reach_m / 110540.0 + 1e-6) AS box
  FROM incidents WHERE id = %(id)s),
w AS (
  SELECT greatest(i.started_at, coalesce(%(since)s, '-infinity'::timestamptz)) AS lo,
         least(i.ended_at, coalesce(%(until)s, 'infinity'::timestamptz)) AS hi FROM i),
f AS (
  SELECT coalesce(%(since)s, '-infinity'::timestamptz) AS lo,
         coalesce(%(until)s, 'infinity'::timestamptz) AS hi),
cams AS (
  SELECT DISTINCT (c->>'id') AS id FROM i, jsonb_array_elements(i.context->'cameras') c),
rows AS (
  SELECT e.at, 'incident' AS source, e.event_type AS kind, e.actor_role,
    ST_AsGeoJSON(CASE WHEN e.event_type = 'activated' THEN (SELECT geom FROM i)
                 ELSE e.geom END, 7) AS geometry,
    jsonb_build_object('level', e.level, 'from_level', e.from_level, 'note', e.note,
      'task', e.task_id, 'task_zh', k.text_zh, 'task_en', k.text_en, 'plot', e.plot_id)
      || coalesce(e.detail, '{{}}'::jsonb) AS facts, e.id AS ref
  FROM incident_events e LEFT JOIN incident_tasks k ON k.id = e.task_id, f
  WHERE e.incident_id = %(id)s AND e.at BETWEEN f.lo AND f.hi
  UNION ALL
  SELECT x.sent, 'warning', CASE x.msg_type WHEN 'Alert' THEN 'warning_issued'
      WHEN 'Update' THEN 'warning_updated' ELSE 'warning_cancelled' END,
    (SELECT a.actor_role FROM audit_log a WHERE a.object_type = 'warning'
       AND a.object_id = x.id::text ORDER BY a.id LIMIT 1),
    ST_AsGeoJSON(x.geom, 7),
    jsonb_build_object('identifier', x.identifier, 'status', x.status,
      'severity', x.severity, 'urgency', x.urgency, 'area', x.area_desc,
      'headline_zh', x.texts->'zh-CN'->>'headline', 'headline_en', x.texts->'en-US'->>'headline'),
    x.id
  FROM warnings x, f WHERE x.incident_id = %(id)s AND x.sent BETWEEN f.lo AND f.hi
  UNION ALL
  SELECT a.at, 'video', CASE a.action WHEN 'camera.view.start' THEN 'video_view_started'
      ELSE 'video_view_ended' END, a.actor_role, ST_AsGeoJSON(c.geom, 7),
    jsonb_build_object('camera', c.id, 'code', c.code, 'name', c.name,
      'seconds', a.detail->'seconds'), a.id
  FROM audit_log a JOIN cameras c ON c.id::text = a.object_id, w
  WHERE a.object_type = 'camera' AND a.object_id IN (SELECT id FROM cams)
    AND a.action IN ('camera.view.start', 'camera.view.end') AND a.at BETWEEN w.lo AND w.hi
    AND ({cameras})
  UNION ALL
  SELECT e.at, 'case', 'case_' || e.event_type,
    (SELECT u.roles[1] FROM users u WHERE u.id = e.actor_id), ST_AsGeoJSON(t.{case_geom}, 7),
    jsonb_build_object('case', t.public_id, 'category', t.category,
      'from_status', e.from_status, 'to_status', e.to_status), e.id
  FROM cases t JOIN case_events e ON e.case_id = t.id, i, w
  WHERE t.geom && i.box AND ST_DWithin(t.geom::geography, i.geom::geography, i.reach_m)
    AND e.at BETWEEN w.lo AND w.hi AND ({cases})
  UNION ALL
  SELECT s.at, 'sensor', s.kind, NULL, ST_AsGeoJSON(t.geom, 7),
    jsonb_build_object('thing', t.name, 'rule', r.name, 'level', a.peak_level,
      'value', a.peak_value), a.id
  FROM sensor_alarms a JOIN sta_things t ON t.id = a.thing_id
    JOIN sensor_rules r ON r.id = a.rule_id,
    LATERAL (VALUES (a.raised_at, 'alarm_raised'), (a.cleared_at, 'alarm_cleared'))
      AS s(at, kind), i, w
  WHERE s.at IS NOT NULL AND t.geom && i.box
    AND ST_DWithin(t.geom::geography, i.geom::geography, i.reach_m)
    AND s.at BETWEEN w.lo AND w.hi AND ({sensors}))
SELECT at, source, kind, actor_role, geometry, facts, ref FROM rows
ORDER BY at, array_position(%(sources)s::text[], source), ref
"""


def replay(
    incident_id: int, *, since: datetime | None, until: datetime | None, cameras: str,
    cases: str, cases_full: bool, sensors: str,
) -> Query[list[ReplayRow]]:  # fmt: skip
    """The incident's replay, oldest first. ``cameras``, ``cases`` and ``sensors`` are
    geo.access predicates (SQL text built from integers) on aliases c, t and t."""
    statement = sql.SQL(_STATEMENT).format(
        cameras=sql.SQL(cameras), cases=sql.SQL(cases), sensors=sql.SQL(sensors),
        case_geom=sql.Identifier("geom" if cases_full else "public_geom"),
    )  # fmt: skip
    params = {"id": incident_id, "since": since, "until": until, "sources": list(SOURCES)}
    return Query(statement, params, lambda rows: [ReplayRow(*r) for r in rows])


def _entries(rows: Any) -> list[ReplayEntry]:
    out = []
    for r in (ReplayRow(*row) for row in rows):
        zh, en = summary(r.source, r.kind, r.facts)
        out.append(ReplayEntry(r.at, r.source, r.kind, r.actor_role, zh, en, r.geometry, r.ref))
    return out


def for_reader(
    principal: Principal, incident_id: int, *, since: datetime | None = None,
    until: datetime | None = None,
) -> Query[list[ReplayEntry]]:  # fmt: skip
    """The replay as ``principal`` may read it (geo.access decides each source), with its
    texts. The caller checks that the principal reads incidents at all."""
    cases, full = access.replay_case_scope(principal, "t")
    raw = replay(
        incident_id,
        since=since,
        until=until,
        cameras=access.replay_camera_scope(principal, "c"),
        cases=cases,
        cases_full=full,
        sensors=access.sensor_scope(principal, "Things", "t"),
    )
    return Query(raw.statement, raw.params, _entries)
