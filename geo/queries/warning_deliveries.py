"""How far a warning got (预警送达): counts of the citizens it reaches and of what the push
services answered — never a person.

- **recipients**: the citizens (accounts the policy calls citizens) with a place in the area
  (the places of ``geo.queries.warnings``: their devices' last positions, their latest
  check-in, their latest report). Exercises and tests reach nobody: 0.
- **inbox_delivered**: those whose inbox shows it now — the recipients while the message is
  in force (current, not a Cancel), 0 afterwards. The inbox is read, not stored: the number
  follows the citizens' places as they are now.
- **push_delivered / push_gone / push_failed**: ``warning_deliveries`` by outcome, one per
  device (subscription) the message was sent to.
- **pending**: devices of recipients, registered before the message was sent, with no answer
  recorded yet — being sent, or lost to a restart of the process that was sending.
- **updated_at**: the newest answer recorded (None before the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from geo.access import citizen_accounts
from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    warning_id: int
    recipients: int
    inbox_delivered: int
    push_delivered: int
    push_gone: int
    push_failed: int
    pending: int
    updated_at: datetime | None


# The citizens with a place in a message's area, one row each: a device's position, their
# latest check-in, their latest report (each found through its GiST index, then kept only
# when it is the citizen's latest).
_REACHED = """
  SELECT ps.user_id FROM push_subscriptions ps
  WHERE ps.geom IS NOT NULL AND ST_Intersects(ps.geom, w.geom)
  UNION
  SELECT h.user_id FROM facilities f JOIN health_checkins h ON h.facility_id = f.id
  WHERE ST_Intersects(f.geom, w.geom) AND NOT EXISTS (
    SELECT 1 FROM health_checkins h2 WHERE h2.user_id = h.user_id AND h2.at > h.at)
  UNION
  SELECT c.reporter_id FROM cases c
  WHERE c.reporter_id IS NOT NULL AND ST_Intersects(c.geom, w.geom) AND NOT EXISTS (
    SELECT 1 FROM cases c2 WHERE c2.reporter_id = c.reporter_id
    AND c2.reported_at > c.reported_at)
"""

_SUMMARY = """
SELECT w.id, reach.n,
  CASE WHEN w.msg_type <> 'Cancel' AND w.expires > now()
    AND NOT EXISTS (SELECT 1 FROM warnings s WHERE s.references_id = w.id) THEN reach.n ELSE 0 END,
  d.delivered, d.gone, d.failed, pend.n, d.at
FROM warnings w
CROSS JOIN LATERAL (
  SELECT count(*) AS n FROM users u
  WHERE w.status = 'Actual' AND u.id IN ({reached}) AND {citizen}
) reach
CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE x.outcome = 'delivered') AS delivered,
    count(*) FILTER (WHERE x.outcome = 'gone') AS gone,
    count(*) FILTER (WHERE x.outcome = 'failed') AS failed, max(x.at) AS at
  FROM warning_deliveries x WHERE x.warning_id = w.id
) d
CROSS JOIN LATERAL (
  SELECT count(*) AS n FROM push_subscriptions p
  WHERE w.status = 'Actual' AND p.user_id IN ({reached})
  AND p.created_at < w.sent + interval '1 second'
  AND NOT EXISTS (SELECT 1 FROM warning_deliveries x
                  WHERE x.warning_id = w.id AND x.subscription_id = p.id)
) pend
WHERE w.id = ANY(%(ids)s)
"""


def _decode(rows: Rows) -> list[DeliverySummary]:
    return [
        DeliverySummary(
            int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), r[7]
        )
        for r in rows
    ]


def summaries(warning_ids: list[int]) -> Query[list[DeliverySummary]]:
    """The delivery summary of each message of ``warning_ids`` (in no order)."""
    statement = sql.SQL(_SUMMARY.format(reached=_REACHED, citizen=citizen_accounts("u")))
    return Query(statement, {"ids": list(warning_ids)}, _decode)
