"""Shared plotting on incidents (issue 16, item 4; geo/plot_models.py)

- ``incident_plots``: points, lines and polygons command seats draw on an incident, with a
  symbol, a label, style hints and a version counter (optimistic concurrency); removal is soft.
- ``incident_events`` gains ``plot_id``, ``geom`` and ``detail`` (the plot as it was after the
  event) and the event types ``plot_added``, ``plot_updated``, ``plot_removed``: the replay
  computes any earlier state from the timeline.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS_BEFORE = (
    "activated",
    "task_assigned",
    "task_accepted",
    "task_done",
    "task_refused",
    "level_changed",
    "closed",
)
EVENTS_AFTER = (*EVENTS_BEFORE, "plot_added", "plot_updated", "plot_removed")
SYMBOLS = (
    "command_post",
    "assembly_point",
    "cordon",
    "evacuation_route",
    "hazard_zone",
    "water_point",
    "roadblock",
    "rescue_team",
    "note",
)


def _geometry() -> Geometry:
    return Geometry(
        geometry_type="GEOMETRY",
        srid=4326,
        dimension=2,
        spatial_index=False,
        from_text="ST_GeomFromEWKT",
        name="geometry",
    )


def _event_types(types: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_incident_events_event_type"), "incident_events", type_="check")
    listed = ", ".join(f"'{t}'" for t in types)
    op.create_check_constraint("event_type", "incident_events", f"event_type IN ({listed})")


def upgrade() -> None:
    op.create_table(
        "incident_plots",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("label", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "style",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("geom", _geometry(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            f"symbol IN {SYMBOLS!r}".replace('"', "'"), name=op.f("ck_incident_plots_symbol")
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'LINESTRING', 'POLYGON')",
            name=op.f("ck_incident_plots_geometry_type"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_incident_plots_version_positive")),
        sa.CheckConstraint("length(label) <= 200", name=op.f("ck_incident_plots_label_length")),
        sa.CheckConstraint(
            "(removed_at IS NULL) = (removed_by IS NULL)",
            name=op.f("ck_incident_plots_removed_by_when"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_plots_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_incident_plots_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_incident_plots_updated_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["removed_by"], ["users.id"], name=op.f("fk_incident_plots_removed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_plots")),
    )
    op.create_index(op.f("ix_incident_plots_incident_id"), "incident_plots", ["incident_id"])
    op.create_index("ix_incident_plots_geom", "incident_plots", ["geom"], postgresql_using="gist")
    op.add_column("incident_events", sa.Column("plot_id", sa.BigInteger(), nullable=True))
    op.add_column("incident_events", sa.Column("geom", _geometry(), nullable=True))
    op.add_column(
        "incident_events",
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_incident_events_plot_id_incident_plots"),
        "incident_events",
        "incident_plots",
        ["plot_id"],
        ["id"],
    )
    op.create_index("ix_incident_events_geom", "incident_events", ["geom"], postgresql_using="gist")
    _event_types(EVENTS_AFTER)
    op.create_check_constraint(
        "plot_iff_plot_event",
        "incident_events",
        "(event_type IN ('plot_added', 'plot_updated', 'plot_removed')) = "
        "(plot_id IS NOT NULL AND geom IS NOT NULL AND detail IS NOT NULL)",
    )


def downgrade() -> None:
    # incident_events is append-only: its plot events cannot be deleted, so a database that
    # has any cannot go below 0027.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM incident_events WHERE plot_id IS NOT NULL) THEN "
        "RAISE EXCEPTION 'incidents have plot events: they cannot be removed from the "
        "append-only timeline, so this database stays at 0027 or above'; END IF; END $$"
    )
    op.drop_constraint(
        op.f("ck_incident_events_plot_iff_plot_event"), "incident_events", type_="check"
    )
    _event_types(EVENTS_BEFORE)
    op.drop_constraint(
        op.f("fk_incident_events_plot_id_incident_plots"), "incident_events", type_="foreignkey"
    )
    op.drop_index("ix_incident_events_geom", table_name="incident_events", postgresql_using="gist")
    op.drop_column("incident_events", "detail")
    op.drop_column("incident_events", "geom")
    op.drop_column("incident_events", "plot_id")
    op.drop_index("ix_incident_plots_geom", table_name="incident_plots", postgresql_using="gist")
    op.drop_index(op.f("ix_incident_plots_incident_id"), table_name="incident_plots")
    op.drop_table("incident_plots")
