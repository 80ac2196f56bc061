"""Shared plotting (指挥标绘) through GraphQL with real tokens: a command seat draws, moves and
removes plots on an incident; a stale write is a CONFLICT naming the current version; bad
geometry, a place far outside the city, a closed incident and seats without the right are
refused with typed errors and write nothing; a second seat sees every change live over
graphql-transport-ws."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.testclient import TestClient

from geo.errors import Conflict
from geo.params import LonLat
from geo.queries import fetch
from geo.queries.plots import plot as plot_q
from geo.services import incidents, plots
from geo.weather import SyntheticWeather
from server.kernel.auth.tokens import TokenService
from tests.plan_helpers import principal, waterlogging_point
from tests.plot_helpers import (
    INCIDENTS,
    PLOTS,
    PROTOCOL,
    Seat,
    activate,
    counts,
    flood_plan,
    make_seats,
)

Ws = Any


@pytest.fixture(scope="module")
def seats(client: TestClient, tokens: TokenService, database_url: str) -> dict[str, Seat]:
    return make_seats(client, tokens, database_url)


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def test_a_seat_draws_moves_and_removes_a_plot(
    seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = waterlogging_point(db, 500)
    d = seats["dispatcher"]
    incident = activate(d, db, lon, lat)
    symbols = d.data(PLOTS, "PlotSymbols")["plotSymbols"]
    assert {"symbol": "COMMAND_POST", "labelZh": "指挥部", "labelEn": "Command post"} in symbols
    assert len(symbols) == 9

    added = d.data(PLOTS, "AddPlot", incidentId=incident, symbol="COMMAND_POST",
                   geometry=_point(lon, lat), label="前方指挥部",
                   style={"color": "#d00", "size": 2})["addPlot"]  # fmt: skip
    assert added["__typename"] == "PlotPayload", added
    plot = added["plot"]
    assert (plot["symbol"], plot["label"], plot["version"]) == ("COMMAND_POST", "前方指挥部", 1)
    assert plot["geometry"] == _point(round(lon, 7), round(lat, 7))
    assert plot["style"] == {"color": "#d00", "size": 2}
    assert plot["legend"] == {"labelZh": "指挥部", "labelEn": "Command post"}
    assert plot["createdBy"]["displayName"] == "演示dispatcher"
    route = {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.004, lat + 0.003]]}
    d.data(PLOTS, "AddPlot", incidentId=incident, symbol="EVACUATION_ROUTE", geometry=route)

    moved = d.data(PLOTS, "UpdatePlot", id=plot["id"], expectedVersion=1,
                   geometry=_point(lon + 0.001, lat))["updatePlot"]["plot"]  # fmt: skip
    assert moved["version"] == 2 and moved["label"] == "前方指挥部"
    assert moved["geometry"]["coordinates"] == [round(lon + 0.001, 7), round(lat, 7)]

    # A second seat still holding version 1: refused, told the current version, nothing written.
    before = counts(db)
    stale = seats["admin"].data(PLOTS, "UpdatePlot", id=plot["id"], expectedVersion=1,
                                label="后方指挥部")["updatePlot"]  # fmt: skip
    assert (stale["code"], stale["currentVersion"]) == ("CONFLICT", 2), stale
    assert counts(db) == before
    relabelled = seats["admin"].data(PLOTS, "UpdatePlot", id=plot["id"], expectedVersion=2,
                                     label="后方指挥部")["updatePlot"]["plot"]  # fmt: skip
    assert (relabelled["label"], relabelled["version"]) == ("后方指挥部", 3)

    removed = d.data(PLOTS, "RemovePlot", id=plot["id"], expectedVersion=3)["removePlot"]["plot"]
    assert removed["removedAt"] is not None and removed["version"] == 4
    now = d.data(PLOTS, "IncidentPlots", incidentId=incident)["incidentPlots"]
    assert [p["symbol"] for p in now] == ["EVACUATION_ROUTE"]
    kept = d.data(PLOTS, "IncidentPlots", incidentId=incident, includeRemoved=True)
    assert [p["id"] for p in kept["incidentPlots"]] == [plot["id"], now[0]["id"]]
    again = d.data(PLOTS, "UpdatePlot", id=plot["id"], expectedVersion=4,
                   label="x")["updatePlot"]  # fmt: skip
    assert again["code"] == "CONFLICT" and "removed" in again["message"]

    # The incident reads its plots; the timeline holds each change with the plot then.
    page = d.data(INCIDENTS, "EmergencyIncident", id=incident)["emergencyIncident"]
    assert [e["type"] for e in page["timeline"] if e["type"].startswith("PLOT")] == [
        "PLOT_ADDED", "PLOT_ADDED", "PLOT_UPDATED", "PLOT_UPDATED", "PLOT_REMOVED"]  # fmt: skip
    # An analyst reads plots (READ_PLANS) but does not draw them.
    assert seats["analyst"].data(PLOTS, "IncidentPlots", incidentId=incident)["incidentPlots"]


def test_refusals_are_typed_and_write_nothing(
    seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = waterlogging_point(db, 500)
    d = seats["dispatcher"]
    incident = activate(d, db, lon, lat)
    before = counts(db)
    bowtie = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.01, lat + 0.01],
              [lon + 0.01, lat], [lon, lat + 0.01], [lon, lat]]]}  # fmt: skip
    far = {"type": "LineString", "coordinates": [[lon, lat], [lon + 3, lat]]}  # ~260 km east
    cases = [
        ("dispatcher", {"geometry": bowtie}, "INVALID_INPUT", "Self-intersection"),
        ("dispatcher", {"geometry": _point(100.0, 20.0)}, "OUTSIDE_CITY", "beyond the city"),
        ("dispatcher", {"geometry": far}, "OUTSIDE_CITY", "beyond the city"),
        ("dispatcher", {"geometry": {"type": "MultiPoint", "coordinates": [[lon, lat]]}},
         "INVALID_INPUT", "not a MULTIPOINT"),
        ("dispatcher", {"geometry": _point(lon, lat), "label": "长" * 201}, "INVALID_INPUT",
         "at most 200"),
        ("dispatcher", {"geometry": _point(lon, lat), "style": {"color": ["red"]}},
         "INVALID_INPUT", "Style hint"),
        ("dispatcher", {"geometry": _point(lon, lat), "incidentId": "987654321"}, "NOT_FOUND",
         "No incident"),
        ("analyst", {"geometry": _point(lon, lat)}, "FORBIDDEN", ""),
        ("citizen", {"geometry": _point(lon, lat)}, "FORBIDDEN", ""),
        ("camera_viewer", {"geometry": _point(lon, lat)}, "FORBIDDEN", ""),
    ]  # fmt: skip
    for role, given, code, words in cases:
        variables = {"incidentId": incident, "symbol": "CORDON", **given}
        out = seats[role].data(PLOTS, "AddPlot", **variables)["addPlot"]
        assert out["__typename"] == "PlotError" and out["code"] == code, (role, given, out)
        assert words in out["message"], out
    assert counts(db) == before

    # A closed incident's plots are final.
    made = d.data(PLOTS, "AddPlot", incidentId=incident, symbol="ROADBLOCK",
                  geometry=_point(lon, lat))["addPlot"]["plot"]  # fmt: skip
    d.data(INCIDENTS, "CloseIncident", id=incident, summary="演练结束")
    before = counts(db)
    late = d.data(PLOTS, "AddPlot", incidentId=incident, symbol="NOTE",
                  geometry=_point(lon, lat))["addPlot"]  # fmt: skip
    assert late["code"] == "CONFLICT" and "closed" in late["message"]
    moved = d.data(PLOTS, "UpdatePlot", id=made["id"], expectedVersion=1,
                   geometry=_point(lon, lat + 0.001))["updatePlot"]  # fmt: skip
    assert moved["code"] == "CONFLICT"
    assert counts(db) == before


def _subscribe(ws: Ws, seat: Seat, incident: str) -> None:
    ws.send_json({"type": "connection_init",
                  "payload": {"Authorization": f"Bearer {seat.token}"}})  # fmt: skip
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json({"id": "1", "type": "subscribe", "payload": {
        "query": PLOTS, "operationName": "IncidentPlotEvents",
        "variables": {"incidentId": incident}}})  # fmt: skip


def _next(ws: Ws) -> dict[str, Any]:
    message = ws.receive_json()
    assert message["type"] == "next", message
    event: dict[str, Any] = message["payload"]["data"]["incidentEvents"]
    return event


def test_a_second_seat_sees_each_plot_change_live(
    client: TestClient, seats: dict[str, Seat], db: psycopg.Connection[Any]
) -> None:
    lon, lat = waterlogging_point(db, 500)
    a, b = seats["dispatcher"], seats["admin"]
    incident = activate(a, db, lon, lat)
    area = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.002, lat],
            [lon + 0.002, lat + 0.002], [lon, lat]]]}  # fmt: skip
    moved_area = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.003, lat],
                  [lon + 0.003, lat + 0.003], [lon, lat]]]}  # fmt: skip
    with (
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as seat_a,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as seat_b,
    ):
        _subscribe(seat_a, a, incident)
        _subscribe(seat_b, b, incident)
        time.sleep(0.3)  # both LISTENing
        plot = a.data(PLOTS, "AddPlot", incidentId=incident, symbol="HAZARD_ZONE",
                      geometry=area, label="积水区")["addPlot"]["plot"]  # fmt: skip
        a.data(PLOTS, "UpdatePlot", id=plot["id"], expectedVersion=1, geometry=moved_area)
        a.data(PLOTS, "RemovePlot", id=plot["id"], expectedVersion=2)
        for ws in (seat_b, seat_a):
            added, updated, removed = _next(ws), _next(ws), _next(ws)
            assert [added["type"], updated["type"], removed["type"]] == [
                "PLOT_ADDED", "PLOT_UPDATED", "PLOT_REMOVED"]  # fmt: skip
            assert added["plot"]["plotId"] == plot["id"] == removed["plot"]["plotId"]
            assert added["actorRole"] == "dispatcher"
            assert (added["plot"]["symbol"], added["plot"]["label"]) == ("HAZARD_ZONE", "积水区")
            assert added["plot"]["geometry"]["coordinates"] == [
                [[round(x, 7), round(y, 7)] for x, y in area["coordinates"][0]]]  # fmt: skip
            assert updated["plot"]["geometry"]["coordinates"] == [
                [[round(x, 7), round(y, 7)] for x, y in moved_area["coordinates"][0]]]  # fmt: skip
            assert (updated["plot"]["version"], removed["plot"]["version"]) == (2, 3)
            ws.send_json({"id": "1", "type": "complete"})


@pytest.mark.anyio
async def test_two_seats_moving_one_plot_at_once_one_wins(
    pool: AsyncConnectionPool[AsyncConnection[Any]], database_url: str
) -> None:
    """The same version sent by two seats at the same moment: one move is written, the other
    is a Conflict naming the version the first made — never two version-2 plots."""
    with psycopg.connect(database_url) as db:
        lon, lat = waterlogging_point(db, 500)
        commander = principal(db, "dispatcher")
        plan = flood_plan(db)
    now = datetime.now(UTC)

    def at(dx: float) -> str:
        return json.dumps({"type": "Point", "coordinates": [lon + dx, lat]})

    async with pool.connection() as conn:
        incident = await incidents.activate(
            conn, commander, plan_id=plan, level="IV", point=LonLat(lon, lat), area=None,
            reach_m=None, weather=SyntheticWeather(), now=now)  # fmt: skip
        plot = await plots.add(conn, commander, incident, symbol="rescue_team", geometry=at(0),
                               now=now)  # fmt: skip
    outcomes: list[object] = []

    async def move(dx: float) -> None:
        async with pool.connection() as conn:
            try:
                await plots.update(conn, commander, plot, expected_version=1, geometry=at(dx),
                                   now=datetime.now(UTC))  # fmt: skip
                outcomes.append(dx)
            except Conflict as exc:
                outcomes.append(exc.detail["current_version"])

    async with anyio.create_task_group() as tg:
        tg.start_soon(move, 0.001)
        tg.start_soon(move, 0.002)
    assert len(outcomes) == 2
    assert [o for o in outcomes if isinstance(o, int)] == [2]  # the other told of version 2
    won = next(o for o in outcomes if isinstance(o, float))
    async with pool.connection() as conn:
        stored = await fetch(conn, plot_q(plot))
    assert stored is not None and stored.version == 2
    assert json.loads(stored.geometry)["coordinates"] == [round(lon + won, 7), round(lat, 7)]
