"""geo.services.hotline, callbacks and checks on a real database (each test rolled back): two
callers of one case, each called back; a dispatcher's reopen cancels the callbacks still due;
a caller who declined gets none; a case of a category without the check closes as before."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from geo.access import Principal
from geo.enums import Satisfaction
from geo.errors import Conflict, Forbidden, InvalidInput
from geo.params import LonLat
from geo.services import callbacks, hotline
from geo.services.cases import transition
from geo.services.identity import jurisdiction_of

pytestmark = pytest.mark.anyio

AConn = psycopg.AsyncConnection[Any]


async def _principal(conn: AConn, where: str) -> Principal:
    row = await (
        await conn.execute(f"SELECT id, roles FROM users WHERE {where} ORDER BY id LIMIT 1")
    ).fetchone()
    assert row is not None
    return Principal(row[0], frozenset(row[1]), None, await jurisdiction_of(conn, row[0]))


async def _closed_case(conn: AConn, callers: list[hotline.Caller]) -> tuple[int, Principal]:
    """A noise case (no on-site check) taken on the hotline with ``callers``, handled and
    closed; and the dispatcher who closed it."""
    operator = await _principal(conn, "'hotline_operator' = ANY(roles)")
    dispatcher = await _principal(conn, "roles = ARRAY['dispatcher'] "
                                  "AND jurisdiction_scope = 'city'")  # fmt: skip
    point = await (
        await conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM facilities ORDER BY id LIMIT 1")
    ).fetchone()
    assert point is not None
    case = await hotline.create_hotline_case(
        conn, actor=operator, caller=callers[0], category="noise", point=LonLat(*point),
        description="夜间施工噪音",
    )  # fmt: skip
    for caller in callers[1:]:
        await hotline.attach_call(conn, case.id, operator, caller, "又一位市民来电")
    for action in ("dispatch", "start", "resolve", "close"):
        await transition(conn, case.id, action, dispatcher)
    return case.id, dispatcher


async def _callbacks(conn: AConn, case_id: int) -> list[tuple[Any, ...]]:
    rows = await (
        await conn.execute(
            "SELECT p.name, b.status, b.satisfaction FROM case_callbacks b "
            "JOIN case_callers p ON p.id = b.caller_id WHERE b.case_id = %s ORDER BY b.id",
            (case_id,),
        )
    ).fetchall()
    return [tuple(r) for r in rows]


async def test_two_callers_are_each_called_back(conn: AConn) -> None:
    callers = [hotline.Caller("李女士", "13812345678"), hotline.Caller("王先生", "021-62345678"),
               hotline.Caller("赵先生", "13912345678", consent_callback=False)]  # fmt: skip
    case_id, _ = await _closed_case(conn, callers)
    operator = await _principal(conn, "'hotline_operator' = ANY(roles)")
    assert await _callbacks(conn, case_id) == [("李女士", "pending", None),
                                               ("王先生", "pending", None)]  # fmt: skip
    with pytest.raises(InvalidInput, match="say which"):
        await callbacks.record(conn, case_id, operator, Satisfaction.SATISFIED, None)
    found = await conn.execute("SELECT id FROM case_callers WHERE case_id = %s ORDER BY id",
                               (case_id,))  # fmt: skip
    ids = [r[0] for r in await found.fetchall()]
    await callbacks.record(conn, case_id, operator, Satisfaction.SATISFIED, None, ids[0])
    case = await callbacks.record(
        conn, case_id, operator, Satisfaction.BASICALLY_SATISFIED, "还可以", ids[1]
    )
    assert case.status == "closed"
    assert await _callbacks(conn, case_id) == [
        ("李女士", "done", "satisfied"),
        ("王先生", "done", "basically_satisfied"),
    ]
    # Read alike with app ratings (a 2 of 5 is not satisfied).
    await conn.execute("INSERT INTO ratings (object_type, object_id, rater_id, score) "
                       "VALUES ('case', %s, %s, 2)", (case_id, operator.user_id))  # fmt: skip
    read = await conn.execute(
        "SELECT channel, satisfaction FROM case_satisfaction WHERE case_id = %s "
        "ORDER BY channel DESC, at",
        (case_id,),
    )
    assert [tuple(r) for r in await read.fetchall()] == [
        ("callback", "satisfied"),
        ("callback", "basically_satisfied"),
        ("app", "not_satisfied"),
    ]


async def test_a_reopen_cancels_the_callbacks_due_and_the_next_close_brings_new_ones(
    conn: AConn,
) -> None:
    case_id, dispatcher = await _closed_case(conn, [hotline.Caller("李女士", "13812345678")])
    await transition(conn, case_id, "reopen", dispatcher, note="复查发现未处理完")
    assert await _callbacks(conn, case_id) == [("李女士", "cancelled", None)]
    operator = await _principal(conn, "'hotline_operator' = ANY(roles)")
    with pytest.raises(Conflict, match="no pending callback"):
        await callbacks.record(conn, case_id, operator, Satisfaction.SATISFIED, None)
    for action in ("start", "resolve", "close"):
        await transition(conn, case_id, action, dispatcher)
    assert await _callbacks(conn, case_id) == [("李女士", "cancelled", None),
                                               ("李女士", "pending", None)]  # fmt: skip


async def test_who_may_keep_and_call_back(conn: AConn) -> None:
    worker = await _principal(conn, "roles = ARRAY['grid_worker']")
    handler = await _principal(conn, "roles = ARRAY['department_staff']")
    point = LonLat(121.48, 31.23)
    caller = hotline.Caller("李女士", "13812345678")
    with pytest.raises(Forbidden, match="read_personal"):
        await hotline.create_hotline_case(conn, actor=worker, caller=caller, category="noise",
                                          point=point, description="噪音")  # fmt: skip
    with pytest.raises(Forbidden, match="create_cases"):
        await hotline.create_hotline_case(conn, actor=handler, caller=caller, category="noise",
                                          point=point, description="噪音")  # fmt: skip
    with pytest.raises(Forbidden, match="callback"):
        await callbacks.record(conn, 1, handler, Satisfaction.SATISFIED, None)
