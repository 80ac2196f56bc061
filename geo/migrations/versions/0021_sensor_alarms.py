"""Sensor rules, alarms and states (issue 15, item 4; geo/sensor_alarm_models.py)

- ``sensor_rules``: threshold and rate-of-change rules per observed property, two levels,
  hysteresis, a minimum duration, the case category; the defaults (smoke, gas, water level over
  the warning line, cable temperature) inserted for the categories that exist — none in an
  empty database: the seed inserts them after its categories.
- ``sensor_rule_states``: each Datastream's standing under each rule between batches.
- ``sensor_alarms``: one row per episode of warning or alarm, with its case.
- ``sensor_datastream_states``: the map's state of a Datastream (normal, warning, alarm,
  offline).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 18:27:29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo.sensor_alarm_models import insert_defaults

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sensor_rules",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("observed_property", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("warning_level", sa.Double(), nullable=False),
        sa.Column("alarm_level", sa.Double(), nullable=False),
        sa.Column("hysteresis", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("min_duration_s", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("min_readings", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("update_step", sa.Double(), nullable=False),
        sa.Column("rearm_s", sa.Integer(), server_default=sa.text("1800"), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column(
            "priority", sa.String(length=16), server_default=sa.text("'high'"), nullable=False
        ),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('threshold', 'rate')", name=op.f("ck_sensor_rules_kind")),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_sensor_rules_priority")
        ),
        sa.CheckConstraint("hysteresis >= 0", name=op.f("ck_sensor_rules_hysteresis_positive")),
        sa.CheckConstraint(
            "min_duration_s >= 0 AND min_readings >= 1",
            name=op.f("ck_sensor_rules_duration_positive"),
        ),
        sa.CheckConstraint("update_step > 0", name=op.f("ck_sensor_rules_update_step_positive")),
        sa.CheckConstraint(
            "warning_level <= alarm_level", name=op.f("ck_sensor_rules_levels_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["category"],
            ["case_categories.code"],
            name=op.f("fk_sensor_rules_category_case_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_sensor_rules_name")),
    )
    op.create_index(
        op.f("ix_sensor_rules_observed_property"),
        "sensor_rules",
        ["observed_property"],
        unique=False,
    )
    op.create_table(
        "sensor_alarms",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("datastream_id", sa.BigInteger(), nullable=False),
        sa.Column("thing_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("peak_level", sa.String(length=16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=False),
        sa.Column("peak_value", sa.Double(), nullable=False),
        sa.Column("told_value", sa.Double(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("level IN ('warning', 'alarm')", name=op.f("ck_sensor_alarms_level")),
        sa.CheckConstraint(
            "peak_level IN ('warning', 'alarm')", name=op.f("ck_sensor_alarms_peak_level")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_sensor_alarms_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["sta_datastreams.id"],
            name=op.f("fk_sensor_alarms_datastream_id_sta_datastreams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["sensor_rules.id"],
            name=op.f("fk_sensor_alarms_rule_id_sensor_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["sta_things.id"],
            name=op.f("fk_sensor_alarms_thing_id_sta_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_alarms")),
    )
    op.create_index(op.f("ix_sensor_alarms_case_id"), "sensor_alarms", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_sensor_alarms_datastream_id"), "sensor_alarms", ["datastream_id"], unique=False
    )
    op.create_index("ix_sensor_alarms_raised_at", "sensor_alarms", ["raised_at"], unique=False)
    op.create_index(op.f("ix_sensor_alarms_rule_id"), "sensor_alarms", ["rule_id"], unique=False)
    op.create_index(op.f("ix_sensor_alarms_thing_id"), "sensor_alarms", ["thing_id"], unique=False)
    op.create_index(
        "ux_sensor_alarms_open",
        "sensor_alarms",
        ["datastream_id", "rule_id"],
        unique=True,
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.create_table(
        "sensor_datastream_states",
        sa.Column("datastream_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "level", sa.String(length=16), server_default=sa.text("'normal'"), nullable=False
        ),
        sa.Column(
            "state", sa.String(length=16), server_default=sa.text("'normal'"), nullable=False
        ),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "level IN ('normal', 'warning', 'alarm')",
            name=op.f("ck_sensor_datastream_states_level"),
        ),
        sa.CheckConstraint(
            "state IN ('normal', 'warning', 'alarm', 'offline')",
            name=op.f("ck_sensor_datastream_states_state"),
        ),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["sta_datastreams.id"],
            name=op.f("fk_sensor_datastream_states_datastream_id_sta_datastreams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", name=op.f("pk_sensor_datastream_states")),
    )
    op.create_table(
        "sensor_rule_states",
        sa.Column("datastream_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column(
            "level", sa.String(length=16), server_default=sa.text("'normal'"), nullable=False
        ),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_value", sa.Double(), nullable=True),
        sa.Column("alarm_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "level IN ('normal', 'warning', 'alarm')", name=op.f("ck_sensor_rule_states_level")
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["sensor_alarms.id"],
            name=op.f("fk_sensor_rule_states_alarm_id_sensor_alarms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["sta_datastreams.id"],
            name=op.f("fk_sensor_rule_states_datastream_id_sta_datastreams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["sensor_rules.id"],
            name=op.f("fk_sensor_rule_states_rule_id_sensor_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", "rule_id", name=op.f("pk_sensor_rule_states")),
    )
    op.create_index(
        op.f("ix_sensor_rule_states_rule_id"), "sensor_rule_states", ["rule_id"], unique=False
    )
    op.execute(insert_defaults())


def downgrade() -> None:
    op.drop_index(op.f("ix_sensor_rule_states_rule_id"), table_name="sensor_rule_states")
    op.drop_table("sensor_rule_states")
    op.drop_table("sensor_datastream_states")
    op.drop_index(
        "ux_sensor_alarms_open",
        table_name="sensor_alarms",
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.drop_index(op.f("ix_sensor_alarms_thing_id"), table_name="sensor_alarms")
    op.drop_index(op.f("ix_sensor_alarms_rule_id"), table_name="sensor_alarms")
    op.drop_index("ix_sensor_alarms_raised_at", table_name="sensor_alarms")
    op.drop_index(op.f("ix_sensor_alarms_datastream_id"), table_name="sensor_alarms")
    op.drop_index(op.f("ix_sensor_alarms_case_id"), table_name="sensor_alarms")
    op.drop_table("sensor_alarms")
    op.drop_index(op.f("ix_sensor_rules_observed_property"), table_name="sensor_rules")
    op.drop_table("sensor_rules")
