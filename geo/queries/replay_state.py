"""An incident as it stood at a moment (for scrubbing through the replay), computed from its
timeline alone: each plot's last event up to then (its geometry, symbol, label, style and
version then; gone if that event removed it), each task's last event (its status then) and
the level then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.queries import Query

_TASK_STATUS = {"task_assigned": "pending", "task_accepted": "accepted", "task_done": "done",
                "task_refused": "refused"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlotThen:
    plot_id: int
    geometry: str  # GeoJSON
    symbol: str
    label: str
    style: dict[str, Any]
    version: int
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class TaskThen:
    task_id: int
    level: str
    text_zh: str
    text_en: str
    department_id: int
    status: str  # pending, accepted, done, refused
    note: str | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class StateAt:
    at: datetime
    level: str | None  # None: not yet activated then
    closed: bool
    plots: list[PlotThen]
    tasks: list[TaskThen]


_STATEMENT = """
SELECT 'plot', e.plot_id, e.event_type, ST_AsGeoJSON(e.geom, 7), e.detail, e.at, NULL, NULL,
  NULL, NULL, NULL
FROM (SELECT DISTINCT ON (plot_id) * FROM incident_events
      WHERE incident_id = %(id)s AND plot_id IS NOT NULL AND at <= %(at)s
      ORDER BY plot_id, at DESC, id DESC) e
UNION ALL
SELECT 'task', e.task_id, e.event_type, NULL, NULL, e.at, k.level, k.text_zh, k.text_en,
  k.department_id, e.note
FROM (SELECT DISTINCT ON (task_id) * FROM incident_events
      WHERE incident_id = %(id)s AND task_id IS NOT NULL AND at <= %(at)s
      ORDER BY task_id, at DESC, id DESC) e JOIN incident_tasks k ON k.id = e.task_id
UNION ALL
SELECT 'level', NULL, e.event_type, NULL, NULL, e.at, e.level, NULL, NULL, NULL, NULL
FROM (SELECT * FROM incident_events WHERE incident_id = %(id)s AND at <= %(at)s
      AND event_type IN ('activated', 'level_changed', 'closed')
      ORDER BY at DESC, id DESC LIMIT 1) e
ORDER BY 1, 2
"""


def _decode(at: datetime) -> Any:
    def decode(rows: Any) -> StateAt:
        level, closed, plots, tasks = None, False, [], []
        for kind, ref, event, geometry, detail, when, lv, zh, en, dept, note in rows:
            if kind == "plot" and event != "plot_removed":
                plots.append(PlotThen(int(ref), geometry, detail["symbol"], detail["label"],
                                      detail["style"], int(detail["version"]), when))  # fmt: skip
            elif kind == "task":
                tasks.append(TaskThen(int(ref), lv, zh, en, int(dept), _TASK_STATUS[event], note,
                                      when))  # fmt: skip
            elif kind == "level":
                level, closed = lv, event == "closed"
        return StateAt(at, level, closed, plots, tasks)

    return decode


def state_at(incident_id: int, at: datetime) -> Query[StateAt]:
    """The incident's plots, tasks and level as they stood at ``at``."""
    return Query(sql.SQL(_STATEMENT), {"id": incident_id, "at": at}, _decode(at))
