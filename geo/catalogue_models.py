"""The layer catalogue's one table (issue 17, item 3; docs/catalogue.md).

``catalogue_layers``: one row per registered department layer — the relation it reads
(schema, table or view, its unique id column, its geometry column with type and SRID, its
published columns with their JSON types, all taken from the database catalog at registration)
and its metadata: title, description, owner department, data class, update frequency, licence
and keywords. A layer is added, changed and removed by ``geo.services.catalogue`` alone; no
migration per layer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.catalogue import DATA_CLASSES, FREQUENCIES
from geo.models import Base


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class CatalogueLayerRow(Base):
    __tablename__ = "catalogue_layers"
    __table_args__ = (
        CheckConstraint(r"name ~ '^[a-z][a-z0-9_]{1,62}$'", name="name_form"),
        CheckConstraint(f"data_class IN {_in(DATA_CLASSES)}", name="data_class"),
        CheckConstraint(f"update_frequency IN {_in(FREQUENCIES)}", name="update_frequency"),
        CheckConstraint("srid > 0", name="srid_positive"),
        UniqueConstraint("schema_name", "table_name"),
    )

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    owner_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    data_class: Mapped[str] = mapped_column(Text)
    update_frequency: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    schema_name: Mapped[str] = mapped_column(Text)
    table_name: Mapped[str] = mapped_column(Text)
    id_column: Mapped[str] = mapped_column(Text)
    geometry_column: Mapped[str] = mapped_column(Text)
    geometry_type: Mapped[str] = mapped_column(Text)
    srid: Mapped[int] = mapped_column(Integer)
    #: [[column, JSON type], …] in output order
    columns: Mapped[Any] = mapped_column(JSONB)
    title_field: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
