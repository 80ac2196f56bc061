// Where a new incident happens, chosen on the map: a point (one click, or the map's centre,
// with the level's reach) or an area (clicks add corners; 完成范围 closes it, at least three).
// What is chosen is drawn at once (incident_map.js) and becomes ActivatePlan's `point` or `area`.
import { formatDistance, t, tf } from "./i18n.js";
import * as drawing from "./incident_map.js";
import { LEVEL_REACH_M } from "./incident_words.js";

const $ = (id) => document.getElementById(id);
let map = null;
let mode = null; // "point" | "area" while the map's clicks are taken
let corners = []; // the area being drawn, [lon, lat] each
let chosen = null; // {geometry, reachM}
let say = () => {};

const level = () => $("em-level").value;

function show() {
  $("em-place").textContent = text();
  $("em-pick").setAttribute("aria-pressed", String(mode === "point"));
  $("em-draw").setAttribute("aria-pressed", String(mode === "area"));
  $("em-draw-done").hidden = mode !== "area";
  map.getCanvas().style.cursor = mode ? "crosshair" : "";
  if (mode === "area") drawing.preview(map, corners.length ? { geometry: { type: "LineString", coordinates: corners } } : null);
  else drawing.preview(map, chosen);
}

function text() {
  if (mode === "area") return tf("em_drawing", { n: corners.length });
  if (!chosen) return t("em_no_place");
  if (chosen.geometry.type === "Polygon") return tf("em_area", { n: chosen.geometry.coordinates[0].length - 1 });
  const [lon, lat] = chosen.geometry.coordinates;
  return tf("em_place", { lon: lon.toFixed(5), lat: lat.toFixed(5), reach: formatDistance(chosen.reachM) });
}

function point(lngLat) {
  chosen = { geometry: { type: "Point", coordinates: [lngLat.lng, lngLat.lat] }, reachM: LEVEL_REACH_M[level()] };
}

function setMode(next) {
  mode = next;
  corners = [];
  if (next === "point") say(t("em_picking"));
  else if (next === "area") say(t("em_draw_help"));
  show();
}

function finishArea() {
  if (corners.length < 3) { say(t("em_area_short")); return; }
  chosen = { geometry: { type: "Polygon", coordinates: [[...corners, corners[0]]] }, reachM: 0 };
  mode = null;
  corners = [];
  say("");
  show();
  $("em-activate").focus();
}

/** A map click: true when the place picker took it. */
export function onMapClick(event) {
  if (mode === "point") {
    point(event.lngLat);
    mode = null;
    say("");
    show();
    $("em-activate").focus();
    return true;
  }
  if (mode === "area") {
    corners.push([event.lngLat.lng, event.lngLat.lat]);
    show();
    return true;
  }
  return false;
}

/** ActivatePlan's place variables ({point} or {area}), or null when none is chosen. */
export function variables() {
  if (!chosen) return null;
  const g = chosen.geometry;
  return g.type === "Point" ? { point: { lon: g.coordinates[0], lat: g.coordinates[1] } } : { area: g };
}

/** Forget the place and stop taking clicks. */
export function clear() {
  mode = null;
  corners = [];
  chosen = null;
  if (map) show();
}

/** Word it again (a change of language). */
export function retext() { $("em-place").textContent = text(); }

export function setup(m, sayFn) {
  map = m;
  say = sayFn;
  $("em-place").textContent = text();
  $("em-pick").addEventListener("click", () => setMode(mode === "point" ? null : "point"));
  $("em-draw").addEventListener("click", () => setMode(mode === "area" ? null : "area"));
  $("em-draw-done").addEventListener("click", finishArea);
  $("em-centre").addEventListener("click", () => { mode = null; point(map.getCenter()); say(""); show(); });
  $("em-level").addEventListener("change", () => {
    if (chosen?.geometry.type === "Point") { chosen.reachM = LEVEL_REACH_M[level()]; show(); }
  });
}
