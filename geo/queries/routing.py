"""Drive-time routing on the road network (pgRouting): the nearest facilities by drive time,
and the fastest route between two points. Both respect one-way roads, closures in force and
congestion (geo.road_models, geo.services.roads), read in the same statement.

**The graph a query reads.** pgRouting takes its edges as SQL text. :data:`_EDGES` is that
text with four numbers formatted in by PostgreSQL's ``format()`` (a bounding box; values are
bind parameters of the outer statement, never spliced in Python): the roads in the box, a
closed road left out, each cost the free-flow time divided by the road's speed factor, and
``reverse_cost`` -1 on a one-way road (pgRouting: no way back). Reading the whole city's
network costs most of a query (a scale-1 one-to-many Dijkstra over the 8,900 roads is
~20 ms, nearly all of it building the graph), so each query reads a box around what it
needs: the start and the candidates, with a margin for detours (:data:`MARGIN_DEG` plus a
quarter of the box's size). A route first tries its box and falls back to the whole city in
the same statement when the box holds no path, or when its path might not be the fastest:
a way out of the box drives at least each end's distance to the box's edge at the city's
highest speed limit, and a box path slower than that is checked against the whole city.

**Snapping.** A point joins the network at the nearest vertex that has at least one usable
(not closed) road, by the GiST index's KNN order in degrees (at the city's latitude a degree
east is 0.86 of a degree north: the nearest vertex may be a few metres off the true nearest,
never a far one). Drive times run between the snapped vertices; the walk to them is not
counted.

**Nearest by drive time** (:func:`drive_time_nearest`): one-to-many Dijkstra
(``pgr_dijkstra`` from the start to every candidate's vertex, summing seconds and metres
along each path) over the :func:`candidates` nearest facilities in a straight line. Chosen
over ``pgr_drivingDistance`` (every vertex within a time bound, then the facilities on them):
that one has to guess the bound and walks the whole area inside it, while the nearest by
drive time are, in a city's grid, nearly always among the nearest few dozen in a straight
line — the tests check it against a full Dijkstra over every facility of the category. A
facility whose snapped vertex cannot be reached (closures) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from geo.errors import OutsideCity
from geo.params import LonLat
from geo.queries import Query, Rows

#: Degrees added around the box a query reads (≈ 1.5 km), plus a quarter of its size.
MARGIN_DEG = 0.015
#: How far from every road (metres) a point may be: farther, it is not in the city.
MAX_SNAP_M = 1000.0
#: The most facilities a drive-time query may ask for.
MAX_NEAREST = 50

#: A closure (alias c) in force now.
IN_FORCE = "c.starts_at <= now() AND (c.ends_at IS NULL OR c.ends_at > now())"
_OPEN = f"NOT EXISTS (SELECT FROM road_closures c WHERE c.road_id = r.id AND {IN_FORCE})"
#: pgRouting's edges, given a box (four %s, filled in by format() in the statement).
_EDGES = (
    "SELECT r.id, r.source, r.target, r.cost_s / coalesce(k.speed_factor, 1) AS cost, "
    "CASE WHEN r.reverse_cost_s < 0 THEN -1 "
    "ELSE r.reverse_cost_s / coalesce(k.speed_factor, 1) END AS reverse_cost "
    "FROM roads r LEFT JOIN road_conditions k ON k.road_id = r.id "
    "WHERE r.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND " + _OPEN
)
#: The nearest vertex to geometry {g} with a usable road.
_SNAP = sql.SQL(
    "(SELECT v.id FROM road_vertices v WHERE EXISTS (SELECT FROM roads r "  # noqa: S608
    "WHERE (r.source = v.id OR r.target = v.id) AND " + _OPEN + ") "
    "ORDER BY v.geom <-> {g} LIMIT 1)"
)
_BOX = "format(%(edges)s, ST_XMin({b}), ST_YMin({b}), ST_XMax({b}), ST_YMax({b}))"


#: The same graph with every road turned round: a search from a point over it finds the
#: fastest ways *to* the point (a one-way street counts in the direction one drives it).
_EDGES_TOWARDS = _EDGES.replace("r.source, r.target", "r.target AS source, r.source AS target")


def _edges_in(box: str) -> sql.SQL:
    return sql.SQL(_BOX.replace("{b}", box))


def _near_a_road(point: LonLat, snap_m: float | None) -> None:
    """OutsideCity for a point farther than :data:`MAX_SNAP_M` from every road."""
    if snap_m is not None and snap_m > MAX_SNAP_M:
        raise OutsideCity(
            f"({point.lon}, {point.lat}) is {snap_m:,.0f} m from the nearest road; routing "
            f"takes points within {MAX_SNAP_M:,.0f} m of the city's roads."
        )


def candidates(n: int) -> int:
    """How many facilities (nearest in a straight line) a drive-time query weighs for ``n``."""
    return min(max(8 * n, 40), 400)


@dataclass(frozen=True, slots=True)
class Reached:
    """A facility and how far it is: by road (seconds, metres) and in a straight line."""

    id: int
    code: str
    category: str
    name_zh: str
    name_en: str
    lon: float
    lat: float
    drive_s: float
    drive_m: float
    straight_m: float


def drive_time_nearest(
    point: LonLat, categories: list[str], n: int, towards: bool = False
) -> Query[list[Reached]]:
    """The ``n`` facilities of ``categories`` nearest to ``point`` by drive time, fastest
    first (the caller has checked the categories against the principal's access): driving
    from the point to them, or with ``towards`` from each of them to the point (a fire engine
    going to an incident; one-way streets make the two differ)."""
    statement = sql.SQL("""
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
origin AS (
  SELECT v.id, ST_Distance(v.geom::geography, pt.g::geography) AS snap_m
  FROM pt JOIN road_vertices v ON v.id = {snap_pt}),
cand AS MATERIALIZED (
  SELECT f.id, f.code, f.category, f.name_zh, f.name_en, f.geom,
         ST_Distance(f.geom::geography, pt.g::geography) AS straight_m,
         {snap_f} AS vid
  FROM facilities f, pt WHERE f.category = ANY(%(cats)s)
  ORDER BY f.geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) LIMIT %(k)s),
area AS (
  SELECT ST_Expand(e, %(margin)s + greatest(ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e))
                      / 4) AS b
  FROM (SELECT ST_Extent(g)::geometry AS e FROM (SELECT geom AS g FROM cand
        UNION ALL SELECT g FROM pt) x) y),
paths AS (
  SELECT p.end_vid, p.edge, p.cost FROM area, origin,
    pgr_dijkstra({edges}, origin.id, ARRAY(SELECT DISTINCT vid FROM cand WHERE vid IS NOT NULL),
                 true) p
  WHERE p.edge <> -1),
reached AS (
  SELECT p.end_vid AS vid, sum(p.cost) AS s, sum(r.length_m) AS m
  FROM paths p JOIN roads r ON r.id = p.edge GROUP BY p.end_vid
  UNION ALL SELECT origin.id, 0, 0 FROM origin)
SELECT o.snap_m, f.* FROM origin o LEFT JOIN LATERAL (
  SELECT c.id, c.code, c.category, c.name_zh, c.name_en, ST_X(c.geom), ST_Y(c.geom),
         x.s, x.m, c.straight_m
  FROM cand c JOIN reached x ON x.vid = c.vid
  ORDER BY x.s, c.straight_m, c.id LIMIT %(n)s) f ON true
ORDER BY f.s, f.straight_m, f.id
""").format(
        snap_pt=_SNAP.format(g=sql.SQL("pt.g")),
        snap_f=_SNAP.format(g=sql.SQL("f.geom")),
        edges=_edges_in("area.b"),
    )
    params = {"lon": point.lon, "lat": point.lat, "cats": categories, "n": n,
              "k": candidates(n), "margin": MARGIN_DEG,
              "edges": _EDGES_TOWARDS if towards else _EDGES}  # fmt: skip

    def decode(rows: Rows) -> list[Reached]:
        if rows:
            _near_a_road(point, rows[0][0])
        return [Reached(int(r[1]), r[2], r[3], r[4], r[5], float(r[6]), float(r[7]),
                        float(r[8]), float(r[9]), float(r[10])) for r in rows
                if r[1] is not None]  # fmt: skip

    return Query(statement, params, decode)


@dataclass(frozen=True, slots=True)
class Lifeline:
    """The way from a resource to the site along its drive-time path: a GeoJSON LineString in
    the direction driven, the roads' names in order, their ids."""

    facility_id: int
    geometry: str | None
    road_names_zh: tuple[str, ...]
    road_names_en: tuple[str, ...]
    road_ids: tuple[int, ...]


def resources_towards(
    point: LonLat, wanted: list[tuple[str, int]]
) -> Query[tuple[list[Reached], dict[str, Lifeline]]]:
    """For each (category, n) of ``wanted``: the ``n`` facilities nearest by drive time
    *towards* ``point`` (as :func:`drive_time_nearest` with ``towards``), fastest first, and
    the path of the fastest of each category as its lifeline — every category from one
    Dijkstra search over one graph (the incident context's resources: one statement instead
    of a search and a route per category). The caller has checked the categories."""
    statement = sql.SQL("""
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
origin AS (
  SELECT v.id, ST_Distance(v.geom::geography, pt.g::geography) AS snap_m
  FROM pt JOIN road_vertices v ON v.id = {snap_pt}),
want AS (SELECT * FROM unnest(%(cats)s::text[], %(ns)s::int[]) AS w(category, n)),
cand AS MATERIALIZED (
  SELECT c.*, w.n FROM want w CROSS JOIN LATERAL (
    SELECT f.id, f.code, f.category, f.name_zh, f.name_en, f.geom,
           ST_Distance(f.geom::geography, pt.g::geography) AS straight_m, {snap_f} AS vid
    FROM facilities f, pt WHERE f.category = w.category
    ORDER BY f.geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
    LIMIT least(greatest(8 * w.n, 40), 400)) c),
area AS (
  SELECT ST_Expand(e, %(margin)s + greatest(ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e))
                      / 4) AS b
  FROM (SELECT ST_Extent(g)::geometry AS e FROM (SELECT geom AS g FROM cand
        UNION ALL SELECT g FROM pt) x) y),
paths AS MATERIALIZED (
  SELECT p.end_vid, p.path_seq, p.node, p.edge, p.cost FROM area, origin,
    pgr_dijkstra({edges}, origin.id, ARRAY(SELECT DISTINCT vid FROM cand WHERE vid IS NOT NULL),
                 true) p
  WHERE p.edge <> -1),
reached AS (
  SELECT p.end_vid AS vid, sum(p.cost) AS s, sum(r.length_m) AS m
  FROM paths p JOIN roads r ON r.id = p.edge GROUP BY p.end_vid
  UNION ALL SELECT origin.id, 0, 0 FROM origin),
ranked AS (
  SELECT c.*, x.s, x.m,
         row_number() OVER (PARTITION BY c.category ORDER BY x.s, c.straight_m, c.id) AS k
  FROM cand c JOIN reached x ON x.vid = c.vid)
SELECT o.snap_m, f.id, f.code, f.category, f.name_zh, f.name_en, ST_X(f.geom), ST_Y(f.geom),
       f.s, f.m, f.straight_m, f.k, w.geometry, w.zh, w.en, w.ids
FROM origin o LEFT JOIN ranked f ON f.k <= f.n
LEFT JOIN LATERAL (
  -- The search ran from the site over the turned-round graph: driven, the path runs the
  -- other way (last step first), each road from the step's far end to its node.
  SELECT ST_AsGeoJSON(ST_MakeLine(CASE WHEN p.node = r.target THEN r.geom
                                  ELSE ST_Reverse(r.geom) END ORDER BY p.path_seq DESC), 6)
           AS geometry,
         array_agg(r.name_zh ORDER BY p.path_seq DESC) AS zh,
         array_agg(r.name_en ORDER BY p.path_seq DESC) AS en,
         array_agg(r.id ORDER BY p.path_seq DESC) AS ids
  FROM paths p JOIN roads r ON r.id = p.edge WHERE p.end_vid = f.vid AND f.k = 1) w ON true
ORDER BY f.category, f.k
""").format(
        snap_pt=_SNAP.format(g=sql.SQL("pt.g")),
        snap_f=_SNAP.format(g=sql.SQL("f.geom")),
        edges=_edges_in("area.b"),
    )
    params = {"lon": point.lon, "lat": point.lat, "cats": [c for c, _ in wanted],
              "ns": [min(n, MAX_NEAREST) for _, n in wanted], "margin": MARGIN_DEG,
              "edges": _EDGES_TOWARDS}  # fmt: skip

    def decode(rows: Rows) -> tuple[list[Reached], dict[str, Lifeline]]:
        if rows:
            _near_a_road(point, rows[0][0])
        found, lines = [], {}
        for r in rows:
            if r[1] is None:
                continue
            found.append(Reached(int(r[1]), r[2], r[3], r[4], r[5], float(r[6]), float(r[7]),
                                 float(r[8]), float(r[9]), float(r[10])))  # fmt: skip
            if r[11] == 1:
                lines[r[3]] = Lifeline(int(r[1]), r[12], _stretches(r[13]), _stretches(r[14]),
                                       tuple(int(i) for i in r[15] or ()))  # fmt: skip
        return found, lines

    return Query(statement, params, decode)


@dataclass(frozen=True, slots=True)
class Route:
    """The fastest route, or ``found`` False (no road joins the two points: closures, one-way
    streets). ``geometry`` is a GeoJSON LineString (text) from the first snapped vertex to the
    last; ``road_names`` the roads driven, in order, each once per stretch."""

    found: bool
    duration_s: float | None = None
    length_m: float | None = None
    geometry: str | None = None
    road_names_zh: tuple[str, ...] = ()
    road_names_en: tuple[str, ...] = ()
    road_ids: tuple[int, ...] = ()


def _stretches(names: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for name in names or []:
        if not out or out[-1] != name:
            out.append(name)
    return tuple(out)


def route(origin: LonLat, destination: LonLat) -> Query[Route]:
    """The fastest route by road from ``origin`` to ``destination``. The box around the two
    is searched first; its answer stands only when no way out of the box could beat it — a
    way leaving the box drives at least from one end to the box's edge and back to the other,
    at no more than the fastest road's speed limit — else the whole city is searched (same
    statement)."""
    statement = sql.SQL("""
WITH ends AS (
  SELECT {snap_a} AS a, {snap_b} AS b, ST_Expand(ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s,
         4326), %(margin)s + greatest(abs(%(x1)s - %(x0)s), abs(%(y1)s - %(y0)s)) / 4) AS box,
         ST_MakeEnvelope(-180, -90, 180, 90, 4326) AS everywhere),
near AS MATERIALIZED (
  SELECT p.* FROM ends, pgr_dijkstra({in_box}, ends.a, ends.b, true) p),
bound AS (
  -- Seconds a way leaving the box takes at least: each end's metres to the box's edge (a
  -- degree of longitude shrinks with the latitude), at the fastest speed limit in the city.
  SELECT (least((ST_X(va.geom) - ST_XMin(e.box)) * k.x, (ST_XMax(e.box) - ST_X(va.geom)) * k.x,
                (ST_Y(va.geom) - ST_YMin(e.box)) * k.y, (ST_YMax(e.box) - ST_Y(va.geom)) * k.y)
        + least((ST_X(vb.geom) - ST_XMin(e.box)) * k.x, (ST_XMax(e.box) - ST_X(vb.geom)) * k.x,
                (ST_Y(vb.geom) - ST_YMin(e.box)) * k.y, (ST_YMax(e.box) - ST_Y(vb.geom)) * k.y))
         / (SELECT max(speed_kmh) / 3.6 FROM roads) AS s
  FROM ends e JOIN road_vertices va ON va.id = e.a JOIN road_vertices vb ON vb.id = e.b,
       LATERAL (SELECT 111320 * cos(radians(ST_YMax(e.box))) AS x, 110574 AS y) k),
far AS MATERIALIZED (
  SELECT p.* FROM ends, pgr_dijkstra({everywhere}, ends.a, ends.b, true) p
  WHERE NOT EXISTS (SELECT FROM near)
     OR (SELECT max(agg_cost) FROM near) > (SELECT coalesce(max(s), 0) FROM bound)),
steps AS (
  SELECT s.path_seq, s.cost, r.id, r.length_m, r.name_zh, r.name_en,
         CASE WHEN s.node = r.source THEN r.geom ELSE ST_Reverse(r.geom) END AS g
  FROM (SELECT * FROM near WHERE NOT EXISTS (SELECT FROM far) UNION ALL SELECT * FROM far) s
  JOIN roads r ON r.id = s.edge)
SELECT (SELECT a = b FROM ends),
       (SELECT ST_Distance(v.geom::geography, ST_SetSRID(ST_MakePoint(%(x0)s, %(y0)s), 4326)
        ::geography) FROM ends JOIN road_vertices v ON v.id = ends.a),
       (SELECT ST_Distance(v.geom::geography, ST_SetSRID(ST_MakePoint(%(x1)s, %(y1)s), 4326)
        ::geography) FROM ends JOIN road_vertices v ON v.id = ends.b),
       count(*), sum(cost), sum(length_m),
       ST_AsGeoJSON(ST_MakeLine(g ORDER BY path_seq), 6),
       array_agg(name_zh ORDER BY path_seq), array_agg(name_en ORDER BY path_seq),
       array_agg(id ORDER BY path_seq),
       (SELECT ST_AsGeoJSON(ST_MakeLine(v.geom, v.geom), 6) FROM ends
        JOIN road_vertices v ON v.id = ends.a)
FROM steps
""").format(
        snap_a=_SNAP.format(g=sql.SQL("ST_SetSRID(ST_MakePoint(%(x0)s, %(y0)s), 4326)")),
        snap_b=_SNAP.format(g=sql.SQL("ST_SetSRID(ST_MakePoint(%(x1)s, %(y1)s), 4326)")),
        in_box=_edges_in("ends.box"),
        everywhere=_edges_in("ends.everywhere"),
    )
    params = {"x0": origin.lon, "y0": origin.lat, "x1": destination.lon, "y1": destination.lat,
              "margin": MARGIN_DEG, "edges": _EDGES}  # fmt: skip

    def decode(rows: Rows) -> Route:
        same, snap_a, snap_b, steps, seconds, metres, geometry, zh, en, ids, here = rows[0]
        _near_a_road(origin, snap_a)
        _near_a_road(destination, snap_b)
        if steps:
            return Route(True, float(seconds), float(metres), geometry, _stretches(zh),
                         _stretches(en), tuple(int(i) for i in ids))  # fmt: skip
        if same and here is not None:  # both ends snap to one vertex: already there
            return Route(True, 0.0, 0.0, here)
        return Route(False)

    return Query(statement, params, decode)
