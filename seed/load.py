"""Loads the demo city into a migrated database: COPY, in chunks, with progress; idempotent.

``seed_progress`` records what is loaded in the same transaction as the rows, so a second run
adds nothing and an interrupted run resumes where it stopped.

Speed: when the role may, chunks load with ``session_replication_role = replica``, which skips
the foreign-key triggers (as ``pg_restore --disable-triggers`` does): the generator only emits
ids it has just looked up, and the tests check every reference of the seeded city. That halves
the time of a 1M-case city. Without the privilege the triggers run and it is merely slower.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from geo.access import default_scope
from geo.enums import Role
from geo.passwords import hash_password
from geo.queries.stage_limits import HANDLE_DEFAULT_SQL
from geo.sensor_alarm_models import MOVED_RULES, insert_defaults
from geo.services import case_facts
from seed import (
    addresses,
    base_data,
    catalogue,
    department_layers,
    past_versions,
    plans,
    roads,
    sensors,
    vocab,
)
from seed.copy import copy_rows, reserve_ids
from seed.generate import (
    CALLBACK_COLUMNS,
    CALLER_COLUMNS,
    CAMERA_COLUMNS,
    CAMERAS,
    CASE_COLUMNS,
    CASES,
    EVENT_COLUMNS,
    FACILITIES,
    FACILITY_COLUMNS,
    RATING_COLUMNS,
    TASK_COLUMNS,
    CaseChunk,
    Layer,
    Refs,
    camera_rows,
    case_rows,
    facility_rows,
)
from seed.geography import City, build_city

#: The demo staff accounts' password. Demo only: change or disable these accounts in production.
DEMO_PASSWORD = "onemap-demo"  # noqa: S105
CITIZENS = 300
STAFF_PHONE_PREFIX = "1380000"
BASE = "base"
FACTS = "facts"  # evaluation facts of the cases (geo.services.case_facts)

#: Called with (layer, rows done, rows wanted) as loading goes on.
Progress = Callable[[str, int, int], None]


@dataclass
class SeedReport:
    added: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_added(self) -> int:
        return sum(self.added.values())


def staff_accounts() -> list[tuple[str, str, Role, str | None]]:
    """(phone, display name, role, department code): one demo account per staff role, then the
    narrow-jurisdiction dispatchers (:data:`NARROW_DISPATCHERS`), then the roles added later
    (:data:`LATER_ROLES`), so the first accounts keep their phone numbers."""
    depts = {Role.DEPARTMENT_STAFF: "city_management"}
    accounts: list[tuple[str, str, Role, str | None]] = [
        (f"{STAFF_PHONE_PREFIX}{i:04d}", f"演示{role.value}", role, depts.get(role))
        for i, role in enumerate(sorted(set(Role) - set(LATER_ROLES.values())), start=1)
        if role != Role.CITIZEN
    ]
    accounts += [(phone, name, Role.DISPATCHER, None) for phone, name, _ in NARROW_DISPATCHERS]
    accounts += [(phone, f"演示{role.value}", role, None) for phone, role in LATER_ROLES.items()]
    return accounts


#: Demo dispatchers of a district centre and a street centre: (phone, name, admin-area level);
#: each gets the first area of its level (by code) as jurisdiction.
NARROW_DISPATCHERS = (
    (f"{STAFF_PHONE_PREFIX}0010", "演示区级调度", "district"),
    (f"{STAFF_PHONE_PREFIX}0011", "演示街道调度", "street"),
)
#: Roles that came after the first demo accounts, by phone (a database seeded before gets
#: them on its next ``onemap seed``: :func:`_later_accounts`).
LATER_ROLES = {
    f"{STAFF_PHONE_PREFIX}0012": Role.AUDITOR,
    f"{STAFF_PHONE_PREFIX}0013": Role.SUPERVISOR,
    f"{STAFF_PHONE_PREFIX}0015": Role.HOTLINE_OPERATOR,
    f"{STAFF_PHONE_PREFIX}0016": Role.PLAN_MANAGER,
    f"{STAFF_PHONE_PREFIX}0017": Role.WARNING_OFFICER,
}


def seed(
    conn: psycopg.Connection[Any], scale: float, progress: Progress | None = None
) -> SeedReport:
    """Load the demo city at ``scale`` (1 = the demo) into ``conn``'s database."""
    started = time.perf_counter()
    report = SeedReport()
    say = progress or (lambda layer, done, total: None)
    city = build_city()
    if _loaded(conn, BASE) == 0:
        say(BASE, 0, 1)
        report.added[BASE] = _load_base(conn, city)
        say(BASE, 1, 1)
    if added := _later_accounts(conn):  # demo accounts of later roles, for older databases
        report.added["staff"] = added
    if added := _later_categories(conn):  # categories made after, for older databases
        report.added["categories"] = added
    if _loaded(conn, catalogue.CATALOGUE) == 0:  # its own step: older databases get it too
        with conn.transaction():
            report.added[catalogue.CATALOGUE] = catalogue.load(conn)
            _mark(conn, catalogue.CATALOGUE, report.added[catalogue.CATALOGUE])
    if _loaded(conn, plans.PLANS_STEP) == 0:  # the emergency plans (older databases too)
        with conn.transaction():
            report.added[plans.PLANS_STEP] = plans.load(conn)
            _mark(conn, plans.PLANS_STEP, report.added[plans.PLANS_STEP])
    refs = _refs(conn, city)
    for layer in (FACILITIES, CAMERAS, CASES):
        report.added[layer.name] = _load_layer(conn, city, refs, layer, scale, say)
    # Evaluation's facts of the cases just loaded (bulk COPY bypasses the case service).
    # Derived rows, not data the seed adds (cases written by other hands get theirs too).
    case_facts.rebuild(
        conn, missing_only=True, progress=lambda done, total: say(FACTS, done, total)
    )
    # The road network (a step of its own: older databases get it; a bigger scale its lanes).
    if added := roads.load(conn, city, scale, say):
        report.added[roads.ROADS] = added
    # The address base along the roads (its own step; a bigger scale adds doors between).
    if added := addresses.load(conn, scale, say):
        report.added[addresses.ADDRESSES] = added
    addresses.readdress_facilities(conn)  # consistent with the address base (no rows added)
    # Buildings, houses, persons and organisations behind the doors (its own step).
    for name, count in base_data.load(conn, scale, _may_skip_triggers(conn), say).items():
        report.added[name] = count
    # The facilities' and buildings' past: dated changes before today (docs/history.md).
    for name, count in past_versions.load(conn).items():
        report.added[f"{past_versions.PAST_VERSIONS}.{name}"] = count
    # The sensor devices of the facilities loaded (a step of its own: older databases get it).
    for name, count in sensors.load(conn, city, refs, _may_skip_triggers(conn), say).items():
        report.added[name] = count
    # Other departments' layers in the layer catalogue (derived from the grid, parks, roads).
    say(department_layers.DEPARTMENT_LAYERS, 0, 1)
    report.added[department_layers.DEPARTMENT_LAYERS] = department_layers.load(conn)
    say(department_layers.DEPARTMENT_LAYERS, 1, 1)
    report.seconds = time.perf_counter() - started
    return report


def _later_accounts(conn: psycopg.Connection[Any]) -> int:
    """The demo accounts of :data:`LATER_ROLES` a database seeded before them lacks."""
    added = 0
    have = {r[0] for r in conn.execute("SELECT phone FROM users WHERE phone = ANY(%s)",
                                       (list(LATER_ROLES),))}  # fmt: skip
    with conn.transaction():
        for phone, role in LATER_ROLES.items():
            if phone in have:
                continue
            cur = conn.execute(
                "INSERT INTO users (phone, display_name, roles, password_hash, jurisdiction_scope) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (phone) DO NOTHING",
                (phone, f"演示{role.value}", [role.value], hash_password(DEMO_PASSWORD),
                 default_scope([role.value])),
            )  # fmt: skip
            added += cur.rowcount
    return added


def _loaded(conn: psycopg.Connection[Any], layer: str) -> int:
    row = conn.execute("SELECT rows FROM seed_progress WHERE layer = %s", (layer,)).fetchone()
    return int(row[0]) if row else 0


def _mark(conn: psycopg.Connection[Any], layer: str, rows: int) -> None:
    conn.execute(
        "INSERT INTO seed_progress (layer, rows) VALUES (%s, %s) ON CONFLICT (layer) "
        "DO UPDATE SET rows = excluded.rows, updated_at = now()",
        (layer, rows),
    )


def _stage_limits(conn: psycopg.Connection[Any], codes: Sequence[str] | None = None) -> None:
    """Each category's time limits (geo.services.clocks): two working hours to dispatch, the
    category's own limit to handle (working hours under a day, else working days), one working
    day to check and close. ``codes``: only these categories' (default: all)."""
    statement = (
        "INSERT INTO case_stage_limits (category, stage, amount, unit) "  # noqa: S608 - constants
        "SELECT code, 'dispatch', 2, 'working_hours' FROM case_categories cc WHERE {w} "
        "UNION ALL SELECT code, 'check', 1, 'working_days' FROM case_categories cc WHERE {w} "
        f"UNION ALL SELECT cc.code, 'handle', {HANDLE_DEFAULT_SQL} FROM case_categories cc "
        "WHERE {w}"
    ).replace("{w}", "(%(codes)s::text[] IS NULL OR cc.code = ANY(%(codes)s))")
    conn.execute(statement, {"codes": list(codes) if codes is not None else None})


def _category_rows(dept: dict[str, int], codes: Sequence[str] | None = None) -> list[Any]:
    return [(c.code, c.name_zh, c.name_en, dept[c.department], c.time_limit_hours,
             c.citizen_reportable, c.sensitive) for c in vocab.CASE_CATEGORIES
            if codes is None or c.code in codes]  # fmt: skip


CATEGORY_COLUMNS = ("code", "name_zh", "name_en", "department_id", "time_limit_hours",
                    "citizen_reportable", "sensitive")  # fmt: skip


def _later_categories(conn: psycopg.Connection[Any]) -> int:
    """The categories of :data:`vocab.LATER_CATEGORIES` a database seeded before them lacks,
    with their time limits; the sensors' rules move to them (or are made, where missing)."""
    have = {r[0] for r in conn.execute("SELECT code FROM case_categories WHERE code = ANY(%s)",
                                       (list(vocab.LATER_CATEGORIES),))}  # fmt: skip
    missing = [c for c in vocab.LATER_CATEGORIES if c not in have]
    if not missing:
        return 0
    with conn.transaction():
        dept = dict(conn.execute("SELECT code, id FROM departments").fetchall())
        copy_rows(conn, "case_categories", CATEGORY_COLUMNS, _category_rows(dept, missing))
        _stage_limits(conn, missing)
        for rule, old, new in MOVED_RULES:
            conn.execute("UPDATE sensor_rules SET category = %s, updated_at = now() "
                         "WHERE name = %s AND category = %s", (new, rule, old))  # fmt: skip
        conn.execute(insert_defaults())
    return len(missing)


def _load_base(conn: psycopg.Connection[Any], city: City) -> int:
    """Departments, routing, staff and citizens, the admin areas and the grid: one transaction."""
    with conn.transaction():
        copy_rows(conn, "departments", ("code", "name_zh", "name_en", "phone"), vocab.DEPARTMENTS)
        dept = dict(conn.execute("SELECT code, id FROM departments").fetchall())
        copy_rows(conn, "case_categories", CATEGORY_COLUMNS, _category_rows(dept))
        conn.execute("UPDATE case_categories SET requires_check = true WHERE code = ANY(%s)",
                     (list(vocab.CHECKED_CATEGORIES),))  # fmt: skip
        _stage_limits(conn)
        conn.execute(insert_defaults())  # the sensors' default rules, for these categories
        users: list[tuple[Any, ...]] = []
        for phone, name, role, dept_code in staff_accounts():
            users.append((phone, name, [role.value], hash_password(DEMO_PASSWORD),
                          dept.get(dept_code) if dept_code else None,
                          default_scope([role.value])))  # fmt: skip
        for i, (code, *_names) in enumerate(vocab.DEPARTMENTS):
            for k in range(2):
                roles = [Role.DEPARTMENT_STAFF.value]
                users.append((f"1381{i:03d}{k:04d}", vocab.person_name(1000 + 2 * i + k),
                              roles, None, dept[code], default_scope(roles)))  # fmt: skip
        for w in range(city.worker_count):
            roles = [Role.GRID_WORKER.value]
            users.append((f"1390{w:07d}", vocab.person_name(w), roles, None, None,
                          default_scope(roles)))  # fmt: skip
        for c in range(CITIZENS):
            roles = [Role.CITIZEN.value]
            users.append((f"1370{c:07d}", vocab.person_name(5000 + c), roles, None, None,
                          default_scope(roles)))  # fmt: skip
        copy_rows(
            conn,
            "users",
            (
                "phone",
                "display_name",
                "roles",
                "password_hash",
                "department_id",
                "jurisdiction_scope",
            ),
            users,
        )

        area_ids: list[int] = []
        for a in city.areas:
            parent = area_ids[a.parent] if a.parent is not None else None
            row = conn.execute(
                "INSERT INTO admin_areas (code, name_zh, name_en, level, parent_id, population, "
                "geom) VALUES (%s, %s, %s, %s, %s, %s, ST_GeomFromWKB(%s, 4326)) RETURNING id",
                (a.code, a.name_zh, a.name_en, a.level, parent, a.population, a.geom.wkb),
            ).fetchone()
            assert row is not None
            area_ids.append(int(row[0]))
        for phone, _name, level in NARROW_DISPATCHERS:
            conn.execute(
                "UPDATE users SET jurisdiction_scope = %(level)s::text, jurisdiction_ids = ARRAY["
                "(SELECT id FROM admin_areas WHERE level = %(level)s::text ORDER BY code LIMIT 1)] "
                "WHERE phone = %(phone)s",
                {"level": level, "phone": phone},
            )
        workers = dict(
            conn.execute("SELECT phone, id FROM users WHERE phone LIKE '1390%%'").fetchall()
        )
        copy_rows(
            conn,
            "grid_cells",
            ("code", "name", "community_id", "worker_id", "population", "health_risk", "geom"),
            [
                (
                    c.code,
                    c.name,
                    area_ids[c.community],
                    workers[f"1390{c.worker:07d}"],
                    c.population,
                    c.health_risk,
                    c.geom.wkb_hex,
                )
                for c in city.cells
            ],
        )
        _mark(conn, BASE, 1)
    return len(users) + len(city.areas) + len(city.cells)


def _refs(conn: psycopg.Connection[Any], city: City) -> Refs:
    cells = dict(conn.execute("SELECT code, id FROM grid_cells").fetchall())
    cell_workers = dict(conn.execute("SELECT code, worker_id FROM grid_cells").fetchall())
    citizens = [
        r[0] for r in conn.execute("SELECT id FROM users WHERE phone LIKE '1370%%' ORDER BY phone")
    ]
    dispatcher = conn.execute(
        "SELECT id FROM users WHERE 'dispatcher' = ANY(roles) ORDER BY id LIMIT 1"
    ).fetchone()
    assert dispatcher is not None
    departments = dict(conn.execute("SELECT code, id FROM departments").fetchall())
    operator = conn.execute(
        "SELECT id FROM users WHERE 'hotline_operator' = ANY(roles) ORDER BY id LIMIT 1"
    ).fetchone()
    staff: dict[str, list[int]] = {}
    for code, uid in conn.execute(
        "SELECT d.code, u.id FROM users u JOIN departments d ON d.id = u.department_id "
        "WHERE 'department_staff' = ANY(u.roles) ORDER BY u.id"
    ):
        staff.setdefault(code, []).append(uid)
    return Refs(
        cell_ids=np.array([cells[c.code] for c in city.cells], dtype=np.int64),
        worker_ids=np.array([cell_workers[c.code] for c in city.cells], dtype=np.int64),
        citizen_ids=np.array(citizens, dtype=np.int64),
        dispatcher_id=int(dispatcher[0]),
        department_ids=departments,
        department_staff=staff,
        hotline_operator_id=int(operator[0]) if operator else None,
    )


def _load_layer(
    conn: psycopg.Connection[Any],
    city: City,
    refs: Refs,
    layer: Layer,
    scale: float,
    say: Progress,
) -> int:
    have = _loaded(conn, layer.name)
    want = layer.target(scale)
    if have >= want:
        say(layer.name, want, want)
        return 0
    say(layer.name, have, want)
    added = 0
    bulk = _may_skip_triggers(conn)
    for chunk in range(have // layer.chunk, (want - 1) // layer.chunk + 1):
        lo = max(have, chunk * layer.chunk) - chunk * layer.chunk
        hi = min(want, (chunk + 1) * layer.chunk) - chunk * layer.chunk
        with conn.transaction():
            if bulk:
                conn.execute("SET LOCAL session_replication_role = replica")
            if layer is FACILITIES:  # standing since the history's start (docs/history.md)
                past_versions.stamp(conn, layer.name)
            _load_chunk(conn, city, refs, layer, chunk, lo, hi)
            _mark(conn, layer.name, chunk * layer.chunk + hi)
        added += hi - lo
        say(layer.name, chunk * layer.chunk + hi, want)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(layer.name)))
    return added


def _may_skip_triggers(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    return bool(row and row[0])


def _load_chunk(
    conn: psycopg.Connection[Any],
    city: City,
    refs: Refs,
    layer: Layer,
    chunk: int,
    lo: int,
    hi: int,
) -> None:
    if layer is FACILITIES:
        copy_rows(conn, "facilities", FACILITY_COLUMNS, facility_rows(city, refs, chunk)[lo:hi])
    elif layer is CAMERAS:
        copy_rows(conn, "cameras", CAMERA_COLUMNS, camera_rows(city, refs, chunk)[lo:hi])
    else:
        n = layer.chunk
        # Rows of this chunk that an earlier, smaller run loaded keep their ids (a duplicate
        # may point at one); the rows loaded now get ids from the sequence.
        earlier = (
            dict(
                conn.execute(
                    "SELECT right(public_id, 7)::int - 1, id FROM cases "
                    "WHERE public_id ~ '^[0-9]{8}-[0-9]{7}$' "
                    "AND right(public_id, 7)::int BETWEEN %s AND %s",
                    (chunk * n + 1, chunk * n + lo),
                ).fetchall()
            )
            if lo
            else {}
        )
        fresh = [
            r[0]
            for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, %s)",
                (hi - lo,),
            )
        ]
        ids = [earlier[chunk * n + i] for i in range(lo)] + fresh + [0] * (n - hi)
        rows = case_rows(city, refs, chunk, ids)
        kept = set(fresh)
        copy_rows(conn, "cases", CASE_COLUMNS, rows.cases[lo:hi])
        _load_history(conn, rows, kept)


def _load_history(conn: psycopg.Connection[Any], rows: CaseChunk, kept: set[int]) -> None:
    """The timelines of the cases loaded now, with their tasks, callers, callbacks and
    ratings. Task ids are reserved from the sequence (events name them); a callback is joined
    to its case's caller and close event."""
    tasks = [k for k in rows.tasks if k[1] in kept]
    task_ids = dict(zip((k[0] for k in tasks), reserve_ids(conn, "case_tasks", len(tasks)),
                        strict=True))  # fmt: skip
    copy_rows(conn, "case_tasks", TASK_COLUMNS, ((task_ids[k[0]], *k[1:]) for k in tasks))
    copy_rows(
        conn,
        "case_events",
        EVENT_COLUMNS,
        (
            (*e[:-1], None if e[-1] is None else task_ids[e[-1]])
            for e in rows.events
            if e[0] in kept
        ),
    )
    copy_rows(conn, "case_callers", CALLER_COLUMNS, (r for r in rows.callers if r[0] in kept))
    copy_rows(conn, "ratings", RATING_COLUMNS, (r for r in rows.ratings if r[1] in kept))
    callbacks = [r for r in rows.callbacks if r[0] in kept]
    if not callbacks:
        return
    conn.execute(
        "CREATE TEMP TABLE seed_callbacks (case_id bigint, status text, attempts smallint, "
        "satisfaction text, note text, done_by bigint, done_at timestamptz, "
        "created_at timestamptz) ON COMMIT DROP"
    )
    copy_rows(conn, "seed_callbacks", CALLBACK_COLUMNS, callbacks)
    conn.execute(
        "INSERT INTO case_callbacks (case_id, caller_id, close_event_id, status, attempts, "
        "satisfaction, note, done_by, done_at, created_at) "
        "SELECT s.case_id, c.id, e.id, s.status, s.attempts, s.satisfaction, s.note, s.done_by, "
        "s.done_at, s.created_at FROM seed_callbacks s "
        "JOIN case_callers c ON c.case_id = s.case_id "
        "JOIN case_events e ON e.case_id = s.case_id AND e.event_type = 'closed'"
    )
    conn.execute("DROP TABLE seed_callbacks")
