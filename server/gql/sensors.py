"""Sensor alarms in GraphQL: the alarms and the Datastreams' states (sensor data: a critical
device's exist only for READ_SENSORS), the rules (MANAGE_SENSORS), and the ``sensorAlarms``
subscription fed by NOTIFY on ``onemap_sensor_alarms``. The services are
geo.services.sensor_rules (writes) and geo.queries.sensor_alarms (reads)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from geo.access import Capability
from geo.enums import SensorLevel, SensorState
from geo.queries.sensor_alarms import AlarmRow, StateRow, sensor_alarm, sensor_states
from geo.queries.sensor_alarms import sensor_alarms as alarms_query
from geo.queries.sensor_alarms import sensor_rules as rules_query
from geo.services import sensor_rules
from server.gql.context import Info
from server.gql.errors import coded_errors
from server.gql.inputs import page_size, to_id
from server.gql.subscriptions import while_signed_in

strawberry.enum(SensorState, name="SensorState",
                description="A Datastream's state on the map: its rules' highest level, or "
                "OFFLINE when it missed its expected readings.")  # fmt: skip
strawberry.enum(SensorLevel, name="SensorLevel", description="What a rule makes of readings.")


@strawberry.type(description="An episode of warning or alarm of a Datastream under a rule. "
                 "Values are in the rule's terms: the reading less the rule's reference (e.g. "
                 "metres over the warning line), or its change per minute.")  # fmt: skip
class SensorAlarm:
    id: strawberry.ID
    datastream_id: strawberry.ID
    datastream_name: str
    thing_id: strawberry.ID
    thing_name: str
    rule_id: strawberry.ID
    rule_name: str
    level: SensorLevel
    peak_level: SensorLevel
    state: SensorState = strawberry.field(description="The Datastream's state now.")
    raised_at: datetime
    last_at: datetime
    last_value: float
    peak_value: float
    cleared_at: datetime | None
    active: bool
    case_id: strawberry.ID | None = strawberry.field(
        description="The case it made (an alarm; a warning makes none). Null for callers "
        "without read_cases."
    )
    case_public_id: str | None

    @classmethod
    def from_row(cls, r: AlarmRow, cases: bool) -> SensorAlarm:
        return cls(
            id=strawberry.ID(str(r.id)), datastream_id=strawberry.ID(str(r.datastream_id)),
            datastream_name=r.datastream, thing_id=strawberry.ID(str(r.thing_id)),
            thing_name=r.thing, rule_id=strawberry.ID(str(r.rule_id)), rule_name=r.rule,
            level=SensorLevel(r.level), peak_level=SensorLevel(r.peak_level),
            state=SensorState(r.state), raised_at=r.raised_at, last_at=r.last_at,
            last_value=r.last_value, peak_value=r.peak_value, cleared_at=r.cleared_at,
            active=r.cleared_at is None,
            case_id=strawberry.ID(str(r.case_id)) if cases and r.case_id else None,
            case_public_id=r.case_public_id if cases else None,
        )  # fmt: skip


@strawberry.type(description="A Datastream's state for the map, with its latest reading.")
class SensorDatastreamState:
    datastream_id: strawberry.ID
    datastream_name: str
    thing_id: strawberry.ID
    thing_name: str
    state: SensorState
    since: datetime | None
    latest_time: datetime | None
    latest_result: JSON | None

    @classmethod
    def from_row(cls, r: StateRow) -> SensorDatastreamState:
        return cls(datastream_id=strawberry.ID(str(r.datastream_id)), datastream_name=r.datastream,
                   thing_id=strawberry.ID(str(r.thing_id)), thing_name=r.thing,
                   state=SensorState(r.state), since=r.since, latest_time=r.latest_time,
                   latest_result=r.latest_result)  # fmt: skip


@strawberry.type(description="A threshold or rate rule for an observed property (docs/sensors.md).")
class SensorRule:
    id: strawberry.ID
    name: str
    observed_property: str
    kind: str
    reference: str | None
    warning_level: float
    alarm_level: float
    hysteresis: float
    min_duration_s: int
    min_readings: int
    update_step: float
    rearm_s: int
    category: str
    priority: str
    enabled: bool
    updated_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> SensorRule:
        return cls(**{**r, "id": strawberry.ID(str(r["id"]))})


@strawberry.input(description="A rule's fields; on update, those left out stay as they are.")
class SensorRuleInput:
    name: str | None = None
    observed_property: str | None = strawberry.field(
        default=None, description="An ObservedProperty's name (any case) or definition URI."
    )
    kind: str | None = strawberry.field(default=None, description="threshold or rate.")
    reference: str | None = strawberry.field(
        default=None, description="A Datastream (or Thing) property subtracted from readings."
    )
    warning_level: float | None = None
    alarm_level: float | None = None
    hysteresis: float | None = None
    min_duration_s: int | None = None
    min_readings: int | None = None
    update_step: float | None = None
    rearm_s: int | None = None
    category: str | None = None
    priority: str | None = None
    enabled: bool | None = None


@strawberry.type
class SensorQuery:
    @strawberry.field(description="Sensor alarms, newest first (critical devices' only with "
                      "read_sensors). active: open ones; false: cleared; null: both.")  # fmt: skip
    async def sensor_alarms(
        self, info: Info, active: bool | None = True, thing_id: strawberry.ID | None = None,
        first: int | None = None,
    ) -> list[SensorAlarm]:  # fmt: skip
        ctx = info.context
        limit = page_size(first, ctx.settings.default_first, ctx.settings.max_first)
        thing = to_id(thing_id, "thingId") if thing_id else None
        found = await ctx.fetch(alarms_query(ctx.principal, active=active, thing_id=thing,
                                             limit=limit))  # fmt: skip
        cases = ctx.can(Capability.READ_CASES)
        return [SensorAlarm.from_row(r, cases) for r in found]

    @strawberry.field(description="Datastreams' states for the map, those not normal first.")
    async def sensor_states(
        self, info: Info, states: list[SensorState] | None = None,
        datastream_id: strawberry.ID | None = None, first: int | None = None,
    ) -> list[SensorDatastreamState]:  # fmt: skip
        ctx = info.context
        limit = page_size(first, ctx.settings.default_first, ctx.settings.max_first)
        ds = to_id(datastream_id, "datastreamId") if datastream_id else None
        wanted = [s.value for s in states] if states else None
        found = await ctx.fetch(sensor_states(ctx.principal, states=wanted, datastream_id=ds,
                                              limit=limit))  # fmt: skip
        return [SensorDatastreamState.from_row(r) for r in found]

    @strawberry.field(description="Every sensor rule (manage_sensors).")
    async def sensor_rules(self, info: Info) -> list[SensorRule]:
        info.context.require(Capability.MANAGE_SENSORS)
        return [SensorRule.from_row(r) for r in await info.context.fetch(rules_query())]


def _input(given: SensorRuleInput) -> sensor_rules.RuleInput:
    return sensor_rules.RuleInput(**vars(given))


@strawberry.type
class SensorMutation:
    @strawberry.mutation(description="A new sensor rule (manage_sensors).")
    async def create_sensor_rule(self, info: Info, input: SensorRuleInput) -> SensorRule:
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            row = await sensor_rules.create_rule(conn, info.context.principal, _input(input))
        return SensorRule.from_row(row)

    @strawberry.mutation(description="Change a sensor rule (manage_sensors); it applies from the "
                         "next readings on.")  # fmt: skip
    async def update_sensor_rule(
        self, info: Info, id: strawberry.ID, input: SensorRuleInput
    ) -> SensorRule:
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            row = await sensor_rules.update_rule(conn, info.context.principal, to_id(id),
                                                 _input(input))  # fmt: skip
        return SensorRule.from_row(row)


@strawberry.type(description="A change of a sensor alarm or of a Datastream's state.")
class SensorAlarmNotice:
    change: str = strawberry.field(description="raised, escalated, eased, updated, cleared; or, "
                                   "without an alarm, offline, online, state.")  # fmt: skip
    datastream_id: strawberry.ID
    state: SensorState
    thing_id: strawberry.ID
    thing_state: SensorState = strawberry.field(
        description="The device's state on the map: the worst of its Datastreams' states."
    )
    alarm: SensorAlarm | None


@strawberry.type
class SensorSubscription:
    @strawberry.subscription(
        description="Sensor alarms and Datastream states as they change (critical devices' "
        "only with read_sensors; logged-in callers)."
    )
    async def sensor_alarms(self, info: Info) -> AsyncGenerator[SensorAlarmNotice, None]:
        ctx = info.context
        with coded_errors():
            ctx.require()
        cases = ctx.can(Capability.READ_CASES)
        async for note in while_signed_in(ctx, "onemap_sensor_alarms"):
            if "datastream_id" not in note:
                continue  # many states at once ("many"): the map's tiles carry them
            ds = int(note["datastream_id"])
            seen = await ctx.fetch(sensor_states(ctx.principal, states=None, datastream_id=ds,
                                                 limit=1))  # fmt: skip
            if not seen:
                continue  # a critical device, for a caller without read_sensors
            alarm = None
            if note.get("alarm_id") is not None:
                found = await ctx.fetch(sensor_alarm(ctx.principal, int(note["alarm_id"])))
                alarm = SensorAlarm.from_row(found[0], cases) if found else None
            yield SensorAlarmNotice(change=str(note["change"]),
                                    datastream_id=strawberry.ID(str(ds)),
                                    state=SensorState(seen[0].state),
                                    thing_id=strawberry.ID(str(seen[0].thing_id)),
                                    thing_state=SensorState(seen[0].thing_state),
                                    alarm=alarm)  # fmt: skip
