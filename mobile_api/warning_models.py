"""The pydantic models of warnings in the citizen API (``mobile_api.warnings``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from geo.queries.warnings import CapMessage
from geo.warning_enums import CapCategory, CapCertainty, CapSeverity, CapUrgency
from mobile_api.contract import Body

Text = Annotated[str, Field(max_length=4000)]


class WarningText(Body):
    """One language's texts; event, headline and description are required in both."""

    event: Text = ""
    headline: Text = ""
    description: Text = ""
    instruction: Text = ""
    sender_name: Text = ""


class WarningArea(Body):
    """A GeoJSON Polygon or MultiPolygon in lon/lat, every ring closed."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


class WarningIn(Body):
    status: Literal["Actual", "Exercise", "Test"] = "Actual"
    category: CapCategory
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    effective: AwareDatetime | None = Field(default=None, description="default: now")
    onset: AwareDatetime | None = None
    expires: AwareDatetime
    texts: dict[Annotated[str, Field(max_length=8)], WarningText] = Field(
        description='{"zh-CN": {…}, "en-US": {…}}: both languages'
    )
    area_desc: Annotated[str, Field(max_length=500)]
    area: WarningArea
    incident_id: int | None = None


class CancelIn(Body):
    note: Annotated[str | None, Field(max_length=4000)] = None


class WarningTextOut(BaseModel):
    event: str
    headline: str
    description: str
    instruction: str
    sender_name: str


class WarningOut(BaseModel):
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: Literal["Alert", "Update", "Cancel"]
    scope: str
    references: str | None = Field(description="the identifier this message updates or cancels")
    replaced_by: str | None = Field(description="the Update or Cancel that replaced it")
    category: str
    urgency: str
    severity: str
    certainty: str
    effective: datetime
    onset: datetime | None
    expires: datetime
    texts: dict[str, WarningTextOut]
    area_desc: str
    area: dict[str, Any] = Field(description="GeoJSON MultiPolygon (lon, lat)")
    incident_id: int | None
    cap_url: str = Field(description="its CAP 1.2 XML")

    @classmethod
    def of(cls, m: CapMessage) -> WarningOut:
        return cls(
            identifier=m.identifier,
            sender=m.sender,
            sent=m.sent,
            status=m.status,
            msg_type=m.msg_type,
            scope=m.scope,
            references=m.references[1] if m.references else None,
            replaced_by=m.replaced_by,
            category=m.category,
            urgency=m.urgency,
            severity=m.severity,
            certainty=m.certainty,
            effective=m.effective,
            onset=m.onset,
            expires=m.expires,
            texts={k: WarningTextOut(**v) for k, v in m.texts.items()},
            area_desc=m.area_desc,
            area=m.area,
            incident_id=m.incident_id,
            cap_url=f"/cap/alerts/{m.identifier}.xml",
        )


class WarningList(BaseModel):
    items: list[WarningOut]


class PushKeys(Body):
    p256dh: Annotated[str, Field(min_length=80, max_length=100)]
    auth: Annotated[str, Field(min_length=16, max_length=32)]


class SubscriptionIn(Body):
    """The browser's PushSubscription (``subscription.toJSON()``), with where the device is."""

    endpoint: Annotated[str, Field(min_length=10, max_length=2000)]
    keys: PushKeys
    expirationTime: float | None = None  # the Push API's own name (toJSON())
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None


class SubscriptionOut(BaseModel):
    id: int


class UnsubscribeQuery(BaseModel):
    endpoint: Annotated[str, Field(min_length=10, max_length=2000)]


class PointQuery(BaseModel):
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]


class VapidKey(BaseModel):
    public_key: str = Field(description="applicationServerKey for PushManager.subscribe()")
