"""The Query root: every layer with spatial and attribute filters, lookups, stats."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types.nodes import SelectedField

from geo.access import Capability
from geo.enums import AdminLevel, CameraStatus, CaseStatus, FacilityCategory
from geo.errors import InvalidInput, NotFound, OutsideCity
from geo.layers import LayerView
from geo.params import LonLat
from geo.queries import keyset, pages
from geo.queries.filters import AreaPolygon, AttributeFilter, SpatialFilter
from geo.queries.history import checked
from geo.queries.location import grid_cell_at
from geo.queries.lookups import department_ids
from geo.queries.place_search import HitKind
from geo.queries.search import count_rows, rows
from geo.queries.stats import case_stats
from server.gql import compiled, views
from server.gql import evaluation as ev
from server.gql.context import Info
from server.gql.incident import Incident, incident
from server.gql.inputs import (
    AdminAreaOrder,
    CameraOrder,
    CaseOrder,
    CaseOrderField,
    FacilityOrder,
    GridCellOrder,
    OrderBy,
    SortDirection,
    SpatialFilterInput,
    page_size,
    spatial,
    time_range,
    to_id,
)
from server.gql.search import PointInput, SearchHit
from server.gql.search import resolve as search_resolver
from server.gql.types import (
    AdminArea,
    Camera,
    Case,
    CaseStatsBucket,
    CaseStatsDimension,
    Connection,
    Department,
    Edge,
    Facility,
    GridCell,
    PageInfo,
    StaffUser,
    load_admin_area,
    load_department,
    load_grid_cell,
)


async def _connection[T](
    info: Info,
    view: LayerView,
    where: SpatialFilterInput | None,
    attributes: AttributeFilter,
    first: int | None,
    after: str | None,
    build: Callable[[dict[str, Any]], T],
    type_name: str = "",
    order_by: OrderBy | None = None,
) -> Connection[T]:
    """A page of ``view`` in keyset order (``geo.queries.keyset``): rendered by SQL when the
    selection is plain (server/gql/compiled.py), else row by row through the types."""
    settings = info.context.settings
    limit = page_size(first, settings.default_first, settings.max_first)
    filters = spatial(where)
    near = filters.near is not None
    field, descending = (order_by.field.value, order_by.direction is SortDirection.DESC) if (
        order_by is not None) else (None, False)  # fmt: skip
    order = keyset.order(view, field, descending, near, after)
    total = _total_count(info, view, filters, attributes)
    fast = None
    selected = info.selected_fields[0]
    if (settings.compiled_pages and type_name and _no_area_ids(filters)
            and isinstance(selected, SelectedField)):  # fmt: skip
        fast = compiled.plan(type_name, selected, near, view)
    if fast is not None:
        nodes, keys, found_n = await info.context.fetch(
            pages.page_json(view, filters, attributes, fast.node, limit=limit, order=order)
        )
        cursors = [keyset.cursor(order.label, k, i) for k, i in keys]
        return Connection(
            typed_edges=[],
            rendered=fast.shape(nodes, cursors),
            page_info=PageInfo(
                has_next_page=found_n > limit, end_cursor=cursors[-1] if cursors else None
            ),
            count=total,
        )
    found = await info.context.fetch(
        rows(view, filters, attributes, limit=limit + 1, order=order, with_cell=True)
    )
    edges = [Edge(cursor=keyset.cursor(order.label, r["_k"], r["id"]), node=build(r))
             for r in found[:limit]]  # fmt: skip
    return Connection(
        typed_edges=edges,
        page_info=PageInfo(
            has_next_page=len(found) > limit, end_cursor=edges[-1].cursor if edges else None
        ),
        count=total,
    )


AS_OF = (
    "As it was at this instant (docs/history.md): from the layer's history, which starts "
    "when it began to be kept; a time before that or in the future is an error."
)


async def _as_of(info: Info, view: LayerView, when: datetime | None) -> LayerView:
    """The caller's view, or — ``asOf`` given — its history view, the instant checked."""
    if when is None:
        return view
    return await info.context.fetch(checked(view, when, "asOf"))


def _total_count(
    info: Info, view: LayerView, filters: SpatialFilter, attributes: AttributeFilter
) -> Callable[[], Awaitable[int | None]]:
    """``totalCount``, counted only when asked for: exact up to the configured cap, else
    null (counting a million rows would cost more than the page)."""
    cap = info.context.settings.total_count_cap

    async def count() -> int | None:
        return await info.context.fetch(count_rows(view, filters, attributes, cap))

    return count


def _case_builder(full: bool) -> Callable[[dict[str, Any]], Case]:
    """Cases read through the full (jurisdiction-scoped) view show their details."""
    return lambda r: Case.from_row(r, full=full)


def _no_area_ids(filters: Any) -> bool:
    """Areas by id need an existence check (NotFound), which only the typed path makes."""
    return all(
        a is None or isinstance(a, AreaPolygon) for a in (filters.within, filters.intersects)
    )


def _area(r: dict[str, Any]) -> AdminArea:
    return AdminArea.from_row([r["id"], r["code"], r["name_zh"], r["name_en"], r["level"],
                               r["parent_id"], r["population"], r["geojson"]])  # fmt: skip


def _cell(r: dict[str, Any]) -> GridCell:
    return GridCell.from_row([r["id"], r["code"], r["name"], r["community_id"], r["worker_id"],
                              r["population"], r["health_risk"], r["geojson"]])  # fmt: skip


def _equals(**values: list[Any] | None) -> dict[str, list[Any]]:
    return {k: [getattr(x, "value", x) for x in v] for k, v in values.items() if v}


@strawberry.type
class Location:
    grid_cell: GridCell
    community: AdminArea
    street: AdminArea
    district: AdminArea


@strawberry.type
class Query:
    @strawberry.field(description="Find facilities, grid cells, communities, streets, districts, "
                      "cases (by public id) and case categories by name or code, in Chinese or "
                      "English, tolerating typos; nearest first when `near` is given, else best "
                      "match first. Reads through the caller's views: the public finds only "
                      "what the public may see.")  # fmt: skip
    async def search(
        self, info: Info, text: str, near: PointInput | None = None,
        kinds: list[HitKind] | None = None, first: int = 10,
    ) -> list[SearchHit]:  # fmt: skip
        return await search_resolver(info, text, near, kinds, first)

    @strawberry.field(description="Evaluation figures (考核) of the caller's jurisdiction by "
                      "one dimension, over whole days in the city's time zone (docs/"
                      "evaluation.md). " + ev.RANGE_DOC)  # fmt: skip
    async def evaluation(
        self, info: Info, group_by: ev.EvaluationDimension,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None, period: ev.EvaluationPeriod | None = None,
        date_: Annotated[date | None, strawberry.argument(name="date")] = None,
    ) -> ev.EvaluationTable:  # fmt: skip
        return await ev.table(info, group_by, from_, to, period, date_)

    @strawberry.field(description="The cases behind one evaluation figure of one key (or of "
                      "the total when key is null), as the caller may see them. "
                      + ev.RANGE_DOC)  # fmt: skip
    async def evaluation_cases(
        self, info: Info, group_by: ev.EvaluationDimension, key: str | None,
        figure: ev.EvaluationFigure,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None, period: ev.EvaluationPeriod | None = None,
        date_: Annotated[date | None, strawberry.argument(name="date")] = None,
        first: int = 100, after: strawberry.ID | None = None,
    ) -> ev.EvaluationCases:  # fmt: skip
        return await ev.cases(info, group_by, key, figure, from_, to, period, date_,
                                      first, after)  # fmt: skip

    @strawberry.field(description="Districts, streets and communities.")
    async def admin_areas(
        self, info: Info, level: AdminLevel | None = None, where: SpatialFilterInput | None = None,
        first: int | None = None, after: str | None = None,
        order_by: AdminAreaOrder | None = None,
    ) -> Connection[AdminArea]:  # fmt: skip
        attrs = AttributeFilter(equals=_equals(level=[level] if level else None))
        return await _connection(info, views.ADMIN_AREAS, where, attrs, first, after, _area,
                                 order_by=order_by)  # fmt: skip

    @strawberry.field
    async def admin_area(self, info: Info, id: strawberry.ID) -> AdminArea | None:
        return await load_admin_area(info, to_id(id))

    @strawberry.field(description="The management grid.")
    async def grid_cells(
        self, info: Info, where: SpatialFilterInput | None = None,
        first: int | None = None, after: str | None = None,
        order_by: GridCellOrder | None = None,
    ) -> Connection[GridCell]:  # fmt: skip
        return await _connection(info, views.GRID_CELLS, where, AttributeFilter(), first, after,
                                 _cell, order_by=order_by)  # fmt: skip

    @strawberry.field
    async def grid_cell(self, info: Info, id: strawberry.ID) -> GridCell | None:
        return await load_grid_cell(info, to_id(id))

    @strawberry.field(description="The grid cell holding a point, with its community, street "
                      "and district. Outside the city: an OUTSIDE_CITY error.")  # fmt: skip
    async def grid_cell_at(self, info: Info, lon: float, lat: float) -> Location:
        point = LonLat(lon, lat)
        found = await info.context.fetch(grid_cell_at(point))
        if found is None:
            raise OutsideCity(f"({lon}, {lat}) is outside the city: no grid cell covers it.")
        # Gathered, so the loaders batch: one statement for the cell, one for the three areas.
        cell, areas = await asyncio.gather(
            load_grid_cell(info, found.grid_cell_id),
            asyncio.gather(
                *(load_admin_area(info, a.id)
                  for a in (found.community, found.street, found.district))
            ),
        )  # fmt: skip
        community, street, district = areas
        if cell is None or community is None or street is None or district is None:
            raise NotFound("The grid cell's areas changed while reading them; try again.")
        return Location(grid_cell=cell, community=community, street=street, district=district)

    @strawberry.field(description="Facilities; hazard sources and attributes for staff only.")
    async def facilities(
        self, info: Info, where: SpatialFilterInput | None = None,
        categories: list[FacilityCategory] | None = None,
        first: int | None = None, after: str | None = None,
        order_by: FacilityOrder | None = None,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Connection[Facility]:  # fmt: skip
        view = await _as_of(info, info.context.view("facilities"), as_of)
        attrs = AttributeFilter(equals=_equals(category=categories), as_of=as_of)
        return await _connection(info, view, where, attrs, first, after, Facility.from_row,
                                 "Facility", order_by)  # fmt: skip

    @strawberry.field(description="Cameras in the caller's jurisdiction (READ_CAMERAS).")
    async def cameras(
        self, info: Info, where: SpatialFilterInput | None = None,
        statuses: list[CameraStatus] | None = None,
        first: int | None = None, after: str | None = None,
        order_by: CameraOrder | None = None,
    ) -> Connection[Camera]:  # fmt: skip
        view = info.context.view("cameras")
        attrs = AttributeFilter(equals=_equals(status=statuses))
        return await _connection(info, view, where, attrs, first, after, Camera.from_row,
                                 "Camera", order_by)  # fmt: skip

    @strawberry.field(
        description="Cases: the public record (generalised position and times) "
        "for the public; in full for staff, within their jurisdiction."
    )
    async def cases(
        self, info: Info, where: SpatialFilterInput | None = None,
        statuses: list[CaseStatus] | None = None, categories: list[str] | None = None,
        grid_cell_id: strawberry.ID | None = None, department_id: strawberry.ID | None = None,
        reported_from: datetime | None = None, reported_to: datetime | None = None,
        first: int | None = None, after: str | None = None,
        order_by: CaseOrder | None = None,
    ) -> Connection[Case]:  # fmt: skip
        view = info.context.view("cases")
        since, until = time_range(reported_from, reported_to)
        attrs = AttributeFilter(
            equals=_equals(
                status=statuses, category=categories,
                grid_cell_id=[to_id(grid_cell_id, "gridCellId")] if grid_cell_id else None,
                department_id=[to_id(department_id, "departmentId")] if department_id else None,
            ),
            time_column="reported_at", time_from=since, time_to=until,
        )  # fmt: skip
        return await _connection(info, view, where, attrs, first, after,
                                 _case_builder(view.internal), "Case", order_by)  # fmt: skip

    @strawberry.field(description="The caller's own reports, newest first unless orderBy says "
                      "otherwise.")  # fmt: skip
    async def my_cases(
        self, info: Info, first: int | None = None, after: str | None = None,
        order_by: CaseOrder | None = None,
    ) -> Connection[Case]:  # fmt: skip
        principal = info.context.require()
        attrs = AttributeFilter(equals={"reporter_id": [principal.user_id]})
        newest = CaseOrder(field=CaseOrderField.REPORTED_AT, direction=SortDirection.DESC)
        return await _connection(info, views.own_cases(principal), None, attrs, first, after,
                                 _case_builder(True), order_by=order_by or newest)  # fmt: skip

    @strawberry.field(
        description="One facility as the caller's view has it (hazard sources and attributes "
        "for staff only); null when the caller cannot see it."
    )
    async def facility(
        self, info: Info, id: strawberry.ID,
        as_of: Annotated[datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Facility | None:  # fmt: skip
        view = await _as_of(info, info.context.view("facilities"), as_of)
        attrs = AttributeFilter(equals={"id": [to_id(id)]}, as_of=as_of)
        found = await info.context.fetch(rows(view, None, attrs, limit=1, with_cell=True))
        return Facility.from_row(found[0]) if found else None

    @strawberry.field(description="One case: staff who read cases get it in full, and only "
                      "within their jurisdiction (NOT_FOUND outside it); everyone else its "
                      "public record.")  # fmt: skip
    async def case(self, info: Info, id: strawberry.ID) -> Case:
        view = info.context.view("cases")
        attrs = AttributeFilter(equals={"id": [to_id(id)]})
        found = await info.context.fetch(rows(view, None, attrs, limit=1))
        if not found:
            raise NotFound(f"No case with id {id}.")
        return Case.from_row(found[0], full=view.internal)

    @strawberry.field(description="Case counts grouped by grid cell, category, status and/or "
                      "day (Asia/Shanghai), for heat maps and dashboards.")  # fmt: skip
    async def case_stats(
        self, info: Info, group_by: list[CaseStatsDimension],
        where: SpatialFilterInput | None = None, statuses: list[CaseStatus] | None = None,
        categories: list[str] | None = None, reported_from: datetime | None = None,
        reported_to: datetime | None = None,
        limit: Annotated[int, strawberry.argument(
            description="The most buckets wanted (at most ONEMAP_GRAPHQL_MAX_STATS_BUCKETS, "
            "10,000 by default); more buckets than this is a BAD_USER_INPUT error that says how "
            "to narrow the question, never a silently cut list.")] = 1000,
    ) -> list[CaseStatsBucket]:  # fmt: skip
        since, until = time_range(reported_from, reported_to)
        dims = [d.value for d in dict.fromkeys(group_by)]
        most = info.context.settings.max_stats_buckets
        if not 1 <= limit <= most:
            raise InvalidInput(f"limit must be between 1 and {most:,}.", field="limit")
        result = await info.context.fetch(
            case_stats(views.PUBLIC_CASES, spatial(where), dims,
                       _equals(status=statuses, category=categories), since, until, limit)
        )  # fmt: skip
        return [
            CaseStatsBucket(
                grid_cell_id=strawberry.ID(str(b["grid_cell_id"]))
                if b.get("grid_cell_id")
                else None,
                category=b.get("category"),
                status=CaseStatus(b["status"]) if b.get("status") else None,
                day=b.get("day"),
                count=b["count"],
            )
            for b in result
        ]

    @strawberry.field(description="The emergency context around a point (READ_INTERNAL; "
                      "cameras and full cases within the caller's jurisdiction).")  # fmt: skip
    async def incident(self, info: Info, lon: float, lat: float, radius_m: float) -> Incident:
        info.context.require(Capability.READ_INTERNAL)
        return await incident(info, LonLat(lon, lat), radius_m)

    @strawberry.field
    async def departments(self, info: Info) -> list[Department]:
        ids = await info.context.fetch(department_ids())
        # Gathered: the loader reads them all in one statement.
        found = await asyncio.gather(*(load_department(info, i) for i in ids))
        return [d for d in found if d is not None]

    @strawberry.field(description="The logged-in staff member, or null.")
    async def me(self, info: Info) -> StaffUser | None:
        uid = info.context.principal.user_id
        if uid is None or not info.context.principal.is_staff:
            return None
        row = await info.context.loader("user").load(uid)
        return StaffUser.from_row(row) if row else None
