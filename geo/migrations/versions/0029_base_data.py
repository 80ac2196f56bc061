"""The city's base data (issue 17, item 1): ``buildings`` (footprints), ``houses`` (their
units), ``persons`` (actual population: restricted personal data) and ``organisations``
(legal entities, 九小场所, fire-safety key units). GiST on both geometries; indexes for the
houses of a building, the persons of a house and the organisations of a building, and for
the population counts per grid cell and per building. geo/base_models.py tells the model.

The app role reads and writes the tables through 0005's default privileges.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _synthetic() -> sa.Column[bool]:
    return sa.Column("synthetic", sa.Boolean(), server_default=sa.text("true"), nullable=False)


_COUNTS = ("total", "registered", "resident", "floating", "elderly_alone", "disabled",
           "low_income")  # fmt: skip
#: Recount the persons of these buildings into ``building_population`` (a building without
#: persons keeps a row of zeros). Called by the triggers below and by the seed.
_REFRESH = """
CREATE FUNCTION onemap_refresh_building_population(ids bigint[]) RETURNS void
LANGUAGE sql AS $$
INSERT INTO building_population (building_id, grid_cell_id, total, registered, resident,
                                 floating, elderly_alone, disabled, low_income)
SELECT b.id, b.grid_cell_id, count(p.id),
       count(p.id) FILTER (WHERE p.residence = 'registered'),
       count(p.id) FILTER (WHERE p.residence = 'resident'),
       count(p.id) FILTER (WHERE p.residence = 'floating'),
       count(p.id) FILTER (WHERE 'elderly_alone' = ANY(p.care)),
       count(p.id) FILTER (WHERE 'disabled' = ANY(p.care)),
       count(p.id) FILTER (WHERE 'low_income' = ANY(p.care))
FROM buildings b LEFT JOIN persons p ON p.building_id = b.id
WHERE b.id = ANY(ids) GROUP BY b.id
ON CONFLICT (building_id) DO UPDATE SET grid_cell_id = excluded.grid_cell_id,
    total = excluded.total, registered = excluded.registered, resident = excluded.resident,
    floating = excluded.floating, elderly_alone = excluded.elderly_alone,
    disabled = excluded.disabled, low_income = excluded.low_income
$$
"""
#: After any statement that writes persons: recount the buildings it touched.
_TRIGGER = """
CREATE FUNCTION onemap_persons_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM onemap_refresh_building_population(ARRAY(SELECT building_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM onemap_refresh_building_population(ARRAY(SELECT building_id FROM old_rows));
    ELSE
        PERFORM onemap_refresh_building_population(ARRAY(
            SELECT building_id FROM new_rows UNION SELECT building_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$
"""


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "buildings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=True),
        sa.Column("address_id", sa.BigInteger(), nullable=True),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("use", sa.Text(), nullable=False),
        sa.Column("floors", sa.SmallInteger(), nullable=False),
        sa.Column("height_m", sa.Double(), nullable=False),
        sa.Column("year_built", sa.SmallInteger(), nullable=True),
        _synthetic(),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
                  nullable=False),
        sa.CheckConstraint("use IN ('residential', 'office', 'commercial', 'school', "
                           "'hospital', 'industrial', 'mixed')", name=op.f("ck_buildings_use")),
        sa.CheckConstraint("floors BETWEEN 1 AND 200", name=op.f("ck_buildings_floors_range")),
        sa.CheckConstraint("height_m > 0", name=op.f("ck_buildings_height_positive")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_buildings_geom_valid")),
        _fk("buildings", "address_id", "addresses"),
        _fk("buildings", "grid_cell_id", "grid_cells"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
    )  # fmt: skip
    op.create_index("idx_buildings_geom", "buildings", ["geom"], postgresql_using="gist")
    for column in ("address_id", "grid_cell_id"):
        op.create_index(op.f(f"ix_buildings_{column}"), "buildings", [column])

    op.create_table(
        "houses",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.SmallInteger(), nullable=False),
        sa.Column("floor", sa.SmallInteger(), nullable=False),
        sa.Column("room", sa.SmallInteger(), nullable=False),
        sa.Column("area_m2", sa.Double(), nullable=False),
        sa.Column("use", sa.Text(), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        _synthetic(),
        sa.CheckConstraint("use IN ('residential', 'office', 'commercial', 'public')",
                           name=op.f("ck_houses_use")),
        sa.CheckConstraint("area_m2 > 0", name=op.f("ck_houses_area_positive")),
        _fk("houses", "building_id", "buildings"),
        _fk("houses", "grid_cell_id", "grid_cells"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_houses")),
    )  # fmt: skip
    op.create_index(
        "ix_houses_building", "houses", ["building_id", "unit", "floor", "room"], unique=True
    )
    op.create_index(op.f("ix_houses_grid_cell_id"), "houses", ["grid_cell_id"])

    op.create_table(
        "persons",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("house_id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("birth_year", sa.SmallInteger(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("residence", sa.Text(), nullable=False),
        sa.Column("care", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"),
                  nullable=False),
        _synthetic(),
        sa.CheckConstraint("residence IN ('registered', 'resident', 'floating')",
                           name=op.f("ck_persons_residence")),
        sa.CheckConstraint("sex IN ('F', 'M')", name=op.f("ck_persons_sex")),
        sa.CheckConstraint("care <@ ARRAY['elderly_alone', 'disabled', 'low_income']::text[]",
                           name=op.f("ck_persons_care")),
        sa.CheckConstraint("birth_year BETWEEN 1900 AND 2100",
                           name=op.f("ck_persons_birth_year_range")),
        _fk("persons", "house_id", "houses"),
        _fk("persons", "building_id", "buildings"),
        _fk("persons", "grid_cell_id", "grid_cells"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("id_number", name=op.f("uq_persons_id_number")),
    )  # fmt: skip
    op.create_index(op.f("ix_persons_house_id"), "persons", ["house_id"])
    op.create_index("ix_persons_cell", "persons", ["grid_cell_id", "residence"])
    op.create_index("ix_persons_building", "persons", ["building_id", "residence"])

    op.create_table(
        "building_population",
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in _COUNTS),
        _fk("building_population", "building_id", "buildings"),
        _fk("building_population", "grid_cell_id", "grid_cells"),
        sa.PrimaryKeyConstraint("building_id", name=op.f("pk_building_population")),
    )
    op.create_index(
        op.f("ix_building_population_grid_cell_id"), "building_population", ["grid_cell_id"]
    )
    op.execute(_REFRESH)
    op.execute(_TRIGGER)
    for name, event, tables in (
        ("insert", "INSERT", "NEW TABLE AS new_rows"),
        ("update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("delete", "DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER onemap_persons_counted_{name} AFTER {event} ON persons "
            f"REFERENCING {tables} FOR EACH STATEMENT "
            "EXECUTE FUNCTION onemap_persons_counted()"
        )

    op.create_table(
        "organisations",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("credit_code", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("responsible_name", sa.Text(), nullable=False),
        sa.Column("responsible_phone", sa.Text(), nullable=True),
        _synthetic(),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.CheckConstraint("kind IN ('legal_entity', 'small_venue', 'fire_key_unit')",
                           name=op.f("ck_organisations_kind")),
        _fk("organisations", "building_id", "buildings"),
        _fk("organisations", "grid_cell_id", "grid_cells"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_organisations_credit_code")),
    )  # fmt: skip
    op.create_index("idx_organisations_geom", "organisations", ["geom"], postgresql_using="gist")
    for column in ("building_id", "grid_cell_id"):
        op.create_index(op.f(f"ix_organisations_{column}"), "organisations", [column])


def downgrade() -> None:
    for table in ("organisations", "building_population", "persons", "houses", "buildings"):
        op.drop_table(table)
    op.execute("DROP FUNCTION onemap_persons_counted()")
    op.execute("DROP FUNCTION onemap_refresh_building_population(bigint[])")
