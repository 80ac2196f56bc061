"""Daily evaluation figures (考核) per dimension and district, kept by a trigger on case_facts

``case_figures_daily`` holds, for each city day (Asia/Shanghai), district and evaluation
dimension key (department, district, street, community, grid worker, category), the counts of
docs/evaluation.md and the sum of handling minutes. A statement-level trigger on
``case_facts`` adds each statement's new rows and takes away its old ones (transition tables),
so the table is exact at every commit and a month's table sums ~30 days of a few hundred keys
instead of counting ~250,000 facts rows. Built from the facts already there.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 13:10:00
"""

# ruff: noqa: S608 - the SQL is built from the constant names and expressions below
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: dimension → the facts column that keys it
KEYS = {"department": "department_id", "district": "district_id", "street": "street_id",
        "community": "community_id", "worker": "grid_worker_id", "category": "category"}  # fmt: skip
ZONE = "Asia/Shanghai"

MEASURES = ("received", "resolved", "handled_on_time", "handle_count", "handle_minutes",
            "closed", "closed_on_time", "overdue", "reopened", "transferred", "returned", "rated",
            "satisfied")  # fmt: skip
#: (anchor, condition, measures it adds as SQL on alias f): one contribution per fact row
#: and anchor, counted on the anchor's city day.
ANCHORS = (
    ("reported_at", "TRUE", {"received": "1", "reopened": "(f.reopened > 0)::int",
                             "transferred": "(f.transferred > 0)::int",
                             "returned": "(f.returned > 0)::int"}),
    ("resolved_at", "TRUE", {"resolved": "1", "handled_on_time": "f.handled_on_time::int",
                             "handle_count": "(f.handle_minutes IS NOT NULL)::int",
                             "handle_minutes": "coalesce(f.handle_minutes, 0)"}),
    ("closed_at", "f.status = 'closed'", {"closed": "1",
                                          "closed_on_time": "coalesce(f.closed_on_time, false)::int"}),
    ("overdue_at", "TRUE", {"overdue": "1"}),
    ("rated_at", "f.satisfied IS NOT NULL", {"rated": "1", "satisfied": "f.satisfied::int"}),
)  # fmt: skip


def _delta(rows: str, sign: str) -> str:
    """The rows of ``case_figures_daily`` that ``rows`` (a facts relation) add, times ``sign``."""
    parts = []
    for anchor, condition, adds in ANCHORS:
        measures = ", ".join(
            f"{sign}coalesce({adds.get(m, '0')}, 0)::bigint AS {m}" for m in MEASURES
        )
        for dim, col in KEYS.items():
            parts.append(
                f"SELECT (f.{anchor} AT TIME ZONE '{ZONE}')::date AS day, "
                f"coalesce(f.district_id, 0) AS district_id, '{dim}' AS dimension, "
                f"f.{col}::text AS key, {measures} FROM {rows} f "
                f"WHERE f.{anchor} IS NOT NULL AND f.{col} IS NOT NULL AND {condition}"
            )
    return " UNION ALL ".join(parts)


def _add(source: str) -> str:
    return (
        f"INSERT INTO case_figures_daily AS d (day, district_id, dimension, key, "
        f"{', '.join(MEASURES)}) SELECT day, district_id, dimension, key, "
        + ", ".join(f"sum({m})" for m in MEASURES)
        + f" FROM ({source}) x GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT (dimension, day, district_id, key) DO UPDATE SET "
        + ", ".join(f"{m} = d.{m} + excluded.{m}" for m in MEASURES)
    )


FUNCTION = f"""
CREATE FUNCTION onemap_case_figures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_add(_delta("old_facts", "-"))};
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    {_add(_delta("new_facts", ""))};
  END IF;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "case_figures_daily",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False, server_default="0") for m in MEASURES),
        sa.PrimaryKeyConstraint("dimension", "day", "district_id", "key",
                                name=op.f("pk_case_figures_daily")),
    )  # fmt: skip
    op.execute(FUNCTION)
    for event, tables in (("INSERT", "NEW TABLE AS new_facts"),
                          ("UPDATE", "OLD TABLE AS old_facts NEW TABLE AS new_facts"),
                          ("DELETE", "OLD TABLE AS old_facts")):  # fmt: skip
        op.execute(
            f"CREATE TRIGGER case_figures_{event.lower()} AFTER {event} ON case_facts "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION onemap_case_figures()"
        )
    # The facts already there.
    op.execute(_add(_delta("case_facts", "")))


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER case_figures_{event} ON case_facts")
    op.execute("DROP FUNCTION onemap_case_figures()")
    op.drop_table("case_figures_daily")
