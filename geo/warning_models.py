"""CAP 1.2 warnings (预警发布, issue 16 item 5) and their delivery by Web Push, as models.

- ``warnings``: one row per CAP message. An Update or a Cancel is a message of its own that
  references the message it replaces (``references_id``), as CAP does; the texts of the two
  info blocks (zh-CN, en-US) are kept per language in ``texts``, the rest of an info block is
  shared by both.
- ``push_subscriptions``: a citizen's browsers (W3C Push API PushSubscription), each with the
  last position the app sent with it (optional).
- ``warning_deliveries``: what the push service answered, per message and subscription.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.enums import sql_in
from geo.models import Base, _geometry
from geo.warning_enums import (
    CapCategory,
    CapCertainty,
    CapMsgType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    PushOutcome,
)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class CapAlert(Base):
    __tablename__ = "warnings"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(CapStatus)}", name="status"),
        CheckConstraint(f"msg_type IN {sql_in(CapMsgType)}", name="msg_type"),
        CheckConstraint(f"scope IN {sql_in(CapScope)}", name="scope"),
        CheckConstraint(f"category IN {sql_in(CapCategory)}", name="category"),
        CheckConstraint(f"urgency IN {sql_in(CapUrgency)}", name="urgency"),
        CheckConstraint(f"severity IN {sql_in(CapSeverity)}", name="severity"),
        CheckConstraint(f"certainty IN {sql_in(CapCertainty)}", name="certainty"),
        CheckConstraint("expires > effective", name="expires_after_effective"),
        CheckConstraint(
            "(msg_type = 'Alert') = (references_id IS NULL)", name="references_for_updates"
        ),
        CheckConstraint("texts ? 'zh-CN' AND texts ? 'en-US'", name="texts_both_languages"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    identifier: Mapped[str] = mapped_column(Text, unique=True)
    sender: Mapped[str] = mapped_column(Text)
    sent: Mapped[datetime] = _now()
    status: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    #: The message this one updates or cancels (None for an Alert); a message is replaced once.
    references_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    certainty: Mapped[str] = mapped_column(String(16))
    effective: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onset: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: {"zh-CN": {event, headline, description, instruction, sender_name}, "en-US": {…}}
    texts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    area_desc: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geometry("MULTIPOLYGON"), nullable=False)
    #: The emergency incident it belongs to, if any (issue 16 item 3: no foreign key yet).
    incident_id: Mapped[int | None] = mapped_column(Integer)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"
    __table_args__ = (CheckConstraint("length(endpoint) <= 2000", name="endpoint_length"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    p256dh: Mapped[str] = mapped_column(Text)
    auth: Mapped[str] = mapped_column(Text)
    #: Where the device last was, as the app sent it (optional): warnings covering it reach it.
    geom: Mapped[Any | None] = mapped_column(_geometry("POINT"))
    created_at: Mapped[datetime] = _now()


class WarningDelivery(Base):
    __tablename__ = "warning_deliveries"
    __table_args__ = (CheckConstraint(f"outcome IN {sql_in(PushOutcome)}", name="outcome"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    warning_id: Mapped[int] = mapped_column(
        ForeignKey("warnings.id", ondelete="CASCADE"), index=True
    )
    #: Kept when the subscription is gone: the delivery stays on record.
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _now()
