// The incident's plots (指挥标绘) on the map: areas filled, lines solid or dashed, points as
// circles, each in its symbol's colour (PLOT_STYLES) with its label beside it; and the plot
// being drawn (its corners so far). Its own GeoJSON source, above the emergency layers, added
// again after a style change.
import { PLOT_STYLES } from "./incident_plot_words.js";

const SOURCE = "emergency-plots";
const EMPTY = { type: "FeatureCollection", features: [] };
const FONT = ["Noto Sans Regular"]; // a name only: drawn with the browser's own fonts
/** The layers a click opens a plot from, most specific first (app.js CLICKABLE). */
export const PLOT_LAYERS = ["emergency-plot-points", "emergency-plot-lines", "emergency-plot-dashes"];
export const PLOT_FILL = "emergency-plot-fill";

let shown = []; // the plots' features
let drafted = []; // the plot being drawn

const is = (type) => ["==", ["geometry-type"], type];
const plotted = ["==", ["get", "kind"], "plot"];

function ensure(map) {
  if (map.getSource(SOURCE)) return true;
  try {
    map.addSource(SOURCE, { type: "geojson", data: EMPTY });
  } catch (_) {
    return false; // the style is still loading: app.js redraws on its style.load
  }
  const colour = ["get", "colour"];
  map.addLayer({ id: PLOT_FILL, type: "fill", source: SOURCE, filter: ["all", plotted, is("Polygon")],
    paint: { "fill-color": colour, "fill-opacity": 0.25 } });
  const line = (id, dashed) => map.addLayer({ id, type: "line", source: SOURCE,
    filter: ["all", plotted, ["!", is("Point")], ["==", ["get", "dashed"], dashed]],
    layout: { "line-join": "round" },
    paint: { "line-color": colour, "line-width": 3.5, ...(dashed ? { "line-dasharray": [2, 1.5] } : {}) } });
  line("emergency-plot-lines", false);
  line("emergency-plot-dashes", true);
  map.addLayer({ id: "emergency-plot-draft", type: "line", source: SOURCE,
    filter: ["all", ["==", ["get", "kind"], "draft"], ["!", is("Point")]],
    paint: { "line-color": colour, "line-width": 2, "line-dasharray": [1, 1] } });
  map.addLayer({ id: "emergency-plot-points", type: "circle", source: SOURCE,
    filter: ["all", ["in", ["get", "kind"], ["literal", ["plot", "draft"]]], is("Point")],
    paint: { "circle-color": colour, "circle-radius": ["match", ["get", "kind"], "draft", 4, 8],
      "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
  map.addLayer({ id: "emergency-plot-labels", type: "symbol", source: SOURCE, filter: ["==", ["get", "kind"], "label"],
    layout: { "text-field": ["get", "label"], "text-font": FONT, "text-size": 13, "text-offset": [0, 1.2],
      "text-anchor": "top", "text-allow-overlap": true },
    paint: { "text-color": colour, "text-halo-color": "#ffffff", "text-halo-width": 2 } });
  return true;
}

function apply(map) {
  if (!ensure(map)) return;
  map.getSource(SOURCE).setData({ type: "FeatureCollection", features: [...shown, ...drafted] });
}

/** Where a plot's label goes: the point itself, a line's middle corner, an area's average corner. */
function labelPoint(g) {
  if (g.type === "Point") return g.coordinates;
  if (g.type === "LineString") return g.coordinates[Math.floor(g.coordinates.length / 2)];
  const ring = g.coordinates[0].slice(0, -1);
  return [0, 1].map((k) => ring.reduce((s, p) => s + p[k], 0) / ring.length);
}

const style = (symbol) => PLOT_STYLES[symbol] || PLOT_STYLES.note;

/** Draw plots ({id, symbol (lower case), label, geometry} each), or none. */
export function draw(map, plots) {
  shown = plots.flatMap((p) => {
    const s = style(p.symbol);
    const properties = { id: String(p.id), symbol: p.symbol, label: p.label, colour: s.colour, dashed: Boolean(s.dashed) };
    const own = { type: "Feature", geometry: p.geometry, properties: { ...properties, kind: "plot" } };
    if (!p.label) return [own];
    return [own, { type: "Feature", geometry: { type: "Point", coordinates: labelPoint(p.geometry) },
      properties: { ...properties, kind: "label" } }];
  });
  apply(map);
}

/** Draw the plot being made (its symbol and corners so far), or nothing (null). */
export function drawDraft(map, draft) {
  const colour = draft ? style(draft.symbol).colour : "";
  const corner = (xy) => ({ type: "Feature", geometry: { type: "Point", coordinates: xy }, properties: { kind: "draft", colour } });
  const pts = draft?.points || [];
  drafted = pts.length > 1
    ? [{ type: "Feature", geometry: { type: "LineString", coordinates: draft.shape === "polygon" && pts.length > 2 ? [...pts, pts[0]] : pts },
      properties: { kind: "draft", colour } }, ...pts.map(corner)]
    : pts.map(corner);
  apply(map);
}

/** Draw again on a new style (the source and layers went with the old one). */
export function redraw(map) { apply(map); }
