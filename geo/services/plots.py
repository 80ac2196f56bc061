"""Shared plotting (指挥标绘): the only writer of ``incident_plots``.

Command seats (COMMAND_INCIDENTS, geo.access) add, update and remove points, lines and polygons
with a symbol on an active incident. An update and a removal name the version they read: a
stale one is a Conflict carrying the current version (optimistic concurrency — two seats
moving the same cordon do not overwrite each other silently). A removal is soft: the plot stays
for the replay. Each change is one transaction that appends a plot event carrying the plot as it
is after the change (geo.services.incident_events: audited, NOTIFYed to every seat). A
geometry PostGIS cannot read, that is not a valid Point/LineString/Polygon or that lies far
outside the city is refused before anything is written.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from geo import access
from geo.access import Capability as C
from geo.access import Principal
from geo.errors import Conflict, InvalidInput, NotFound, OutsideCity
from geo.plan_enums import IncidentEventType as E
from geo.plot_enums import PlotSymbol
from geo.queries import fetch
from geo.queries.plots import CITY_MARGIN_M, geometry_check
from geo.services.incident_events import NewEvent, append

MAX_LABEL = 200
MAX_STYLE_KEYS = 16
MAX_STYLE_VALUE = 64
_KINDS = {"POINT", "LINESTRING", "POLYGON"}


def symbol_of(value: str) -> PlotSymbol:
    try:
        return PlotSymbol(value)
    except ValueError:
        names = ", ".join(s.value for s in PlotSymbol)
        raise InvalidInput(f"{value!r} is not a plot symbol: {names}.", field="symbol") from None


def _label(value: str) -> str:
    if len(value) > MAX_LABEL:
        raise InvalidInput(f"The label is {len(value)} characters long; at most {MAX_LABEL}.",
                           field="label")  # fmt: skip
    return value.strip()


def _style(value: dict[str, Any]) -> dict[str, Any]:
    """Style hints: a flat object of at most 16 short strings, numbers or booleans."""
    if not isinstance(value, dict) or len(value) > MAX_STYLE_KEYS:
        raise InvalidInput(f"The style is an object of at most {MAX_STYLE_KEYS} hints.",
                           field="style")  # fmt: skip
    for key, v in value.items():
        short = isinstance(v, str) and len(v) <= MAX_STYLE_VALUE
        if len(key) > MAX_STYLE_VALUE or not (short or isinstance(v, bool | int | float)):
            raise InvalidInput(f"Style hint {key[:MAX_STYLE_VALUE]!r} is not a short string, "
                               "a number or a boolean.", field="style")  # fmt: skip
    return value


async def _geometry(conn: AsyncConnection[Any], geojson: str) -> str:
    """The drawn geometry as stored (GeoJSON); InvalidInput/OutsideCity when it is not one."""
    try:
        async with conn.transaction():  # a savepoint: a failed parse leaves the caller's intact
            found = await fetch(conn, geometry_check(geojson))
    except (psycopg.errors.InternalError_, psycopg.errors.InvalidParameterValue) as exc:
        raise InvalidInput(f"The geometry is not one PostGIS can read: {exc}.",
                           field="geometry") from None  # fmt: skip
    if found.kind not in _KINDS:
        raise InvalidInput(f"A plot is a Point, a LineString or a Polygon, not a {found.kind}.",
                           field="geometry")  # fmt: skip
    if not found.valid:
        raise InvalidInput(f"The geometry is not valid: {found.reason}.", field="geometry")
    if not found.near_city:
        raise OutsideCity(f"The geometry reaches more than {CITY_MARGIN_M:g} m beyond the "
                          "city's districts.", field="geometry")  # fmt: skip
    return found.geojson


async def _active_incident(conn: AsyncConnection[Any], incident_id: int) -> None:
    """The incident exists and is active, held so it cannot close meanwhile."""
    cur = await conn.execute("SELECT status FROM incidents WHERE id = %s FOR SHARE",
                             (incident_id,))  # fmt: skip
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No incident with id {incident_id}.")
    if row[0] != "active":
        raise Conflict(f"Incident {incident_id} is {row[0]}: its plots are final.",
                       incident_status=row[0])  # fmt: skip


def _event(kind: E, row: tuple[Any, ...]) -> tuple[int, NewEvent]:
    plot_id, incident_id, symbol, label, style, geometry, version = row
    detail = {"symbol": symbol, "label": label, "style": style, "version": version}
    return int(incident_id), NewEvent(kind, plot_id=int(plot_id), geometry=geometry,
                                      detail=detail)  # fmt: skip


async def add(
    conn: AsyncConnection[Any], actor: Principal, incident_id: int, *, symbol: str,
    geometry: str, label: str = "", style: dict[str, Any] | None = None, now: datetime,
) -> int:  # fmt: skip
    """Draw a plot on an active incident: its id (version 1)."""
    access.require(actor, C.COMMAND_INCIDENTS)
    sym, text, hints = symbol_of(symbol), _label(label), _style(style or {})
    async with conn.transaction():
        stored = await _geometry(conn, geometry)
        await _active_incident(conn, incident_id)
        cur = await conn.execute(
            "INSERT INTO incident_plots (incident_id, symbol, label, style, geom, version, "
            "created_at, created_by, updated_at, updated_by) VALUES (%s, %s, %s, %s, "
            "ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), 1, %s, %s, %s, %s) "
            "RETURNING id, incident_id, symbol, label, style, ST_AsGeoJSON(geom, 7), version",
            (incident_id, sym.value, text, json.dumps(hints), stored, now, actor.user_id, now,
             actor.user_id),
        )  # fmt: skip
        row = await cur.fetchone()
        assert row is not None
        _, event = _event(E.PLOT_ADDED, row)
        await append(conn, incident_id, [event], actor, now)
    return int(row[0])


async def _lock_plot(conn: AsyncConnection[Any], plot_id: int, expected: int | None) -> int:
    """The plot's incident id, the plot locked: NotFound, or Conflict when it was removed or
    its version is not ``expected``."""
    cur = await conn.execute(
        "SELECT incident_id, version, removed_at FROM incident_plots WHERE id = %s FOR UPDATE",
        (plot_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"No plot with id {plot_id}.")
    incident_id, version, removed_at = row
    if removed_at is not None:
        raise Conflict(f"Plot {plot_id} was removed.", current_version=version)
    if expected is not None and expected != version:
        raise Conflict(f"Plot {plot_id} is at version {version}, not {expected}: another seat "
                       "changed it. Reload it and apply your change again.",
                       current_version=version)  # fmt: skip
    await _active_incident(conn, int(incident_id))
    return int(incident_id)


async def update(
    conn: AsyncConnection[Any], actor: Principal, plot_id: int, *, expected_version: int,
    geometry: str | None = None, symbol: str | None = None, label: str | None = None,
    style: dict[str, Any] | None = None, now: datetime,
) -> int:  # fmt: skip
    """Move, relabel or restyle a plot last read at ``expected_version``: its id."""
    access.require(actor, C.COMMAND_INCIDENTS)
    sym = symbol_of(symbol).value if symbol is not None else None
    text = _label(label) if label is not None else None
    hints = json.dumps(_style(style)) if style is not None else None
    if geometry is None and sym is None and text is None and hints is None:
        raise InvalidInput("Nothing to change: give a geometry, symbol, label or style.",
                           field="plot")  # fmt: skip
    async with conn.transaction():
        stored = await _geometry(conn, geometry) if geometry is not None else None
        incident_id = await _lock_plot(conn, plot_id, expected_version)
        cur = await conn.execute(
            "UPDATE incident_plots SET "
            "geom = coalesce(ST_SetSRID(ST_GeomFromGeoJSON(%s::text), 4326), geom), "
            "symbol = coalesce(%s, symbol), label = coalesce(%s, label), "
            "style = coalesce(%s::jsonb, style), version = version + 1, updated_at = %s, "
            "updated_by = %s WHERE id = %s "
            "RETURNING id, incident_id, symbol, label, style, ST_AsGeoJSON(geom, 7), version",
            (stored, sym, text, hints, now, actor.user_id, plot_id),
        )
        row = await cur.fetchone()
        assert row is not None
        await append(conn, incident_id, [_event(E.PLOT_UPDATED, row)[1]], actor, now)
    return plot_id


async def remove(
    conn: AsyncConnection[Any], actor: Principal, plot_id: int, *,
    expected_version: int | None = None, now: datetime,
) -> int:  # fmt: skip
    """Take a plot off the map (kept, marked removed, for the replay): its id."""
    access.require(actor, C.COMMAND_INCIDENTS)
    async with conn.transaction():
        incident_id = await _lock_plot(conn, plot_id, expected_version)
        cur = await conn.execute(
            "UPDATE incident_plots SET removed_at = %s, removed_by = %s, version = version + 1, "
            "updated_at = %s, updated_by = %s WHERE id = %s "
            "RETURNING id, incident_id, symbol, label, style, ST_AsGeoJSON(geom, 7), version",
            (now, actor.user_id, now, actor.user_id, plot_id),
        )
        row = await cur.fetchone()
        assert row is not None
        await append(conn, incident_id, [_event(E.PLOT_REMOVED, row)[1]], actor, now)
    return plot_id
