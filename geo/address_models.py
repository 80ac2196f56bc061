"""The address base (issue 17, item 2): the city's standard addresses, as models.

``address_roads`` holds each addressed road once by name (a local street's name may run in
several pieces; its numbers run on across them, so a road and a number name one address), with
normalised keys that pg_trgm's GiST indexes search by similarity. ``addresses`` holds one row
per door: the road, the house number (odd on one side, even on the other), a building name
where there is one (小区/大厦…), the district, street (街道) and grid cell it lies in, its
standard form in Chinese and English, a normalised search text (GIN, trigram) and the Point.
docs/geocoding.md tells how geocoding reads them.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo.models import SRID, Base


class AddressRoad(Base):
    __tablename__ = "address_roads"
    __table_args__ = (
        # Nearest names by trigram distance (``<->``): GiST orders by it, GIN cannot.
        Index("ix_address_roads_key_zh_trgm", "key_zh", postgresql_using="gist",
              postgresql_ops={"key_zh": "gist_trgm_ops"}),
        Index("ix_address_roads_key_en_trgm", "key_en", postgresql_using="gist",
              postgresql_ops={"key_en": "gist_trgm_ops"}),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    #: geo.address_text.road_key of each name: what a query's road part is compared with.
    key_zh: Mapped[str] = mapped_column(Text)
    key_en: Mapped[str] = mapped_column(Text)


class Address(Base):
    __tablename__ = "addresses"
    __table_args__ = (
        CheckConstraint("number > 0", name="number_positive"),
        Index("ix_addresses_road_number", "road_id", "number", unique=True),
        Index("ix_addresses_search_trgm", "search", postgresql_using="gin",
              postgresql_ops={"search": "gin_trgm_ops"}),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    road_id: Mapped[int] = mapped_column(ForeignKey("address_roads.id"))
    number: Mapped[int] = mapped_column(Integer)
    building_zh: Mapped[str | None] = mapped_column(Text)
    building_en: Mapped[str | None] = mapped_column(Text)
    district_id: Mapped[int] = mapped_column(ForeignKey("admin_areas.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("admin_areas.id"), index=True)
    grid_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cells.id"), index=True)
    #: The standard forms: 黄浦区南京东路街道新华路12号金桥小区 / 12 Xinhua Road, … .
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    #: geo.address_text.normalise of both labels: free-text search without a house number.
    search: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=True), nullable=False
    )
