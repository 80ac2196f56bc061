"""The SensorThings API 1.1 (Part 1: Sensing) at ``/sta/v1.1``: the service root, every
resource path with GET, POST, PATCH and DELETE, and ``CreateObservations`` (dataArray).

Reads and writes go through ``geo`` (queries and services) with the caller's principal; what a
principal may see or change is decided by ``geo.access`` (docs/sensors.md). Errors are
problem+json from the kernel's one error table.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from geo.citizen_errors import TooLarge
from geo.errors import InvalidInput, NotFound
from geo.queries.sensors import Step
from geo.queries.sensors_options import Expand, Limits, Options, parse_options
from geo.queries.sensors_schema import ENTITY_SETS, ID_NAMES
from geo.services import sensor_changes, sensor_observations, sensor_reads, sensors
from geo.services.audit import GroupWriter
from server.kernel.auth.principal import principal_of
from server.kernel.settings import SensorSettings
from server.sta import patch, serialise
from server.sta.audit import audit_read
from server.sta.paths import Resource, parse_path

PREFIX = "/sta/v1.1"
#: The conformance classes served — exactly those implemented (tests walk each).
CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
)

type Pool = AsyncConnectionPool[AsyncConnection[Any]]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def _body(request: Request, most: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > most:
        raise TooLarge(f"The body may be at most {most // (1024 * 1024)} MiB.")
    raw = await request.body()
    if len(raw) > most:
        raise TooLarge(f"The body may be at most {most // (1024 * 1024)} MiB.")
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}.") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def routes(pool: Pool, audit: GroupWriter, settings: SensorSettings) -> list[BaseRoute]:
    limits = Limits(settings.default_top, settings.max_top)
    max_body = settings.max_body_mib * 1024 * 1024

    async def root(request: Request) -> Response:
        base = _base(request)
        return JSONResponse({
            "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
            "serverSettings": {"conformance": list(CONFORMANCE)},
        })  # fmt: skip

    async def create_observations(request: Request) -> Response:
        body = await _body(request, max_body)
        async with pool.connection() as conn:
            ids = await sensor_observations.create_observations(
                conn, principal_of(request.scope), body
            )
        base = _base(request)
        return JSONResponse([f"{base}/Observations({i})" for i in ids], status_code=201)

    async def resource(request: Request) -> Response:
        res = parse_path(request.path_params["path"])
        method = request.method
        async with pool.connection() as conn:
            if method == "GET":
                answer = await _get(conn, request, res, limits)
                await audit_read(request, audit, request.path_params["path"])
                return answer
            if method == "POST":
                return await _post(conn, request, res, max_body)
            if method == "PATCH":
                return await _patch(conn, request, res, max_body)
            return await _delete(conn, request, res)

    return [
        Route("/", root, methods=["GET"]),
        Route("/CreateObservations", create_observations, methods=["POST"]),
        Route("/{path:path}", resource, methods=["GET", "POST", "PATCH", "DELETE"]),
    ]


def root_route(pool: Pool, audit: GroupWriter, settings: SensorSettings) -> Route:
    """``/sta/v1.1`` itself (without a trailing slash), the service root."""
    root = routes(pool, audit, settings)[0]
    return Route(PREFIX, root.endpoint, methods=["GET"])  # type: ignore[attr-defined]


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


async def _get(
    conn: AsyncConnection[Any], request: Request, res: Resource, limits: Limits
) -> Response:
    principal, base = principal_of(request.scope), _base(request)
    entity = res.steps[-1].entity
    if res.property is not None:
        row = await sensor_reads.read_one(conn, principal, res.steps, Options(
            select=(res.property,)))  # fmt: skip
        value = row["id"] if res.property in ID_NAMES else row.get(res.property)
        if not res.value:
            return JSONResponse({res.property: value})
        if value is None:
            raise NotFound(f"{res.property} has no value.")
        text = value if isinstance(value, str) else json.dumps(value)
        return PlainTextResponse(text)
    options = parse_options(entity, _params(request), limits=limits)
    if res.ref:
        options = replace(options, select=("id",), expand=())
    if res.single:
        row = await sensor_reads.read_one(conn, principal, res.steps, options)
        if res.ref:
            return JSONResponse({"@iot.selfLink": serialise.self_link(base, entity, row["id"])})
        return JSONResponse(serialise.entity_json(base, entity, row, options))
    await sensor_reads.require_path(conn, principal, res.steps[:-1])
    if options.data_array:
        return await _data_array(conn, request, res, options)
    page = await sensor_reads.read_page(conn, principal, res.steps, options)
    link = serialise.next_link(_url(request), options) if page.more else None
    if res.ref:
        body: dict[str, Any] = {} if page.total is None else {"@iot.count": page.total}
        if link:
            body["@iot.nextLink"] = link
        body["value"] = [{"@iot.selfLink": serialise.self_link(base, entity, r["id"])}
                         for r in page.rows]  # fmt: skip
        return JSONResponse(body)
    return JSONResponse(serialise.collection_json(base, entity, page.rows, options,
                                                  total=page.total, next_link=link))  # fmt: skip


async def _data_array(
    conn: AsyncConnection[Any], request: Request, res: Resource, options: Options
) -> Response:
    expand = (Expand("Datastream", Options(select=("id",))),)
    wanted = replace(options, select=None, expand=expand)
    page = await sensor_reads.read_page(conn, principal_of(request.scope), res.steps, wanted)
    link = serialise.next_link(_url(request), options) if page.more else None
    return JSONResponse(serialise.data_array_json(_base(request), page.rows, options,
                                                  total=page.total, next_link=link))  # fmt: skip


def _url(request: Request) -> str:
    return str(request.url.replace(query=""))


async def _post(
    conn: AsyncConnection[Any], request: Request, res: Resource, max_body: int
) -> Response:
    if res.single or res.property is not None or res.ref:
        raise InvalidInput("POST creates an entity in a collection, e.g. /Things or "
                           "/Datastreams(1)/Observations.")  # fmt: skip
    principal = principal_of(request.scope)
    body = await _body(request, max_body)
    target = res.steps[-1].entity
    if len(res.steps) > 1:
        await sensor_reads.require_path(conn, principal, res.steps[:-1])
        body = _linked_to_parent(body, res.steps[-2], target.name)
    new_id = await sensors.create(conn, principal, target.name, body)
    base = _base(request)
    link = serialise.self_link(base, target, new_id)
    try:
        row = await sensor_reads.read_one(conn, principal, [Step(target, new_id)], Options())
        content: Any = serialise.entity_json(base, target, row, Options())
    except NotFound:  # written by a principal that may not read it (a critical device's)
        content = {"@iot.id": new_id, "@iot.selfLink": link}
    return JSONResponse(content, status_code=201, headers={"Location": link})


def _linked_to_parent(body: Any, parent: Step, child_set: str) -> Any:
    """The body of an entity posted under ``parent`` (``Datastreams(1)/Observations``), with
    its link to that parent filled in."""
    if not isinstance(body, dict):
        raise InvalidInput(f"{ENTITY_SETS[child_set].singular} must be a JSON object.")
    child = ENTITY_SETS[child_set]
    for name, nav in child.navs.items():
        if nav.target == parent.entity.name and parent.id is not None:
            ref = {"@iot.id": parent.id}
            return {**body, name: [ref] if nav.many else ref}
    raise InvalidInput(f"{child.name} cannot be created under {parent.entity.name}.")


def _single_id(res: Resource, verb: str) -> tuple[str, int]:
    last = res.steps[-1]
    if len(res.steps) != 1 or last.id is None or res.property is not None or res.ref:
        raise InvalidInput(f"{verb} addresses one entity by its id, e.g. /Things(1).")
    return last.entity.name, last.id


async def _patch(
    conn: AsyncConnection[Any], request: Request, res: Resource, max_body: int
) -> Response:
    entity_set, entity_id = _single_id(res, "PATCH")
    principal, base = principal_of(request.scope), _base(request)
    entity = ENTITY_SETS[entity_set]
    body = await _body(request, max_body)
    if request.headers.get("content-type", "").startswith("application/json-patch+json"):
        row = await sensor_reads.read_one(conn, principal, res.steps, Options())
        current = serialise.entity_json(base, entity, row, Options())
        body = patch.apply(current, body)
    await sensor_changes.update(conn, principal, entity_set, entity_id, body)
    row = await sensor_reads.read_one(conn, principal, res.steps, Options())
    return JSONResponse(serialise.entity_json(base, entity, row, Options()))


async def _delete(conn: AsyncConnection[Any], request: Request, res: Resource) -> Response:
    entity_set, entity_id = _single_id(res, "DELETE")
    await sensor_changes.delete(conn, principal_of(request.scope), entity_set, entity_id)
    return Response(status_code=200)
