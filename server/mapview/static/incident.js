// The incident tool: pick a point, choose a radius; the incident context from GraphQL
// (incident.graphql, the contract's IncidentContext) is drawn on the map and listed — grid cells
// hit, affected units, hazard sources, resources by distance, cameras with play buttons.
import { LngLatBounds } from "./vendor/maplibre-gl/maplibre-gl.mjs";
import { el } from "./dom.js";
import { query } from "./gql.js";
import { formatDistance, name, t } from "./i18n.js";
import { cameraPopup, facilityPopup } from "./popups.js";
import { CAMERA_STATUSES, CASE_CATEGORIES, CASE_STATUSES, FACILITY_CATEGORIES } from "./vocab.js";

const EMPTY = { type: "FeatureCollection", features: [] };
let picking = false;
let hitCells = [];
let last = null; // the last answer, kept so a change of language or style redraws it

/** A circle of `radiusM` metres around [lon, lat], as a polygon (spherical Earth; fine at city scale). */
export function circle([lon, lat], radiusM, steps = 72) {
  const R = 6371008.8;
  const d = radiusM / R;
  const φ1 = (lat * Math.PI) / 180;
  const λ1 = (lon * Math.PI) / 180;
  const ring = [];
  for (let i = 0; i <= steps; i++) {
    const θ = (2 * Math.PI * i) / steps;
    const φ2 = Math.asin(Math.sin(φ1) * Math.cos(d) + Math.cos(φ1) * Math.sin(d) * Math.cos(θ));
    const λ2 = λ1 + Math.atan2(Math.sin(θ) * Math.sin(d) * Math.cos(φ1), Math.cos(d) - Math.sin(φ1) * Math.sin(φ2));
    ring.push([(λ2 * 180) / Math.PI, (φ2 * 180) / Math.PI]);
  }
  return { type: "Polygon", coordinates: [ring] };
}

const lower = (v) => (v ? String(v).toLowerCase() : v);
const point = (kind, item, extra = {}) => ({
  type: "Feature", geometry: item.geometry, properties: { kind, id: item.id, ...extra },
});

function setCells(map, ids) {
  for (const id of hitCells) if (map.getSource("grid_cells")) map.removeFeatureState({ source: "grid_cells", sourceLayer: "grid_cells", id }, "hit");
  hitCells = ids;
  for (const id of ids) if (map.getSource("grid_cells")) map.setFeatureState({ source: "grid_cells", sourceLayer: "grid_cells", id }, { hit: true });
}

function draw(map) {
  const source = map.getSource("incident");
  if (!source) return;
  if (!last) { source.setData(EMPTY); setCells(map, []); return; }
  const { centre, radiusM, incident: i } = last;
  source.setData({ type: "FeatureCollection", features: [
    { type: "Feature", geometry: circle(centre, radiusM), properties: { kind: "area" } },
    ...i.affectedUnits.map((f) => point("affected", f, { name: f.nameZh })),
    ...i.hazards.map((f) => point("hazard", f, { name: f.nameZh })),
    ...i.resources.map((f) => point("resource", f, { name: f.nameZh })),
    ...i.cameras.map((c) => point("camera", c, { name: c.name })),
    ...i.openCases.map((c) => point("case", c, { name: c.publicId })),
    { type: "Feature", geometry: { type: "Point", coordinates: centre }, properties: { kind: "centre" } },
  ] });
  setCells(map, i.gridCells.map((c) => Number(c.id)));
}

function row(item, label, sub, actions = []) {
  return el("li", { dataset: { id: item.id } },
    el("button", { class: "link", onclick: () => item.onOpen?.() }, label),
    el("span", { class: "sub" }, sub), ...actions);
}

function section(key, items, render) {
  return el("section", { class: "result", dataset: { section: key } },
    el("h3", {}, t(key), el("span", { class: "count" }, String(items.length))),
    items.length ? el("ul", {}, items.map(render)) : el("p", { class: "note" }, t("none")));
}

function list(map) {
  const box = document.getElementById("incident-results");
  if (!last) { box.replaceChildren(); return; }
  const i = last.incident;
  const fly = (g) => map.flyTo({ center: g.coordinates, zoom: Math.max(map.getZoom(), 16) });
  const facility = (f) => {
    const category = lower(f.category) || "hazard_source";
    const open = () => {
      fly(f.geometry);
      facilityPopup(map, { properties: { name_zh: f.nameZh, name_en: "", category, capacity: f.capacity } }, f.geometry.coordinates);
    };
    return row({ ...f, onOpen: open }, f.nameZh, `${name(FACILITY_CATEGORIES, category)} · ${formatDistance(f.distanceM)}`);
  };
  const camera = (c) => {
    const play = () => cameraPopup(map, c.id, { code: c.code, name: c.name, status: lower(c.status) }, c.geometry.coordinates);
    const button = c.streamUrl
      ? el("button", { class: "play", "aria-label": `${t("play")} ${c.name}`, dataset: { camera: c.id }, onclick: play }, `▶ ${t("play")}`)
      : el("span", { class: "sub" }, t("no_video_role"));
    return row({ ...c, onOpen: () => fly(c.geometry) }, c.name,
      `${name(CAMERA_STATUSES, lower(c.status))} · ${formatDistance(c.distanceM)}`, [button]);
  };
  const kase = (c) => row({ ...c, onOpen: () => fly(c.geometry) }, name(CASE_CATEGORIES, c.category),
    `${c.publicId} · ${name(CASE_STATUSES, lower(c.status))} · ${formatDistance(c.distanceM)}`);
  box.replaceChildren(
    section("grid_hit", i.gridCells, (g) => el("li", {}, el("strong", {}, g.name), " ",
      el("span", { class: "sub" }, `${g.code}${g.worker ? ` · ${t("worker")} ${g.worker.displayName}` : ""}`))),
    section("hazards", i.hazards, facility),
    section("affected", i.affectedUnits, facility),
    section("resources", i.resources, facility),
    section("cameras", i.cameras, camera),
    section("open_cases", i.openCases, kase),
  );
}

async function analyse(map, lngLat) {
  const state = document.getElementById("incident-state");
  const radiusM = Number(document.getElementById("incident-radius").value);
  state.textContent = t("incident_loading");
  try {
    const { data, errors } = await query("incident.graphql", "IncidentContext",
      { lon: lngLat.lng, lat: lngLat.lat, radiusM });
    last = { centre: [lngLat.lng, lngLat.lat], radiusM, incident: data.incident };
    draw(map);
    list(map);
    const bounds = new LngLatBounds();
    for (const [x, y] of circle(last.centre, radiusM).coordinates[0]) bounds.extend([x, y]);
    map.fitBounds(bounds, { padding: 40, maxZoom: 17 });
    // A field this user may not read (video links for non-viewers) is null, the rest is shown.
    state.textContent = errors.length ? `${t("incident_done")} · ${errors[0].message}` : t("incident_done");
    document.getElementById("panel").dataset.result = "incident";
  } catch (err) {
    state.textContent = `${t("error")}: ${err.message}`;
  }
}

export function setPicking(map, on) {
  picking = on;
  const button = document.getElementById("incident-pick");
  button.setAttribute("aria-pressed", String(on));
  map.getCanvas().style.cursor = on ? "crosshair" : "";
  if (on) document.getElementById("incident-state").textContent = t("incident_picking");
}

/** Handle a map click; true when the incident tool took it. */
export function onMapClick(map, event) {
  if (!picking) return false;
  setPicking(map, false);
  analyse(map, event.lngLat);
  return true;
}

export function clear(map) {
  last = null;
  draw(map);
  list(map);
  document.getElementById("incident-state").textContent = "";
}

/** Redraw after a new style or a change of language. */
export function redraw(map) { draw(map); list(map); }

export function setup(map) {
  document.getElementById("incident-pick").addEventListener("click", () => setPicking(map, !picking));
  document.getElementById("incident-clear").addEventListener("click", () => clear(map));
  // Without a pointer: pan the map with the arrow keys, then analyse its centre.
  document.getElementById("incident-centre").addEventListener("click", () => {
    setPicking(map, false);
    analyse(map, map.getCenter());
  });
}
