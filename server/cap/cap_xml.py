"""One warning as a CAP 1.2 document (OASIS Common Alerting Protocol 1.2, section 3), built with
the standard library.

Times are written in the city's zone with a numeric offset (CAP forbids "Z"); each info block
is one language (zh-CN, then en-US) carrying the same category, urgency, severity, certainty
and times; the area's polygons are CAP's "lat,lon lat,lon …" pairs, the first pair repeated
last. CAP polygons have no holes: a ring inside an area's polygon is left out, so the CAP area
is never smaller than the stored one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from geo.queries.warnings import CapMessage
from geo.warning_enums import LANGUAGES

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA = "application/cap+xml"


def cap_time(value: datetime, zone: ZoneInfo) -> str:
    """2026-11-30T18:00:00+08:00 (UTC itself is written -00:00, as CAP requires)."""
    text = value.astimezone(zone).replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def cap_polygons(area: dict[str, Any]) -> list[str]:
    """Each polygon's outer ring as "lat,lon lat,lon …" (closed, as stored)."""
    return [
        " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in polygon[0])
        for polygon in area["coordinates"]
    ]


def _add(parent: ET.Element, name: str, text: str | None) -> None:
    if text:
        ET.SubElement(parent, name).text = text


def alert_element(m: CapMessage, zone: ZoneInfo, web: str | None = None) -> ET.Element:
    alert = ET.Element("alert", xmlns=CAP_NS)  # children inherit the default namespace
    for name, value in (
        ("identifier", m.identifier),
        ("sender", m.sender),
        ("sent", cap_time(m.sent, zone)),
        ("status", m.status),
        ("msgType", m.msg_type),
        ("scope", m.scope),
    ):
        _add(alert, name, value)
    if m.references is not None:
        sender, identifier, sent = m.references
        _add(alert, "references", f"{sender},{identifier},{cap_time(sent, zone)}")
    if m.incident_id is not None:
        _add(alert, "incidents", f"onemap-incident-{m.incident_id}")
    for language in LANGUAGES:
        _info(alert, m, language, zone, web)
    return alert


def _info(alert: ET.Element, m: CapMessage, language: str, zone: ZoneInfo, web: str | None) -> None:
    texts = m.texts[language]
    info = ET.SubElement(alert, "info")
    _add(info, "language", language)
    _add(info, "category", m.category)
    _add(info, "event", texts["event"])
    _add(info, "urgency", m.urgency)
    _add(info, "severity", m.severity)
    _add(info, "certainty", m.certainty)
    _add(info, "effective", cap_time(m.effective, zone))
    _add(info, "onset", cap_time(m.onset, zone) if m.onset else None)
    _add(info, "expires", cap_time(m.expires, zone))
    _add(info, "senderName", texts.get("sender_name"))
    _add(info, "headline", texts["headline"])
    _add(info, "description", texts["description"])
    _add(info, "instruction", texts.get("instruction"))
    _add(info, "web", web)
    area = ET.SubElement(info, "area")
    _add(area, "areaDesc", m.area_desc)
    for polygon in cap_polygons(m.area):
        _add(area, "polygon", polygon)


def cap_document(m: CapMessage, zone: ZoneInfo, web: str | None = None) -> bytes:
    text: bytes = ET.tostring(alert_element(m, zone, web), encoding="utf-8", xml_declaration=True)
    return text
