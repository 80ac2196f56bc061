"""The writer of sensor rules (``sensor_rules``): the defaults a city starts with, and an
admin's (MANAGE_SENSORS) creates and updates, checked before anything is written.

A rule applies to every Datastream whose ObservedProperty's name (lower case) or definition
equals its ``observed_property``; docs/sensors.md ("Rules and alarms") tells what each field
does to the state machine (geo.services.sensor_alarms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from geo import access
from geo.access import Capability, Principal
from geo.enums import CasePriority, SensorRuleKind
from geo.errors import Conflict, InvalidInput, NotFound
from geo.sensor_alarm_models import FIELDS
from geo.services import audit, sensor_effects

RULE_COLUMNS = (
    "id, name, observed_property, kind, reference, warning_level, alarm_level, hysteresis, "
    "min_duration_s, min_readings, update_step, rearm_s, category, priority, enabled, updated_at"
)


@dataclass(frozen=True)
class RuleInput:
    """A rule as an admin sends it; None leaves a field as it is (on update)."""

    name: str | None = None
    observed_property: str | None = None
    kind: str | None = None
    reference: str | None = None
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


def _check(rule: dict[str, Any]) -> dict[str, Any]:
    """InvalidInput naming the field, for a rule as it would be stored."""
    for key in ("name", "observed_property"):
        value = (rule.get(key) or "").strip()
        if not value or len(value) > 200:
            raise InvalidInput(f"A rule needs a {key} of 1 to 200 characters.", field=key)
        rule[key] = value if key == "name" else value.lower() if "://" not in value else value
    if rule["kind"] not in {k.value for k in SensorRuleKind}:
        raise InvalidInput("kind is 'threshold' or 'rate'.", field="kind")
    if rule["priority"] not in {p.value for p in CasePriority}:
        raise InvalidInput("priority is one of low, normal, high, urgent.", field="priority")
    for key in ("warning_level", "alarm_level", "hysteresis", "update_step"):
        if not isinstance(rule[key], int | float) or not math.isfinite(rule[key]):
            raise InvalidInput(f"{key} must be a finite number.", field=key)
    if rule["warning_level"] > rule["alarm_level"]:
        raise InvalidInput("warning_level must not be above alarm_level.", field="warning_level")
    if rule["hysteresis"] < 0 or rule["update_step"] <= 0:
        raise InvalidInput("hysteresis must be ≥ 0 and update_step > 0.", field="hysteresis")
    if rule["min_duration_s"] < 0 or rule["min_readings"] < 1 or rule["rearm_s"] < 0:
        raise InvalidInput("min_duration_s and rearm_s must be ≥ 0, min_readings ≥ 1.",
                           field="min_readings")  # fmt: skip
    if rule["reference"] is not None and not rule["reference"].strip():
        rule["reference"] = None
    return rule


async def _category_exists(conn: AsyncConnection[Any], code: str) -> None:
    cur = await conn.execute("SELECT 1 FROM case_categories WHERE code = %s", (code,))
    if await cur.fetchone() is None:
        raise InvalidInput(f"Unknown case category {code!r}.", field="category")


async def create_rule(
    conn: AsyncConnection[Any], principal: Principal, given: RuleInput
) -> dict[str, Any]:
    access.require(principal, Capability.MANAGE_SENSORS)
    defaults = {"hysteresis": 0.0, "min_duration_s": 0, "min_readings": 1, "rearm_s": 1800,
                "priority": CasePriority.HIGH.value, "enabled": True}  # fmt: skip
    rule = {**defaults, **{k: v for k, v in vars(given).items() if v is not None}}
    missing = [k for k in ("name", "observed_property", "kind", "warning_level", "alarm_level",
                           "update_step", "category") if k not in rule]  # fmt: skip
    if missing:
        raise InvalidInput(f"A new rule needs {', '.join(missing)}.", field=missing[0])
    rule.setdefault("reference", None)
    return await _write(conn, principal, _check(rule), None)


async def update_rule(
    conn: AsyncConnection[Any], principal: Principal, rule_id: int, given: RuleInput
) -> dict[str, Any]:
    access.require(principal, Capability.MANAGE_SENSORS)
    current = await get_rule(conn, rule_id)
    changes = {k: v for k, v in vars(given).items() if v is not None}
    rule = {k: current[k] for k in (*FIELDS, "rearm_s", "enabled")} | changes
    async with conn.transaction():
        written = await _write(conn, principal, _check(rule), rule_id)
        if current["enabled"] and not written["enabled"]:
            await sensor_effects.retire(conn, rule_id)
    return written


async def _write(
    conn: AsyncConnection[Any], principal: Principal, rule: dict[str, Any], rule_id: int | None
) -> dict[str, Any]:
    columns = [*FIELDS, "rearm_s", "enabled"]
    async with conn.transaction():
        await _category_exists(conn, rule["category"])
        taken = await conn.execute(
            "SELECT 1 FROM sensor_rules WHERE name = %s AND id IS DISTINCT FROM %s",
            (rule["name"], rule_id),
        )
        if await taken.fetchone() is not None:
            raise Conflict(f"A rule named {rule['name']!r} exists already.")
        values = {c: rule[c] for c in columns}
        if rule_id is None:
            cur = await conn.execute(
                f"INSERT INTO sensor_rules ({', '.join(columns)}) VALUES "  # noqa: S608 - ours
                f"({', '.join(f'%({c})s' for c in columns)}) RETURNING id",
                values,
            )
        else:
            cur = await conn.execute(
                f"UPDATE sensor_rules SET {', '.join(f'{c} = %({c})s' for c in columns)}, "  # noqa: S608
                "updated_at = now() WHERE id = %(id)s RETURNING id",
                {**values, "id": rule_id},
            )
        row = await cur.fetchone()
        assert row is not None
        await audit.record(conn, actor_id=principal.user_id, actor_role=principal.audit_role,
                           action="sensor_rule." + ("create" if rule_id is None else "update"),
                           object_type="sensor_rule", object_id=row[0], client_addr=None,
                           detail=values)  # fmt: skip
        return await get_rule(conn, int(row[0]))


async def get_rule(conn: AsyncConnection[Any], rule_id: int) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {RULE_COLUMNS} FROM sensor_rules WHERE id = %s",  # noqa: S608
                          (rule_id,))  # fmt: skip
        row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No sensor rule with id {rule_id}.")
    return dict(row)
