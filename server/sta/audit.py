"""Reads of internal sensor data are audited: a GET by a principal who reads critical devices
(``read_sensors``) writes one ``sta.read`` row a request, through a group writer (as OGC reads
of internal views do: ``server/ogc/audit.py``), before the answer is sent. Public reads are
not audited: they hold no internal data."""

from __future__ import annotations

from starlette.requests import Request

from geo.access import Capability
from geo.services.audit import Entry, GroupWriter
from server.kernel.auth.principal import principal_of

#: The query string kept in a row (a $filter can be long; the rest is cut).
MAX_QUERY = 2000


async def audit_read(request: Request, writer: GroupWriter, path: str) -> None:
    principal = principal_of(request.scope)
    if not principal.can(Capability.READ_SENSORS):
        return
    query = request.url.query
    detail: dict[str, object] = {"surface": "sta", "query": query[:MAX_QUERY]}
    if len(query) > MAX_QUERY:
        detail["query_cut"] = True
    client = request.client.host if request.client else None
    await writer.record(Entry(principal.user_id, principal.audit_role, "sta.read", "sta", path,
                              client, detail))  # fmt: skip
