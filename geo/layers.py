"""The one map's layers as the read side sees them: table, geometry and exposed columns.

A layer has a public view (what anonymous callers may see) and an internal view. Who gets
which, and with which jurisdiction row filter, is decided only by ``geo.access.views_for``.
Identifiers in SQL come only from here, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from geo.enums import INTERNAL_FACILITY_CATEGORIES


@dataclass(frozen=True)
class LayerView:
    name: str
    table: str
    geometry_type: str  # "Point", "LineString" or "MultiPolygon"
    columns: tuple[str, ...]  # properties, in output order
    row_filter: str = "TRUE"  # a fixed SQL predicate on alias t (our constant, never input)
    internal: bool = False
    #: The column holding each row's level-24 quadkey, when the table has one (cases:
    #: aggregated tiles are counted from it, geo.queries.tile_keys).
    tile_key: str | None = None
    #: Below this zoom a tile holds only the rows of ``low_zoom_filter`` (a fixed predicate
    #: on alias t): the roads' expressways and arterials, as a city map generalises.
    low_zoom_below: int = 0
    low_zoom_filter: str = "TRUE"
    #: A catalogue layer (geo.catalogue, docs/catalogue.md): the relation's schema, its unique
    #: id and geometry columns, its SRID and its columns' JSON types — every identifier taken
    #: from the database catalog at registration, never from input. Built-in layers keep
    #: ``schema`` None and read ``table`` directly.
    schema: str | None = None
    id_column: str = "id"
    geom_column: str = "geom"
    srid: int = 4326
    column_types: tuple[tuple[str, str], ...] = ()
    #: Catalogue columns published as text (dates, uuids, enums …): cast in the relation.
    text_columns: tuple[str, ...] = ()

    @property
    def catalogue(self) -> bool:
        """A registered department layer rather than a built-in one."""
        return self.schema is not None

    #: The table keeping the layer's versions (migration 0031, docs/history.md), when the
    #: layer's table is tracked: "as of" reads go there (:func:`as_of`).
    history_table: str | None = None
    #: True for the view :func:`as_of` made: ``table`` is the history, and the read builder
    #: keeps the versions valid at the read's ``as_of`` instant (geo.queries.filters).
    historic: bool = False


_hidden = ", ".join(f"'{c.value}'" for c in sorted(INTERNAL_FACILITY_CATEGORIES))

ADMIN_AREAS = LayerView(
    "admin_areas", "admin_areas", "MultiPolygon",
    ("code", "name_zh", "name_en", "level", "parent_id", "population"),
)  # fmt: skip
GRID_CELLS = LayerView(
    "grid_cells", "grid_cells", "MultiPolygon",
    ("code", "name", "community_id", "population", "health_risk"),
)  # fmt: skip
FACILITIES_PUBLIC = LayerView(
    "facilities", "facilities", "Point",
    ("code", "category", "name_zh", "name_en", "address", "capacity", "grid_cell_id"),
    row_filter=f"t.category NOT IN ({_hidden})", history_table="facilities_history",
)  # fmt: skip
FACILITIES = LayerView(
    "facilities", "facilities", "Point",
    ("code", "category", "name_zh", "name_en", "address", "capacity", "attributes",
     "grid_cell_id"),
    internal=True, history_table="facilities_history",
)  # fmt: skip
CAMERAS = LayerView(
    "cameras", "cameras", "Point",
    ("code", "name", "heading", "fov", "status", "last_seen_at", "grid_cell_id"),
    internal=True,
)  # fmt: skip
#: The generalised public case record (database view ``cases_public``, migration 0003): the
#: position on a 0.001° grid, times to the hour; no reporter, free text, address or assignee;
#: no duplicates and no sensitive categories. Filters and bboxes apply to these values, so no
#: query can narrow a case down further than the record shows.
CASES_PUBLIC = LayerView(
    "cases", "cases_public", "Point",
    ("public_id", "category", "status", "priority", "grid_cell_id", "reported_at", "closed_at"),
    tile_key="tile_key",
)  # fmt: skip
CASES = LayerView(
    "cases", "cases", "Point",
    ("public_id", "category", "description", "address", "status", "priority", "source",
     "grid_cell_id", "department_id", "assignee_id", "duplicate_of", "reported_at",
     "dispatched_at", "due_at", "resolved_at", "closed_at"),
    internal=True,
    tile_key="tile_key",
)  # fmt: skip

#: Sensor devices (SensorThings Things, migration 0022): where each stands, what it senses and
#: its state on the map — the worst of its Datastreams' (alarm, warning, offline, normal).
#: The public never sees a device of critical infrastructure (docs/sensors.md).
SENSORS_PUBLIC = LayerView(
    "sensors", "sta_things", "Point", ("name", "kind", "state", "grid_cell_id", "facility_id"),
    row_filter="NOT t.critical AND t.geom IS NOT NULL",
)  # fmt: skip
SENSORS = LayerView(
    "sensors", "sta_things", "Point", ("name", "kind", "state", "grid_cell_id", "facility_id"),
    row_filter="t.geom IS NOT NULL", internal=True,
)  # fmt: skip

#: The road network (migration 0024): public, lines in the direction one may drive a one-way
#: road. Tiles below zoom 12 hold the expressways and arterials only.
ROADS = LayerView(
    "roads", "roads", "LineString",
    ("name_zh", "name_en", "road_class", "speed_kmh", "lanes", "one_way", "length_m"),
    low_zoom_below=12, low_zoom_filter="t.road_class IN ('expressway', 'arterial')",
)  # fmt: skip

#: Buildings (migration 0029): footprints with floors, height, use and address; internal (no
#: public view), never a person or a house's occupants. Tiles from zoom 14 (empty below).
BUILDINGS = LayerView(
    "buildings", "buildings", "MultiPolygon",
    ("name_zh", "use", "floors", "height_m", "year_built", "address_id", "grid_cell_id",
     "synthetic"),
    internal=True, low_zoom_below=14, low_zoom_filter="FALSE",
    history_table="buildings_history",
)  # fmt: skip

PUBLIC_VIEWS = {
    v.name: v
    for v in (ADMIN_AREAS, GRID_CELLS, FACILITIES_PUBLIC, CASES_PUBLIC, SENSORS_PUBLIC, ROADS)
}
INTERNAL_VIEWS = {
    v.name: v
    for v in (ADMIN_AREAS, GRID_CELLS, FACILITIES, CAMERAS, CASES, SENSORS, ROADS, BUILDINGS)
}


def view(name: str, *, internal: bool) -> LayerView | None:
    """The view of layer ``name`` for a caller (None: no such layer for them): a built-in
    layer's, or a catalogue layer's (geo.catalogue) when its view is of that kind."""
    found = (INTERNAL_VIEWS if internal else PUBLIC_VIEWS).get(name)
    if found is None:
        from geo import catalogue  # the registry imports this module

        registered = catalogue.layer(name)
        if registered is not None and registered.view.internal == internal:
            return registered.view
    return found


def as_of(view: LayerView) -> LayerView | None:
    """The view reading the layer's history instead of its live table: the same columns and
    row filter (so the same access rules) over every version; the read builder keeps the
    versions valid at the read's instant. None: the layer keeps no history."""
    if view.history_table is None:
        return None
    return replace(view, table=view.history_table, history_table=None, historic=True)


#: The built-in layers that keep their history (docs/history.md).
HISTORIC_LAYERS = frozenset(v.name for v in INTERNAL_VIEWS.values() if v.history_table)


def keeps_history(name: str) -> bool:
    """Whether layer ``name`` keeps its history: a built-in one of :data:`HISTORIC_LAYERS`, or
    a catalogue layer whose table is tracked (``onemap_track_history``)."""
    if name in HISTORIC_LAYERS:
        return True
    from geo import catalogue  # the registry imports this module

    registered = catalogue.layer(name)
    return registered is not None and registered.view.history_table is not None
