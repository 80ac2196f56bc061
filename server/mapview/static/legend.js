// The legend, which is also the layer switch: base layers, facility categories, case statuses,
// category and days reported, camera statuses. Choices survive a change of style (login,
// logout) and of language.
import { el } from "./dom.js";
import { backwards, caseCql, caseFilter } from "./filters.js";
import { bothNames, name, t, tf } from "./i18n.js";
import { swatch } from "./popups.js";
import { tileUrl } from "./style.js";
import {
  CAMERA_STATUSES, CASE_CATEGORIES, CASE_STATUSES, FACILITY_CATEGORIES, OPEN_STATUSES, SENSOR_STATES,
  WARNING_SEVERITIES,
} from "./vocab.js";

const choice = {
  base: { admin: true, grid: true, risk: false, warnings: true },
  hiddenCatalogue: new Set(), // department layers switched off (docs/catalogue.md)
  facilities: new Set(Object.keys(FACILITY_CATEGORIES)),
  statuses: new Set(OPEN_STATUSES),
  category: "",
  from: "", // days reported, "YYYY-MM-DD" (the city's days), "" for an open end
  to: "",
  caseMode: "heat",
  cameras: new Set(Object.keys(CAMERA_STATUSES)),
  sensors: new Set(Object.keys(SENSOR_STATES)),
};

const BASE_LAYERS = {
  admin: ["districts-fill", "districts", "streets", "communities", "district-labels", "street-labels", "community-labels"],
  grid: ["grid-lines", "grid-labels"],
  risk: ["grid-risk"],
  warnings: ["warnings-fill", "warnings-edge"], // 预警发布: the warnings in force (warnings.js)
};

function visible(map, id, on) {
  if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
}

function filter(map, id, expression) { if (map.getLayer(id)) map.setFilter(id, expression); }

/** Apply every choice to the map's current style. */
export function apply(map) {
  for (const [key, ids] of Object.entries(BASE_LAYERS)) for (const id of ids) visible(map, id, choice.base[key]);
  for (const layer of map.getStyle()?.layers || []) {
    const [kind, id] = layer.id.split(":");
    if (kind === "catalogue") visible(map, layer.id, !choice.hiddenCatalogue.has(id));
  }
  const facilities = ["in", ["get", "category"], ["literal", [...choice.facilities]]];
  filter(map, "facilities", facilities);
  filter(map, "facility-labels", facilities);
  // The server filters the cases tiles (so aggregated tiles count only what is chosen); the
  // same filter on the page keeps points that changed live right. Filters cannot read
  // feature-state: they see the tile's status; the colour shows the live one.
  const cql = caseCql(choice, Object.keys(CASE_STATUSES));
  const source = map.getSource("cases");
  if (source && source.tiles?.[0] !== tileUrl("cases", cql)) source.setTiles([tileUrl("cases", cql)]);
  const cases = caseFilter(choice);
  filter(map, "cases", ["all", ["!", ["has", "count"]], cases]);
  filter(map, "cases-heat", cases);
  visible(map, "cases-heat", choice.caseMode === "heat");
  for (const id of ["cases", "case-cells"]) {
    visible(map, id, choice.caseMode !== "off");
    if (map.getLayer(id)) map.setLayerZoomRange(id, choice.caseMode === "points" ? 10 : 13, 24);
  }
  filter(map, "cameras", ["in", ["get", "status"], ["literal", [...choice.cameras]]]);
  filter(map, "sensors", ["all", ["!", ["has", "count"]], ["in", ["get", "state"], ["literal", [...choice.sensors]]]]);
}

function item(text, title, colour, checked, onChange, testId) {
  const box = el("input", { type: "checkbox", dataset: { layer: testId } });
  box.checked = checked;
  box.addEventListener("change", () => onChange(box.checked));
  return el("li", {}, el("label", { title }, box, colour ? swatch(colour) : null, el("span", {}, text)));
}

function toggleSet(set, code, map) {
  return (on) => { if (on) set.add(code); else set.delete(code); apply(map); };
}

/** (Re)build the legend for the visible collections. */
export function render(map, collections) {
  const base = document.getElementById("legend-base");
  base.replaceChildren(
    item(t("admin_areas"), "", null, choice.base.admin, (on) => { choice.base.admin = on; apply(map); }, "admin"),
    item(t("grid_cells"), "", null, choice.base.grid, (on) => { choice.base.grid = on; apply(map); }, "grid"),
    item(t("grid_risk"), "", null, choice.base.risk, (on) => { choice.base.risk = on; apply(map); }, "risk"),
    item(t("warnings"), t("warnings_help"), WARNING_SEVERITIES.SEVERE[2], choice.base.warnings,
      (on) => { choice.base.warnings = on; apply(map); }, "warnings"),
  );
  // The catalogue's department layers the caller may see (each with its title and class).
  const catalogue = collections.catalogue || [];
  document.getElementById("catalogue-heading").hidden = catalogue.length === 0;
  document.getElementById("legend-catalogue").replaceChildren(...catalogue.map((layer) =>
    item(layer.title, `${layer.owner_name} · ${layer.data_class} · ${layer.geometry_type}`, null,
      !choice.hiddenCatalogue.has(layer.id), (on) => {
        if (on) choice.hiddenCatalogue.delete(layer.id); else choice.hiddenCatalogue.add(layer.id);
        apply(map);
      }, `catalogue:${layer.id}`)));
  const staffOnly = new Set(["hazard_source"]);
  document.getElementById("legend-facilities").replaceChildren(
    ...Object.entries(FACILITY_CATEGORIES)
      .filter(([code]) => !staffOnly.has(code) || collections.internal)
      .map(([code, [, , colour]]) => item(name(FACILITY_CATEGORIES, code), bothNames(FACILITY_CATEGORIES, code),
        colour, choice.facilities.has(code), toggleSet(choice.facilities, code, map), `facility:${code}`)));
  document.getElementById("legend-cases").replaceChildren(
    ...Object.entries(CASE_STATUSES).filter(([code]) => code !== "duplicate").map(([code, [, , colour]]) =>
      item(name(CASE_STATUSES, code), bothNames(CASE_STATUSES, code), colour,
        choice.statuses.has(code), toggleSet(choice.statuses, code, map), `status:${code}`)));
  const select = document.getElementById("case-category");
  select.replaceChildren(el("option", { value: "" }, t("all_categories")),
    ...Object.keys(CASE_CATEGORIES).map((code) => el("option", { value: code }, name(CASE_CATEGORIES, code))));
  select.value = choice.category;
  select.onchange = () => { choice.category = select.value; apply(map); };
  renderDates(map);
  const mode = document.getElementById("case-mode");
  mode.value = choice.caseMode;
  mode.onchange = () => { choice.caseMode = mode.value; apply(map); };
  document.getElementById("camera-legend").hidden = !collections.cameras;
  document.getElementById("legend-cameras").replaceChildren(
    ...Object.entries(CAMERA_STATUSES).map(([code, [, , colour]]) =>
      item(name(CAMERA_STATUSES, code), bothNames(CAMERA_STATUSES, code), colour,
        choice.cameras.has(code), toggleSet(choice.cameras, code, map), `camera:${code}`)));
  document.getElementById("sensor-legend").hidden = !collections.sensors;
  document.getElementById("legend-sensors").replaceChildren(
    ...Object.entries(SENSOR_STATES).map(([code, [, , colour]]) =>
      item(name(SENSOR_STATES, code), bothNames(SENSOR_STATES, code), colour,
        choice.sensors.has(code), toggleSet(choice.sensors, code, map), `sensor:${code}`)));
}

/** The date range: applied when both ends make sense; otherwise it says what to change. */
function renderDates(map) {
  const from = document.getElementById("case-from");
  const to = document.getElementById("case-to");
  const state = document.getElementById("case-dates-state");
  from.value = choice.from;
  to.value = choice.to;
  const show = () => {
    const active = choice.from || choice.to;
    state.classList.remove("error");
    state.textContent = active ? tf("dates_active", {
      from: choice.from || t("dates_open"), to: choice.to || t("dates_open") }) : "";
  };
  const change = () => {
    if (backwards(from.value, to.value)) {
      state.classList.add("error");
      state.textContent = t("dates_invalid");
      return;
    }
    choice.from = from.value;
    choice.to = to.value;
    apply(map);
    show();
  };
  from.onchange = change;
  to.onchange = change;
  document.getElementById("case-dates-clear").onclick = () => {
    from.value = "";
    to.value = "";
    change();
  };
  show();
}
