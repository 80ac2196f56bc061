"""Enumerations of emergency plans (预案) and the incidents activated from them (issue 16).

The database enforces each with a CHECK constraint (migration 0024).
"""

from __future__ import annotations

from enum import StrEnum


class HazardType(StrEnum):
    """What a plan is for (the national plan system's event classes, the common ones)."""

    FLOOD = "flood"  # 防汛: rainstorm, waterlogging, river floods
    FIRE = "fire"  # 火灾
    HAZARDOUS_CHEMICALS = "hazardous_chemicals"  # 危险化学品: leaks, explosions
    EARTHQUAKE = "earthquake"  # 地震
    PUBLIC_HEALTH = "public_health"  # 突发公共卫生事件
    GEOLOGICAL = "geological"  # 地质灾害: landslides, subsidence
    TYPHOON = "typhoon"  # 台风
    SNOW_ICE = "snow_ice"  # 雨雪冰冻
    TRAFFIC = "traffic"  # 道路交通事故
    POWER_OUTAGE = "power_outage"  # 大面积停电
    GAS = "gas"  # 燃气事故
    OTHER = "other"


class ResponseLevel(StrEnum):
    """Response levels: I (特别重大, the gravest) down to IV (一般)."""

    I = "I"  # noqa: E741  (the level's own name)
    II = "II"
    III = "III"
    IV = "IV"


#: Levels from the mildest to the gravest: a change up this list is an escalation.
LEVEL_ORDER = (ResponseLevel.IV, ResponseLevel.III, ResponseLevel.II, ResponseLevel.I)

#: How far an incident at a point reaches by default, by level (metres): the context (affected
#: units, hazard sources, cameras, cells, cases, alarms) is gathered within it. An area
#: incident's context is what lies in the area unless a reach is given.
LEVEL_REACH_M = {
    ResponseLevel.I: 3000.0,
    ResponseLevel.II: 2000.0,
    ResponseLevel.III: 1000.0,
    ResponseLevel.IV: 500.0,
}


class IncidentStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class IncidentTaskStatus(StrEnum):
    """A department's task from a measure of the plan: pending → accepted → done, or refused."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DONE = "done"
    REFUSED = "refused"  # with the reason


#: Task status changes a department (or the commander) may make.
TASK_STEPS: dict[IncidentTaskStatus, frozenset[IncidentTaskStatus]] = {
    IncidentTaskStatus.PENDING: frozenset(
        {IncidentTaskStatus.ACCEPTED, IncidentTaskStatus.REFUSED}
    ),
    IncidentTaskStatus.ACCEPTED: frozenset({IncidentTaskStatus.DONE, IncidentTaskStatus.REFUSED}),
    IncidentTaskStatus.DONE: frozenset(),
    IncidentTaskStatus.REFUSED: frozenset(),
}


class IncidentEventType(StrEnum):
    """One step of an incident's timeline (``incident_events``, append-only)."""

    ACTIVATED = "activated"  # the plan activated at a place and level; the context stored
    TASK_ASSIGNED = "task_assigned"  # a task for a department from a measure
    TASK_ACCEPTED = "task_accepted"
    TASK_DONE = "task_done"
    TASK_REFUSED = "task_refused"  # with the reason
    LEVEL_CHANGED = "level_changed"  # from → to, with the reason
    CLOSED = "closed"  # with the summary
    PLOT_ADDED = "plot_added"  # 指挥标绘: a seat drew a symbol (its geometry and version 1)
    PLOT_UPDATED = "plot_updated"  # moved, relabelled or restyled (the new geometry, version)
    PLOT_REMOVED = "plot_removed"  # soft-deleted: kept for the replay
