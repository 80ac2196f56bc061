"""SensorThings (OGC SensorThings API 1.1, Part 1: Sensing): the eight entity types

- ``sta_things`` (with ``critical``: internal devices of critical infrastructure, hidden from
  the public; ``grid_cell_id`` stamped from the Location by the sensor service; an optional
  ``facility_id``), ``sta_locations`` (PostGIS geometry, SRID 4326), ``sta_thing_locations``,
  ``sta_historical_locations`` (+ ``sta_historical_location_locations``), ``sta_sensors``,
  ``sta_observed_properties``, ``sta_datastreams`` (with the latest observation kept for the
  map: ``latest_observation_id``, ``latest_phenomenon_time``, ``latest_result``),
  ``sta_features_of_interest`` (``internal`` when a critical Thing observes it).
- ``sta_observations``: native range partitioning on ``phenomenon_time``, one partition a
  month (``sta_observations_pYYYYMM``) made ahead by ``sta_ensure_observation_partitions(n)``
  and a default partition for anything else; ``sta_drop_observation_partitions(keep)`` drops
  whole months past the retention. Both are SECURITY DEFINER functions owned by the owner role
  (the app role may execute them, never create or drop a table itself).
- Deletes cascade as the standard says, through the foreign keys.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from geo.migrate import migration_roles, quote_ident

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Months of partitions made ahead by the migration (the app calls the function at start).
AHEAD_MONTHS = 3

ENSURE = """
CREATE FUNCTION sta_ensure_observation_partitions(months_ahead integer DEFAULT 3)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  first date := date_trunc('month', now() - interval '1 month')::date;
  made integer := 0;
  m date;
  name text;
BEGIN
  IF months_ahead < 0 OR months_ahead > 36 THEN
    RAISE EXCEPTION 'months_ahead must be between 0 and 36';
  END IF;
  FOR i IN 0 .. months_ahead + 1 LOOP
    m := (first + make_interval(months => i))::date;
    name := format('sta_observations_p%s', to_char(m, 'YYYYMM'));
    CONTINUE WHEN to_regclass(name) IS NOT NULL;
    -- A month whose rows already fell into the default partition stays there (attaching
    -- would fail); the next month is made as usual.
    CONTINUE WHEN EXISTS (SELECT 1 FROM sta_observations_default
                          WHERE phenomenon_time >= m
                            AND phenomenon_time < m + interval '1 month');
    EXECUTE format('CREATE TABLE %I PARTITION OF sta_observations FOR VALUES FROM (%L) TO (%L)',
                   name, m::timestamptz, (m + interval '1 month')::timestamptz);
    made := made + 1;
  END LOOP;
  RETURN made;
END $$;
"""

DROP_OLD = """
CREATE FUNCTION sta_drop_observation_partitions(keep_months integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  cutoff date := (date_trunc('month', now()) - make_interval(months => keep_months))::date;
  dropped integer := 0;
  part record;
BEGIN
  IF keep_months < 1 THEN
    RAISE EXCEPTION 'keep_months must be at least 1';
  END IF;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'sta_observations'::regclass
      AND c.relname ~ '^sta_observations_p[0-9]{6}$'
      AND to_date(substr(c.relname, 19), 'YYYYMM') < cutoff
  LOOP
    EXECUTE format('DROP TABLE %I', part.relname);
    dropped := dropped + 1;
  END LOOP;
  RETURN dropped;
END $$;
"""


def upgrade() -> None:
    op.create_geospatial_table(
        "sta_features_of_interest",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("encoding_type", sa.Text(), nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("internal", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_features_of_interest")),
    )
    op.create_geospatial_index(
        "idx_sta_features_of_interest_geom",
        "sta_features_of_interest",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "sta_locations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("encoding_type", sa.Text(), nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_locations")),
    )
    op.create_geospatial_index(
        "idx_sta_locations_geom",
        "sta_locations",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "sta_observed_properties",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_observed_properties")),
    )
    op.create_table(
        "sta_sensors",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("encoding_type", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_sensors")),
    )
    op.create_table(
        "sta_things",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("critical", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=True),
        sa.Column("facility_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_sta_things_facility_id_facilities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"], ["grid_cells.id"], name=op.f("fk_sta_things_grid_cell_id_grid_cells")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_things")),
    )
    op.create_index(op.f("ix_sta_things_critical"), "sta_things", ["critical"], unique=False)
    op.create_index(op.f("ix_sta_things_facility_id"), "sta_things", ["facility_id"], unique=False)
    op.create_index(
        op.f("ix_sta_things_grid_cell_id"), "sta_things", ["grid_cell_id"], unique=False
    )
    op.create_table(
        "sta_datastreams",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("observation_type", sa.Text(), nullable=False),
        sa.Column("unit_of_measurement", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("thing_id", sa.BigInteger(), nullable=False),
        sa.Column("sensor_id", sa.BigInteger(), nullable=False),
        sa.Column("observed_property_id", sa.BigInteger(), nullable=False),
        sa.Column("phenomenon_time_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phenomenon_time_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_time_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_time_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_observation_id", sa.BigInteger(), nullable=True),
        sa.Column("latest_phenomenon_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "observation_type IN ('http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation')",
            name=op.f("ck_sta_datastreams_observation_type"),
        ),
        sa.ForeignKeyConstraint(
            ["observed_property_id"],
            ["sta_observed_properties.id"],
            name=op.f("fk_sta_datastreams_observed_property_id_sta_observed_properties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sta_sensors.id"],
            name=op.f("fk_sta_datastreams_sensor_id_sta_sensors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["sta_things.id"],
            name=op.f("fk_sta_datastreams_thing_id_sta_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_datastreams")),
    )
    op.create_index(
        op.f("ix_sta_datastreams_observed_property_id"),
        "sta_datastreams",
        ["observed_property_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sta_datastreams_sensor_id"), "sta_datastreams", ["sensor_id"], unique=False
    )
    op.create_index(
        op.f("ix_sta_datastreams_thing_id"), "sta_datastreams", ["thing_id"], unique=False
    )
    op.create_table(
        "sta_historical_locations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("thing_id", sa.BigInteger(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["sta_things.id"],
            name=op.f("fk_sta_historical_locations_thing_id_sta_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sta_historical_locations")),
    )
    op.create_index(
        op.f("ix_sta_historical_locations_thing_id"),
        "sta_historical_locations",
        ["thing_id"],
        unique=False,
    )
    op.create_table(
        "sta_thing_locations",
        sa.Column("thing_id", sa.BigInteger(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["sta_locations.id"],
            name=op.f("fk_sta_thing_locations_location_id_sta_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"],
            ["sta_things.id"],
            name=op.f("fk_sta_thing_locations_thing_id_sta_things"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thing_id", "location_id", name=op.f("pk_sta_thing_locations")),
    )
    op.create_index(
        op.f("ix_sta_thing_locations_location_id"),
        "sta_thing_locations",
        ["location_id"],
        unique=False,
    )
    op.create_table(
        "sta_historical_location_locations",
        sa.Column("historical_location_id", sa.BigInteger(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["historical_location_id"],
            ["sta_historical_locations.id"],
            name=op.f(
                "fk_sta_historical_location_locations_historical_location_id_sta_historical_locations"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["sta_locations.id"],
            name=op.f("fk_sta_historical_location_locations_location_id_sta_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "historical_location_id",
            "location_id",
            name=op.f("pk_sta_historical_location_locations"),
        ),
    )
    op.create_index(
        op.f("ix_sta_historical_location_locations_location_id"),
        "sta_historical_location_locations",
        ["location_id"],
        unique=False,
    )
    op.create_table(
        "sta_observations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("phenomenon_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phenomenon_time_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_time_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_time_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result_quality", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("datastream_id", sa.BigInteger(), nullable=False),
        sa.Column("feature_of_interest_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["sta_datastreams.id"],
            name=op.f("fk_sta_observations_datastream_id_sta_datastreams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feature_of_interest_id"],
            ["sta_features_of_interest.id"],
            name=op.f("fk_sta_observations_feature_of_interest_id_sta_features_of_interest"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", "phenomenon_time", name="pk_sta_observations"),
        postgresql_partition_by="RANGE (phenomenon_time)",
    )
    op.create_index(
        "ix_sta_observations_datastream_id_phenomenon_time",
        "sta_observations",
        ["datastream_id", "phenomenon_time"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sta_observations_feature_of_interest_id"),
        "sta_observations",
        ["feature_of_interest_id"],
        unique=False,
    )
    op.execute("CREATE TABLE sta_observations_default PARTITION OF sta_observations DEFAULT")
    op.execute(ENSURE)
    op.execute(DROP_OLD)
    app = quote_ident(migration_roles().app)
    for fn in (
        "sta_ensure_observation_partitions(integer)",
        "sta_drop_observation_partitions(integer)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO {app}")
    op.execute(f"SELECT sta_ensure_observation_partitions({AHEAD_MONTHS})")


def downgrade() -> None:
    op.execute("DROP FUNCTION sta_drop_observation_partitions(integer)")
    op.execute("DROP FUNCTION sta_ensure_observation_partitions(integer)")
    op.drop_index(op.f("ix_sta_observations_feature_of_interest_id"), table_name="sta_observations")
    op.drop_index(
        "ix_sta_observations_datastream_id_phenomenon_time", table_name="sta_observations"
    )
    op.drop_table("sta_observations")
    op.drop_index(
        op.f("ix_sta_historical_location_locations_location_id"),
        table_name="sta_historical_location_locations",
    )
    op.drop_table("sta_historical_location_locations")
    op.drop_index(op.f("ix_sta_thing_locations_location_id"), table_name="sta_thing_locations")
    op.drop_table("sta_thing_locations")
    op.drop_index(
        op.f("ix_sta_historical_locations_thing_id"), table_name="sta_historical_locations"
    )
    op.drop_table("sta_historical_locations")
    op.drop_index(op.f("ix_sta_datastreams_thing_id"), table_name="sta_datastreams")
    op.drop_index(op.f("ix_sta_datastreams_sensor_id"), table_name="sta_datastreams")
    op.drop_index(op.f("ix_sta_datastreams_observed_property_id"), table_name="sta_datastreams")
    op.drop_table("sta_datastreams")
    op.drop_index(op.f("ix_sta_things_grid_cell_id"), table_name="sta_things")
    op.drop_index(op.f("ix_sta_things_facility_id"), table_name="sta_things")
    op.drop_index(op.f("ix_sta_things_critical"), table_name="sta_things")
    op.drop_table("sta_things")
    op.drop_table("sta_sensors")
    op.drop_table("sta_observed_properties")
    op.drop_geospatial_index(
        "idx_sta_locations_geom",
        table_name="sta_locations",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("sta_locations")
    op.drop_geospatial_index(
        "idx_sta_features_of_interest_geom",
        table_name="sta_features_of_interest",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("sta_features_of_interest")
