"""Hotline intake and callback (市民热线, 回访) and the on-site check (核查)

- ``case_callers``: who called about a case (name, phone, preferred callback time, consent to a
  callback) — restricted personal data, apart from ``cases`` so no public view can pick it up;
  read only through geo.access (READ_PERSONAL, within the jurisdiction) and audited.
- ``case_callbacks``: the callback task (回访) each consenting caller gets when the case closes,
  with its attempts and the caller's satisfaction.
- ``case_checks``: each on-site check (核查) of a resolved case — who, where (and how far from
  the case), which photos, passed or not.
- ``case_categories.requires_check`` / ``check_radius_m``: categories whose close needs a
  passed on-site check within that distance (some seeded categories get it).
- ``case_satisfaction``: a view reading callbacks' answers and app reporters' ratings alike.
- The event types ``call_attached``, ``checked``, ``check_failed``, ``callback_recorded``,
  ``callback_unreachable``; the role ``hotline_operator``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from geo.migrate import migration_roles, quote_ident

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_EVENTS = ("reported", "dispatched", "started", "resolved", "closed", "rejected", "reopened",
              "marked_duplicate", "commented", "suspended", "resumed", "extended",
              "suspension_requested", "extension_requested", "request_refused",
              # 0013: collaboration
              "transferred", "return_requested", "return_accepted", "return_refused",
              "whistle_blown", "task_assigned", "task_started", "task_reported", "task_done",
              "task_declined",
              # 0015: supervision
              "supervised", "supervision_answered", "supervision_missed", "escalated")  # fmt: skip
NEW_EVENTS = (*OLD_EVENTS, "call_attached", "checked", "check_failed", "callback_recorded",
              "callback_unreachable")  # fmt: skip
ROLES_BEFORE = (
    "citizen", "grid_worker", "dispatcher", "department_staff", "verifier", "health_officer",
    "camera_viewer", "analyst", "admin", "auditor", "supervisor",
)  # fmt: skip
ROLES_AFTER = (*ROLES_BEFORE, "hotline_operator")
#: Seeded categories whose close needs an on-site check (a database seeded before gets them).
CHECKED_CATEGORIES = ("manhole_cover", "illegal_construction", "water_leak", "waterlogging",
                      "fire_hazard")  # fmt: skip
#: A Chinese mobile (11 digits, 1[3-9]…) or a landline with its area code (0XX-…, extension).
PHONE_CHECK = "phone ~ '^(1[3-9][0-9]{9}|0[1-9][0-9]{1,2}-[0-9]{7,8}(-[0-9]{1,6})?)$'"


#: Satisfaction read the same way from both channels: a callback's answer, and an app
#: reporter's rating (好差评, score 1–5: 4–5 satisfied, 3 basically, 1–2 not satisfied).
SATISFACTION_VIEW = """
CREATE VIEW case_satisfaction AS
SELECT b.case_id, 'callback'::text AS channel, b.satisfaction::text AS satisfaction,
       b.done_at AS at
FROM case_callbacks b WHERE b.status = 'done'
UNION ALL
SELECT r.object_id AS case_id, 'app'::text AS channel,
       CASE WHEN r.score >= 4 THEN 'satisfied' WHEN r.score = 3 THEN 'basically_satisfied'
            ELSE 'not_satisfied' END AS satisfaction,
       r.created_at AS at
FROM ratings r WHERE r.object_type = 'case'
"""


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


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column(
        "case_categories",
        sa.Column("requires_check", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "case_categories",
        sa.Column("check_radius_m", sa.Integer(), server_default=sa.text("100"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_case_categories_check_radius_range"), "case_categories",
        "check_radius_m BETWEEN 10 AND 5000",
    )  # fmt: skip
    checked = _in(CHECKED_CATEGORIES)
    op.execute(f"UPDATE case_categories SET requires_check = true WHERE code IN {checked}")  # noqa: S608
    op.create_table(
        "case_callers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=24), nullable=False),
        sa.Column("callback_time", sa.Text(), nullable=True),
        sa.Column("consent_callback", sa.Boolean(), nullable=False),
        sa.Column("taken_by", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 50", name=op.f("ck_case_callers_name_length")),
        sa.CheckConstraint(PHONE_CHECK, name=op.f("ck_case_callers_phone_format")),
        sa.CheckConstraint(
            "callback_time IS NULL OR char_length(callback_time) <= 100",
            name=op.f("ck_case_callers_callback_time_length"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_callers_case_id_cases")),
        sa.ForeignKeyConstraint(["taken_by"], ["users.id"], name=op.f("fk_case_callers_taken_by_users")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["case_events.id"], name=op.f("fk_case_callers_event_id_case_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_callers")),
    )  # fmt: skip
    op.create_index(op.f("ix_case_callers_case_id"), "case_callers", ["case_id"])
    op.create_table(
        "case_callbacks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("caller_id", sa.BigInteger(), nullable=False),
        sa.Column("close_event_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("satisfaction", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("done_by", sa.BigInteger(), nullable=True),
        _ts("done_at", nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'unreachable', 'cancelled')",
            name=op.f("ck_case_callbacks_status"),
        ),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction IN "
            "('satisfied', 'basically_satisfied', 'not_satisfied')",
            name=op.f("ck_case_callbacks_satisfaction"),
        ),
        sa.CheckConstraint(
            "(status = 'done') = (satisfaction IS NOT NULL)",
            name=op.f("ck_case_callbacks_satisfaction_iff_done"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_callbacks_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["case_callers.id"], name=op.f("fk_case_callbacks_caller_id_case_callers")
        ),
        sa.ForeignKeyConstraint(
            ["close_event_id"], ["case_events.id"],
            name=op.f("fk_case_callbacks_close_event_id_case_events"),
        ),
        sa.ForeignKeyConstraint(["done_by"], ["users.id"], name=op.f("fk_case_callbacks_done_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_callbacks")),
    )  # fmt: skip
    op.create_index(op.f("ix_case_callbacks_case_id"), "case_callbacks", ["case_id"])
    op.create_index(
        "uq_case_callbacks_caller_id_close_event_id", "case_callbacks",
        ["caller_id", "close_event_id"], unique=True,
    )  # fmt: skip
    op.create_index(
        "ix_case_callbacks_pending", "case_callbacks", ["id"],
        postgresql_where=sa.text("status = 'pending'"),
    )  # fmt: skip
    op.create_table(
        "case_checks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("checker_id", sa.BigInteger(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("photo_ids", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("at"),
        sa.CheckConstraint("cardinality(photo_ids) > 0", name=op.f("ck_case_checks_has_photos")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_checks_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["case_events.id"], name=op.f("fk_case_checks_event_id_case_events")
        ),
        sa.ForeignKeyConstraint(["checker_id"], ["users.id"], name=op.f("fk_case_checks_checker_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_checks")),
    )  # fmt: skip
    op.create_index(op.f("ix_case_checks_case_id"), "case_checks", ["case_id"])
    op.execute(SATISFACTION_VIEW)
    # A view is read only: the owner's default privileges gave the app table rights on it.
    app = quote_ident(migration_roles().app)
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON case_satisfaction FROM {app}")
    _events_check(NEW_EVENTS)
    _roles_check(ROLES_AFTER)


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM users WHERE 'hotline_operator' = ANY(roles)) THEN "
        "RAISE EXCEPTION 'accounts with the hotline_operator role exist: change their roles "
        "before downgrading below 0016'; END IF; END $$"
    )
    _roles_check(ROLES_BEFORE)
    # case_events is append-only: a database that used the new events cannot go below 0016.
    _events_check(OLD_EVENTS)
    op.execute("DROP VIEW case_satisfaction")
    op.drop_table("case_checks")
    op.drop_index("ix_case_callbacks_pending", table_name="case_callbacks")
    op.drop_table("case_callbacks")
    op.drop_table("case_callers")
    op.drop_constraint(
        op.f("ck_case_categories_check_radius_range"), "case_categories", type_="check"
    )
    op.drop_column("case_categories", "check_radius_m")
    op.drop_column("case_categories", "requires_check")
