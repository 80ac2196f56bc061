"""Who holds a camera's relay (``camera_relays``, written by ``geo.services.camera_relays``):
read by a process that sends a viewer to the owner instead of relaying (``redirect_to_owner``)."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from geo.queries import Query, Rows


@dataclass(frozen=True, slots=True)
class RelayHolder:
    owner: str
    public_url: str | None
    live: bool  # the lease has not expired


def relay_holder(camera_id: int) -> Query[RelayHolder | None]:
    statement = sql.SQL(
        "SELECT owner, public_url, expires_at > now() FROM camera_relays WHERE camera_id = %(id)s"
    )

    def decode(rows: Rows) -> RelayHolder | None:
        if not rows:
            return None
        owner, public_url, live = rows[0]
        return RelayHolder(str(owner), public_url, bool(live))

    return Query(statement, {"id": camera_id}, decode)
