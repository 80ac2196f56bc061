"""The road graph as the generator draws it (seed.road_network): vertices found by position,
edges between them, and the check that every vertex can reach every other by driving.

Vertices are keyed by their position rounded to a nanodegree, so two roads that meet at a
junction computed once share it exactly. :func:`keep_strongly_connected` makes two-way again
the one-way streets that would cut a vertex off (Kosaraju's strongly connected components),
then leaves out whatever no junction joins to the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

XY = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Edge:
    source: int  # vertex index
    target: int
    coords: tuple[XY, ...]  # lon, lat from source to target
    road_class: str
    speed_kmh: int
    lanes: int
    name_zh: str
    name_en: str
    one_way: bool = False  # only source → target


class Graph:
    def __init__(self) -> None:
        self.ids: dict[tuple[float, float], int] = {}
        self.vertices: list[tuple[float, float]] = []
        self.edges: list[Edge] = []

    def vertex(self, xy: tuple[float, float]) -> int:
        key = (round(xy[0], 9), round(xy[1], 9))
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.vertices)
            self.vertices.append(key)
        return found

    def add(self, coords: list[tuple[float, float]], kind: tuple[str, int, int],
            names: tuple[str, str], one_way: bool = False) -> None:  # fmt: skip
        a, b = self.vertex(coords[0]), self.vertex(coords[-1])
        if a == b:
            return  # a sliver where two junctions fall within a nanodegree
        pts = (self.vertices[a], *((round(x, 9), round(y, 9)) for x, y in coords[1:-1]),
               self.vertices[b])  # fmt: skip
        self.edges.append(Edge(a, b, pts, kind[0], kind[1], kind[2], *names, one_way))


def strong_components(n: int, edges: list[Edge]) -> list[int]:
    """The strongly connected component of each vertex (Kosaraju, iterative)."""
    out: list[list[int]] = [[] for _ in range(n)]
    back: list[list[int]] = [[] for _ in range(n)]
    for e in edges:
        out[e.source].append(e.target)
        back[e.target].append(e.source)
        if not e.one_way:
            out[e.target].append(e.source)
            back[e.source].append(e.target)
    order: list[int] = []
    seen = [False] * n
    for s in range(n):
        if seen[s]:
            continue
        seen[s] = True
        stack = [(s, 0)]
        while stack:
            v, k = stack[-1]
            if k < len(out[v]):
                stack[-1] = (v, k + 1)
                w = out[v][k]
                if not seen[w]:
                    seen[w] = True
                    stack.append((w, 0))
            else:
                stack.pop()
                order.append(v)
    comp = [-1] * n
    for c, s in enumerate(reversed(order)):
        if comp[s] != -1:
            continue
        comp[s] = c
        todo = [s]
        while todo:
            v = todo.pop()
            for w in back[v]:
                if comp[w] == -1:
                    comp[w] = c
                    todo.append(w)
    return comp


def keep_strongly_connected(g: Graph) -> None:
    """Two-way again for the one-way streets that would leave a vertex unable to reach the
    rest (or be reached), until every vertex reaches every other."""
    while True:
        comp = strong_components(len(g.vertices), g.edges)
        broken = [
            k for k, e in enumerate(g.edges) if e.one_way and comp[e.source] != comp[e.target]
        ]
        if not broken:
            break
        for k in broken:
            g.edges[k] = replace(g.edges[k], one_way=False)
    # What remains apart is a piece no junction joins (an arterial running along the outline's
    # own street): left out, with its vertices.
    giant = Counter(comp).most_common(1)[0][0]
    kept = [e for e in g.edges if comp[e.source] == giant]
    g.ids, g.vertices, g.edges = {}, [], []
    for e in kept:
        a, b = g.vertex(e.coords[0]), g.vertex(e.coords[-1])
        g.edges.append(replace(e, source=a, target=b))
