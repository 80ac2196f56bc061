"""The demo city's geography: districts → streets → communities → grid cells.

Grid cells are the Voronoi cells of relaxed, jittered points. Voronoi cells of one diagram share
their edges exactly (each vertex is computed once), and every area above a cell is the union of
its children, so the hierarchy tiles without gaps or overlaps by construction. The city outline
is the union of the cells whose generators fall inside a wavy ellipse, so no cell is clipped.
All of it is synthetic: the names echo Shanghai, the boundaries are invented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from seed import vocab

SEED = 20_260_101
# The city's frame: central Shanghai.
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 121.40, 121.58, 31.16, 31.32
LAT0 = (LAT_MIN + LAT_MAX) / 2
KX = math.cos(math.radians(LAT0))  # x in "km-like" units is lon * KX: square-ish cells
CENTER = ((LON_MIN + LON_MAX) / 2, (LAT_MIN + LAT_MAX) / 2)
GRID_SPACING_DEG = 0.00288  # ≈ 290 m between cell centres: about 2,000 cells
STREETS_PER_DISTRICT = 8
COMMUNITIES_PER_STREET = 6.5


@dataclass
class Area:
    code: str
    name_zh: str
    name_en: str
    level: str
    parent: int | None  # index into City.areas
    geom: BaseGeometry
    population: int = 0


@dataclass
class Cell:
    code: str
    name: str
    community: int  # index into City.areas
    geom: BaseGeometry
    population: int
    health_risk: str
    worker: int  # index of the grid worker (0-based, see City.worker_count)
    weight: float  # relative activity (cases, facilities) per cell


@dataclass
class City:
    areas: list[Area] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    worker_count: int = 0

    @property
    def outline(self) -> BaseGeometry:
        return shapely.union_all([a.geom for a in self.areas if a.level == "district"])

    def cell_geoms(self) -> NDArray[np.object_]:
        return np.array([c.geom for c in self.cells], dtype=object)

    def cell_weights(self) -> NDArray[np.float64]:
        w = np.array([c.weight for c in self.cells])
        return np.asarray(w / w.sum(), dtype=np.float64)


def _to_xy(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.column_stack([(lon - CENTER[0]) * KX, lat - CENTER[1]])


def _density(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Relative activity: busiest near the centre (the Bund side), with a second hub west."""
    d1 = np.hypot(x - 0.02, y + 0.005)
    d2 = np.hypot(x + 0.045, y - 0.01)
    return np.asarray(0.35 + np.exp(-((d1 / 0.035) ** 2)) + 0.6 * np.exp(-((d2 / 0.03) ** 2)))


def _inside_outline(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
    theta = np.arctan2(y, x)
    wobble = 1 + 0.10 * np.sin(3 * theta + 1.0) + 0.06 * np.sin(5 * theta + 2.0)
    rx = (LON_MAX - LON_MIN) / 2 * KX * 0.92
    ry = (LAT_MAX - LAT_MIN) / 2 * 0.92
    return np.asarray(np.hypot(x / rx, y / ry) < 0.93 * wobble)


def _relaxed_points(rng: np.random.Generator) -> NDArray[np.float64]:
    """A jittered lattice over the frame (plus a margin), smoothed by two Lloyd steps."""
    s = GRID_SPACING_DEG
    half_w = (LON_MAX - LON_MIN) / 2 * KX + 3 * s
    half_h = (LAT_MAX - LAT_MIN) / 2 + 3 * s
    xs = np.arange(-half_w, half_w, s)
    ys = np.arange(-half_h, half_h, s * math.sqrt(3) / 2)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + (np.arange(len(ys))[:, None] % 2) * s / 2  # hexagonal rows
    pts = np.column_stack([gx.ravel(), gy.ravel()]) + rng.normal(0, s * 0.28, (gx.size, 2))
    frame = shapely.box(-half_w, -half_h, half_w, half_h)
    for _ in range(2):
        cells = _voronoi(pts, frame)
        cent = shapely.get_coordinates(shapely.centroid(cells))
        inner = np.all(np.abs(pts) < [half_w - 2 * s, half_h - 2 * s], axis=1)
        pts = np.where(inner[:, None], cent, pts)
    return pts


def _voronoi(pts: NDArray[np.float64], frame: BaseGeometry) -> NDArray[np.object_]:
    diagram = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)
    return np.asarray(shapely.get_parts(diagram))


def _kmeans(
    pts: NDArray[np.float64], k: int, rng: np.random.Generator, weights: NDArray[np.float64]
) -> NDArray[np.intp]:
    """Lloyd's k-means with farthest-point initialisation: compact, contiguous groups."""
    k = max(1, min(k, len(pts)))
    centres = [pts[rng.integers(len(pts))]]
    for _ in range(k - 1):
        d = np.min(np.linalg.norm(pts[:, None, :] - np.array(centres)[None], axis=2), axis=1)
        centres.append(pts[int(np.argmax(d))])
    c = np.array(centres)
    labels = np.zeros(len(pts), dtype=np.intp)
    for _ in range(25):
        labels = np.argmin(np.linalg.norm(pts[:, None, :] - c[None], axis=2), axis=1)
        for j in range(k):
            members = labels == j
            if members.any():
                c[j] = np.average(pts[members], axis=0, weights=weights[members])
    # Number groups from north-west to south-east, as a person reads a map.
    order = np.lexsort((c[:, 0], -np.round(c[:, 1] / 0.01)))
    rank = np.empty(k, dtype=np.intp)
    rank[order] = np.arange(k)
    return np.asarray(rank[labels])


def _to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    def back(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack([xy[:, 0] / KX + CENTER[0], xy[:, 1] + CENTER[1]])

    return shapely.transform(geom, back)


def _multi(geom: BaseGeometry) -> BaseGeometry:
    return geom if geom.geom_type == "MultiPolygon" else shapely.multipolygons([geom])


def build_city() -> City:
    """The whole geography, identical on every run."""
    rng = np.random.default_rng(SEED)
    pts = _relaxed_points(rng)
    frame = shapely.box(*(pts.min(axis=0) - 0.01), *(pts.max(axis=0) + 0.01))
    keep = _inside_outline(pts[:, 0], pts[:, 1])
    cells_xy = _voronoi(pts, frame)[keep]
    gen = pts[keep]
    density = _density(gen[:, 0], gen[:, 1])
    cells = np.array([_to_lonlat(g) for g in cells_xy], dtype=object)
    area_km2 = shapely.area(cells_xy) * 111.2**2

    city = City()
    n_districts = len(vocab.DISTRICTS)
    district_of = _kmeans(gen, n_districts, rng, density)
    street_no = 0
    for d, (d_code, d_zh, d_en) in enumerate(vocab.DISTRICTS):
        d_idx = np.flatnonzero(district_of == d)
        district = len(city.areas)
        city.areas.append(Area(d_code, d_zh, d_en, "district", None, _multi(_union(cells, d_idx))))
        street_of = _kmeans(gen[d_idx], STREETS_PER_DISTRICT, rng, density[d_idx])
        for s in range(int(street_of.max()) + 1):
            s_idx = d_idx[street_of == s]
            s_zh, s_en = vocab.STREETS[street_no % len(vocab.STREETS)]
            street_no += 1
            street = len(city.areas)
            city.areas.append(
                Area(
                    f"{d_code}{s + 1:03d}",
                    s_zh,
                    s_en,
                    "street",
                    district,
                    _multi(_union(cells, s_idx)),
                )
            )
            k = round(
                len(s_idx) / max(1.0, len(d_idx) / STREETS_PER_DISTRICT / COMMUNITIES_PER_STREET)
            )
            community_of = _kmeans(gen[s_idx], k, rng, density[s_idx])
            for c in range(int(community_of.max()) + 1):
                c_idx = s_idx[community_of == c]
                _add_community(city, cells, c_idx, street, c, density, area_km2, rng)
    _sum_population(city)
    return city


def _union(cells: NDArray[np.object_], idx: NDArray[np.intp]) -> BaseGeometry:
    return shapely.union_all(cells[idx])


def _add_community(
    city: City,
    cells: NDArray[np.object_],
    idx: NDArray[np.intp],
    street: int,
    c: int,
    density: NDArray[np.float64],
    area_km2: NDArray[np.float64],
    rng: np.random.Generator,
) -> None:
    parent = city.areas[street]
    word_zh, word_en = vocab.COMMUNITY_WORDS[(len(city.areas) * 7) % len(vocab.COMMUNITY_WORDS)]
    community = len(city.areas)
    city.areas.append(
        Area(
            f"{parent.code}{c + 1:03d}",
            f"{word_zh}社区",
            f"{word_en} Community",
            "community",
            street,
            _multi(_union(cells, idx)),
        )
    )
    for j, i in enumerate(idx):
        # Shanghai's central districts hold roughly 20,000–40,000 people per km².
        pop = int(area_km2[i] * 20_000 * density[i] * rng.uniform(0.8, 1.2))
        risk = rng.choice(["low", "medium", "high"], p=[0.9, 0.08, 0.02])
        city.cells.append(
            Cell(
                code=f"{city.areas[community].code}{j + 1:02d}",
                name=f"{word_zh}社区第{j + 1}网格",
                community=community,
                geom=_multi(cells[i]),
                population=pop,
                health_risk=str(risk),
                worker=city.worker_count + j // 2,  # one grid worker for every two cells
                weight=float(density[i] * area_km2[i]),
            )
        )
    city.worker_count += (len(idx) + 1) // 2


def _sum_population(city: City) -> None:
    for cell in city.cells:
        area: int | None = cell.community
        while area is not None:
            city.areas[area].population += cell.population
            area = city.areas[area].parent
