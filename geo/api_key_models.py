"""Departments' API keys for machine clients, and what they read (docs/open-data.md).

- ``api_keys``: a key belongs to a department and is granted exactly a set of datasets (layer
  names; which ones may be granted is the access policy's: ``geo.access.grantable``). Only the
  SHA-256 of the key is kept, and its first characters (``prefix``) to tell keys apart in a
  list. It may expire (``expires_at``) and be revoked (``revoked_at``); a per-minute request
  quota (``rate_per_minute``) is held in ``auth_throttles``.
- ``api_key_usage``: per key, day (UTC) and dataset, the requests served, the features (rows)
  and bytes they carried and the last one's time — the usage report (数据共享情况通报). Written
  in batches by ``geo.services.api_key_usage`` (one upsert every few seconds per process,
  additive, so every worker's counts add up).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.models import Base


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("rate_per_minute > 0", name="rate_positive"),
        CheckConstraint("cardinality(datasets) > 0", name="datasets_given"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    datasets: Mapped[list[str]] = mapped_column(ARRAY(Text))
    rate_per_minute: Mapped[int] = mapped_column(Integer, server_default=text("600"))
    created_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))


class ApiKeyUsage(Base):
    __tablename__ = "api_key_usage"

    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dataset: Mapped[str] = mapped_column(Text, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    rows: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
