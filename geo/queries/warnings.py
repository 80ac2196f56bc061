"""Reads of CAP warnings (预警发布): one message, the current ones, those covering a point or a
citizen's places, and the subscriptions a message is pushed to.

A message is **current** while it has not expired and no later message (an Update or a
Cancel) references it. Citizens and the public feed see only Actual, Public messages; a
Cancel stays in the feed (so readers learn of it) but never in an inbox.

A citizen's **places** are what the account holds about where they are: the positions their
devices sent with their push subscriptions, their latest venue check-in (场所码) and their
latest report. No place, no warning in the inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class CapMessage:
    id: int
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    category: str
    urgency: str
    severity: str
    certainty: str
    effective: datetime
    onset: datetime | None
    expires: datetime
    texts: dict[str, dict[str, str]]
    area_desc: str
    area: dict[str, Any]  # GeoJSON MultiPolygon
    incident_id: int | None
    #: The message this one updates or cancels: (sender, identifier, sent).
    references: tuple[str, str, datetime] | None
    #: The identifier of the message that replaced this one (an Update or Cancel), if any.
    replaced_by: str | None

    @property
    def current(self) -> bool:
        return self.replaced_by is None and self.expires > datetime.now(self.expires.tzinfo)


_SELECT = """
SELECT w.id, w.identifier, w.sender, w.sent, w.status, w.msg_type, w.scope, w.category,
  w.urgency, w.severity, w.certainty, w.effective, w.onset, w.expires, w.texts, w.area_desc,
  ST_AsGeoJSON(w.geom, 7)::jsonb, w.incident_id, r.sender, r.identifier, r.sent, s.identifier
FROM warnings w
LEFT JOIN warnings r ON r.id = w.references_id
LEFT JOIN warnings s ON s.references_id = w.id
WHERE {where}
ORDER BY w.sent DESC, w.id DESC
LIMIT %(limit)s
"""
#: Current: not replaced, not expired.
_CURRENT = "s.id IS NULL AND w.expires > now()"
#: What citizens and the public feed see.
_PUBLIC = "w.status = 'Actual' AND w.scope = 'Public'"
#: A citizen's places (see the module's text), as a subquery of points for user %(user)s.
_PLACES = """
  SELECT ps.geom FROM push_subscriptions ps WHERE ps.user_id = {user} AND ps.geom IS NOT NULL
  UNION ALL
  (SELECT f.geom FROM health_checkins h JOIN facilities f ON f.id = h.facility_id
   WHERE h.user_id = {user} ORDER BY h.at DESC LIMIT 1)
  UNION ALL
  (SELECT c.geom FROM cases c WHERE c.reporter_id = {user} ORDER BY c.reported_at DESC LIMIT 1)
"""


def _decode(rows: Rows) -> list[CapMessage]:
    out = []
    for r in rows:
        references = (r[18], r[19], r[20]) if r[19] is not None else None
        out.append(CapMessage(*r[:18], references=references, replaced_by=r[21]))  # type: ignore[misc]
    return out


def _messages(where: str, params: dict[str, Any], limit: int) -> Query[list[CapMessage]]:
    statement = sql.SQL(_SELECT).format(where=sql.SQL(where))  # our constants only
    return Query(statement, {**params, "limit": limit}, _decode)


def message(identifier: str, *, public: bool) -> Query[CapMessage | None]:
    """One message by its identifier, current or not (public: Actual and Public only)."""
    where = "w.identifier = %(identifier)s" + (f" AND {_PUBLIC}" if public else "")
    inner = _messages(where, {"identifier": identifier}, 1)
    return Query(inner.statement, inner.params, lambda rows: next(iter(_decode(rows)), None))


def message_by_id(warning_id: int) -> Query[CapMessage | None]:
    inner = _messages("w.id = %(id)s", {"id": warning_id}, 1)
    return Query(inner.statement, inner.params, lambda rows: next(iter(_decode(rows)), None))


def feed(limit: int) -> Query[list[CapMessage]]:
    """The public feed: current Actual, Public messages, Cancels included, newest first."""
    return _messages(f"{_CURRENT} AND {_PUBLIC}", {}, limit)


def listing(active: bool | None, public: bool, limit: int) -> Query[list[CapMessage]]:
    """Active (current and not a Cancel), the others, or all (None); ``public``: Actual and
    Public only (callers who do not issue warnings)."""
    live = f"{_CURRENT} AND w.msg_type <> 'Cancel'"
    where = {True: live, False: f"NOT ({live})", None: "TRUE"}[active]
    return _messages(f"({where}) AND {_PUBLIC}" if public else where, {}, limit)


def of_incident(incident_id: int, limit: int) -> Query[list[CapMessage]]:
    """The messages issued for an incident (``incident_id``), every status and msgType,
    newest first: the command's own warnings, with their Updates and Cancels."""
    return _messages("w.incident_id = %(incident)s", {"incident": incident_id}, limit)


def at_point(lon: float, lat: float, limit: int) -> Query[list[CapMessage]]:
    """The warnings in force at a point (public)."""
    where = (
        f"{_CURRENT} AND {_PUBLIC} AND w.msg_type <> 'Cancel' AND "
        "ST_Intersects(w.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))"
    )
    return _messages(where, {"lon": lon, "lat": lat}, limit)


def for_citizen(user_id: int, limit: int) -> Query[list[CapMessage]]:
    """The warnings in force at any of the citizen's places."""
    places = _PLACES.format(user="%(user)s")
    near = f"EXISTS (SELECT 1 FROM ({places}) pl WHERE ST_Intersects(w.geom, pl.geom))"  # noqa: S608
    where = f"{_CURRENT} AND {_PUBLIC} AND w.msg_type <> 'Cancel' AND {near}"
    return _messages(where, {"user": user_id}, limit)


@dataclass(frozen=True, slots=True)
class Recipient:
    subscription_id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str


_RECIPIENTS = """
SELECT p.id, p.user_id, p.endpoint, p.p256dh, p.auth
FROM push_subscriptions p JOIN warnings w ON w.id = %(warning)s
WHERE EXISTS (SELECT 1 FROM ({places}) pl WHERE ST_Intersects(w.geom, pl.geom))
ORDER BY p.id
"""


def recipients(warning_id: int) -> Query[list[Recipient]]:
    """The subscriptions of every citizen with a place in the message's area."""
    statement = sql.SQL(_RECIPIENTS.format(places=_PLACES.format(user="p.user_id")))
    return Query(statement, {"warning": warning_id}, lambda rows: [Recipient(*r) for r in rows])
