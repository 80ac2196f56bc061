"""Case clocks: time limits per category and workflow stage, and the timeline events that stop
(挂起, resumed) or extend (延期) a stage's clock

``case_stage_limits`` holds each category's limit for the stages dispatch, handle and check, in
working hours or working days (geo.services.clocks reads them with the city's calendar). The
clock itself is never stored: it is computed from the case's events when asked. An extension
and a request for one carry their working minutes (``case_events.extended_minutes``); requests
for a suspension or an extension, and their refusal, are events too.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENTS = ("reported", "dispatched", "started", "resolved", "closed", "rejected", "reopened",
              "marked_duplicate", "commented")  # fmt: skip
CLOCK_EVENTS = ("suspended", "resumed", "extended", "suspension_requested",
                "extension_requested", "request_refused")  # fmt: skip
NEW_EVENTS = (*OLD_EVENTS, *CLOCK_EVENTS)


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "case_stage_limits",
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_case_stage_limits_amount_positive")),
        sa.CheckConstraint(
            "stage IN ('dispatch', 'handle', 'check')", name=op.f("ck_case_stage_limits_stage")
        ),
        sa.CheckConstraint(
            "unit IN ('working_hours', 'working_days')", name=op.f("ck_case_stage_limits_unit")
        ),
        sa.ForeignKeyConstraint(
            ["category"],
            ["case_categories.code"],
            name=op.f("fk_case_stage_limits_category_case_categories"),
        ),
        sa.PrimaryKeyConstraint("category", "stage", name=op.f("pk_case_stage_limits")),
    )
    op.add_column("case_events", sa.Column("extended_minutes", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_case_events_extended_minutes_iff_extension"),
        "case_events",
        "(event_type IN ('extended', 'extension_requested')) = "
        "(extended_minutes IS NOT NULL AND extended_minutes > 0)",
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
    op.drop_constraint(
        op.f("ck_case_events_extended_minutes_iff_extension"), "case_events", type_="check"
    )
    op.drop_column("case_events", "extended_minutes")
    op.drop_table("case_stage_limits")
