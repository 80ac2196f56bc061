"""Alarms → cases: what a change of level does (geo.services.sensor_alarms decides when).

- warning (from normal): an alarm row at level warning; shown live and on the map, no case —
  a warning is a reading to watch, and a case per warning would flood the dispatchers;
- alarm: the row's level is alarm and ONE case is made through the case service (source
  ``sensor``, the rule's category and priority, routed to the Thing's grid cell and the
  category's department like any other case); a Datastream whose other rule already has an
  open case shares it;
- while the alarm lasts, the case gets a comment when the level changes or the peak moved by
  the rule's ``update_step`` — not per reading;
- the clear is written on the alarm row and commented on the case's timeline;
- raised again within the rule's ``rearm_s`` of its clear, the same alarm row is reopened and
  its case (still open) commented, instead of a new case; a case closed meanwhile gets a new one.

Every change is NOTIFYed on ``onemap_sensor_alarms`` (small payload, no positions): the live
feed and the ``sensorAlarms`` subscription load what each subscriber may see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo.access import Capability, system
from geo.enums import OPEN_CASE_STATUSES, CaseEventType, CasePriority, CaseSource, SensorLevel
from geo.errors import OneMapError
from geo.params import LonLat
from geo.services import cases

log = logging.getLogger("onemap.sensors")
CHANNEL = "onemap_sensor_alarms"
SYSTEM = system(Capability.CREATE_CASES, Capability.COMMENT)
L = SensorLevel
_OPEN = [s.value for s in OPEN_CASE_STATUSES]
_NAMES = {L.WARNING: "预警", L.ALARM: "告警", L.NORMAL: "正常"}

_CONTEXT = """
SELECT r.name, r.category, r.priority, r.update_step, r.rearm_s, r.warning_level,
  r.alarm_level, t.name AS thing, d.name AS datastream,
  d.unit_of_measurement ->> 'symbol' AS unit, a.id AS alarm_id, a.level, a.case_id,
  a.peak_value, a.told_value
FROM sensor_rules r JOIN sta_datastreams d ON d.id = %(ds)s JOIN sta_things t ON t.id = d.thing_id
LEFT JOIN sensor_alarms a ON a.datastream_id = d.id AND a.rule_id = r.id AND a.cleared_at IS NULL
WHERE r.id = %(rule)s
"""


#: State changes of one statement told one by one; more are told as one "many" notice.
MAX_NOTICES = 100


async def notify(conn: AsyncConnection[Any], payloads: Sequence[dict[str, Any]]) -> None:
    await conn.execute("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p",
                       (CHANNEL, [json.dumps(p) for p in payloads]))  # fmt: skip


async def apply(
    conn: AsyncConnection[Any], ds: int, thing: int, rule_id: int,
    changes: Sequence[tuple[L, L, datetime, float]], raised: Sequence[tuple[datetime, float]],
) -> None:  # fmt: skip
    """The changes of one Datastream under one rule, and its readings above normal."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CONTEXT, {"ds": ds, "rule": rule_id})
        ctx = await cur.fetchone()
    if ctx is None:
        return
    events: list[dict[str, Any]] = []
    for old, new, at, value in changes:
        if old is L.NORMAL:
            await _open(conn, ctx, ds, thing, rule_id, new, at, value)
            change = "raised"
        elif new is L.NORMAL:
            await conn.execute("UPDATE sensor_alarms SET cleared_at = %s, last_at = %s, "
                               "last_value = %s WHERE id = %s",
                               (at, at, value, ctx["alarm_id"]))  # fmt: skip
            await _comment(
                conn, ctx, f"已解除：读数 {value:g} 回落到正常（规则「{ctx['name']}」）。"
            )
            change = "cleared"
        else:
            await conn.execute(
                "UPDATE sensor_alarms SET level = %(l)s::text, peak_level = CASE "
                "WHEN %(l)s::text = 'alarm' THEN 'alarm' ELSE peak_level END WHERE id = %(id)s",
                {"l": new.value, "id": ctx["alarm_id"]},
            )
            await _comment(conn, ctx, f"{_NAMES[old]}→{_NAMES[new]}：读数 {value:g}。")
            change = "escalated" if new is L.ALARM else "eased"
        ctx["level"] = None if new is L.NORMAL else new.value
        if new is L.ALARM:
            await _ensure_case(conn, ctx, ds, thing, value)
        events.append({"alarm_id": ctx["alarm_id"], "datastream_id": ds, "thing_id": thing,
                       "change": change, "level": new.value})  # fmt: skip
    since = changes[-1][2] if changes else None
    now = [(at, v) for at, v in raised if since is None or at >= since]
    if ctx["level"] is not None and now:
        await _follow(conn, ctx, ds, thing, now, events)
    if events:
        await notify(conn, events)


async def _follow(
    conn: AsyncConnection[Any], ctx: dict[str, Any], ds: int, thing: int,
    readings: Sequence[tuple[datetime, float]], events: list[dict[str, Any]],
) -> None:  # fmt: skip
    """The open alarm's last and peak values; its case told when the peak moved enough."""
    at, last = readings[-1]
    peak = max(v for _, v in readings)
    if ctx["peak_value"] is not None:
        peak = max(peak, ctx["peak_value"])
    told = ctx.get("told_value")
    tell = ctx["level"] == L.ALARM.value and ctx["case_id"] is not None and (
        told is None or abs(peak - told) >= ctx["update_step"])  # fmt: skip
    await conn.execute(
        "UPDATE sensor_alarms SET last_at = %s, last_value = %s, peak_value = %s, "
        "told_value = CASE WHEN %s THEN %s ELSE told_value END WHERE id = %s",
        (at, last, peak, tell, peak, ctx["alarm_id"]),
    )
    if tell and told is not None and peak != told:
        await _comment(conn, ctx, f"告警持续：峰值 {peak:g}（上次通报 {told:g}），最新 {last:g}。")
        events.append({"alarm_id": ctx["alarm_id"], "datastream_id": ds, "thing_id": thing,
                       "change": "updated", "level": ctx["level"]})  # fmt: skip


async def _open(
    conn: AsyncConnection[Any], ctx: dict[str, Any], ds: int, thing: int, rule_id: int,
    level: L, at: datetime, value: float,
) -> None:  # fmt: skip
    """A new alarm row, or the one cleared within ``rearm_s`` reopened."""
    cur = await conn.execute(
        "UPDATE sensor_alarms a SET cleared_at = NULL, level = %(level)s::text, "
        "peak_level = CASE WHEN %(level)s::text = 'alarm' THEN 'alarm' ELSE a.peak_level END, "
        "last_at = %(at)s, last_value = %(v)s, peak_value = GREATEST(a.peak_value, %(v)s) "
        "WHERE a.id = (SELECT id FROM sensor_alarms WHERE datastream_id = %(ds)s "
        "AND rule_id = %(rule)s AND cleared_at >= %(at)s - make_interval(secs => %(rearm)s) "
        "ORDER BY cleared_at DESC LIMIT 1) RETURNING a.id, a.case_id, a.peak_value, a.told_value",
        {"level": level, "at": at, "v": value, "ds": ds, "rule": rule_id, "rearm": ctx["rearm_s"]},
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            "INSERT INTO sensor_alarms (datastream_id, thing_id, rule_id, level, peak_level, "
            "raised_at, last_at, last_value, peak_value) VALUES (%(ds)s, %(thing)s, %(rule)s, "
            "%(level)s::text, %(level)s::text, %(at)s, %(at)s, %(v)s, %(v)s) "
            "RETURNING id, case_id, peak_value, told_value",
            {"ds": ds, "thing": thing, "rule": rule_id, "level": level, "at": at, "v": value},
        )
        row = await cur.fetchone()
        assert row is not None
    ctx.update(alarm_id=row[0], case_id=row[1], peak_value=row[2], told_value=row[3])
    await conn.execute("UPDATE sensor_rule_states SET alarm_id = %s WHERE datastream_id = %s "
                       "AND rule_id = %s", (row[0], ds, rule_id))  # fmt: skip
    if row[1] is not None and level is L.WARNING:
        await _comment(conn, ctx, f"再次{_NAMES[level]}：读数 {value:g}（规则「{ctx['name']}」）。")


async def _open_case(conn: AsyncConnection[Any], case_id: int | None) -> bool:
    if case_id is None:
        return False
    cur = await conn.execute("SELECT status = ANY(%s) FROM cases WHERE id = %s", (_OPEN, case_id))
    row = await cur.fetchone()
    return bool(row and row[0])


async def _ensure_case(
    conn: AsyncConnection[Any], ctx: dict[str, Any], ds: int, thing: int, value: float
) -> None:
    """The alarm's case: its own while open, another open alarm's of the Datastream, or new."""
    if await _open_case(conn, ctx["case_id"]):
        await _comment(conn, ctx, f"告警：读数 {value:g}（规则「{ctx['name']}」）。")
        return
    cur = await conn.execute(
        "SELECT a.case_id FROM sensor_alarms a JOIN cases c ON c.id = a.case_id "
        "WHERE a.datastream_id = %s AND a.cleared_at IS NULL AND a.id <> %s "
        "AND c.status = ANY(%s) LIMIT 1",
        (ds, ctx["alarm_id"], _OPEN),
    )
    shared = await cur.fetchone()
    if shared is not None:
        ctx["case_id"] = shared[0]
        await _comment(conn, ctx, f"同一设备另一规则告警：「{ctx['name']}」，读数 {value:g}。")
    else:
        ctx["case_id"] = await _new_case(conn, ctx, thing, value)
    await conn.execute("UPDATE sensor_alarms SET case_id = %s, told_value = %s WHERE id = %s",
                       (ctx["case_id"], value, ctx["alarm_id"]))  # fmt: skip
    ctx["told_value"] = value


async def _new_case(
    conn: AsyncConnection[Any], ctx: dict[str, Any], thing: int, value: float
) -> int | None:
    cur = await conn.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(l.geom) AS p "
        "FROM sta_thing_locations tl JOIN sta_locations l ON l.id = tl.location_id "
        "WHERE tl.thing_id = %s ORDER BY l.id LIMIT 1) x",
        (thing,),
    )
    where = await cur.fetchone()
    if where is None:
        log.warning("sensor alarm %s: Thing %s has no Location, no case made",
                    ctx["alarm_id"], thing)  # fmt: skip
        return None
    unit = f" {ctx['unit']}" if ctx["unit"] else ""
    text = (f"传感器告警（{ctx['name']}）：{ctx['thing']} · {ctx['datastream']}，读数 {value:g}"
            f"{unit}（预警 {ctx['warning_level']:g}，告警 {ctx['alarm_level']:g}）。")  # fmt: skip
    try:
        case = await cases.create_case(
            conn, actor=SYSTEM, category=ctx["category"], point=LonLat(where[0], where[1]),
            description=text, source=CaseSource.SENSOR, priority=CasePriority(ctx["priority"]),
        )  # fmt: skip
    except OneMapError as exc:  # outside the city: the alarm stands, without a case
        log.warning("sensor alarm %s: no case made: %s", ctx["alarm_id"], exc.message)
        return None
    return case.id


async def _comment(conn: AsyncConnection[Any], ctx: dict[str, Any], note: str) -> None:
    """A note on the alarm's case timeline (when it has an open one)."""
    if await _open_case(conn, ctx.get("case_id")):
        await cases.append_event(conn, ctx["case_id"], CaseEventType.COMMENTED, None, None,
                                 SYSTEM, None, note, datetime.now(UTC))  # fmt: skip


async def set_states(
    conn: AsyncConnection[Any], changed: Sequence[tuple[int, int, L | str, bool]]
) -> None:
    """Datastreams' map states: (datastream, thing, level or 'offline', was offline)."""
    await conn.execute(
        "INSERT INTO sensor_datastream_states (datastream_id, level, state, since) "
        "SELECT ds, CASE WHEN st = 'offline' THEN 'normal' ELSE st END, st, now() "
        "FROM unnest(%s::bigint[], %s::text[]) AS x(ds, st) ON CONFLICT (datastream_id) DO "
        "UPDATE SET state = excluded.state, since = now(), level = CASE WHEN excluded.state = "
        "'offline' THEN sensor_datastream_states.level ELSE excluded.level END",
        ([c[0] for c in changed], [str(c[2]) for c in changed]),
    )
    if len(changed) > MAX_NOTICES:
        # A city's worth at once (the seeded devices going quiet together): one notice, not
        # tens of thousands for every process and subscriber; the map's tiles hear of it from
        # the Things' own trigger (migration 0022).
        await notify(conn, [{"change": "many", "count": len(changed)}])
        return
    await notify(conn, [{"datastream_id": ds, "thing_id": thing, "level": str(state),
                         "change": "offline" if state == "offline" else
                         "online" if was_offline else "state"}
                        for ds, thing, state, was_offline in changed])  # fmt: skip


async def retire(conn: AsyncConnection[Any], rule_id: int) -> None:
    """A rule switched off: its open alarms cleared (their cases told), its states normal, and
    the Datastreams' map states recomputed from their other rules."""
    cur = await conn.execute(
        "UPDATE sensor_alarms SET cleared_at = now() WHERE rule_id = %s AND cleared_at IS NULL "
        "RETURNING id, datastream_id, thing_id, case_id",
        (rule_id,),
    )
    closed = await cur.fetchall()
    await conn.execute("UPDATE sensor_rule_states SET level = 'normal', pending_since = NULL, "
                       "pending_count = 0 WHERE rule_id = %s", (rule_id,))  # fmt: skip
    for alarm_id, _, _, case_id in closed:
        await _comment(conn, {"case_id": case_id}, f"规则停用：告警 {alarm_id} 解除。")
    if not closed:
        return
    cur = await conn.execute(
        "SELECT d.id, d.thing_id, coalesce((SELECT s.level FROM sensor_rule_states s "
        "JOIN sensor_rules r ON r.id = s.rule_id AND r.enabled WHERE s.datastream_id = d.id "
        "ORDER BY array_position(ARRAY['normal', 'warning', 'alarm'], s.level) DESC LIMIT 1), "
        "'normal'), x.state FROM sta_datastreams d "
        "JOIN sensor_datastream_states x ON x.datastream_id = d.id WHERE d.id = ANY(%s)",
        (sorted({row[1] for row in closed}),),
    )
    changed = [(ds, thing, L(level), False) for ds, thing, level, state in await cur.fetchall()
               if state not in (level, "offline")]  # fmt: skip
    if changed:
        await set_states(conn, changed)
    await notify(conn, [{"alarm_id": a, "datastream_id": ds, "thing_id": t, "change": "cleared",
                         "level": "normal"} for a, ds, t, _ in closed])  # fmt: skip
