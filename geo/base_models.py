"""The city's base data (issue 17, item 1): buildings, houses, actual population, organisations.

- ``buildings`` (建筑物): a footprint (MultiPolygon), floors, height, use, year built, the door
  of the address base it stands behind (``address_id``) and the grid cell of its centre.
- ``houses`` (房屋): the units of a building — unit (单元), floor and room number, area, use.
- ``persons`` (实有人口): the minimum a grid keeps of a person living in a house — name, ID
  number, phone, birth year, sex, residence class (户籍 registered / 常住 resident / 流动
  floating) and special-care flags. **Restricted personal data** (geo.access): never in a
  public output, every read audited, analysts get counts only. ``building_id`` and
  ``grid_cell_id`` are copies of the house's (a house never moves), so the per-cell and
  per-building counts read one index and never join three tables.
- ``organisations`` (法人与重点单位): legal entities, 九小场所 small venues and fire-safety key
  units (消防重点单位) — name, unified social credit code, kind, building, the responsible
  person's name and phone (the phone is personal data: not in the internal view), position.

Every row carries ``synthetic`` (default true): the demo city's data are generated (seed/
base_data.py), and their ID numbers and credit codes start with ``SYN`` so no one mistakes
them for real ones. docs/base-data.md tells the whole model.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import sql_in
from geo.models import Base, _geometry


class BuildingUse(StrEnum):
    RESIDENTIAL = "residential"
    OFFICE = "office"
    COMMERCIAL = "commercial"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    INDUSTRIAL = "industrial"
    MIXED = "mixed"


class HouseUse(StrEnum):
    RESIDENTIAL = "residential"
    OFFICE = "office"
    COMMERCIAL = "commercial"
    PUBLIC = "public"  # classrooms, wards, plant: a school's, hospital's or factory's units


class Residence(StrEnum):
    REGISTERED = "registered"  # 户籍人口: household registration here
    RESIDENT = "resident"  # 常住人口: registered elsewhere, living here six months or more
    FLOATING = "floating"  # 流动人口: living here for a shorter time


class Care(StrEnum):
    """Special-care flags (重点关爱) a grid worker visits for."""

    ELDERLY_ALONE = "elderly_alone"  # 独居老人
    DISABLED = "disabled"  # 残疾人
    LOW_INCOME = "low_income"  # 低保


class OrganisationKind(StrEnum):
    LEGAL_ENTITY = "legal_entity"  # 法人单位
    SMALL_VENUE = "small_venue"  # 九小场所 (small shops, restaurants, hostels …)
    FIRE_KEY_UNIT = "fire_key_unit"  # 消防重点单位


def _synthetic() -> Mapped[bool]:
    return mapped_column(Boolean, server_default=text("true"))


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (
        CheckConstraint(f"use IN {sql_in(BuildingUse)}", name="use"),
        CheckConstraint("floors BETWEEN 1 AND 200", name="floors_range"),
        CheckConstraint("height_m > 0", name="height_positive"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name_zh: Mapped[str | None] = mapped_column(Text)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"), index=True)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    use: Mapped[str] = mapped_column(Text)
    floors: Mapped[int] = mapped_column(SmallInteger)
    height_m: Mapped[float] = mapped_column(Double)
    year_built: Mapped[int | None] = mapped_column(SmallInteger)
    synthetic: Mapped[bool] = _synthetic()
    geom: Mapped[Any] = mapped_column(_geometry("MULTIPOLYGON"), nullable=False)


class House(Base):
    __tablename__ = "houses"
    __table_args__ = (
        CheckConstraint(f"use IN {sql_in(HouseUse)}", name="use"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
        # "The houses of a building", in unit, floor, room order.
        Index("ix_houses_building", "building_id", "unit", "floor", "room", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    unit: Mapped[int] = mapped_column(SmallInteger)
    floor: Mapped[int] = mapped_column(SmallInteger)
    room: Mapped[int] = mapped_column(SmallInteger)  # 302 on the third floor: floor * 100 + n
    area_m2: Mapped[float] = mapped_column(Double)
    use: Mapped[str] = mapped_column(Text)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    synthetic: Mapped[bool] = _synthetic()


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint(f"residence IN {sql_in(Residence)}", name="residence"),
        CheckConstraint("sex IN ('F', 'M')", name="sex"),
        CheckConstraint(f"care <@ ARRAY{list(map(str, Care))}::text[]", name="care"),
        CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="birth_year_range"),
        # The counts per cell and per building read these alone (index-only scans).
        Index("ix_persons_cell", "grid_cell_id", "residence"),
        Index("ix_persons_building", "building_id", "residence"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    house_id: Mapped[int] = mapped_column(ForeignKey("houses.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"))
    name: Mapped[str] = mapped_column(Text)
    id_number: Mapped[str] = mapped_column(Text, unique=True)
    phone: Mapped[str | None] = mapped_column(Text)
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    sex: Mapped[str] = mapped_column(Text)
    residence: Mapped[str] = mapped_column(Text)
    care: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    synthetic: Mapped[bool] = _synthetic()


class BuildingPopulation(Base):
    """The counts of a building's persons (no person): what analysts read, summed per cell.

    Kept by the statement-level triggers on ``persons`` (migration 0029) and by the seed,
    which loads with triggers off and refreshes the buildings it added
    (``onemap_refresh_building_population``). "Population of the cells within 1 km" sums a
    few hundred of these rows instead of counting tens of thousands of persons."""

    __tablename__ = "building_population"

    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), primary_key=True)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    total: Mapped[int] = mapped_column(Integer)
    registered: Mapped[int] = mapped_column(Integer)
    resident: Mapped[int] = mapped_column(Integer)
    floating: Mapped[int] = mapped_column(Integer)
    elderly_alone: Mapped[int] = mapped_column(Integer)
    disabled: Mapped[int] = mapped_column(Integer)
    low_income: Mapped[int] = mapped_column(Integer)


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(f"kind IN {sql_in(OrganisationKind)}", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    credit_code: Mapped[str] = mapped_column(Text, unique=True)  # 统一社会信用代码
    kind: Mapped[str] = mapped_column(Text)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"), index=True)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    responsible_name: Mapped[str] = mapped_column(Text)
    responsible_phone: Mapped[str | None] = mapped_column(Text)
    synthetic: Mapped[bool] = _synthetic()
    geom: Mapped[Any] = mapped_column(_geometry("POINT"), nullable=False)
