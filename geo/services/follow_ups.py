"""What the workflow does around a transition for the hotline and the on-site check, without
knowing their modules: a close refused until the on-site check (核查) passed, the callbacks
(回访) due when a case closes, those cancelled when it reopens. Called by
geo.services.cases inside the transition's transaction."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

#: A passed check (``checked``) after the case's last ``resolved`` event.
_CHECKED_SINCE_RESOLVED = """
EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.event_type = 'checked'
        AND e.id > (SELECT max(r.id) FROM case_events r
                    WHERE r.case_id = c.id AND r.event_type = 'resolved'))
"""


async def close_refusal(conn: AsyncConnection[Any], case_id: int) -> str | None:
    """Why the case may not close yet, or None: a category that requires an on-site check
    needs a passed one since the case was last resolved."""
    row = await (
        await conn.execute(
            f"SELECT cc.requires_check, cc.check_radius_m, {_CHECKED_SINCE_RESOLVED} "  # noqa: S608
            "FROM cases c JOIN case_categories cc ON cc.code = c.category WHERE c.id = %s",
            (case_id,),
        )
    ).fetchone()
    if row is None or not row[0] or row[2]:
        return None
    return (
        "its category needs a passed on-site check (核查) first — a grid worker on site, "
        f"within {row[1]} m of the case, with photos (checkCase)."
    )


async def after(conn: AsyncConnection[Any], case_id: int, action: str, event_id: int) -> None:
    """Close: a pending callback for every caller who agreed to one. Reopen: the callbacks
    still pending are cancelled (the next close brings new ones)."""
    if action == "close":
        await conn.execute(
            "INSERT INTO case_callbacks (case_id, caller_id, close_event_id) "
            "SELECT case_id, id, %s FROM case_callers WHERE case_id = %s AND consent_callback "
            "ORDER BY id",
            (event_id, case_id),
        )
    elif action == "reopen":
        await conn.execute(
            "UPDATE case_callbacks SET status = 'cancelled' "
            "WHERE case_id = %s AND status = 'pending'",
            (case_id,),
        )
