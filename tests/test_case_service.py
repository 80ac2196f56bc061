"""The case state machine in geo.services.cases, on a real database (each test rolled back)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from geo.access import Jurisdiction, Principal, Scope
from geo.enums import CaseSource
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, OutsideCity
from geo.params import LonLat
from geo.services.cases import comment, create_case, transition
from geo.services.identity import jurisdiction_of

pytestmark = pytest.mark.anyio

AConn = psycopg.AsyncConnection[Any]


async def _one(conn: AConn, query: str, *args: Any) -> Any:
    row = await (await conn.execute(query, args)).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


async def _principal(conn: AConn, user_id: int, roles: list[str]) -> Principal:
    """The principal a log-in would make: the account's roles and stored jurisdiction."""
    return Principal(user_id, frozenset(roles), None, await jurisdiction_of(conn, user_id))


async def _people(conn: AConn) -> dict[str, Principal]:
    rows = await (
        await conn.execute(
            "SELECT DISTINCT ON (roles[1]) roles[1], id, roles FROM users "
            "WHERE phone LIKE '1380000%%' OR phone LIKE '1370%%' ORDER BY roles[1], id"
        )
    ).fetchall()
    return {r[0]: await _principal(conn, r[1], r[2]) for r in rows}


async def _a_point(conn: AConn) -> LonLat:
    lon, lat = await _one(conn, "SELECT ST_X(geom), ST_Y(geom) FROM facilities ORDER BY id LIMIT 1")
    return LonLat(lon, lat)


async def test_the_full_flow_discover_to_close(conn: AConn) -> None:
    people = await _people(conn)
    point = await _a_point(conn)
    case = await create_case(
        conn, actor=people["citizen"], category="road_damage", point=point,
        description="人行道砖块松动", source=CaseSource.CITIZEN_REPORT,
    )  # fmt: skip
    cell = await _one(
        conn, "SELECT id FROM grid_cells WHERE ST_Intersects(geom, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY id LIMIT 1", point.lon, point.lat,
    )  # fmt: skip
    routed = await _one(
        conn, "SELECT department_id FROM case_categories WHERE code = 'road_damage'"
    )
    assert case.status == "reported"
    assert case.grid_cell_id == cell
    assert case.department_id == routed
    assert case.reporter_id == people["citizen"].user_id

    staff = await _one(
        conn, "SELECT id, roles FROM users WHERE department_id = %s AND phone LIKE '1381%%' "
        "ORDER BY id LIMIT 1", routed,
    )  # fmt: skip
    handler = await _principal(conn, staff[0], staff[1])
    dispatcher = people["dispatcher"]
    case = await transition(conn, case.id, "dispatch", dispatcher, assignee_id=handler.user_id)
    assert case.status == "dispatched"
    assert case.due_at is not None
    assert case.dispatched_at is not None
    # The handle stage's limit in working time (test_case_clock_service holds the arithmetic).
    assert case.due_at > case.dispatched_at
    case = await transition(conn, case.id, "start", handler)
    case = await transition(conn, case.id, "resolve", handler, note="已修复")
    assert case.resolved_at is not None
    case = await transition(conn, case.id, "reopen", dispatcher, note="核查不通过")
    assert case.status == "in_progress"
    assert case.resolved_at is None
    case = await transition(conn, case.id, "resolve", handler, note="已返工")
    case = await transition(conn, case.id, "close", dispatcher, note="核查通过")
    assert case.status == "closed"
    assert case.closed_at is not None
    await comment(conn, case.id, dispatcher, "回访满意")

    events = await (
        await conn.execute(
            "SELECT event_type, from_status, to_status, actor_id FROM case_events "
            "WHERE case_id = %s ORDER BY id",
            (case.id,),
        )
    ).fetchall()
    assert [e[0] for e in events] == [
        "reported", "dispatched", "started", "resolved", "reopened", "resolved", "closed",
        "commented",
    ]  # fmt: skip
    assert events[0][3] == people["citizen"].user_id
    assert events[2][1:] == ("dispatched", "in_progress", handler.user_id)
    # Each write is also a row of the hash-chained audit trail, with who and in which role.
    audited = await (
        await conn.execute(
            "SELECT action, actor_id, actor_role FROM audit_log WHERE object_type = 'case' "
            "AND object_id = %s ORDER BY seq", (str(case.id),),
        )
    ).fetchall()  # fmt: skip
    assert [a[0] for a in audited] == [f"case.{e[0]}" for e in events]
    assert audited[1][1:] == (dispatcher.user_id, "dispatcher")


async def test_illegal_transitions_are_conflicts_and_change_nothing(conn: AConn) -> None:
    people = await _people(conn)
    case = await create_case(
        conn, actor=people["dispatcher"], category="garbage_overflow",
        point=await _a_point(conn), description="", source=CaseSource.HOTLINE,
    )  # fmt: skip
    with pytest.raises(Conflict, match="'close' needs it to be resolved"):
        await transition(conn, case.id, "close", people["dispatcher"])
    events = await _one(conn, "SELECT count(*) FROM case_events WHERE case_id = %s", case.id)
    assert events == 1
    assert (await _one(conn, "SELECT status FROM cases WHERE id = %s", case.id)) == "reported"


async def test_roles_and_departments_are_enforced(conn: AConn) -> None:
    people = await _people(conn)
    case = await create_case(
        conn, actor=people["dispatcher"], category="street_light", point=await _a_point(conn),
        description="路灯不亮", source=CaseSource.HOTLINE,
    )  # fmt: skip
    assert case.reporter_id is None  # hotline cases name no citizen
    with pytest.raises(Forbidden, match="dispatcher"):
        await transition(conn, case.id, "dispatch", people["citizen"])
    await transition(conn, case.id, "dispatch", people["dispatcher"])
    other = await _one(
        conn, "SELECT id, roles FROM users WHERE department_id <> %s AND phone LIKE '1381%%' "
        "ORDER BY id LIMIT 1", case.department_id,
    )  # fmt: skip
    # Another department's case is outside their jurisdiction: loaded in SQL, it is not there.
    with pytest.raises(NotFound):
        await transition(conn, case.id, "start", await _principal(conn, other[0], other[1]))


async def test_duplicates_point_at_a_real_original(conn: AConn) -> None:
    people = await _people(conn)
    point = await _a_point(conn)
    d = people["dispatcher"]
    first = await create_case(conn, actor=d, category="noise", point=point, description="a",
                              source=CaseSource.HOTLINE)  # fmt: skip
    second = await create_case(conn, actor=d, category="noise", point=point, description="b",
                               source=CaseSource.HOTLINE)  # fmt: skip
    with pytest.raises(InvalidInput, match="itself"):
        await transition(conn, second.id, "mark_duplicate", d, duplicate_of=second.id)
    with pytest.raises(NotFound):
        await transition(conn, second.id, "mark_duplicate", d, duplicate_of=10**12)
    marked = await transition(conn, second.id, "mark_duplicate", d, duplicate_of=first.id)
    assert (marked.status, marked.duplicate_of) == ("duplicate", first.id)
    reopened = await transition(conn, second.id, "reopen", d)
    assert (reopened.status, reopened.duplicate_of) == ("reported", None)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"category": "unicorn_sighting"}, InvalidInput, "Unknown case category"),
        ({"point": LonLat(120.0, 30.0)}, OutsideCity, "outside the city"),
        ({"description": "x" * 4001}, InvalidInput, "at most 4000"),
    ],
)
async def test_bad_reports_are_refused_and_nothing_is_written(
    conn: AConn, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    people = await _people(conn)
    before = await _one(conn, "SELECT count(*) FROM cases")
    args: dict[str, Any] = {
        "actor": people["citizen"], "category": "road_damage", "point": await _a_point(conn),
        "description": "ok", "source": CaseSource.CITIZEN_REPORT, **kwargs,
    }  # fmt: skip
    with pytest.raises(error, match=message):
        await create_case(conn, **args)
    assert await _one(conn, "SELECT count(*) FROM cases") == before


async def test_a_change_is_announced_to_listeners(database_url: str, conn: AConn) -> None:
    """NOTIFY on commit reaches a listener on another connection (how other workers hear)."""
    people = await _people(conn)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listener:
        await listener.execute("LISTEN onemap_case_events")
        async with await psycopg.AsyncConnection.connect(database_url) as writer:
            async with writer.transaction(force_rollback=True):  # rolled back: no announcement
                await create_case(
                    writer, actor=people["dispatcher"], category="noise",
                    point=await _a_point(conn), description="", source=CaseSource.HOTLINE,
                )  # fmt: skip
            case = await create_case(
                writer, actor=people["dispatcher"], category="noise",
                point=await _a_point(conn), description="", source=CaseSource.HOTLINE,
            )  # fmt: skip
        # The committed case stays (history is append-only); tests that count use seeded rows.
        notes = [n async for n in listener.notifies(timeout=5, stop_after=1)]
    assert len(notes) == 1
    assert f'"case_id": {case.id}' in notes[0].payload


async def test_jurisdictions_bound_actions_in_sql(conn: AConn) -> None:
    people = await _people(conn)
    district = await _one(conn, "SELECT id FROM admin_areas WHERE level = 'district' "
                          "ORDER BY code LIMIT 1")  # fmt: skip
    inside, outside = await _one(
        conn, "SELECT (SELECT ST_PointOnSurface(g.geom) FROM grid_cells g JOIN admin_areas m "
        "ON m.id = g.community_id JOIN admin_areas s ON s.id = m.parent_id WHERE s.parent_id = %s "
        "ORDER BY g.id LIMIT 1), (SELECT ST_PointOnSurface(g.geom) FROM grid_cells g "
        "JOIN admin_areas m ON m.id = g.community_id JOIN admin_areas s ON s.id = m.parent_id "
        "WHERE s.parent_id <> %s ORDER BY g.id LIMIT 1)", district, district,
    )  # fmt: skip
    points = []
    for geom in (inside, outside):
        lon, lat = await _one(conn, "SELECT ST_X(%s::geometry), ST_Y(%s::geometry)", geom, geom)
        points.append(LonLat(lon, lat))
    city = people["dispatcher"]
    cases = [
        await create_case(conn, actor=city, category="noise", point=p, description="",
                          source=CaseSource.HOTLINE)
        for p in points
    ]  # fmt: skip
    local = Principal(city.user_id, city.roles, None, Jurisdiction(Scope.DISTRICT, (district,)))
    with pytest.raises(NotFound):
        await transition(conn, cases[1].id, "dispatch", local)
    with pytest.raises(NotFound):
        await comment(conn, cases[1].id, local, "不是我的")
    assert (await transition(conn, cases[0].id, "dispatch", local)).status == "dispatched"
    with pytest.raises(Forbidden, match="jurisdiction"):
        await create_case(conn, actor=local, category="noise", point=points[1], description="",
                          source=CaseSource.HOTLINE)  # fmt: skip
    # A grid worker may create in their cells only, and never dispatch.
    worker = people["grid_worker"]
    assert worker.jurisdiction.scope is Scope.GRID_CELLS
    with pytest.raises(Forbidden, match="dispatch"):
        await transition(conn, cases[0].id, "reject", worker)
