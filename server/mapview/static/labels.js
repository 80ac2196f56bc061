// One label point per administrative area. Labels placed from vector tiles repeat in every tile
// (and every over-zoomed quarter tile) a polygon crosses; these come from the areas' polygons
// (GraphQL MapAreaLabels, read once) as points inside each polygon.
import { query } from "./gql.js";

let points = null;

function ringCentroid(ring) {
  let a = 0, x = 0, y = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
    a += f; x += (ring[j][0] + ring[i][0]) * f; y += (ring[j][1] + ring[i][1]) * f;
  }
  return a === 0 ? ring[0] : [x / (3 * a), y / (3 * a)];
}

function inside([px, py], ring) {
  let hit = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > py) !== (yj > py) && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

/** A point inside the ring: its centroid, or the middle of the widest span at that latitude. */
export function labelPoint(ring) {
  const c = ringCentroid(ring);
  if (inside(c, ring)) return c;
  const xs = [];
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > c[1]) !== (yj > c[1])) xs.push(((xj - xi) * (c[1] - yi)) / (yj - yi) + xi);
  }
  xs.sort((a, b) => a - b);
  let best = [ring[0][0], ring[0][1]], width = -1;
  for (let k = 0; k + 1 < xs.length; k += 2) {
    if (xs[k + 1] - xs[k] > width) { width = xs[k + 1] - xs[k]; best = [(xs[k] + xs[k + 1]) / 2, c[1]]; }
  }
  return best;
}

function largestRing(geometry) {
  const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
  let best = polygons[0][0], area = -1;
  for (const p of polygons) {
    const ring = p[0];
    let a = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) a += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
    if (Math.abs(a) > area) { area = Math.abs(a); best = ring; }
  }
  return best;
}

/** The label points as GeoJSON (fetched once per page). */
export async function areaLabels() {
  if (!points) {
    points = query("map_view.graphql", "MapAreaLabels").then(({ data }) => ({
      type: "FeatureCollection",
      features: data.adminAreas.nodes.map((a) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: labelPoint(largestRing(a.geometry)) },
        properties: { id: a.id, level: a.level.toLowerCase(), name_zh: a.nameZh, name_en: a.nameEn },
      })),
    }));
    points.catch(() => { points = null; });
  }
  return points;
}
