"""The demo city's road network: expressways, arterials, local streets and lanes, as a graph.

Built from the city's own geography, so the roads agree with its areas and grid:

- **local streets** (支路) run along the grid cells' edges — the boundaries of the management
  grid, as a real grid is drawn along streets; every cell is walled by streets and every
  area's outline is one;
- **arterials** (主干路) are a grid of straight main roads about 1.2 km apart, clipped to the
  city's outline, crossing the local streets at junctions;
- **expressways** (快速路) are an elevated inner ring, two crossing elevated roads and four
  radials to the edge of the city; they are grade-separated: they meet the arterials at
  interchanges and each other, and pass over local streets without a junction;
- **lanes** (弄) join a cell's centre to its corners. Scale 1 has none; larger scales give
  the first cells (in the grid's order) lanes, all cells at scale 10, so the network grows by
  prefix like the point layers: a lane only adds a vertex and edges to existing vertices (no
  lane crosses an arterial), and ``--scale 10`` after the demo adds the lanes alone.

The graph is noded here (each edge runs between two vertices and is split wherever it meets
another road it has a junction with), so pgRouting reads ``source``/``target`` as written.
Some local streets are one-way; the network stays strongly connected (every vertex reaches
every other), checked as it is drawn (seed.road_graph). Deterministic: a fixed
seed, and no randomness that depends on the scale.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from seed.geography import CENTER, KX, SEED, City
from seed.road_graph import XY, Edge, Graph, keep_strongly_connected

LAYER_NUMBER = 5  # mixes into the random seed (facilities 1, cameras 2, cases 3, sensors 4)
ARTERIAL_SPACING = 0.011  # degrees of latitude (x: the same in km-like units): ≈ 1.2 km
ONE_WAY_SHARE = 0.15  # of the local streets
#: (class, speed km/h, lanes) of each kind of road.
EXPRESSWAY = ("expressway", 80, 6)
ARTERIAL = ("arterial", 50, 4)
LOCAL = ("local", 30, 2)
LANE = ("lane", 20, 1)

EXPRESSWAY_NAMES = (
    ("内环高架路", "Inner Ring Elevated Road"),
    ("延安高架路", "Yan'an Elevated Road"),
    ("南北高架路", "North-South Elevated Road"),
    ("沪闵高架路", "Humin Elevated Road"),
    ("逸仙高架路", "Yixian Elevated Road"),
    ("沪嘉高速", "Hujia Expressway"),
    ("沪昆高速", "Hukun Expressway"),
)


@dataclass
class Network:
    vertices: list[tuple[float, float]]
    edges: list[Edge]  # the base network, then the lanes cell by cell
    base_edges: int
    base_vertices: int
    lane_cells: list[tuple[int, int]]  # per cell: (edges, vertices) after its lanes

    def target(self, scale: float) -> tuple[int, int]:
        """(edges, vertices) of the network at ``scale``."""
        cells = round(len(self.lane_cells) * min(1.0, max(0.0, (scale - 1) / 9)))
        return self.lane_cells[cells - 1] if cells else (self.base_edges, self.base_vertices)


def _split(line: BaseGeometry, points: list[XY]) -> list[list[XY]]:
    """``line`` cut at ``points`` (on it): the pieces, each starting and ending exactly at a
    cut point or an end of the line."""
    coords = [tuple(c) for c in shapely.get_coordinates(line).tolist()]
    steps = np.hypot(*np.diff(np.array(coords), axis=0).T)
    at = np.concatenate([[0.0], np.cumsum(steps)])
    cuts = sorted({(float(line.project(shapely.Point(p))), p) for p in points})
    stops = [(float(d), c, False) for d, c in zip(at, coords, strict=True)]
    stops += [(d, p, True) for d, p in cuts]
    stops.sort(key=lambda s: (s[0], not s[2]))
    pieces: list[list[tuple[float, float]]] = [[coords[0]]]
    for d, p, is_cut in stops[1:]:
        if is_cut:
            if d <= 0 or d >= at[-1]:
                continue
            pieces[-1].append(p)
            pieces.append([p])
        else:
            pieces[-1].append(p)
    return [p for p in pieces if len(p) >= 2]


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return (x / KX + CENTER[0], y + CENTER[1])


def _expressways(outline: BaseGeometry) -> list[tuple[BaseGeometry, int]]:
    """(line, name index) of each expressway, clipped to the outline."""
    minx, miny, maxx, maxy = outline.bounds
    rx, ry = (maxx - minx) / 2 * KX, (maxy - miny) / 2
    ring = [_lonlat(0.48 * rx * math.cos(t), 0.46 * ry * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, 73)]  # fmt: skip
    lines: list[tuple[BaseGeometry, int]] = [(shapely.LineString(ring), 0)]
    far = 2 * max(rx, ry)
    lines.append((shapely.LineString([_lonlat(-far, 0.004), _lonlat(far, 0.004)]), 1))
    lines.append((shapely.LineString([_lonlat(0.006, -far), _lonlat(0.006, far)]), 2))
    for k, angle in enumerate((-55, 35, 125, 215)):  # radials from the ring outwards
        t = math.radians(angle)
        start = (0.48 * rx * math.cos(t), 0.46 * ry * math.sin(t))
        end = (far * math.cos(t), far * math.sin(t))
        lines.append((shapely.LineString([_lonlat(*start), _lonlat(*end)]), 3 + k))
    out = []
    for line, name in lines:
        clipped = shapely.intersection(line, outline)
        out += [(part, name) for part in shapely.get_parts(shapely.line_merge(clipped))]
    return out


def _arterials(outline: BaseGeometry) -> list[tuple[BaseGeometry, int]]:
    """(line, name index into vocab.ROADS) of each arterial piece, clipped to the outline."""
    minx, miny, maxx, maxy = outline.bounds
    step_x = ARTERIAL_SPACING / KX
    out: list[tuple[BaseGeometry, int]] = []
    name = 0
    for y in np.arange(CENTER[1] - 7.5 * ARTERIAL_SPACING, maxy, ARTERIAL_SPACING):
        if y > miny:
            across = shapely.LineString([(minx, y), (maxx, y)])
            out += [(p, name) for p in shapely.get_parts(shapely.intersection(across, outline))]
            name += 1
    for x in np.arange(CENTER[0] - 7.5 * step_x, maxx, step_x):
        if x > minx:
            down = shapely.LineString([(x, miny), (x, maxy)])
            out += [(p, name) for p in shapely.get_parts(shapely.intersection(down, outline))]
            name += 1
    return [(p, n) for p, n in out if p.geom_type == "LineString" and p.length > 0]


def _cell_edges(city: City) -> list[tuple[tuple[float, float], tuple[float, float], int]]:
    """Each grid-cell edge once: (end, end, index of the first cell that has it)."""
    seen: set[tuple[tuple[float, float], tuple[float, float]]] = set()
    out = []
    for i, cell in enumerate(city.cells):
        for part in shapely.get_parts(cell.geom):
            ring = [tuple(c) for c in shapely.get_coordinates(part.exterior).round(9).tolist()]
            for a, b in itertools.pairwise(ring):
                key = (a, b) if a <= b else (b, a)
                if a != b and key not in seen:
                    seen.add(key)
                    out.append((a, b, i))
    return out


def _crossings(
    lines: list[BaseGeometry], others: list[BaseGeometry], same: bool
) -> list[tuple[int, int, tuple[float, float]]]:
    """(line index, other index, point) where a line of ``lines`` meets one of ``others``."""
    tree = shapely.STRtree(others)
    found = []
    for i, line in enumerate(lines):
        for j in tree.query(line, predicate="intersects").tolist():
            if same and j <= i:
                continue
            meet = shapely.intersection(line, others[j])
            for p in shapely.get_parts(meet):
                if p.geom_type == "Point":
                    found.append((i, j, (p.x, p.y)))
    return found


def _names(city: City, cell: int) -> tuple[str, str]:
    community = city.areas[city.cells[cell].community]
    word_zh, word_en = (
        community.name_zh.removesuffix("社区"),
        community.name_en.removesuffix(" Community"),
    )
    suffix = (("路", "Road"), ("街", "Street"), ("支路", "Branch Road"))[cell % 3]
    return f"{word_zh}{suffix[0]}", f"{word_en} {suffix[1]}"


def build_network(city: City, road_names: tuple[tuple[str, str], ...]) -> Network:
    """The whole network (every lane of every cell), identical on every run."""
    rng = np.random.default_rng([SEED, LAYER_NUMBER])
    outline = city.outline
    locals_ = _cell_edges(city)
    local_lines = [shapely.LineString([a, b]) for a, b, _ in locals_]
    arterials = _arterials(outline)
    art_lines = [p for p, _ in arterials]
    express = _expressways(outline)
    exp_lines = [p for p, _ in express]
    cuts_local: dict[int, list[tuple[float, float]]] = {}
    cuts_art: dict[int, list[tuple[float, float]]] = {}
    cuts_exp: dict[int, list[tuple[float, float]]] = {}
    for i, j, p in _crossings(art_lines, local_lines, same=False):
        cuts_art.setdefault(i, []).append(p)
        cuts_local.setdefault(j, []).append(p)
    for i, j, p in _crossings(art_lines, art_lines, same=True):
        cuts_art.setdefault(i, []).append(p)
        cuts_art.setdefault(j, []).append(p)
    for i, j, p in _crossings(exp_lines, art_lines, same=False):  # interchanges
        cuts_exp.setdefault(i, []).append(p)
        cuts_art.setdefault(j, []).append(p)
    for i, j, p in _crossings(exp_lines, exp_lines, same=True):
        cuts_exp.setdefault(i, []).append(p)
        cuts_exp.setdefault(j, []).append(p)

    g = Graph()
    for i, (line, name) in enumerate(express):
        for piece in _split(line, cuts_exp.get(i, [])):
            g.add(piece, EXPRESSWAY, EXPRESSWAY_NAMES[name])
    for i, (line, name) in enumerate(arterials):
        for piece in _split(line, cuts_art.get(i, [])):
            g.add(piece, ARTERIAL, road_names[name % len(road_names)])
    one_way = rng.random(len(locals_)) < ONE_WAY_SHARE
    flip = rng.random(len(locals_)) < 0.5
    for i, (_a, _b, cell) in enumerate(locals_):
        for piece in _split(local_lines[i], cuts_local.get(i, [])):
            coords = piece[::-1] if flip[i] else piece
            g.add(coords, LOCAL, _names(city, cell), bool(one_way[i]))
    keep_strongly_connected(g)
    network = Network(g.vertices, g.edges, len(g.edges), len(g.vertices), [])
    _add_lanes(city, g, network, art_lines)
    return network


def _add_lanes(city: City, g: Graph, network: Network, arterials: list[BaseGeometry]) -> None:
    tree = shapely.STRtree(arterials)
    for i, cell in enumerate(city.cells):
        part = shapely.get_parts(cell.geom)[0]
        centre = shapely.centroid(part)
        corners = [tuple(c) for c in shapely.get_coordinates(part.exterior).round(9).tolist()][:-1]
        lanes = [shapely.LineString([(centre.x, centre.y), c]) for c in corners]
        crossing = set(tree.query(lanes, predicate="intersects")[0].tolist())
        word_zh, word_en = _names(city, i)[0][:-1], city.areas[cell.community].name_en
        n = 0
        for k, corner in enumerate(corners):
            if k in crossing or corner not in g.ids:
                continue
            n += 1
            g.add([(centre.x, centre.y), corner], LANE,
                  (f"{word_zh}{i % 97 + 1}弄{n}支弄",
                   f"Lane {i % 97 + 1}-{n}, {word_en.removesuffix(' Community')}"))  # fmt: skip
        network.lane_cells.append((len(g.edges), len(g.vertices)))
    network.vertices, network.edges = g.vertices, g.edges
