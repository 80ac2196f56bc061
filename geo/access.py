"""The one access policy: every access decision of every surface is taken here.

- **Capabilities** name what a principal may do (read a layer class, watch video, dispatch …).
- **ROLE_CAPABILITIES** is the only role → capability table; no role name or role set exists
  outside this module (a test greps for it).
- A staff account's **jurisdiction** (the whole city, districts, streets, communities, grid
  cells, or a department) narrows every read of jurisdiction-bound data (full cases, cameras,
  report photos) and every action on a case. It is stored with the user, carried in the access
  token and applied **in SQL** by the query builders (:func:`case_scope`, :func:`cell_scope`),
  never by filtering rows in Python.
- **Data classes** decide what each layer view exposes: public (areas, grid, public facilities,
  the generalised case record), internal (hazard sources, camera positions, full cases),
  restricted (live video, personal data, health status).

``docs/access.md`` shows the same tables; a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

from geo import catalogue
from geo.enums import INTERNAL_FACILITY_CATEGORIES, FacilityCategory, Role
from geo.errors import Forbidden, InvalidInput, Unauthorized
from geo.layers import BUILDINGS, CAMERAS, CASES, FACILITIES, PUBLIC_VIEWS, SENSORS, LayerView


class Capability(StrEnum):
    READ_PUBLIC = "read_public"  # areas, grid, public facilities, generalised cases, stats
    REPORT = "report"  # citizen: report cases, apply for services, own health code
    READ_INTERNAL = "read_internal"  # hazard sources and facility attributes (no personal data)
    READ_CAMERAS = "read_cameras"  # camera positions and status (jurisdiction-bound)
    WATCH_VIDEO = "watch_video"  # live video (restricted, audited)
    READ_CASES = "read_cases"  # full cases: description, address, timeline (jurisdiction-bound)
    READ_PERSONAL = "read_personal"  # who reported a case (restricted)
    READ_PHOTOS = "read_photos"  # citizens' report photos (jurisdiction-bound, audited)
    CREATE_CASES = "create_cases"  # staff-created cases (grid patrol, hotline)
    DISPATCH = "dispatch"  # dispatch, close, reject, duplicate, reopen; transfer, call departments
    HANDLE = "handle"  # start, resolve, return a case of the principal's unit; ask for time; tasks
    PAUSE_CLOCKS = "pause_clocks"  # suspend (挂起), resume, extend (延期) a clock; decide requests
    COMMENT = "comment"  # notes on a case's timeline
    SUPERVISE = "supervise"  # 督办 a case or a department's overdue cases (jurisdiction-bound)
    EVALUATE = "evaluate"  # evaluation figures (考核) of the jurisdiction, the cases behind them
    CALLBACK = "callback"  # 回访: call hotline callers back after the close, record satisfaction
    CHECK_ON_SITE = "check_on_site"  # 核查: check a resolved case on site (photos, position)
    HANDLE_APPLICATIONS = "handle_applications"  # 一网通办 applications of the department
    VERIFY_HEALTH_CODES = "verify_health_codes"  # online verification (audited)
    READ_HEALTH = "read_health"  # citizens' health data (restricted, audited)
    MANAGE_HEALTH = "manage_health"  # test results, risk areas, rule versions, appeals
    EDIT_FEATURES = "edit_features"  # create, replace, delete facilities and cameras
    READ_AUDIT = "read_audit"  # the audit trail: GET /api/v1/audit, its CSV export (audited)
    MANAGE_USERS = "manage_users"
    READ_SENSORS = "read_sensors"  # SensorThings: critical devices, their positions and readings
    MANAGE_SENSORS = "manage_sensors"  # SensorThings: create, update, delete any entity
    INGEST_OBSERVATIONS = "ingest_observations"  # SensorThings: post Observations (dataArray)
    READ_PLANS = "read_plans"  # emergency plans (预案) and incidents: context, tasks, timeline
    MANAGE_PLANS = "manage_plans"  # write and revise plans (a revision is a new version)
    # activate a plan, change the level, close; any task; shared plotting (指挥标绘)
    COMMAND_INCIDENTS = "command_incidents"
    ISSUE_WARNINGS = "issue_warnings"  # 预警发布: issue, update, cancel CAP warnings to citizens
    MANAGE_ROADS = "manage_roads"  # 路况: close and reopen roads, set their congestion
    # 实有人口: the persons of the houses of the jurisdiction (restricted, audited)
    READ_POPULATION = "read_population"
    # population counts per grid cell and per building (no person)
    READ_POPULATION_STATS = "read_population_stats"
    # departments' API keys for machine clients: create, grant datasets, revoke, usage report
    MANAGE_API_KEYS = "manage_api_keys"
    # catalogue layers of data class restricted (every read audited; docs/catalogue.md)
    READ_RESTRICTED_LAYERS = "read_restricted_layers"
    # register, change and unregister department layers in the catalogue
    MANAGE_CATALOGUE = "manage_catalogue"


C = Capability
_STAFF_BASE = frozenset({C.READ_PUBLIC})

#: The role → capability table (the only one).
ROLE_CAPABILITIES: Mapping[Role, frozenset[Capability]] = {
    Role.CITIZEN: frozenset({C.READ_PUBLIC, C.REPORT}),
    Role.GRID_WORKER: _STAFF_BASE
    | {C.READ_INTERNAL, C.READ_CASES, C.READ_PHOTOS, C.CREATE_CASES, C.COMMENT,
       C.CHECK_ON_SITE, C.READ_SENSORS, C.READ_POPULATION, C.READ_POPULATION_STATS},
    Role.DISPATCHER: _STAFF_BASE
    | {C.READ_INTERNAL, C.READ_CAMERAS, C.WATCH_VIDEO, C.READ_CASES,
       C.READ_PERSONAL, C.READ_PHOTOS, C.CREATE_CASES, C.DISPATCH, C.HANDLE, C.COMMENT,
       C.PAUSE_CLOCKS, C.EVALUATE, C.READ_SENSORS, C.READ_PLANS, C.COMMAND_INCIDENTS,
       C.MANAGE_ROADS},
    Role.DEPARTMENT_STAFF: _STAFF_BASE
    | {C.READ_INTERNAL, C.READ_CASES, C.READ_PHOTOS, C.HANDLE, C.COMMENT,
       C.HANDLE_APPLICATIONS, C.EVALUATE, C.READ_SENSORS, C.READ_PLANS},
    Role.VERIFIER: _STAFF_BASE | {C.VERIFY_HEALTH_CODES},
    Role.HEALTH_OFFICER: _STAFF_BASE | {C.VERIFY_HEALTH_CODES, C.READ_HEALTH, C.MANAGE_HEALTH},
    Role.CAMERA_VIEWER: _STAFF_BASE | {C.READ_CAMERAS, C.WATCH_VIDEO},
    Role.ANALYST: _STAFF_BASE
    | {C.READ_INTERNAL, C.EVALUATE, C.READ_SENSORS, C.READ_PLANS, C.READ_POPULATION_STATS},
    Role.AUDITOR: _STAFF_BASE | {C.READ_AUDIT},
    Role.SUPERVISOR: _STAFF_BASE
    | {C.READ_INTERNAL, C.READ_CASES, C.READ_PHOTOS, C.COMMENT, C.SUPERVISE, C.EVALUATE,
       C.CHECK_ON_SITE, C.READ_SENSORS, C.READ_PLANS},
    # 市民热线: the city's call centre — takes calls into cases, reads them to answer callers,
    # keeps and reads the callers' contact, calls them back after the close.
    Role.HOTLINE_OPERATOR: _STAFF_BASE
    | {C.READ_CASES, C.READ_PERSONAL, C.CREATE_CASES, C.COMMENT, C.CALLBACK},
    # 预案管理: writes and revises the plans; activating one is the commanders' (dispatchers').
    Role.PLAN_MANAGER: _STAFF_BASE | {C.READ_INTERNAL, C.READ_PLANS, C.MANAGE_PLANS},
    # 预警发布: the city's warning desk issues CAP alerts to citizens in an area (docs/warnings.md);
    # it reads the incidents (READ_PLANS) to warn for them from the incident panel.
    Role.WARNING_OFFICER: _STAFF_BASE | {C.READ_INTERNAL, C.READ_PLANS, C.ISSUE_WARNINGS},
    Role.ADMIN: frozenset(Capability) - {C.REPORT},
}  # fmt: skip
ANONYMOUS_CAPABILITIES = frozenset({C.READ_PUBLIC})

#: Capabilities whose data is bound to the principal's jurisdiction.
JURISDICTION_BOUND = frozenset(
    {C.READ_CAMERAS, C.WATCH_VIDEO, C.READ_CASES, C.READ_PERSONAL, C.READ_PHOTOS, C.DISPATCH,
     C.HANDLE, C.COMMENT, C.CREATE_CASES, C.PAUSE_CLOCKS, C.EVALUATE, C.SUPERVISE,
     C.CALLBACK, C.CHECK_ON_SITE, C.READ_POPULATION}
)  # fmt: skip


class DataClass(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"


def capabilities_of(roles: Iterable[str]) -> frozenset[Capability]:
    """The union of the capabilities of ``roles`` (unknown role names grant nothing)."""
    found: set[Capability] = set()
    for name in roles:
        try:
            found |= ROLE_CAPABILITIES[Role(name)]
        except ValueError:
            continue
    return frozenset(found)


#: The roles a citizen account is created with (the one-time-code log-in makes these).
CITIZEN_ROLES: tuple[str, ...] = (Role.CITIZEN.value,)
#: The roles a staff account may hold (``onemap users create``).
STAFF_ROLE_NAMES: tuple[str, ...] = tuple(sorted(r.value for r in Role if r is not Role.CITIZEN))


def is_citizen_account(roles: Iterable[str]) -> bool:
    """An account whose only role is citizen (password log-in is for staff)."""
    return set(roles) == set(CITIZEN_ROLES)


def check_staff_roles(roles: Iterable[str]) -> list[str]:
    """Staff roles for a new account, sorted; InvalidInput naming the allowed ones."""
    wanted = sorted(set(roles))
    if not wanted or not set(wanted) <= set(STAFF_ROLE_NAMES):
        raise InvalidInput(f"Staff roles must be among {', '.join(STAFF_ROLE_NAMES)}.")
    return wanted


def needs_department(roles: Iterable[str]) -> bool:
    """Department staff accounts must name their department."""
    return Role.DEPARTMENT_STAFF.value in set(roles)


def roles_with(capability: Capability) -> list[str]:
    """The roles that grant ``capability``, sorted (for messages and docs)."""
    return sorted(r.value for r, caps in ROLE_CAPABILITIES.items() if capability in caps)


# -- jurisdiction -----------------------------------------------------------------------------


class Scope(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID_CELLS = "grid_cells"
    DEPARTMENT = "department"
    NONE = "none"  # a staff account not yet placed: sees no jurisdiction-bound data


#: The area scopes: their ids are ``admin_areas`` ids of that level.
AREA_SCOPES = (Scope.DISTRICT, Scope.STREET, Scope.COMMUNITY)
#: What a stored ``users.jurisdiction_scope`` may hold: the scopes above, plus two that are
#: resolved at login ("the cells I am the worker of", "my department").
STORED_SCOPES = (*(s.value for s in Scope), "own_cells")


#: How an operator writes a jurisdiction (``onemap users create --jurisdiction``).
JURISDICTION_SYNTAX = (
    "city | department | own_cells | district:CODE[,CODE…] | street:CODE[,…] | "
    "community:CODE[,…] | grid_cells:CODE[,…] (default: by role — department staff their "
    "department, grid workers their own cells, other staff the city)"
)


def default_scope(roles: Iterable[str]) -> str:
    """The stored scope a new account gets: city-wide centre roles, a department's staff their
    department, a grid worker their own cells, citizens none."""
    caps = capabilities_of(roles)
    held = set(roles)
    if Role.DEPARTMENT_STAFF.value in held and not caps & {C.DISPATCH, C.READ_CAMERAS}:
        return Scope.DEPARTMENT.value
    if Role.GRID_WORKER.value in held and C.DISPATCH not in caps:
        return "own_cells"
    if held and held <= {Role.CITIZEN.value}:
        return Scope.NONE.value
    return Scope.CITY.value


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    scope: Scope
    ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.scope in (Scope.CITY, Scope.NONE) and self.ids:
            raise InvalidInput(f"a {self.scope.value} jurisdiction takes no ids.")

    def to_claim(self) -> dict[str, Any]:
        return {"scope": self.scope.value, "ids": list(self.ids)}

    @classmethod
    def from_claim(cls, claim: object) -> Jurisdiction:
        """The jurisdiction a token carries; InvalidInput when it is not one."""
        if not isinstance(claim, dict):
            raise InvalidInput("the jurisdiction claim is not an object.")
        try:
            scope = Scope(str(claim.get("scope")))
        except ValueError:
            raise InvalidInput(f"unknown jurisdiction scope {claim.get('scope')!r}.") from None
        ids = claim.get("ids", [])
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise InvalidInput("jurisdiction ids must be a list of integers.")
        return cls(scope, tuple(ids))

    def describe(self) -> str:
        if self.scope is Scope.CITY:
            return "the whole city"
        if self.scope is Scope.NONE:
            return "no jurisdiction"
        return f"{self.scope.value} {', '.join(map(str, self.ids))}"


CITY = Jurisdiction(Scope.CITY)
NOWHERE = Jurisdiction(Scope.NONE)


# -- the principal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who is calling: a verified user (with roles and jurisdiction) or the anonymous caller."""

    user_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    jurisdiction: Jurisdiction = NOWHERE
    #: Set only for the server's own work (:func:`system`): no user, exactly these capabilities.
    granted: frozenset[Capability] | None = None
    #: The log-in session (refresh-token family) the token was issued in, if any: streams that
    #: outlive a request (subscriptions, video) end when it is revoked.
    session_id: str | None = None
    #: When the token stops being valid (epoch seconds): such streams end then too.
    expires_at: float | None = None
    #: An Open311 partner's api_key id (:func:`partner`): no user, the key's own rights.
    partner_id: int | None = None
    #: A department's API key (:func:`api_client`): no user, exactly the granted datasets.
    api_key_id: int | None = None
    datasets: frozenset[str] = frozenset()

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @cached_property
    def capabilities(self) -> frozenset[Capability]:
        """Derived once per principal: GraphQL asks for each field of each row."""
        if self.granted is not None:
            return self.granted
        if not self.authenticated:
            return ANONYMOUS_CAPABILITIES
        return capabilities_of(self.roles)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @property
    def is_staff(self) -> bool:
        """Any role but citizen: staff pages and staff log-in."""
        return any(r in self.roles for r in _STAFF_NAMES)

    @property
    def is_citizen(self) -> bool:
        return Role.CITIZEN.value in self.roles

    @property
    def audit_role(self) -> str | None:
        """The role written to the audit log: the most privileged one the principal holds."""
        for role in _AUDIT_ORDER:
            if role in self.roles:
                return role
        return None

    @property
    def city_wide(self) -> bool:
        return self.jurisdiction.scope is Scope.CITY


ANONYMOUS = Principal()
_STAFF_NAMES = frozenset(r.value for r in Role if r is not Role.CITIZEN)
_AUDIT_ORDER = tuple(r.value for r in (
    Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.HEALTH_OFFICER, Role.DEPARTMENT_STAFF,
    Role.GRID_WORKER, Role.HOTLINE_OPERATOR, Role.PLAN_MANAGER, Role.CAMERA_VIEWER, Role.VERIFIER,
    Role.ANALYST, Role.AUDITOR, Role.WARNING_OFFICER,
    Role.CITIZEN))  # fmt: skip


def system(*capabilities: Capability) -> Principal:
    """A principal for the server's own work (Open311 intake, sensors): no user, the whole
    city, exactly ``capabilities``."""
    return Principal(None, frozenset(), None, CITY, frozenset(capabilities))


#: What an Open311 partner's api_key may be granted (``open311_api_keys.capabilities``):
#: posting service requests. Other names stored with a key grant nothing.
PARTNER_CAPABILITIES = frozenset({C.CREATE_CASES})


def partner(key_id: int, capabilities: Iterable[str]) -> Principal:
    """An Open311 partner system, by its live api_key: no user, the whole city, the key's
    granted capabilities among PARTNER_CAPABILITIES."""
    granted = frozenset(c for c in PARTNER_CAPABILITIES if c.value in set(capabilities))
    return Principal(None, frozenset(), None, CITY, granted, partner_id=key_id)


def require_key(principal: Principal | None, capability: Capability) -> Principal:
    """An api_key's check: Unauthorized when no live key was sent (None), Forbidden when the
    key was not granted ``capability``."""
    if principal is None or principal.partner_id is None:
        raise Unauthorized(
            "This needs a partner's api_key; the key sent is unknown or revoked, or none was sent."
        )
    if not principal.can(capability):
        raise Forbidden(
            f"This api_key has not been granted {capability.value!r}; the city's OneMap "
            "operators grant a partner's key its rights."
        )
    return principal


def require(principal: Principal, capability: Capability | None = None) -> Principal:
    """Unauthorized when nobody is logged in; Forbidden without ``capability`` (if given)."""
    if capability is not None and principal.can(capability):
        return principal
    if not principal.authenticated:
        raise Unauthorized("This needs a logged-in user: send an access token (Bearer).")
    if capability is not None and not principal.can(capability):
        raise Forbidden(
            f"This needs the capability {capability.value!r}, which the roles "
            f"{', '.join(roles_with(capability))} have."
        )
    return principal


def require_staff(principal: Principal) -> Principal:
    require(principal)
    if not principal.is_staff:
        raise Forbidden("This is for staff accounts.")
    return principal


def require_citizen(principal: Principal) -> Principal:
    require(principal)
    if not principal.is_citizen:
        raise Forbidden("This is for citizens' own accounts; staff use the staff endpoints.")
    return principal


# -- jurisdiction in SQL ----------------------------------------------------------------------
# Predicates are SQL text on a table alias, built only from our constants and the integer ids
# of a verified token (each passed through int()), so they can join a view's fixed row filter.

#: The grid cells under admin areas of each level, as a subquery on ``admin_areas`` ids.
_CELLS_UNDER = {
    Scope.COMMUNITY: "SELECT g.id FROM grid_cells g WHERE g.community_id = ANY({ids})",
    Scope.STREET: "SELECT g.id FROM grid_cells g JOIN admin_areas c ON c.id = g.community_id "
    "WHERE c.parent_id = ANY({ids})",
    Scope.DISTRICT: "SELECT g.id FROM grid_cells g JOIN admin_areas c ON c.id = g.community_id "
    "JOIN admin_areas s ON s.id = c.parent_id WHERE s.parent_id = ANY({ids})",
}


#: The area columns of a case (``cases.community_id`` …), by scope.
_CASE_AREA_COLUMN = {
    Scope.COMMUNITY: "community_id",
    Scope.STREET: "street_id",
    Scope.DISTRICT: "district_id",
}


def _ids(values: tuple[int, ...]) -> str:
    return "'{" + ",".join(str(int(v)) for v in values) + "}'::int[]"


def cell_scope(jurisdiction: Jurisdiction, cell_column: str) -> str:
    """A predicate: ``cell_column`` (a grid cell id) lies in the jurisdiction's area.

    A department jurisdiction has no area of its own: nothing matches.
    """
    scope = jurisdiction.scope
    if scope is Scope.CITY:
        return "TRUE"
    if scope is Scope.GRID_CELLS:
        return f"{cell_column} = ANY({_ids(jurisdiction.ids)})"
    if scope in _CELLS_UNDER:
        # The area's cells as one array, computed once per statement (an InitPlan): as a
        # semi-join the planner ran the bbox index scan once per cell (8 s for a district).
        cells = _CELLS_UNDER[scope].format(ids=_ids(jurisdiction.ids))
        return f"{cell_column} = ANY(ARRAY({cells}))"
    return "FALSE"


def case_scope(principal: Principal, alias: str = "t") -> str:
    """A predicate on cases alias ``alias``: the cases the principal may see in full and act
    on. A department jurisdiction sees the cases it leads and those it has a task on
    (co-handling, a joint task: ``case_tasks``, open or finished); a citizen their own reports.

    Acting on the case itself (start, resolve, return, ask for time) is narrower for a
    department: :func:`case_handler_scope`; its own tasks: :func:`task_scope`."""
    j = principal.jurisdiction
    if principal.capabilities & {C.READ_CASES, C.DISPATCH, C.HANDLE}:
        if j.scope is Scope.DEPARTMENT:
            # The task's cases as one array computed once per statement (an InitPlan), so the
            # department's own cases keep their index and the OR stays a bitmap OR.
            ids = _ids(j.ids)
            tasks = f"SELECT k.case_id FROM case_tasks k WHERE k.department_id = ANY({ids})"  # noqa: S608
            return f"({alias}.department_id = ANY({ids}) OR {alias}.id = ANY(ARRAY({tasks})))"
        return _jurisdiction_of_cases(j, alias)
    if principal.is_citizen and principal.user_id is not None:
        return f"{alias}.reporter_id = {int(principal.user_id)}"
    return "FALSE"


def evaluation_scope(principal: Principal, alias: str = "f") -> str:
    """A predicate on ``case_facts`` alias ``alias``: the cases whose evaluation figures the
    principal reads (EVALUATE) — those of their jurisdiction, as for cases. The cases behind a
    figure are then read through :func:`case_scope` like any other."""
    if not principal.can(C.EVALUATE):
        return "FALSE"
    return _jurisdiction_of_cases(principal.jurisdiction, alias)


def evaluation_districts(principal: Principal) -> tuple[int, ...] | None:
    """The districts whose daily figures (``case_figures_daily``) make up the principal's
    evaluation: () for the whole city, a district jurisdiction's ids, None when the
    jurisdiction is not whole districts (its figures are counted on the facts)."""
    if not principal.can(C.EVALUATE):
        return None
    j = principal.jurisdiction
    if j.scope is Scope.CITY:
        return ()
    if j.scope is Scope.DISTRICT:
        return tuple(j.ids)
    return None


def _jurisdiction_of_cases(j: Jurisdiction, alias: str) -> str:
    """The cases (or their facts: the same columns) of a staff jurisdiction."""
    if j.scope is Scope.DEPARTMENT:
        return f"{alias}.department_id = ANY({_ids(j.ids)})"
    if j.scope in _CASE_AREA_COLUMN:
        # On the case row itself (stamped from its cell, migration 0004): the planner
        # reads the column's statistics, so a district's page is planned like any filter.
        return f"{alias}.{_CASE_AREA_COLUMN[j.scope]} = ANY({_ids(j.ids)})"
    return cell_scope(j, f"{alias}.grid_cell_id")


def case_handler_scope(principal: Principal, alias: str = "t") -> str:
    """A predicate on cases alias ``alias``: the cases whose handling (处置) the principal may
    carry — start, resolve, return (退单), ask for time. A department the cases it leads (a
    co-handling department sees the case, and acts only on its own task); an area
    jurisdiction the cases of its area, as :func:`case_scope`."""
    j = principal.jurisdiction
    if j.scope is Scope.DEPARTMENT and principal.capabilities & {C.READ_CASES, C.HANDLE}:
        return f"{alias}.department_id = ANY({_ids(j.ids)})"
    return case_scope(principal, alias)


def handles_case(principal: Principal, department_id: int | None) -> bool:
    """For a case already read through :func:`case_scope`: whether the principal may also
    carry its handling (:func:`case_handler_scope`, decided on the row in hand)."""
    j = principal.jurisdiction
    if j.scope is Scope.DEPARTMENT:
        return department_id is not None and department_id in j.ids
    return True


def task_scope(principal: Principal, task: str = "k", case: str = "c") -> str:
    """A predicate on ``case_tasks`` alias ``task`` joined to its case alias ``case``: the
    tasks the principal may take up and finish (HANDLE). A department its own tasks; an area
    jurisdiction the tasks of its area's cases."""
    if not principal.can(C.HANDLE):
        return "FALSE"
    j = principal.jurisdiction
    if j.scope is Scope.DEPARTMENT:
        return f"{task}.department_id = ANY({_ids(j.ids)})"
    return case_scope(principal, case)


def takes_task(principal: Principal, task_department_id: int) -> bool:
    """For a task of a case already read through :func:`case_scope`: whether the principal
    may take it up and finish it (:func:`task_scope`, decided on the row in hand)."""
    if not principal.can(C.HANDLE):
        return False
    j = principal.jurisdiction
    if j.scope is Scope.DEPARTMENT:
        return task_department_id in j.ids
    return True


def takes_incident_task(principal: Principal, task_department_id: int) -> bool:
    """Whether the principal may move an incident's task (accept, refuse, mark done): the
    commanders (COMMAND_INCIDENTS) any task; a department's staff (HANDLE, a department
    jurisdiction) their own department's."""
    if principal.can(C.COMMAND_INCIDENTS):
        return True
    j = principal.jurisdiction
    return principal.can(C.HANDLE) and j.scope is Scope.DEPARTMENT and task_department_id in j.ids


def replay_camera_scope(principal: Principal, alias: str = "c") -> str:
    """A predicate on cameras alias ``alias``: the cameras whose viewing sessions (the audit
    trail's ``camera.view.*`` rows: who watched, when) an incident's replay shows the principal.
    Every camera for those who read the audit trail (READ_AUDIT); the cameras of their
    jurisdiction for those who may watch video (WATCH_VIDEO); none otherwise."""
    if principal.can(C.READ_AUDIT):
        return "TRUE"
    if principal.can(C.WATCH_VIDEO):
        return cell_scope(principal.jurisdiction, f"{alias}.grid_cell_id")
    return "FALSE"


def replay_case_scope(principal: Principal, alias: str = "t") -> tuple[str, bool]:
    """(a predicate on cases alias ``alias``, whether the principal sees them in full): the
    cases whose events an incident's replay shows. Those of :func:`case_scope` in full (their
    exact place) for readers of cases; otherwise the public record's cases, at their public
    (generalised) place. Never who reported them."""
    if principal.capabilities & {C.READ_CASES, C.DISPATCH, C.HANDLE}:
        return case_scope(principal, alias), True
    return f"({alias}.published AND {alias}.status <> 'duplicate')", False


def reads_incident_replay(principal: Principal) -> Principal:
    """An incident's replay and its printable report (复盘): readers of plans and incidents
    (READ_PLANS). Each report read is audited by the caller."""
    return require(principal, C.READ_PLANS)


def notification_scope(principal: Principal, n: str = "n", c: str = "c") -> str:
    """A predicate on ``staff_notifications`` alias ``n`` joined (left) to its case as alias
    ``c``: the notifications addressed to the principal (geo.enums.Audience). Their own; their
    department's, for staff who handle a department's cases; the dispatchers', for dispatchers
    whose jurisdiction holds the case; a district's escalations, for supervisors and
    dispatchers whose jurisdiction is that district; the city's, for city-wide supervisors."""
    if not principal.is_staff or principal.user_id is None:
        return "FALSE"
    j = principal.jurisdiction
    parts = [f"({n}.audience = 'user' AND {n}.user_id = {int(principal.user_id)})"]
    if principal.can(C.HANDLE) and j.scope is Scope.DEPARTMENT:
        parts.append(f"({n}.audience = 'department' AND {n}.department_id = ANY({_ids(j.ids)}))")
    if principal.can(C.DISPATCH) and j.scope is not Scope.DEPARTMENT:
        parts.append(f"({n}.audience = 'dispatchers' AND {case_scope(principal, c)})")
    if principal.capabilities & {C.SUPERVISE, C.DISPATCH} and j.scope is Scope.DISTRICT:
        parts.append(f"({n}.audience = 'district' AND {c}.district_id = ANY({_ids(j.ids)}))")
    if principal.can(C.SUPERVISE) and j.scope is Scope.CITY:
        parts.append(f"{n}.audience = 'city'")
    return "(" + " OR ".join(parts) + ")"


def supervision_scope(principal: Principal, alias: str = "s") -> str:
    """A predicate on ``supervisions`` alias ``alias``: the supervisions the principal sees —
    their own, and those over a case they may see in full (the supervisor's jurisdiction, the
    handling department's cases)."""
    if principal.user_id is None or not principal.is_staff:
        return "FALSE"
    cases = case_scope(principal, "sc_c")
    return (
        f"({alias}.supervisor_id = {int(principal.user_id)} OR EXISTS (SELECT 1 FROM "  # noqa: S608
        f"supervision_cases sc JOIN cases sc_c ON sc_c.id = sc.case_id "
        f"WHERE sc.supervision_id = {alias}.id AND {cases}))"
    )


def camera_scope(principal: Principal, alias: str = "t") -> str:
    """A predicate on cameras alias ``alias``: the cameras the principal may see and watch."""
    if not principal.capabilities & {C.READ_CAMERAS, C.WATCH_VIDEO}:
        return "FALSE"
    return cell_scope(principal.jurisdiction, f"{alias}.grid_cell_id")


def person_scope(principal: Principal, alias: str = "p") -> str:
    """A predicate on ``persons`` alias ``alias`` (实有人口): the persons whose records the
    principal reads — those of the grid cells of its jurisdiction, with READ_POPULATION; for
    everyone else none (analysts read counts: :func:`reads_population_stats`)."""
    if not principal.can(C.READ_POPULATION):
        return "FALSE"
    return cell_scope(principal.jurisdiction, f"{alias}.grid_cell_id")


def reads_population_stats(principal: Principal) -> Principal:
    """Population counts per grid cell and per building (never a person): READ_POPULATION_STATS,
    the whole city."""
    return require(principal, C.READ_POPULATION_STATS)


def reads_base_data(principal: Principal) -> Principal:
    """Buildings, houses' counts and organisations (never a person, nor a responsible person's
    phone): READ_INTERNAL."""
    return require(principal, C.READ_INTERNAL)


def citizen_accounts(alias: str = "u") -> str:
    """A predicate on ``users`` alias ``alias``: the citizens' accounts (those a warning's
    inbox and push reach; counted in a warning's delivery summary)."""
    return f"'{Role.CITIZEN.value}' = ANY({alias}.roles)"


def reads_warning_delivery(principal: Principal, incident_id: int | None) -> Principal:
    """A warning's delivery summary (counts of citizens reached and of push answers, never a
    person): ISSUE_WARNINGS for any message; READ_PLANS for the messages of an incident
    (the command follows its own warnings)."""
    if incident_id is not None and principal.can(C.READ_PLANS):
        return principal
    return require(principal, C.ISSUE_WARNINGS)


def reads_incident_warnings(principal: Principal) -> Principal:
    """The warnings of an incident, every status (its exercises and tests too): READ_PLANS."""
    return require(principal, C.READ_PLANS)


def application_scope(principal: Principal, alias: str = "a") -> str:
    """A predicate on applications alias ``alias`` (一网通办): staff who handle applications
    see their department's (a city-wide account all of them); a citizen their own."""
    if principal.can(C.HANDLE_APPLICATIONS):
        j = principal.jurisdiction
        if j.scope is Scope.CITY:
            return "TRUE"
        if j.scope is Scope.DEPARTMENT:
            return f"{alias}.department_id = ANY({_ids(j.ids)})"
        return "FALSE"
    if principal.is_citizen and principal.user_id is not None:
        return f"{alias}.applicant_id = {int(principal.user_id)}"
    return "FALSE"


def open311_scope(principal: Principal, alias: str = "o") -> str:
    """A predicate on ``open311_requests`` alias ``alias``: the requests the caller reads in
    full through Open311 (description, address, exact place and times, media, attributes) —
    a partner its own requests, whatever the key's rights; everyone else none (they read the
    public record, ``cases_public``)."""
    if principal.partner_id is not None:
        return f"{alias}.api_key_id = {int(principal.partner_id)}"
    return "FALSE"


def scope_predicate(principal: Principal, layer: str, alias: str = "t") -> str:
    """The jurisdiction predicate of layer ``layer``'s internal view for ``principal``."""
    if layer == "cases":
        return case_scope(principal, alias)
    if layer == "cameras":
        return camera_scope(principal, alias)
    return "TRUE"


# -- layers -----------------------------------------------------------------------------------

#: The internal view of a layer, the capability that opens it and its data class. A caller
#: without the capability gets the layer's public view, or no layer at all (cameras).
INTERNAL_LAYERS: Mapping[str, tuple[LayerView, Capability, DataClass]] = {
    "facilities": (FACILITIES, C.READ_INTERNAL, DataClass.INTERNAL),
    "cameras": (CAMERAS, C.READ_CAMERAS, DataClass.INTERNAL),
    "cases": (CASES, C.READ_CASES, DataClass.RESTRICTED),
    "sensors": (SENSORS, C.READ_SENSORS, DataClass.INTERNAL),
    "buildings": (BUILDINGS, C.READ_INTERNAL, DataClass.INTERNAL),
}


#: The capability that opens a catalogue layer (geo.catalogue) of each data class: public
#: ones to everyone, internal ones to staff who read internal data, restricted ones to the
#: holders of READ_RESTRICTED_LAYERS. Catalogue layers are city-wide (no jurisdiction).
CATALOGUE_CLASSES: Mapping[DataClass, Capability] = {
    DataClass.PUBLIC: C.READ_PUBLIC,
    DataClass.INTERNAL: C.READ_INTERNAL,
    DataClass.RESTRICTED: C.READ_RESTRICTED_LAYERS,
}


def catalogue_capability(layer: str) -> Capability | None:
    """The capability that opens catalogue layer ``layer`` (None: not in the catalogue)."""
    found = catalogue.layer(layer)
    return CATALOGUE_CLASSES[DataClass(found.data_class)] if found is not None else None


def views_for(principal: Principal) -> dict[str, LayerView]:
    """The layer views a principal reads, by layer name (OGC collections, tiles, GraphQL
    layers and the map view's layer list all come from here): the built-in layers, then the
    catalogue's registered layers (geo.catalogue) the principal's data classes open. An API key
    reads exactly its granted datasets (:func:`key_views`)."""
    if principal.api_key_id is not None:
        return key_views(principal.datasets)
    views = dict(PUBLIC_VIEWS)
    for name, (view, capability, _) in INTERNAL_LAYERS.items():
        if principal.can(capability):
            views[name] = scoped(view, principal)
    for name, layer in catalogue.current().layers.items():
        if name not in views and principal.can(CATALOGUE_CLASSES[DataClass(layer.data_class)]):
            views[name] = layer.view
    return views


def manages_catalogue(principal: Principal) -> Principal:
    """Registering, changing and unregistering catalogue layers: MANAGE_CATALOGUE."""
    return require(principal, C.MANAGE_CATALOGUE)


def scoped(view: LayerView, principal: Principal) -> LayerView:
    """``view`` with the principal's jurisdiction joined to its row filter: every read builder
    (OGC items, tiles, GraphQL pages and search) applies it in SQL."""
    predicate = scope_predicate(principal, view.name)
    if predicate == "TRUE":
        return view
    return replace(view, row_filter=f"({view.row_filter}) AND ({predicate})")


def view_for(principal: Principal, layer: str) -> LayerView | None:
    """The view of ``layer`` for ``principal``: None when there is no such layer at all;
    Unauthorized/Forbidden when the layer exists but is closed to the caller."""
    found = views_for(principal).get(layer)
    if found is None and principal.api_key_id is not None and layer in grantable():
        raise Forbidden(
            f"This API key has not been granted the dataset {layer!r}; its department asks "
            "the city's OneMap operators to grant it (docs/open-data.md)."
        )
    if found is None and layer in INTERNAL_LAYERS:
        require(principal, INTERNAL_LAYERS[layer][1])
    if found is None and (capability := catalogue_capability(layer)) is not None:
        require(principal, capability)
    return found


def editable(principal: Principal, layer: str) -> LayerView:
    """The view a principal edits (OGC transactions): facilities and cameras, EDIT_FEATURES."""
    require(principal, C.EDIT_FEATURES)
    if layer not in ("facilities", "cameras"):
        raise Forbidden(f"{layer!r} cannot be edited through this interface.")
    return INTERNAL_LAYERS[layer][0]


# -- API keys (open data and sharing) ---------------------------------------------------------
# A department's machine client reads through an API key: no user, the whole city, and exactly
# the datasets the key was granted — in their public view, or in their internal view where the
# layer's internal data may be shared. Only data not bound to a jurisdiction may be: a key has
# no jurisdiction to narrow it. So an internal layer opened by a capability outside
# JURISDICTION_BOUND (read_internal: facilities with hazard sources, buildings; read_sensors:
# critical devices) is shared in full; cameras (jurisdiction-bound) are never granted; cases
# (restricted) and any other layer with a public view are shared as their public record.


def api_client(key_id: int, datasets: Iterable[str]) -> Principal:
    """A department's API key: no user, no capability, the whole city, ``datasets`` (those
    among :func:`grantable`)."""
    granted = grantable()
    return Principal(None, frozenset(), None, CITY, frozenset(), api_key_id=key_id,
                     datasets=frozenset(d for d in datasets if d in granted))  # fmt: skip


def grantable() -> dict[str, DataClass]:
    """The datasets a key may be granted, with the class of the view it then reads."""
    found = {name: DataClass.PUBLIC for name in PUBLIC_VIEWS}
    for name, (_, capability, data_class) in INTERNAL_LAYERS.items():
        if data_class is DataClass.INTERNAL and capability not in JURISDICTION_BOUND:
            found[name] = DataClass.INTERNAL
    # Catalogue layers are city-wide: public and internal ones may be shared; restricted never.
    for name, layer in catalogue.current().layers.items():
        data_class = DataClass(layer.data_class)
        if name not in found and data_class is not DataClass.RESTRICTED:
            found[name] = data_class
    return found


def key_views(datasets: Iterable[str]) -> dict[str, LayerView]:
    """The views an API key granted ``datasets`` reads, in the catalogue's order."""
    wanted = set(datasets)
    classes = grantable()
    views: dict[str, LayerView] = {}
    registered = catalogue.current().layers
    for name in [*PUBLIC_VIEWS, *INTERNAL_LAYERS, *registered]:
        if name not in wanted or name in views or name not in classes:
            continue
        if name in registered and name not in PUBLIC_VIEWS and name not in INTERNAL_LAYERS:
            views[name] = registered[name].view
            continue
        internal = classes[name] is DataClass.INTERNAL
        views[name] = INTERNAL_LAYERS[name][0] if internal else PUBLIC_VIEWS[name]
    return views


def grants(principal: Principal, datasets: Iterable[str]) -> dict[str, DataClass]:
    """Who may grant what: MANAGE_API_KEYS (admins) grant a department's key any dataset of
    :func:`grantable` — public ones, and internal ones not bound to a jurisdiction; never a
    restricted view, never cameras. InvalidInput names the ones that cannot be granted."""
    require(principal, C.MANAGE_API_KEYS)
    wanted = sorted(set(datasets))
    classes = grantable()
    refused = [d for d in wanted if d not in classes]
    if not wanted or refused:
        raise InvalidInput(
            f"A key may be granted datasets among {', '.join(sorted(classes))}"
            + (f"; not {', '.join(refused)}." if refused else ".")
        )
    return {d: classes[d] for d in wanted}


def manages_api_keys(principal: Principal) -> Principal:
    """Listing, revoking and reading the usage of API keys: MANAGE_API_KEYS."""
    return require(principal, C.MANAGE_API_KEYS)


# -- roads ------------------------------------------------------------------------------------


def visible_categories(principal: Principal) -> frozenset[str]:
    """The facility categories whose facilities the principal may see (internal ones, hazard
    sources, only with READ_INTERNAL)."""
    every = frozenset(c.value for c in FacilityCategory)
    if principal.can(C.READ_INTERNAL):
        return every
    return every - {c.value for c in INTERNAL_FACILITY_CATEGORIES}


def facility_categories(principal: Principal, categories: Iterable[str]) -> list[str]:
    """The facility categories a principal may search by position (drive-time nearest):
    ``categories`` as given, InvalidInput for an unknown one, Forbidden for an internal one
    (hazard sources) without READ_INTERNAL."""
    wanted = sorted(set(categories))
    known = {c.value for c in FacilityCategory}
    unknown = [c for c in wanted if c not in known]
    if unknown or not wanted:
        raise InvalidInput(f"categories must be among {', '.join(sorted(known))}.")
    internal = {c.value for c in INTERNAL_FACILITY_CATEGORIES} & set(wanted)
    if internal and not principal.can(C.READ_INTERNAL):
        require(principal, C.READ_INTERNAL)
    return wanted


# -- sensors (SensorThings) -------------------------------------------------------------------
# Sensor data is public, except what concerns a device of critical infrastructure (a Thing
# marked ``critical``): the Thing, its Locations (current and historical), its Datastreams and
# their Observations, and the FeaturesOfInterest they observe are internal, READ_SENSORS.
# Sensors and ObservedProperties (kinds of device, what is measured) carry no position.

#: The data class of each SensorThings entity set when it concerns a critical device.
SENSOR_DATA: Mapping[str, DataClass] = {
    "Things": DataClass.INTERNAL, "Locations": DataClass.INTERNAL,
    "HistoricalLocations": DataClass.INTERNAL, "Datastreams": DataClass.INTERNAL,
    "Observations": DataClass.INTERNAL, "FeaturesOfInterest": DataClass.INTERNAL,
    "Sensors": DataClass.PUBLIC, "ObservedProperties": DataClass.PUBLIC,
}  # fmt: skip

# The few critical devices' ids as arrays computed once per statement (InitPlans), as
# cell_scope does: a row check, not a join per row, so the planner keeps its estimates and
# "the newest readings of a Datastream" stays an index scan.
_CRITICAL_THINGS = "ARRAY(SELECT cy.id FROM sta_things cy WHERE cy.critical)"
_CRITICAL_STREAMS = (
    "ARRAY(SELECT cd.id FROM sta_datastreams cd JOIN sta_things cy ON cy.id = cd.thing_id "
    "WHERE cy.critical)"
)
_CRITICAL_LOCATIONS = (
    "ARRAY(SELECT cx.location_id FROM sta_thing_locations cx JOIN sta_things cy "
    "ON cy.id = cx.thing_id WHERE cy.critical UNION SELECT hx.location_id "
    "FROM sta_historical_location_locations hx JOIN sta_historical_locations ch "
    "ON ch.id = hx.historical_location_id JOIN sta_things cy ON cy.id = ch.thing_id "
    "WHERE cy.critical)"
)
_PUBLIC_SENSOR_ROWS = {
    "Things": "NOT {a}.critical",
    "Locations": "{a}.id <> ALL(" + _CRITICAL_LOCATIONS + ")",
    "HistoricalLocations": "{a}.thing_id <> ALL(" + _CRITICAL_THINGS + ")",
    "Datastreams": "{a}.thing_id <> ALL(" + _CRITICAL_THINGS + ")",
    "Observations": "{a}.datastream_id <> ALL(" + _CRITICAL_STREAMS + ")",
    "FeaturesOfInterest": "NOT {a}.internal",
}


def sensor_scope(principal: Principal, entity_set: str, alias: str) -> str:
    """A predicate on SensorThings entity set ``entity_set`` (alias ``alias``): the rows the
    principal reads. With READ_SENSORS all of them (the whole city); otherwise those that
    concern no critical device. ``alias`` is one of our own constants, never input."""
    if principal.can(C.READ_SENSORS) or SENSOR_DATA[entity_set] is DataClass.PUBLIC:
        return "TRUE"
    return _PUBLIC_SENSOR_ROWS[entity_set].format(a=alias)


def sensor_writer(principal: Principal, entity_set: str, creating: bool) -> Principal:
    """Who may write SensorThings entities: posting Observations needs INGEST_OBSERVATIONS (or
    MANAGE_SENSORS); everything else, and changing or deleting Observations, MANAGE_SENSORS."""
    if creating and entity_set == "Observations" and principal.can(C.INGEST_OBSERVATIONS):
        return principal
    if principal.granted is not None and not principal.can(C.MANAGE_SENSORS):
        # a device or system principal: no user to log in, only its grant to lack
        raise Forbidden(f"This principal may not change {entity_set}: it needs 'manage_sensors'.")
    return require(principal, C.MANAGE_SENSORS)
