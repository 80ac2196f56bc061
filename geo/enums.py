"""Enumerations of the one map. The database enforces each with a CHECK constraint."""

from __future__ import annotations

from enum import StrEnum


class AdminLevel(StrEnum):
    DISTRICT = "district"  # 区
    STREET = "street"  # 街道
    COMMUNITY = "community"  # 社区


class HealthRisk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FacilityCategory(StrEnum):
    HOSPITAL = "hospital"
    CLINIC = "clinic"
    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"
    FIRE_STATION = "fire_station"
    POLICE_STATION = "police_station"
    SHELTER = "shelter"
    HAZARD_SOURCE = "hazard_source"
    WATERLOGGING_POINT = "waterlogging_point"
    PARK = "park"
    VENUE = "venue"
    PHARMACY = "pharmacy"
    COMMUNITY_CENTER = "community_center"
    ELDERLY_CARE = "elderly_care"
    METRO_STATION = "metro_station"
    TEST_SITE = "test_site"


#: Facility categories that are internal data (never served to anonymous callers).
INTERNAL_FACILITY_CATEGORIES = frozenset({FacilityCategory.HAZARD_SOURCE})


class CameraStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class CaseStatus(StrEnum):
    REPORTED = "reported"  # 发现/上报
    DISPATCHED = "dispatched"  # 派遣
    IN_PROGRESS = "in_progress"  # 处置
    RESOLVED = "resolved"  # 处置完毕, awaiting the dispatcher's check (核查)
    CLOSED = "closed"  # 结案
    REJECTED = "rejected"  # 不予受理
    DUPLICATE = "duplicate"


OPEN_CASE_STATUSES = frozenset(
    {CaseStatus.REPORTED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED}
)


class CasePriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CaseSource(StrEnum):
    CITIZEN_REPORT = "citizen_report"
    GRID_WORKER = "grid_worker"
    CAMERA = "camera"
    HOTLINE = "hotline"
    SENSOR = "sensor"


class CaseEventType(StrEnum):
    REPORTED = "reported"
    DISPATCHED = "dispatched"
    STARTED = "started"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"
    MARKED_DUPLICATE = "marked_duplicate"
    COMMENTED = "commented"
    SUSPENDED = "suspended"  # 挂起: the stage's clock stops
    RESUMED = "resumed"  # the clock runs again
    EXTENDED = "extended"  # 延期: the stage's limit grows by extended_minutes
    SUSPENSION_REQUESTED = "suspension_requested"  # the handler asks; a dispatcher decides
    EXTENSION_REQUESTED = "extension_requested"  # with the extended_minutes asked for
    REQUEST_REFUSED = "request_refused"  # the pending request is refused, with the reason
    # Supervision (督办, geo.services.supervision; migration 0015)
    SUPERVISED = "supervised"  # a supervisor's 督办, with its own deadline (supervision_id)
    SUPERVISION_ANSWERED = "supervision_answered"  # the handler's answer to it
    SUPERVISION_MISSED = "supervision_missed"  # its deadline passed unanswered (the sweep)
    ESCALATED = "escalated"  # overdue long enough: up to the next level (escalation_level)
    # Collaboration (geo.services.collaboration): 转办, 退单, 主办/协办, 吹哨报到.
    TRANSFERRED = "transferred"  # 转办: to another department (from_department_id → department_id)
    RETURN_REQUESTED = "return_requested"  # 退单: the handling department returns it, with why
    RETURN_ACCEPTED = "return_accepted"  # the dispatcher takes it back: reported again
    RETURN_REFUSED = "return_refused"  # the department keeps it, with the reason
    WHISTLE_BLOWN = "whistle_blown"  # 吹哨: a street calls departments to a joint task
    TASK_ASSIGNED = "task_assigned"  # a co-handling (协办) or joint (报到) task for a department
    TASK_STARTED = "task_started"  # the co-handling department starts its part
    TASK_REPORTED = "task_reported"  # 报到: a called department reports for the joint task
    TASK_DONE = "task_done"  # the department's part is done, with a note
    TASK_DECLINED = "task_declined"  # the department declines its task, with the reason
    # Hotline intake, on-site check and callback (geo.services.hotline, checks, callbacks)
    CALL_ATTACHED = "call_attached"  # 市民热线: another call about the case, its caller kept
    CHECKED = "checked"  # 核查通过: the on-site check passed (photos, position)
    CHECK_FAILED = "check_failed"  # 核查不通过: back to the handler (resolved → in_progress)
    CALLBACK_RECORDED = "callback_recorded"  # 回访: the caller's satisfaction
    CALLBACK_UNREACHABLE = "callback_unreachable"  # 回访: the caller could not be reached


#: Timeline events between staff only: a case's reporter never sees them (their own timeline
#: shows the steps that move the case, not the notes and requests between departments).
INTERNAL_CASE_EVENTS = frozenset(
    {CaseEventType.COMMENTED, CaseEventType.RETURN_REQUESTED, CaseEventType.RETURN_REFUSED,
     CaseEventType.TASK_ASSIGNED, CaseEventType.TASK_STARTED, CaseEventType.TASK_REPORTED,
     CaseEventType.TASK_DONE, CaseEventType.TASK_DECLINED}
)  # fmt: skip


class TaskKind(StrEnum):
    """A department's part in a case it does not lead (``case_tasks``)."""

    CO_HANDLE = "co_handle"  # 协办: named by a dispatcher to help the lead (主办) department
    JOINT = "joint"  # 吹哨报到: called by a street to a joint task, reports and does its part


class TaskStatus(StrEnum):
    OPEN = "open"  # assigned, not yet taken up
    IN_PROGRESS = "in_progress"  # started (协办) or reported for (报到)
    DONE = "done"
    DECLINED = "declined"


OPEN_TASK_STATUSES = frozenset({TaskStatus.OPEN, TaskStatus.IN_PROGRESS})


class Stage(StrEnum):
    """The parts of the workflow a time limit applies to (geo.services.clocks)."""

    DISPATCH = "dispatch"  # 受理/派遣: reported, the dispatcher's
    HANDLE = "handle"  # 处置: dispatched or in progress, the department's
    CHECK = "check"  # 核查/结案: resolved, waiting for the check and close


class LimitUnit(StrEnum):
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


class ClockState(StrEnum):
    ON_TIME = "on_time"
    WARNING = "warning"  # past the warning share of the stage's limit
    OVERDUE = "overdue"


class EscalationLevel(StrEnum):
    """Who an overdue case is escalated to (the sweep, geo.services.supervision)."""

    DISTRICT = "district"  # the district's supervisors and dispatchers
    CITY = "city"  # the city's supervisors


class SupervisionStatus(StrEnum):
    OPEN = "open"  # waiting for the handler's answer
    ANSWERED = "answered"  # answered by its deadline (met)
    MISSED = "missed"  # its deadline passed unanswered (a late answer is kept, still missed)


class NotificationKind(StrEnum):
    """What a staff notification tells (staff_notifications.kind)."""

    WARNING = "warning"  # a clock passed its warning share
    OVERDUE = "overdue"  # a clock passed its limit
    SUPERVISED = "supervised"  # a supervision (督办) of a case or of the department
    ESCALATED = "escalated"  # an overdue case came up to the recipient's level
    CLOCK_REQUEST = "clock_request"  # a suspension or extension request waits for a decision
    SUPERVISION_ANSWERED = "supervision_answered"  # to the supervisor
    SUPERVISION_MISSED = "supervision_missed"  # to the supervisor and the handler


class Audience(StrEnum):
    """Whom a staff notification is for; geo.access.notification_scope decides who that is."""

    USER = "user"  # one account (user_id)
    DEPARTMENT = "department"  # the department's staff (department_id)
    DISPATCHERS = "dispatchers"  # dispatchers whose jurisdiction holds the case
    DISTRICT = "district"  # district supervisors and dispatchers whose district holds the case
    CITY = "city"  # city-wide supervisors


class Role(StrEnum):
    CITIZEN = "citizen"
    GRID_WORKER = "grid_worker"
    DISPATCHER = "dispatcher"
    DEPARTMENT_STAFF = "department_staff"
    VERIFIER = "verifier"
    HEALTH_OFFICER = "health_officer"
    CAMERA_VIEWER = "camera_viewer"
    ANALYST = "analyst"
    ADMIN = "admin"
    AUDITOR = "auditor"  # reads the audit trail (docs/audit.md)
    SUPERVISOR = "supervisor"  # 督查: watches time limits, supervises (督办) cases
    HOTLINE_OPERATOR = "hotline_operator"  # 市民热线 call-taker: intake and callbacks (回访)
    PLAN_MANAGER = "plan_manager"  # 预案管理: writes and revises the emergency plans
    WARNING_OFFICER = "warning_officer"  # 预警发布: issues, updates and cancels CAP warnings


STAFF_ROLES = frozenset(set(Role) - {Role.CITIZEN})


class Satisfaction(StrEnum):
    """A caller's answer at the callback (回访)."""

    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    NOT_SATISFIED = "not_satisfied"  # 不满意: the case reopens


class CallbackStatus(StrEnum):
    PENDING = "pending"  # due: the case closed, the caller not yet called back
    DONE = "done"  # the caller answered (satisfaction recorded)
    UNREACHABLE = "unreachable"  # not reached after the allowed attempts
    CANCELLED = "cancelled"  # the case reopened before this caller was called back


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class SensorRuleKind(StrEnum):
    THRESHOLD = (
        "threshold"  # the reading itself (less a per-device reference, if the rule names one)
    )
    RATE = "rate"  # its change per minute since the previous reading


class SensorLevel(StrEnum):
    """What a rule makes of a Datastream's readings (geo.services.sensor_alarms)."""

    NORMAL = "normal"
    WARNING = "warning"  # recorded and shown; no case
    ALARM = "alarm"  # one case, routed like any other


class SensorState(StrEnum):
    """A Datastream's state on the map: its rules' highest level, or offline."""

    NORMAL = "normal"
    WARNING = "warning"
    ALARM = "alarm"
    OFFLINE = "offline"  # missed its expected readings (the sweep); back on its next one


def sql_in(enum: type[StrEnum]) -> str:
    """The ``IN (…)`` list of a CHECK constraint for an enumeration (values are our constants)."""
    return "(" + ", ".join(f"'{member.value}'" for member in enum) + ")"
