"""The Atom index (RFC 4287) of the current public warnings: one entry per CAP message, linking
to its CAP XML (``rel="alternate"``, ``type="application/cap+xml"``), as alerting hubs and
aggregators read CAP feeds. Updates and Cancels appear as entries of their own; the messages
they replaced leave the index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from geo.queries.warnings import CapMessage
from server.cap.cap_xml import CAP_MEDIA

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA = "application/atom+xml"


def _el(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, name, attrs)
    if text is not None:
        element.text = text
    return element


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def atom_feed(
    messages: Sequence[CapMessage], *, feed_url: str, alert_url: str, title: str, author: str
) -> bytes:
    """``alert_url`` has one ``{identifier}`` placeholder: each message's CAP XML."""
    feed = ET.Element("feed", xmlns=ATOM_NS)  # children inherit the default namespace
    _el(feed, "id", feed_url)
    _el(feed, "title", title)
    newest = max((m.sent for m in messages), default=datetime(2026, 1, 1, tzinfo=UTC))
    _el(feed, "updated", _stamp(newest))
    _el(feed, "link", rel="self", href=feed_url, type=ATOM_MEDIA)
    _el(_el(feed, "author"), "name", author)
    for m in messages:
        url = alert_url.format(identifier=m.identifier)
        entry = _el(feed, "entry")
        _el(entry, "id", url)
        zh, en = m.texts["zh-CN"], m.texts["en-US"]
        _el(entry, "title", f"{zh['headline']} / {en['headline']}")
        _el(entry, "updated", _stamp(m.sent))
        _el(entry, "published", _stamp(m.sent))
        _el(entry, "link", rel="alternate", href=url, type=CAP_MEDIA)
        _el(entry, "summary", f"{m.msg_type} · {m.severity} · {m.area_desc}: {en['description']}")
        _el(entry, "category", term=m.severity, label=f"severity {m.severity}")
        _el(_el(entry, "author"), "name", en.get("sender_name") or author)
    text: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return text
