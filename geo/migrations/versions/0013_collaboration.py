"""Collaboration on a case: transfer (转办), return (退单), co-handling (主办/协办) and the
street's joint task (吹哨报到)

``case_tasks`` holds the part of a department that does not lead the case: a co-handling task
a dispatcher named (``co_handle``) or a joint task a street called it to (``joint``), each with
its own status. The lead (主办) is the case's own department: its part is the case itself.
Timeline events gain the department a transfer came from (``from_department_id``) and the task
a task event is about (``task_id``); the event types grow by the collaboration steps.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENTS = ("reported", "dispatched", "started", "resolved", "closed", "rejected", "reopened",
              "marked_duplicate", "commented", "suspended", "resumed", "extended",
              "suspension_requested", "extension_requested", "request_refused")  # fmt: skip
COLLABORATION_EVENTS = ("transferred", "return_requested", "return_accepted", "return_refused",
                        "whistle_blown", "task_assigned", "task_started", "task_reported",
                        "task_done", "task_declined")  # fmt: skip
NEW_EVENTS = (*OLD_EVENTS, *COLLABORATION_EVENTS)


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "case_tasks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('co_handle', 'joint')", name=op.f("ck_case_tasks_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'declined')",
            name=op.f("ck_case_tasks_status"),
        ),
        sa.CheckConstraint(
            "(status IN ('done', 'declined')) = (finished_at IS NOT NULL)",
            name=op.f("ck_case_tasks_finished_iff_finished"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_tasks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_case_tasks_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_case_tasks_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_tasks")),
    )
    op.create_index(op.f("ix_case_tasks_case_id"), "case_tasks", ["case_id"], unique=False)
    # A department's cases through its tasks (geo.access.case_scope), and at most one task
    # of a department on a case at a time.
    op.create_index(
        "ix_case_tasks_department_id_case_id", "case_tasks", ["department_id", "case_id"]
    )
    op.create_index(
        "uq_case_tasks_one_open_per_department",
        "case_tasks",
        ["case_id", "department_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('open', 'in_progress')"),
    )
    op.add_column("case_events", sa.Column("from_department_id", sa.Integer(), nullable=True))
    op.add_column("case_events", sa.Column("task_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_case_events_from_department_id_departments"),
        "case_events", "departments", ["from_department_id"], ["id"],
    )  # fmt: skip
    op.create_foreign_key(
        op.f("fk_case_events_task_id_case_tasks"), "case_events", "case_tasks", ["task_id"], ["id"]
    )
    op.drop_constraint(op.f("ck_case_events_event_type"), "case_events", type_="check")
    op.create_check_constraint(
        op.f("ck_case_events_event_type"), "case_events", f"event_type IN {_in(NEW_EVENTS)}"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_case_events_event_type"), "case_events", type_="check")
    op.create_check_constraint(
        op.f("ck_case_events_event_type"), "case_events", f"event_type IN {_in(OLD_EVENTS)}"
    )
    op.drop_constraint(op.f("fk_case_events_task_id_case_tasks"), "case_events",
                       type_="foreignkey")  # fmt: skip
    op.drop_constraint(op.f("fk_case_events_from_department_id_departments"), "case_events",
                       type_="foreignkey")  # fmt: skip
    op.drop_column("case_events", "task_id")
    op.drop_column("case_events", "from_department_id")
    op.drop_index("uq_case_tasks_one_open_per_department", table_name="case_tasks")
    op.drop_index("ix_case_tasks_department_id_case_id", table_name="case_tasks")
    op.drop_index(op.f("ix_case_tasks_case_id"), table_name="case_tasks")
    op.drop_table("case_tasks")
