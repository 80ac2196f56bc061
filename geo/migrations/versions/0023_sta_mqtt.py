"""MQTT ingest of SensorThings Observations (issue 15, items 2–3).

- One Observation per Datastream and phenomenon time: the ``(datastream_id, phenomenon_time)``
  index becomes unique (it holds the partition key, so a partitioned table may have it). A
  reading sent twice — an MQTT redelivery at QoS 1, a REST retry — is stored once; both paths
  answer with the first one's id (docs/sensors.md, "Nothing lost, nothing twice").
- ``sta_mqtt_accounts``: the broker's accounts made from the registry: a device's (one per
  Thing) or a reader's. Only the password's hash is kept, in Mosquitto's own PBKDF2-SHA512
  ``$7$`` form, so ``onemap mqtt config`` writes the broker's password_file from it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "ix_sta_observations_datastream_id_phenomenon_time"
NEW = "uq_sta_observations_datastream_id_phenomenon_time"


def upgrade() -> None:
    # Readings stored twice before this revision: keep the first of each (none in practice).
    op.execute(
        "DELETE FROM sta_observations o USING sta_observations p WHERE "
        "p.datastream_id = o.datastream_id AND p.phenomenon_time = o.phenomenon_time "
        "AND p.id < o.id"
    )
    op.create_index(NEW, "sta_observations", ["datastream_id", "phenomenon_time"], unique=True)
    op.drop_index(OLD, table_name="sta_observations")
    op.create_table(
        "sta_mqtt_accounts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("thing_id", sa.BigInteger(), nullable=True),
        sa.Column("reader", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(thing_id IS NULL) <> (reader IS NULL) AND "
            "(reader IS NULL OR reader IN ('public', 'internal'))",
            name=op.f("ck_sta_mqtt_accounts_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["sta_things.id"],
            ondelete="CASCADE",
            name=op.f("fk_sta_mqtt_accounts_thing_id_sta_things"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_mqtt_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_sta_mqtt_accounts_username")),
        sa.UniqueConstraint("thing_id", name=op.f("uq_sta_mqtt_accounts_thing_id")),
    )


def downgrade() -> None:
    op.drop_table("sta_mqtt_accounts")
    op.create_index(OLD, "sta_observations", ["datastream_id", "phenomenon_time"])
    op.drop_index(NEW, table_name="sta_observations")
