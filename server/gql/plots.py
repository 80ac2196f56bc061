"""Shared plotting (指挥标绘) in GraphQL: ``plotSymbols`` and ``incidentPlots(incidentId)``
(READ_PLANS); ``addPlot``, ``updatePlot`` (with the version read: CONFLICT on a stale write),
``removePlot`` (soft) for the commanders (COMMAND_INCIDENTS). Every change is an incident event:
``incidentEvents(incidentId)`` brings it, with the plot's geometry, to every seat. The writer
is geo.services.plots."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from geo import errors
from geo.access import Capability
from geo.plot_enums import PLOT_LABELS, PlotSymbol
from geo.queries import plots as q
from geo.services import plots as service
from server.gql.context import Info
from server.gql.inputs import to_id
from server.gql.scalars import GeoJSON
from server.gql.types import StaffUser

strawberry.enum(PlotSymbol, name="PlotSymbol",
                description="What a command seat drew (plotSymbols gives the legend).")  # fmt: skip


@strawberry.enum
class PlotErrorCode(Enum):
    INVALID_INPUT = "invalid_input"
    OUTSIDE_CITY = "outside_city"
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "unauthorized"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"


@strawberry.type(description="A refused plot change; nothing was written.")
class PlotError:
    code: PlotErrorCode
    message: str
    field: str | None = strawberry.field(description="The input at fault, if one is.")
    current_version: int | None = strawberry.field(
        description="CONFLICT: the plot's version now (reload it, then apply the change again)."
    )


@strawberry.type(description="A symbol of the plotting legend.")
class PlotSymbolInfo:
    symbol: PlotSymbol
    label_zh: str
    label_en: str


def _symbol_info(symbol: PlotSymbol) -> PlotSymbolInfo:
    zh, en = PLOT_LABELS[symbol]
    return PlotSymbolInfo(symbol=symbol, label_zh=zh, label_en=en)


@strawberry.type(description="A plot as it was after an event, or at a moment of the replay.")
class PlotState:
    plot_id: strawberry.ID
    symbol: PlotSymbol
    label: str
    style: JSON
    geometry: GeoJSON = strawberry.field(description="A Point, LineString or Polygon.")
    version: int

    @strawberry.field
    def legend(self) -> PlotSymbolInfo:
        return _symbol_info(self.symbol)

    @classmethod
    def of(cls, plot_id: int, geometry: str, detail: dict[str, Any]) -> PlotState:
        return cls(plot_id=strawberry.ID(str(plot_id)), symbol=PlotSymbol(detail["symbol"]),
                   label=detail["label"], style=JSON(detail["style"]),
                   geometry=GeoJSON(json.loads(geometry)),
                   version=int(detail["version"]))  # fmt: skip


@strawberry.type(description="A plot drawn on an incident (指挥标绘), as it stands.")
class Plot:
    id: strawberry.ID
    incident_id: strawberry.ID
    symbol: PlotSymbol
    label: str
    style: JSON = strawberry.field(description="Style hints for the map (colour, width …).")
    geometry: GeoJSON = strawberry.field(description="A Point, LineString or Polygon.")
    version: int = strawberry.field(description="Give it back to updatePlot / removePlot.")
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None
    created_by_id: strawberry.Private[int | None]

    @strawberry.field
    def legend(self) -> PlotSymbolInfo:
        return _symbol_info(self.symbol)

    @strawberry.field
    async def created_by(self, info: Info) -> StaffUser | None:
        if self.created_by_id is None:
            return None
        row = await info.context.loader("user").load(self.created_by_id)
        return StaffUser.from_row(row) if row else None

    @classmethod
    def of(cls, r: q.PlotRow) -> Plot:
        return cls(id=strawberry.ID(str(r.id)), incident_id=strawberry.ID(str(r.incident_id)),
                   symbol=PlotSymbol(r.symbol), label=r.label, style=JSON(r.style),
                   geometry=GeoJSON(json.loads(r.geometry)), version=r.version,
                   created_at=r.created_at, updated_at=r.updated_at, removed_at=r.removed_at,
                   created_by_id=r.created_by)  # fmt: skip


@strawberry.type
class PlotPayload:
    plot: Plot


PlotResult = Annotated[PlotPayload | PlotError, strawberry.union("PlotResult")]


def _error(exc: errors.OneMapError) -> PlotError:
    code = {c.value: c for c in PlotErrorCode}.get(exc.code, PlotErrorCode.INVALID_INPUT)
    version = exc.detail.get("current_version")
    return PlotError(code=code, message=exc.message, field=exc.detail.get("field"),
                     current_version=int(version) if version is not None else None)  # fmt: skip


async def incident_plots(info: Info, incident_id: int, removed: bool = False) -> list[Plot]:
    info.context.require(Capability.READ_PLANS)
    return [Plot.of(r) for r in await info.context.fetch(q.plots([incident_id], removed=removed))]


@strawberry.type
class PlotQuery:
    @strawberry.field(description="The plotting legend: every symbol with its labels.")
    def plot_symbols(self) -> list[PlotSymbolInfo]:
        return [_symbol_info(s) for s in PlotSymbol]

    @strawberry.field(description="An incident's plots as they stand, oldest first (READ_PLANS); "
                      "the removed ones too with includeRemoved.")  # fmt: skip
    async def incident_plots(
        self, info: Info, incident_id: strawberry.ID, include_removed: bool = False
    ) -> list[Plot]:
        return await incident_plots(info, to_id(incident_id, "incidentId"), include_removed)


async def _write(info: Info, run: str, *args: Any, **kwargs: Any) -> PlotPayload | PlotError:
    try:
        principal = info.context.require()
        async with info.context.pool.connection() as conn:
            info.context.statements += 1
            plot_id = await getattr(service, run)(conn, principal, *args, now=datetime.now(UTC),
                                                  **kwargs)  # fmt: skip
        found = await info.context.fetch(q.plot(plot_id))
        assert found is not None
        return PlotPayload(plot=Plot.of(found))
    except errors.OneMapError as exc:
        return _error(exc)


@strawberry.type
class PlotMutation:
    @strawberry.mutation(description="Draw a plot on an active incident (COMMAND_INCIDENTS): a "
                         "Point, LineString or Polygon near the city with a symbol, a label "
                         "(≤ 200 characters) and style hints. INVALID_INPUT for a geometry that "
                         "is not valid, OUTSIDE_CITY far outside the city, CONFLICT for a "
                         "closed incident.")  # fmt: skip
    async def add_plot(
        self, info: Info, incident_id: strawberry.ID, symbol: PlotSymbol, geometry: GeoJSON,
        label: str = "", style: JSON | None = None,
    ) -> PlotResult:  # fmt: skip
        try:
            incident = to_id(incident_id, "incidentId")
        except errors.OneMapError as exc:
            return _error(exc)
        return await _write(info, "add", incident, symbol=symbol.value,
                            geometry=json.dumps(geometry), label=label, style=style)  # fmt: skip

    @strawberry.mutation(description="Move, relabel or restyle a plot last read at "
                         "expectedVersion (COMMAND_INCIDENTS); CONFLICT with currentVersion when "
                         "another seat changed it meanwhile.")  # fmt: skip
    async def update_plot(
        self, info: Info, id: strawberry.ID, expected_version: int,
        geometry: GeoJSON | None = None, symbol: PlotSymbol | None = None,
        label: str | None = None, style: JSON | None = None,
    ) -> PlotResult:  # fmt: skip
        try:
            plot_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _write(
            info, "update", plot_id, expected_version=expected_version,
            geometry=json.dumps(geometry) if geometry is not None else None,
            symbol=symbol.value if symbol else None, label=label, style=style,
        )  # fmt: skip

    @strawberry.mutation(description="Take a plot off the map (COMMAND_INCIDENTS): kept, marked "
                         "removed, for the replay. With expectedVersion, CONFLICT when it "
                         "changed meanwhile.")  # fmt: skip
    async def remove_plot(
        self, info: Info, id: strawberry.ID, expected_version: int | None = None
    ) -> PlotResult:
        try:
            plot_id = to_id(id)
        except errors.OneMapError as exc:
            return _error(exc)
        return await _write(info, "remove", plot_id, expected_version=expected_version)
