// The emergency mode on the map: the incident's place (its point and reach circle, or its
// area), the affected units, hazard sources, cameras, sensor alarms and the resources by drive
// time as markers, the lifelines as green routes on the roads, and the grid
// cells touched, highlighted and labelled with their population. Its own GeoJSON source and
// layers, added on top of whatever style is loaded (after a style change too).
import { circle } from "./incident.js";

const SOURCE = "emergency";
const EMPTY = { type: "FeatureCollection", features: [] };
const FONT = ["Noto Sans Regular"]; // a name only: drawn with the browser's own fonts
export const POINTS = "emergency-points";
const KIND_COLOURS = ["centre", "#000000", "affected", "#1d4ed8", "hazard", "#9d0208",
  "camera", "#6a4c93", "alarm", "#e63946", "resource", "#16a34a"];

let shown = []; // the open incident's features
let previewed = []; // the place being chosen for a new one
let cells = []; // the grid cells touched: [id, population]

function ensure(map) {
  if (map.getSource(SOURCE)) return true;
  try {
    map.addSource(SOURCE, { type: "geojson", data: EMPTY });
  } catch (_) {
    return false; // the style is still loading: app.js redraws on its style.load
  }
  map.addLayer({ id: "emergency-area", type: "fill", source: SOURCE, filter: ["==", ["get", "kind"], "area"],
    paint: { "fill-color": "#d00000", "fill-opacity": 0.07 } });
  map.addLayer({ id: "emergency-edge", type: "line", source: SOURCE, filter: ["==", ["get", "kind"], "area"],
    paint: { "line-color": "#d00000", "line-width": 2.5, "line-dasharray": [3, 1] } });
  if (map.getSource("grid_cells")) {
    const cellLayer = { source: "grid_cells", "source-layer": "grid_cells", filter: ["in", ["id"], ["literal", []]] };
    map.addLayer({ id: "emergency-cells", type: "line", ...cellLayer,
      paint: { "line-color": "#d00000", "line-width": 2 } });
    map.addLayer({ id: "emergency-cell-labels", type: "symbol", ...cellLayer,
      layout: { "text-field": ["to-string", ["get", "population"]], "text-font": FONT, "text-size": 12 },
      paint: { "text-color": "#7f1d1d", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } });
  }
  map.addLayer({ id: "emergency-lifelines", type: "line", source: SOURCE, filter: ["==", ["get", "kind"], "lifeline"],
    layout: { "line-cap": "round", "line-join": "round" },
    paint: { "line-color": "#16a34a", "line-width": 5, "line-opacity": 0.85 } });
  map.addLayer({ id: POINTS, type: "circle", source: SOURCE,
    filter: ["!", ["in", ["get", "kind"], ["literal", ["area", "lifeline"]]]],
    paint: { "circle-color": ["match", ["get", "kind"], ...KIND_COLOURS, "#444444"],
      "circle-radius": ["match", ["get", "kind"], "centre", 8, 6],
      "circle-stroke-color": ["match", ["get", "kind"], "centre", "#d00000", "#ffffff"],
      "circle-stroke-width": ["match", ["get", "kind"], "centre", 3, 2] } });
  return true;
}

function apply(map) {
  if (!ensure(map)) return;
  map.getSource(SOURCE).setData({ type: "FeatureCollection", features: [...shown, ...previewed] });
  const ids = cells.map(([id]) => id);
  for (const layer of ["emergency-cells", "emergency-cell-labels"]) {
    if (map.getLayer(layer)) map.setFilter(layer, ["in", ["id"], ["literal", ids]]);
  }
}

const marker = (kind, item, name) => ({ type: "Feature", geometry: item.geometry,
  properties: { kind, id: String(item.id), name } });

/** The place of an incident (or of one being chosen): its shape on the map. */
export function place(geometry, reachM) {
  if (geometry.type === "Point") {
    return [{ type: "Feature", geometry: circle(geometry.coordinates, reachM), properties: { kind: "area" } },
      { type: "Feature", geometry, properties: { kind: "centre", id: "", name: "" } }];
  }
  return [{ type: "Feature", geometry, properties: { kind: "area" } }];
}

/** Draw an incident (EmergencyIncident as GraphQL sends it), or nothing (null). */
export function draw(map, incident) {
  const c = incident?.context;
  shown = incident ? [
    ...place(incident.geometry, incident.reachM),
    ...c.affectedUnits.map((f) => marker("affected", f, f.nameZh)),
    ...c.hazards.map((f) => marker("hazard", f, f.nameZh)),
    ...c.cameras.map((k) => marker("camera", k, k.name)),
    ...c.sensorAlarms.map((a) => marker("alarm", a, a.thing)),
    ...c.resources.map((r) => marker("resource", { ...r, geometry: { type: "Point", coordinates: [r.lon, r.lat] } }, r.nameZh)),
    ...c.lifelines.filter((x) => x.route.found && x.route.geometry).map((x) => ({ type: "Feature",
      geometry: x.route.geometry, properties: { kind: "lifeline", id: String(x.facilityId), name: x.fromFacility } })),
  ] : [];
  cells = incident ? c.gridCells.map((g) => [Number(g.id), g.population]) : [];
  apply(map);
}

/** Draw the place being chosen ({geometry, reachM}; a LineString while an area is drawn, with
 * its corners), or nothing (null). */
export function preview(map, shape) {
  const g = shape?.geometry;
  previewed = !g ? [] : g.type === "LineString"
    ? [{ type: "Feature", geometry: g, properties: { kind: "area" } },
      ...g.coordinates.map((xy) => ({ type: "Feature", geometry: { type: "Point", coordinates: xy },
        properties: { kind: "corner", id: "", name: "" } }))]
    : place(g, shape.reachM);
  apply(map);
}

/** Draw again on a new style (the source and layers went with the old one). */
export function redraw(map) { apply(map); }
