// The map view: the city's one map for the command centre. Public view when logged out; staff
// log in (phone + password) for the internal layers, case timelines, live updates, camera video
// and the incident tool.
import { Map as MapLibre, NavigationControl, ScaleControl } from "./vendor/maplibre-gl/maplibre-gl.mjs";
import { toast } from "./dom.js";
import { query } from "./gql.js";
import { MAP_UI, setLanguage, language, onLanguage, t, translate } from "./i18n.js";
import * as incident from "./incident.js";
import * as emergency from "./incident_mode.js";
import { areaLabels } from "./labels.js";
import * as legend from "./legend.js";
import * as live from "./live.js";
import { buildingPopup } from "./building_popup.js";
import { casePopup } from "./case_popup.js";
import { sensorPopup } from "./sensor_popup.js";
import * as cockpit from "./cockpit.js";
import { LocateControl } from "./locate.js";
import { areaPopup, cameraPopup, cataloguePopup, cellPopup, closePopup, facilityPopup } from "./popups.js";
import { setup as setupSearch } from "./search.js";
import { accessFor, authHeaders, login, logout, onSession, session } from "./session.js";
import { CITY_BOUNDS, buildStyle } from "./style.js";
import * as warnings from "./warnings.js";

const $ = (id) => document.getElementById(id);
const CLICKABLE = ["emergency-points", "emergency-plot-points", "emergency-plot-lines", "emergency-plot-dashes",
  "sensors", "cameras", "live", "cases", "case-cells", "facilities", "incident-points", "buildings", "warnings-fill",
  "emergency-plot-fill"];
let collections = new Set();
let internal = new Set(); // layers in their internal view (the server's policy says which)
let catalogue = []; // the department layers of the catalogue the caller may see

translate();
const phone = matchMedia("(max-width: 700px)").matches;
if (phone) setPanel(false);

const map = new MapLibre({
  container: "map",
  style: { version: 8, sources: {}, layers: [{ id: "land", type: "background", paint: { "background-color": "#eef0ea" } }] },
  bounds: CITY_BOUNDS,
  fitBoundsOptions: { padding: 20 },
  minZoom: 9,
  maxZoom: 19,
  maxBounds: [[120.9, 30.8], [122.1, 31.7]],
  locale: MAP_UI,
  attributionControl: { compact: true, customAttribution: "OneMap 一张图 · synthetic demo city" },
  // Our own /ogc and /graphql only: the staff token never goes anywhere else.
  transformRequest: (url) => ({ url, headers: authHeaders(url) }),
});
map.addControl(new NavigationControl({ visualizePitch: false }), "top-right");
map.addControl(new LocateControl(), "top-right");
setupSearch(map);
cockpit.setup(map);
map.addControl(new ScaleControl({ unit: "metric" }), "bottom-left");
window.onemap = { map }; // for the browser tests and for operators' own scripts in the console

function viewNote() {
  $("view-note").textContent = session() ? `${t("staff_view")} · ${[...collections].join(", ")}` : t("public_view");
}

async function loadStyle() {
  const access = session() ? session().access : await accessFor(null);
  collections = access.collections;
  internal = access.internal;
  catalogue = access.catalogue;
  map.setStyle(buildStyle(collections, catalogue), { diff: false });
  map.once("style.load", () => {
    areaLabels().then((data) => map.getSource("area_labels")?.setData(data)).catch((err) => toast(err.message));
    legend.apply(map);
    live.reapply(map);
    incident.redraw(map);
    emergency.redraw(map);
    warnings.redraw(map);
  });
  legend.render(map, { internal: internal.has("facilities"), cameras: collections.has("cameras"),
    sensors: collections.has("sensors"), catalogue });
  viewNote();
}

// ---- clicks -------------------------------------------------------------------------------
function featureAt(point) {
  const box = [[point.x - 5, point.y - 5], [point.x + 5, point.y + 5]];
  const layers = CLICKABLE.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none");
  const found = map.queryRenderedFeatures(box, { layers });
  return CLICKABLE.map((id) => found.find((f) => f.layer.id === id)).find(Boolean);
}

map.on("click", (event) => {
  if (incident.onMapClick(map, event) || emergency.onMapClick(map, event)) return;
  const f = featureAt(event.point);
  if (!f) {
    // A department layer's point or line (docs/catalogue.md): its layer's title and properties.
    // (Polygons cover the areas the area popup explains: they open no popup of their own.)
    const ids = catalogue.flatMap((l) => [`catalogue:${l.id}:point`, `catalogue:${l.id}:line`])
      .filter((id) => map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none");
    const box = [[event.point.x - 3, event.point.y - 3], [event.point.x + 3, event.point.y + 3]];
    const hit = ids.length ? map.queryRenderedFeatures(box, { layers: ids })[0] : null;
    if (hit) {
      const layer = catalogue.find((l) => l.id === hit.layer.source);
      cataloguePopup(map, hit, layer ? layer.title : hit.layer.source, event.lngLat);
      return;
    }
    if (map.getZoom() < 12.5) return;
    // The grid cell under the click (its fill is invisible but queryable), else the district.
    const layers = ["grid-hit", "districts-fill"].filter((id) => map.getLayer(id));
    const area = map.queryRenderedFeatures(event.point, { layers })[0];
    if (area) areaPopup(map, area, event.lngLat);
    return;
  }
  const at = f.geometry.type === "Point" ? f.geometry.coordinates : event.lngLat;
  if (f.layer.id.startsWith("emergency-")) emergency.onFeature(map, f, at);
  else if (f.layer.id === "facilities") facilityPopup(map, f, at);
  else if (f.layer.id === "cases" || f.layer.id === "live") casePopup(map, { ...f, id: f.id ?? f.properties.id }, at);
  else if (f.layer.id === "case-cells") cellPopup(map, f, at);
  else if (f.layer.id === "sensors") sensorPopup(map, f, at);
  else if (f.layer.id === "warnings-fill") warnings.warningPopup(map, f, event.lngLat);
  else if (f.layer.id === "buildings") buildingPopup(map, f, event.lngLat);
  else if (f.layer.id === "cameras") cameraPopup(map, f.id, { ...f.properties, status: f.state?.status || f.properties.status }, at);
  else if (f.layer.id === "incident-points" && f.properties.kind === "camera") {
    cameraPopup(map, f.properties.id, { name: f.properties.name, code: "", status: "" }, at);
  }
});
for (const id of CLICKABLE) {
  map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
}
map.on("error", (event) => {
  // A tile the server refused (e.g. a token that just expired) is reported once, not thrown.
  const message = event.error?.message || String(event.error);
  if (!/abort/i.test(message)) toast(`${t("error")}: ${message}`);
});

// ---- session ------------------------------------------------------------------------------
async function whoAmI() {
  try {
    const { data } = await query("map_view.graphql", "MapMe");
    const me = data.me;
    $("who").textContent = me ? `${me.displayName} · ${me.roles.join(", ")}` : "";
  } catch (err) {
    $("who").textContent = err.message;
  }
}

onSession(async (s) => {
  const on = Boolean(s);
  $("login-open").hidden = on;
  $("logout").hidden = !on;
  $("who").hidden = !on;
  for (const tab of ["incident", "feed"]) document.querySelector(`[data-tab="${tab}"]`).hidden = !on;
  closePopup();
  if (on) {
    whoAmI();
    live.start(map).catch((err) => toast(err.message));
  } else {
    live.stop();
    incident.clear(map);
    incident.setPicking(map, false);
    selectTab("layers");
  }
  cockpit.onSession(s).catch((err) => toast(err.message));
  await loadStyle();
});
document.addEventListener("onemap:expired", () => toast(t("session_expired"), 8000));

const dialog = $("login");
$("login-open").addEventListener("click", () => { $("login-error").textContent = ""; dialog.showModal(); });
$("login-cancel").addEventListener("click", () => dialog.close());
$("logout").addEventListener("click", () => logout());
$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const submit = event.target.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    await login(String(form.get("phone")).trim(), String(form.get("password")));
    event.target.reset();
    dialog.close();
  } catch (err) {
    $("login-error").textContent = `${t("login_failed")}: ${err.message}`;
  } finally {
    submit.disabled = false;
  }
});

// ---- panel, tabs, language ----------------------------------------------------------------
function setPanel(open) {
  $("panel").classList.toggle("closed", !open);
  $("panel-toggle").setAttribute("aria-expanded", String(open));
}
$("panel-toggle").addEventListener("click", () => setPanel($("panel").classList.contains("closed")));

function selectTab(name) {
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const section of document.querySelectorAll("[role=tabpanel]")) section.hidden = section.id !== `tab-${name}`;
}
for (const button of document.querySelectorAll("[role=tab]")) {
  button.addEventListener("click", () => { selectTab(button.dataset.tab); setPanel(true); });
}

$("lang").addEventListener("click", () => setLanguage(language() === "zh" ? "en" : "zh"));
onLanguage(() => {
  legend.render(map, { internal: internal.has("facilities"), cameras: collections.has("cameras"),
    sensors: collections.has("sensors"), catalogue });
  incident.redraw(map);
  emergency.redraw(map);
  cockpit.redraw();
  viewNote();
});

incident.setup(map);
emergency.setup(map);
loadStyle().catch((err) => toast(`${t("error")}: ${err.message}`, 10000));
warnings.start(map, (err) => toast(`${t("error")}: ${err.message}`));
