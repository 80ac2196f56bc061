"""Reads of internal and restricted views through OGC API - Features and Tiles are audited: one
row a request (``ogc.items.read``, ``ogc.item.read``, ``ogc.tile.read``) with the collection,
the item or tile, the query string and what was returned. Public views are not.

The rows go through the service's :class:`~geo.services.audit.GroupWriter`: a request waits
until its row is committed (with the rows of the requests around it, one chain lock and one
commit for all), and is refused with 503 when the row cannot be written. So no internal data
leaves unaudited, and a map panning through dozens of tiles a second does not queue behind
one chain lock per tile.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from geo.layers import LayerView
from geo.services.audit import Entry
from server.kernel.auth.principal import principal_of
from server.ogc.core import OgcService

#: The query string kept in a row (a CQL2 filter can be long; the rest is cut).
MAX_QUERY = 2000


async def audit_read(
    request: Request,
    ogc: OgcService,
    view: LayerView,
    action: str,
    object_id: str | None = None,
    **detail: Any,
) -> None:
    """Write (and wait for) the audit row of a read of ``view`` when it is not public."""
    if not view.internal:
        return
    principal = principal_of(request.scope)
    query = request.url.query
    about = {"surface": "ogc", "query": query[:MAX_QUERY],
             "jurisdiction": principal.jurisdiction.describe(), **detail}  # fmt: skip
    if len(query) > MAX_QUERY:
        about["query_cut"] = True
    if principal.api_key_id is not None:  # a department's API key (docs/open-data.md)
        about["api_key"] = principal.api_key_id
    client = request.client.host if request.client else None
    entry = Entry(principal.user_id, principal.audit_role, action, view.name, object_id, client,
                  about)  # fmt: skip
    await ogc.audit.record(entry)
