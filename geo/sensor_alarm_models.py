"""Rules, alarms and states of the sensors (issue 15, item 4), as models.

A rule (``sensor_rules``) applies to every Datastream whose ObservedProperty it names; its
state per Datastream (``sensor_rule_states``) carries what the next batch of readings needs
(the level, the pending condition, the previous reading for a rate); an alarm
(``sensor_alarms``) is one episode of warning or alarm, with the case it made; a Datastream's
state on the map (``sensor_datastream_states``) is its rules' highest level, or offline.
docs/sensors.md ("Rules and alarms") tells the state machine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import CasePriority, SensorLevel, SensorRuleKind, SensorState, sql_in
from geo.models import Base

_ALARM_LEVELS = "('warning', 'alarm')"

#: The columns a rule has, in the order of DEFAULT_RULES' tuples.
FIELDS = ("name", "observed_property", "kind", "reference", "warning_level", "alarm_level",
          "hysteresis", "min_duration_s", "min_readings", "update_step", "category",
          "priority")  # fmt: skip

#: The city's starting rules. Levels follow common practice for the devices: photoelectric
#: smoke detectors alarm around 3 %/m obscuration; gas detectors have a low alarm at 10 % and a
#: high one at 20–25 % of the lower explosive limit; a waterlogging gauge warns when the water
#: reaches the warning line (``warningLine``, metres, on the Datastream or its Thing) and
#: alarms 15 cm over it; XLPE cable insulation is rated for 90 °C. The categories are the
#: seeded vocabulary's (seed/vocab.py): smoke to the fire brigade (fire_hazard), gas to the fire
#: brigade as a gas leak (gas_leak), cables to the power company (cable_overheat), water to the
#: water authority (waterlogging).
DEFAULT_RULES: tuple[tuple[Any, ...], ...] = (
    ("smoke obscuration", "smoke obscuration", "threshold", None, 1.5, 3.0, 0.5, 10, 2, 1.0,
     "fire_hazard", "urgent"),
    ("gas concentration (% LEL)", "gas concentration", "threshold", None, 10.0, 25.0, 3.0, 5, 2,
     10.0, "gas_leak", "urgent"),
    ("water level over the warning line", "water level", "threshold", "warningLine", 0.0, 0.15,
     0.05, 60, 3, 0.1, "waterlogging", "high"),
    ("cable temperature", "cable temperature", "threshold", None, 70.0, 90.0, 5.0, 60, 3, 5.0,
     "cable_overheat", "high"),
    ("cable temperature rise (°C/min)", "cable temperature", "rate", None, 1.0, 3.0, 0.5, 120,
     3, 1.0, "cable_overheat", "high"),
)  # fmt: skip

#: The defaults, for the categories that exist (none before the city is seeded); run by the
#: migration and by the seed after the categories; a rule already there is left as it is.


#: Default rules whose category changed (rule, from, to): a rule still routed as first
#: seeded moves to the category made for it (seed/load.py, LATER_CATEGORIES).
MOVED_RULES = (
    ("gas concentration (% LEL)", "fire_hazard", "gas_leak"),
    ("cable temperature", "power_outage", "cable_overheat"),
    ("cable temperature rise (°C/min)", "power_outage", "cable_overheat"),
)


def insert_defaults() -> str:
    """The statement inserting DEFAULT_RULES (values quoted by psycopg)."""
    columns = sql.SQL(", ").join(map(sql.Identifier, FIELDS))
    rows = sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Literal, rule))) for rule in DEFAULT_RULES
    )
    return (
        sql.SQL(
            "INSERT INTO sensor_rules ({c}) SELECT v.* FROM (VALUES {rows}) AS v ({c}) "
            "JOIN case_categories cc ON cc.code = v.category ON CONFLICT (name) DO NOTHING"
        )
        .format(c=columns, rows=rows)
        .as_string(None)
    )


def _cascade(target: str) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE")


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True))


def _ts_null() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True))


class SensorRule(Base):
    """A threshold or rate-of-change rule for one observed property, with two levels."""

    __tablename__ = "sensor_rules"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(SensorRuleKind)}", name="kind"),
        CheckConstraint(f"priority IN {sql_in(CasePriority)}", name="priority"),
        CheckConstraint("warning_level <= alarm_level", name="levels_ordered"),
        CheckConstraint("hysteresis >= 0", name="hysteresis_positive"),
        CheckConstraint("min_duration_s >= 0 AND min_readings >= 1", name="duration_positive"),
        CheckConstraint("update_step > 0", name="update_step_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    #: Matched with the Datastream's ObservedProperty: its name (lower case) or definition.
    observed_property: Mapped[str] = mapped_column(Text, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: A property of the Datastream (or else its Thing) subtracted from each reading
    #: ("warningLine": the level over the warning line); without it, the rule does not apply.
    reference: Mapped[str | None] = mapped_column(Text)
    warning_level: Mapped[float] = mapped_column(Double)
    alarm_level: Mapped[float] = mapped_column(Double)
    #: A level is left only below it less this much.
    hysteresis: Mapped[float] = mapped_column(Double, server_default=text("0"))
    #: A higher level is raised only when the condition held this long and this many readings.
    min_duration_s: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    min_readings: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    #: A change of the peak this large during an alarm is told on its case.
    update_step: Mapped[float] = mapped_column(Double)
    #: An alarm raised again this soon after its clear reopens it (and its case).
    rearm_s: Mapped[int] = mapped_column(Integer, server_default=text("1800"))
    category: Mapped[str] = mapped_column(ForeignKey("case_categories.code"))
    priority: Mapped[str] = mapped_column(String(16), server_default=text("'high'"))
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SensorAlarm(Base):
    """One episode of warning or alarm of a Datastream under a rule: raised, told, cleared."""

    __tablename__ = "sensor_alarms"
    __table_args__ = (
        CheckConstraint(f"level IN {_ALARM_LEVELS}", name="level"),
        CheckConstraint(f"peak_level IN {_ALARM_LEVELS}", name="peak_level"),
        # One open episode per Datastream and rule.
        Index("ux_sensor_alarms_open", "datastream_id", "rule_id", unique=True,
              postgresql_where=text("cleared_at IS NULL")),
        Index("ix_sensor_alarms_raised_at", "raised_at"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    datastream_id: Mapped[int] = mapped_column(_cascade("sta_datastreams.id"), index=True)
    thing_id: Mapped[int] = mapped_column(_cascade("sta_things.id"), index=True)
    rule_id: Mapped[int] = mapped_column(_cascade("sensor_rules.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    peak_level: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime] = _ts()
    last_at: Mapped[datetime] = _ts()
    last_value: Mapped[float] = mapped_column(Double)
    peak_value: Mapped[float] = mapped_column(Double)
    #: The peak last told on the case (a change of update_step from it is told again).
    told_value: Mapped[float | None] = mapped_column(Double)
    cleared_at: Mapped[datetime | None] = _ts_null()
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )


class SensorRuleState(Base):
    """Where a Datastream stands under a rule, between batches of readings."""

    __tablename__ = "sensor_rule_states"
    __table_args__ = (CheckConstraint(f"level IN {sql_in(SensorLevel)}", name="level"),)

    datastream_id: Mapped[int] = mapped_column(_cascade("sta_datastreams.id"), primary_key=True)
    rule_id: Mapped[int] = mapped_column(_cascade("sensor_rules.id"), primary_key=True, index=True)
    level: Mapped[str] = mapped_column(String(16), server_default=text("'normal'"))
    #: Since when, and for how many readings, a higher level's condition has held.
    pending_since: Mapped[datetime | None] = _ts_null()
    pending_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: The newest reading evaluated (a rate is taken from it; older readings are not evaluated).
    last_time: Mapped[datetime | None] = _ts_null()
    last_value: Mapped[float | None] = mapped_column(Double)
    alarm_id: Mapped[int | None] = mapped_column(
        ForeignKey("sensor_alarms.id", ondelete="SET NULL")
    )


class SensorDatastreamState(Base):
    """A Datastream's state on the map (a Datastream without a row is normal)."""

    __tablename__ = "sensor_datastream_states"
    __table_args__ = (
        CheckConstraint(f"state IN {sql_in(SensorState)}", name="state"),
        CheckConstraint(f"level IN {sql_in(SensorLevel)}", name="level"),
    )

    datastream_id: Mapped[int] = mapped_column(_cascade("sta_datastreams.id"), primary_key=True)
    #: The rules' highest level (kept while offline).
    level: Mapped[str] = mapped_column(String(16), server_default=text("'normal'"))
    state: Mapped[str] = mapped_column(String(16), server_default=text("'normal'"))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
