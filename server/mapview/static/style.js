// The map's style: the city's own layers as the base (no online base map), from the vector tiles
// at /ogc/collections/{c}/tiles/WebMercatorQuad/{z}/{y}/{x}. No `glyphs` URL: MapLibre draws
// label text with the browser's own fonts (TinySDF), so Chinese needs no glyph server.
import { BUILDING_USES, CAMERA_STATUSES, CASE_STATUSES, FACILITY_CATEGORIES, SENSOR_STATES, WARNING_SEVERITIES } from "./vocab.js";

const OGC = new URL("../../ogc/", import.meta.url);
/** Building footprints are drawn from this zoom (their tiles hold them from z14). */
export const BUILDINGS_MIN_ZOOM = 15;
/** Tiles are cut up to this zoom and over-zoomed beyond (their points are exact anyway). */
export const TILE_MAX_ZOOM = 16;
export const CITY_BOUNDS = [[121.40, 31.16], [121.58, 31.32]];

/** A collection's tile URL template, with the server-side CQL2 `filter` when given. */
export function tileUrl(collection, filter = "") {
  // Built from the page's origin: the TileJSON's absolute URLs follow ONEMAP_SERVER_PUBLIC_URL,
  // which a reverse proxy or another port can make differ from where this page came from.
  const template = `collections/${collection}/tiles/WebMercatorQuad/{z}/{y}/{x}`;
  const url = decodeURI(new URL(template, OGC).href);
  return filter ? `${url}?filter=${encodeURIComponent(filter)}` : url;
}

function tiles(collection) {
  return {
    type: "vector",
    tiles: [tileUrl(collection)],
    minzoom: 0,
    maxzoom: TILE_MAX_ZOOM,
    bounds: [121.3, 31.0, 121.7, 31.5],
  };
}

function matchColour(property, table, fallback) {
  const pairs = Object.entries(table).flatMap(([code, entry]) => [code, entry[2]]);
  return ["match", ["get", property], ...pairs, fallback];
}

/** Both names on a label, Chinese first (the map is read in both). */
const bilingual = (zh, en) => ["format", ["get", zh], {}, "\n", {}, ["get", en], { "font-scale": 0.8 }];
const FONT = ["Noto Sans Regular"]; // a name only: drawn locally with the browser's sans-serif

function label(id, [source, layer], filter, field, minzoom, maxzoom, size, colour) {
  return {
    id, type: "symbol", source, "source-layer": layer, filter, minzoom, maxzoom,
    layout: { "text-field": field, "text-font": FONT, "text-size": size,
      "text-max-width": 8, "text-padding": 4 },
    paint: { "text-color": colour, "text-halo-color": "#ffffff", "text-halo-width": 1.4 },
  };
}

const AREAS = ["area_labels"];
const level = (name) => ["==", ["get", "level"], name];
const stateFlag = (flag) => ["boolean", ["feature-state", flag], false];
// A live update sets feature-state "status" on a case; the tile's own status is the fallback.
const caseStatus = ["coalesce", ["feature-state", "status"], ["get", "status"]];
const cameraStatus = ["coalesce", ["feature-state", "status"], ["get", "status"]];
// A sensor alarm notice sets feature-state "state" on its device; the tile's state otherwise.
const sensorState = ["coalesce", ["feature-state", "state"], ["get", "state"]];

// Road classes as drawn: [filter, min zoom, casing colour, line colour, widths at z10/z13/z17].
const ROAD_CLASSES = [
  ["minor", ["match", ["get", "road_class"], ["local", "lane"], true, false], 12.5, "#d5d2c8", "#ffffff", [0, 1, 7]],
  ["arterial", ["==", ["get", "road_class"], "arterial"], 9, "#d9b65b", "#fbe39b", [0.8, 2.2, 10]],
  ["expressway", ["==", ["get", "road_class"], "expressway"], 8, "#c46a1a", "#f5a45d", [1.6, 3.4, 14]],
];
const roadWidth = ([a, b, c], extra) =>
  ["interpolate", ["exponential", 1.6], ["zoom"], 10, a + extra, 13, b + extra, 17, c + extra];

function roadLayers() {
  const line = (id, filter, minzoom, colour, width) => ({
    id, type: "line", source: "roads", "source-layer": "roads", filter, minzoom,
    layout: { "line-join": "round", "line-cap": "round" },
    paint: { "line-color": colour, "line-width": width },
  });
  const casings = ROAD_CLASSES.map(([name, filter, minzoom, casing, , widths]) =>
    line(`roads-${name}-case`, filter, minzoom, casing, roadWidth(widths, 1.2)));
  const fills = ROAD_CLASSES.map(([name, filter, minzoom, , colour, widths]) =>
    line(`roads-${name}`, filter, minzoom, colour, roadWidth(widths, 0)));
  return [...casings, ...fills];
}

// Road names along the roads: main roads from z13.5, local streets from z16.
function roadLabels() {
  const names = { ...label("road-labels", ["roads", "roads"],
    ["match", ["get", "road_class"], ["expressway", "arterial"], true, false],
    bilingual("name_zh", "name_en"), 13.5, 24, 11, "#5b4a2b") };
  names.layout = { ...names.layout, "symbol-placement": "line", "text-max-angle": 35,
    "symbol-spacing": 320 };
  const local = { ...label("road-labels-local", ["roads", "roads"],
    ["match", ["get", "road_class"], ["local", "lane"], true, false],
    ["get", "name_zh"], 16, 24, 10, "#6b7280") };
  local.layout = { ...local.layout, "symbol-placement": "line", "symbol-spacing": 260 };
  return [names, local];
}

/**
 * The style for a set of visible collections (the public ones, or what a staff token may see).
 */
/** The colour of a catalogue layer: a stable hue from its id. */
function catalogueColour(id) {
  let h = 0;
  for (const c of id) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h}, 65%, 42%)`;
}

/**
 * The map layers of the catalogue's department layers (docs/catalogue.md), drawn by their
 * geometry type: polygons as a translucent fill and an outline, lines as lines, points as
 * discs. Each layer's ids start with `catalogue:<id>` (the legend toggles them).
 */
export function catalogueLayers(catalogue) {
  const out = [];
  for (const layer of catalogue) {
    const source = layer.id;
    const colour = catalogueColour(layer.id);
    const base = { source, "source-layer": layer.id, metadata: { title: layer.title } };
    const type = layer.geometry_type;
    if (type.endsWith("Polygon")) {
      out.push({ id: `catalogue:${layer.id}:fill`, type: "fill", ...base,
        paint: { "fill-color": colour, "fill-opacity": 0.18 } });
      out.push({ id: `catalogue:${layer.id}:line`, type: "line", ...base,
        paint: { "line-color": colour, "line-width": 1.5 } });
    } else if (type.endsWith("LineString")) {
      out.push({ id: `catalogue:${layer.id}:line`, type: "line", ...base,
        paint: { "line-color": colour, "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1, 16, 3] } });
    } else {
      out.push({ id: `catalogue:${layer.id}:point`, type: "circle", ...base,
        paint: { "circle-color": colour, "circle-radius": 4, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    }
  }
  return out;
}

export function buildStyle(collections, catalogue = []) {
  const sources = {};
  for (const layer of catalogue) sources[layer.id] = tiles(layer.id);
  // Only the layers the server's policy opens to the caller (GET /mapview/access): buildings
  // are internal, so a public or citizen map neither has their source nor asks for their tiles.
  for (const c of ["admin_areas", "grid_cells", "roads", "buildings", "facilities", "cases", "cameras", "sensors"]) {
    if (collections.has(c)) sources[c] = tiles(c);
  }
  if (sources.buildings) sources.buildings.minzoom = BUILDINGS_MIN_ZOOM - 1;
  // One point per area (labels.js), filled once the page has them.
  sources.area_labels = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
  sources.incident = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
  sources.live = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
  // The warnings in force (warnings.js), public: every view has them.
  sources.warnings = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
  const severityColour = ["match", ["get", "severity"],
    ...Object.entries(WARNING_SEVERITIES).flatMap(([code, e]) => [code, e[2]]), "#8d99ae"];

  const statusColour = ["match", caseStatus,
    ...Object.entries(CASE_STATUSES).flatMap(([code, e]) => [code, e[2]]), "#555"];
  const layers = [
    { id: "land", type: "background", paint: { "background-color": "#eef0ea" } },
    { id: "districts-fill", type: "fill", source: "admin_areas", "source-layer": "admin_areas",
      filter: level("district"), paint: { "fill-color": "#fbfaf6", "fill-opacity": 1 } },
    // The roads, the base of the map: on the land, under the grid, the areas' lines and the
    // points. Expressways and arterials from the city view on (the tiles hold only those below
    // z12), local streets and lanes when a district fills the screen; a casing under each.
    ...roadLayers(),
    { id: "grid-risk", type: "fill", source: "grid_cells", "source-layer": "grid_cells",
      layout: { visibility: "none" },
      paint: { "fill-color": ["match", ["get", "health_risk"], "high", "#e63946", "medium", "#f4a261", "#90be6d"],
        "fill-opacity": 0.28 } },
    { id: "grid-hit", type: "fill", source: "grid_cells", "source-layer": "grid_cells",
      paint: { "fill-color": "#ff7b00", "fill-opacity": ["case", stateFlag("hit"), 0.22, 0] } },
    { id: "grid-lines", type: "line", source: "grid_cells", "source-layer": "grid_cells", minzoom: 12.5,
      paint: { "line-color": "#9aa5b1", "line-width": ["interpolate", ["linear"], ["zoom"], 13, 0.3, 16, 1],
        "line-dasharray": [3, 2] } },
    { id: "communities", type: "line", source: "admin_areas", "source-layer": "admin_areas",
      filter: level("community"), minzoom: 12,
      paint: { "line-color": "#7d8a96", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.4, 16, 1.4] } },
    { id: "streets", type: "line", source: "admin_areas", "source-layer": "admin_areas",
      filter: level("street"), minzoom: 10,
      paint: { "line-color": "#56657a", "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.6, 16, 2.2] } },
    { id: "districts", type: "line", source: "admin_areas", "source-layer": "admin_areas",
      filter: level("district"),
      paint: { "line-color": "#2f3e52", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 1.2, 16, 3.5] } },
    // Building footprints (internal), by use, from z15: over the grid, under the points.
    { id: "buildings", type: "fill", source: "buildings", "source-layer": "buildings", minzoom: BUILDINGS_MIN_ZOOM,
      paint: { "fill-color": matchColour("use", BUILDING_USES, "#cccccc"), "fill-opacity": 0.75 } },
    { id: "buildings-edge", type: "line", source: "buildings", "source-layer": "buildings", minzoom: BUILDINGS_MIN_ZOOM,
      paint: { "line-color": "#6b5e4a", "line-width": ["interpolate", ["linear"], ["zoom"], 15, 0.4, 18, 1.2] } },
    { id: "warnings-fill", type: "fill", source: "warnings",
      paint: { "fill-color": severityColour, "fill-opacity": 0.22 } },
    { id: "warnings-edge", type: "line", source: "warnings",
      paint: { "line-color": severityColour, "line-width": 2.5 } },
    { id: "cases-heat", type: "heatmap", source: "cases", "source-layer": "cases", maxzoom: 15,
      paint: {
        "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 10, 5, 14, 16],
        "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 10, 0.12, 12, 0.3, 14, 0.8],
        // An aggregated tile's cell (docs/ogc.md) weighs its count; a case its priority.
        "heatmap-weight": ["*", ["coalesce", ["get", "count"], 1],
          ["match", ["get", "priority"], "urgent", 2, "high", 1.5, 1]],
        "heatmap-opacity": ["interpolate", ["linear"], ["zoom"], 13, 0.75, 15, 0],
        "heatmap-color": ["interpolate", ["linear"], ["heatmap-density"],
          0, "rgba(255,255,255,0)", 0.2, "#fde68a", 0.5, "#f59e0b", 0.8, "#dc2626", 1, "#7f1d1d"],
      } },
    // Where a tile held more cases than the server draws one by one, it sends cells with a
    // count: a disc whose area grows with it (opened by a click: the count and its statuses).
    { id: "case-cells", type: "circle", source: "cases", "source-layer": "cases", minzoom: 13,
      filter: ["has", "count"],
      paint: { "circle-color": "#7f1d1d", "circle-opacity": 0.55, "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 1,
        "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 4, 10, 12, 40, 28] } },
    { id: "cases", type: "circle", source: "cases", "source-layer": "cases", minzoom: 13,
      // Rings (facilities are dots): the ring's colour is the status, black once changed live.
      paint: { "circle-color": "#ffffff", "circle-opacity": 0.85,
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 13, 2.5, 17, 6],
        "circle-stroke-color": ["case", stateFlag("live"), "#111111", statusColour],
        "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 13, 1.5, 17, 3] } },
    { id: "facilities", type: "circle", source: "facilities", "source-layer": "facilities", minzoom: 12.5,
      paint: { "circle-color": matchColour("category", FACILITY_CATEGORIES, "#666"),
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 12.5, 2.5, 14, 4.5, 17, 8],
        "circle-stroke-color": "#ffffff", "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 11, 0.4, 15, 1.5] } },
    { id: "cameras", type: "circle", source: "cameras", "source-layer": "cameras", minzoom: 11,
      paint: { "circle-color": ["match", cameraStatus,
        ...Object.entries(CAMERA_STATUSES).flatMap(([code, e]) => [code, e[2]]), "#555"],
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 11, 2.5, 15, 5.5, 17, 8],
      "circle-stroke-color": "#111111", "circle-stroke-width": 1.2 } },
    // A dot in its state's colour with a white ring, larger the worse the state, so an alarm
    // stands out among the facilities and cases around it.
    { id: "sensors", type: "circle", source: "sensors", "source-layer": "sensors", minzoom: 11,
      filter: ["!", ["has", "count"]],
      paint: { "circle-color": ["match", sensorState,
        ...Object.entries(SENSOR_STATES).flatMap(([code, e]) => [code, e[2]]), "#555"],
      // zoom must lead the expression (MapLibre): the state scales each stop
      "circle-radius": ["interpolate", ["linear"], ["zoom"],
        ...[[11, 2.5], [15, 5], [17, 7]].flatMap(([z, r]) =>
          [z, ["*", r, ["match", sensorState, "alarm", 1.6, "warning", 1.3, 1]]])],
      "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } },
    { id: "live", type: "circle", source: "live",
      paint: { "circle-color": ["match", ["get", "status"],
        ...Object.entries(CASE_STATUSES).flatMap(([code, e]) => [code, e[2]]), "#555"],
      "circle-radius": 7, "circle-stroke-color": "#111111", "circle-stroke-width": 2.5 } },
    { id: "incident-area", type: "fill", source: "incident", filter: ["==", ["get", "kind"], "area"],
      paint: { "fill-color": "#ff7b00", "fill-opacity": 0.08 } },
    { id: "incident-edge", type: "line", source: "incident", filter: ["==", ["get", "kind"], "area"],
      paint: { "line-color": "#ff7b00", "line-width": 2, "line-dasharray": [2, 1] } },
    { id: "incident-points", type: "circle", source: "incident", filter: ["!=", ["get", "kind"], "area"],
      paint: { "circle-color": ["match", ["get", "kind"], "centre", "#000000", "hazard", "#9d0208",
        "affected", "#1d4ed8", "resource", "#2a9d8f", "camera", "#6a4c93", "case", "#e63946", "#444"],
      "circle-radius": ["match", ["get", "kind"], "centre", 7, 6],
      "circle-stroke-color": ["match", ["get", "kind"], "centre", "#ff7b00", "#ffffff"],
      "circle-stroke-width": ["match", ["get", "kind"], "centre", 3, 2] } },
    ...roadLabels(),
    label("district-labels", AREAS, level("district"), bilingual("name_zh", "name_en"), 9, 12.5, 15, "#1f2a37"),
    label("street-labels", AREAS, level("street"), bilingual("name_zh", "name_en"), 12.5, 14.5, 12, "#334155"),
    label("community-labels", AREAS, level("community"), ["get", "name_zh"], 14.5, 17, 11, "#475569"),
    label("grid-labels", ["grid_cells", "grid_cells"], null, ["get", "name"], 16, 24, 10, "#64748b"),
    { ...label("facility-labels", ["facilities", "facilities"], null, bilingual("name_zh", "name_en"), 15.5, 24, 10.5, "#1f2937"),
      layout: { "text-field": bilingual("name_zh", "name_en"), "text-font": FONT, "text-size": 10.5,
        "text-anchor": "top", "text-offset": [0, 0.8], "text-max-width": 9, "text-optional": true } },
    { ...label("incident-labels", ["incident"], ["==", ["get", "kind"], "hazard"], ["get", "name"], 12, 24, 11, "#9d0208"),
      layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 11, "text-anchor": "top",
        "text-offset": [0, 0.8] } },
  ];
  // Department layers over the base map, under the grid's lines, the areas' and the points.
  const under = layers.findIndex((l) => l.id === "grid-risk");
  layers.splice(under, 0, ...catalogueLayers(catalogue));
  for (const l of layers) {
    if (l.filter === null) delete l.filter;
    if (l["source-layer"] === undefined) delete l["source-layer"]; // GeoJSON sources have none
  }
  return {
    version: 8,
    name: "OneMap",
    sources,
    layers: layers.filter((l) => !l.source || sources[l.source]),
  };
}
