"""Supervision (督办): supervisions and the cases they cover, each open case's stored clock
(for warning and overdue lists in SQL), staff notifications and how far each reader has read,
the last sweep's marks,
the ``supervisor`` role, and the timeline events supervised, supervision_answered,
supervision_missed and escalated

``case_clock_states`` is derived data: the sweep (geo.services.supervision) and each case step
write it from the case's timeline; ``Case.clock`` is still computed from the events.

Revision ID: 0015
Revises: 0014 (chained after collaboration 0014 and evaluation 0016 when merged with them)
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENTS = ("reported", "dispatched", "started", "resolved", "closed", "rejected", "reopened",
              "marked_duplicate", "commented", "suspended", "resumed", "extended",
              "suspension_requested", "extension_requested", "request_refused",
              # 0013: collaboration
              "transferred", "return_requested", "return_accepted", "return_refused",
              "whistle_blown", "task_assigned", "task_started", "task_reported", "task_done",
              "task_declined")  # fmt: skip
SUPERVISION_EVENTS = ("supervised", "supervision_answered", "supervision_missed", "escalated")
NEW_EVENTS = (*OLD_EVENTS, *SUPERVISION_EVENTS)

ROLES_BEFORE = ("citizen", "grid_worker", "dispatcher", "department_staff", "verifier",
                "health_officer", "camera_viewer", "analyst", "admin", "auditor")  # fmt: skip
ROLES_AFTER = (*ROLES_BEFORE, "supervisor")

OPEN = "('reported', 'dispatched', 'in_progress', 'resolved')"
STAGES = "('dispatch', 'handle', 'check')"
STATES = "('on_time', 'warning', 'overdue')"
LEVELS = "('district', 'city')"
KINDS = ("('warning', 'overdue', 'supervised', 'escalated', 'clock_request', "
         "'supervision_answered', 'supervision_missed')")  # fmt: skip
AUDIENCES = "('user', 'department', 'dispatchers', 'district', 'city')"
PARTIAL_INDEXES = (
    ("ix_case_clock_states_due_unnotified", "due_at", "notified <> 'overdue'"),
    ("ix_case_clock_states_warning_unnotified", "warning_at", "notified = 'on_time'"),
    ("ix_case_clock_states_district_due", "district_at", "escalation_level IS NULL"),
    ("ix_case_clock_states_city_due", "city_at", "escalation_level = 'district'"),
    ("ix_case_clock_states_pending", "case_id", "pending_at IS NOT NULL"),
    ("ix_case_clock_states_suspended", "case_id", "suspended"),
)


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _roles_check(roles: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_users_roles"), "users", type_="check")
    op.create_check_constraint("roles", "users", f"roles <@ ARRAY{list(roles)}::text[]")


def _events_check(events: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_case_events_event_type"), "case_events", type_="check")
    op.create_check_constraint(
        op.f("ck_case_events_event_type"), "case_events", f"event_type IN {_in(events)}"
    )


def _ts(name: str, nullable: bool = True) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _roles_check(ROLES_AFTER)
    op.create_table(
        "supervisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("supervisor_id", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _ts("deadline", False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        _ts("created_at", False),
        _ts("answered_at"),
        sa.Column("answered_by", sa.BigInteger(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        _ts("missed_at"),
        sa.CheckConstraint("kind IN ('case', 'department')", name=op.f("ck_supervisions_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'missed')", name=op.f("ck_supervisions_status")
        ),
        sa.CheckConstraint(
            "(kind = 'case') = (case_id IS NOT NULL)", name=op.f("ck_supervisions_case_iff_kind")
        ),
        sa.CheckConstraint(
            "(answered_at IS NULL) = (answer IS NULL)", name=op.f("ck_supervisions_answer_at")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_supervisions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_supervisions_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"], ["users.id"], name=op.f("fk_supervisions_supervisor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_supervisions_answered_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisions")),
    )
    op.create_index(
        "ix_supervisions_open_deadline", "supervisions", ["deadline"],
        postgresql_where=sa.text("status = 'open'"),
    )  # fmt: skip
    op.create_index(
        "uq_supervisions_open_case", "supervisions", ["case_id"], unique=True,
        postgresql_where=sa.text("status = 'open' AND kind = 'case'"),
    )  # fmt: skip
    op.create_index(op.f("ix_supervisions_department_id"), "supervisions", ["department_id"])
    op.create_index(op.f("ix_supervisions_supervisor_id"), "supervisions", ["supervisor_id"])
    op.create_table(
        "supervision_cases",
        sa.Column("supervision_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supervision_id"],
            ["supervisions.id"],
            name=op.f("fk_supervision_cases_supervision_id_supervisions"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_supervision_cases_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("supervision_id", "case_id", name=op.f("pk_supervision_cases")),
    )
    op.create_index(op.f("ix_supervision_cases_case_id"), "supervision_cases", ["case_id"])

    op.add_column("case_events", sa.Column("supervision_id", sa.BigInteger(), nullable=True))
    op.add_column("case_events", sa.Column("escalation_level", sa.String(16), nullable=True))
    op.create_foreign_key(
        op.f("fk_case_events_supervision_id_supervisions"), "case_events", "supervisions",
        ["supervision_id"], ["id"],
    )  # fmt: skip
    op.create_check_constraint(
        op.f("ck_case_events_supervision_iff_supervision_event"), "case_events",
        "(event_type IN ('supervised', 'supervision_answered', 'supervision_missed')) = "
        "(supervision_id IS NOT NULL)",
    )  # fmt: skip
    op.create_check_constraint(
        op.f("ck_case_events_escalation_level_iff_escalated"), "case_events",
        f"(event_type = 'escalated') = (escalation_level IS NOT NULL AND escalation_level IN "
        f"{LEVELS})",
    )  # fmt: skip
    _events_check(NEW_EVENTS)

    op.create_table(
        "case_clock_states",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        _ts("started_at", False),
        _ts("warning_at"),
        _ts("due_at"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("limit_minutes", sa.Integer(), nullable=False),
        sa.Column("notified", sa.String(length=16), server_default="on_time", nullable=False),
        sa.Column("escalation_level", sa.String(length=16), nullable=True),
        _ts("district_at"),
        _ts("city_at"),
        _ts("pending_at"),
        _ts("pending_notified_at"),
        _ts("case_updated_at", False),
        _ts("computed_at", False),
        sa.CheckConstraint(f"stage IN {STAGES}", name=op.f("ck_case_clock_states_stage")),
        sa.CheckConstraint(f"state IN {STATES}", name=op.f("ck_case_clock_states_state")),
        sa.CheckConstraint(f"notified IN {STATES}", name=op.f("ck_case_clock_states_notified")),
        sa.CheckConstraint(
            f"escalation_level IS NULL OR escalation_level IN {LEVELS}",
            name=op.f("ck_case_clock_states_escalation_level"),
        ),
        sa.CheckConstraint(
            "suspended = (due_at IS NULL)", name=op.f("ck_case_clock_states_due_unless_suspended")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_clock_states_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_clock_states")),
    )
    op.create_index("ix_case_clock_states_due_at", "case_clock_states", ["due_at", "case_id"])
    # What the sweep looks for, each a small part of the open cases: clocks past a line not yet
    # notified, escalations due, waiting requests, suspended clocks.
    for name, column, where in PARTIAL_INDEXES:
        op.create_index(name, "case_clock_states", [column], postgresql_where=sa.text(where))
    # The sweep finds the open cases without a fresh clock state among a million closed ones,
    # and the cases changed since its last run.
    op.create_index("ix_cases_open", "cases", ["id"], postgresql_where=sa.text(f"status IN {OPEN}"))
    op.create_index(op.f("ix_cases_updated_at"), "cases", ["updated_at"])
    op.create_table(
        "supervision_sweeps",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        _ts("started_at", False),
        _ts("reconciled_at", False),
        sa.Column("report", postgresql.JSONB(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_supervision_sweeps_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_sweeps")),
    )

    op.create_table(
        "staff_notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("supervision_id", sa.BigInteger(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        _ts("deadline"),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("created_at", False),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f("ck_staff_notifications_kind")),
        sa.CheckConstraint(
            f"audience IN {AUDIENCES}", name=op.f("ck_staff_notifications_audience")
        ),
        sa.CheckConstraint(
            "(audience = 'user') = (user_id IS NOT NULL)",
            name=op.f("ck_staff_notifications_user_iff_user"),
        ),
        sa.CheckConstraint(
            "audience <> 'department' OR department_id IS NOT NULL",
            name=op.f("ck_staff_notifications_department_named"),
        ),
        sa.CheckConstraint(
            "audience NOT IN ('dispatchers', 'district') OR case_id IS NOT NULL",
            name=op.f("ck_staff_notifications_case_named"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_notifications_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_staff_notifications_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_staff_notifications_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["supervision_id"],
            ["supervisions.id"],
            name=op.f("fk_staff_notifications_supervision_id_supervisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notifications")),
    )
    op.create_index(op.f("ix_staff_notifications_user_id"), "staff_notifications", ["user_id"])
    op.create_index(
        op.f("ix_staff_notifications_department_id"), "staff_notifications", ["department_id"]
    )
    op.create_index(op.f("ix_staff_notifications_case_id"), "staff_notifications", ["case_id"])
    op.create_table(
        "staff_notification_reads",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("read_through", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_notification_reads_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_notification_reads")),
    )


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM users WHERE 'supervisor' = ANY(roles)) THEN "
        "RAISE EXCEPTION 'accounts with the supervisor role exist: change their roles before "
        "downgrading below 0015'; END IF; END $$"
    )
    op.drop_table("staff_notification_reads")
    op.drop_table("staff_notifications")
    op.drop_table("supervision_sweeps")
    op.drop_index(op.f("ix_cases_updated_at"), table_name="cases")
    op.drop_index("ix_cases_open", table_name="cases")
    op.drop_table("case_clock_states")
    # The timeline is append-only: its supervision events go with the supervisions.
    op.execute("ALTER TABLE case_events DISABLE TRIGGER USER")
    op.execute(f"DELETE FROM case_events WHERE event_type IN {_in(SUPERVISION_EVENTS)}")  # noqa: S608
    op.execute("ALTER TABLE case_events ENABLE TRIGGER USER")
    _events_check(OLD_EVENTS)
    op.drop_constraint(
        op.f("ck_case_events_escalation_level_iff_escalated"), "case_events", type_="check"
    )
    op.drop_constraint(
        op.f("ck_case_events_supervision_iff_supervision_event"), "case_events", type_="check"
    )
    op.drop_constraint(
        op.f("fk_case_events_supervision_id_supervisions"), "case_events", type_="foreignkey"
    )
    op.drop_column("case_events", "escalation_level")
    op.drop_column("case_events", "supervision_id")
    op.drop_table("supervision_cases")
    op.drop_table("supervisions")
    _roles_check(ROLES_BEFORE)
