// 指挥标绘 Plotting on an incident: the tools (a symbol from the server's `plotSymbols`, a label,
// then a point — one click —, a line or an area — clicks, finished with 完成, a double-click or
// Enter, cancelled with Esc), the list of plots, and a plot's popup (symbol, label, who and
// when; for commanders: change the label, move a point, remove). Documents: plots.graphql.
//
// The tools show with `command_incidents` (session.can) on an active incident; the server
// decides again on every mutation. Changes carry the plot's version: when another seat changed
// it meanwhile (CONFLICT) the server's message is shown and the incident is loaded again. Every
// change comes back to every seat through `incidentEvents`, on which incident_mode.js reloads.
import { el, facts, fill } from "./dom.js";
import { query } from "./gql.js";
import { formatTime, language, t, tf } from "./i18n.js";
import * as layer from "./incident_plot_map.js";
import { PLOT_STYLES } from "./incident_plot_words.js";
import { closePopup, show as popup, swatch } from "./popups.js";
import { can } from "./session.js";

const DOC = "plots.graphql";
const SHAPES = ["point", "line", "polygon"];
const lower = (v) => (v ? String(v).toLowerCase() : v);

let map = null;
let say = () => {};
let reload = async () => {};
let symbols = []; // plotSymbols: {symbol, labelZh, labelEn}
let incident = null; // the open incident (EmergencyIncident, with its plots)
let tool = null; // {shape, symbol, points: [[lon, lat]…]} while drawing; {move: plot} while moving
let replayed = null; // the plots shown by the replay instead of the live ones, or null
let toolsKey = "";
let box = null; // the tools' section, kept across the panel's redraws

const commands = () => can("command_incidents") && incident?.status === "ACTIVE";
const symbolName = (symbol, legend) => {
  const info = legend || symbols.find((s) => lower(s.symbol) === lower(symbol));
  return info ? (language() === "zh" ? info.labelZh : info.labelEn) : lower(symbol);
};

// ---- mutations ----------------------------------------------------------------------------
async function send(operation, variables, field) {
  try {
    const { data } = await query(DOC, operation, variables);
    const result = data[field];
    if (result.__typename !== "PlotError") return result.plot;
    if (result.code === "CONFLICT" && variables.id) {
      say(tf("em_plot_conflict", { message: result.message }));
      await reload();
      const fresh = incident?.plots.find((p) => p.id === variables.id);
      if (fresh) openPlot(fresh);
      else closePopup();
    } else {
      say(`${t("error")}: ${result.message}`);
    }
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
  }
  return null;
}

async function add(geometry) {
  const label = box?.querySelector("#em-plot-label").value.trim() ?? "";
  const symbol = tool.symbol;
  stop();
  const plot = await send("AddPlot", { incidentId: incident.id, symbol, geometry, label }, "addPlot");
  if (!plot) return;
  box.querySelector("#em-plot-label").value = "";
  say(tf("em_plot_added", { symbol: symbolName(symbol, plot.legend), label }));
  await reload();
}

async function change(plot, changes, done) {
  closePopup();
  const saved = await send("UpdatePlot", { id: plot.id, expectedVersion: plot.version, ...changes }, "updatePlot");
  if (!saved) return;
  say(t(done));
  await reload();
}

async function remove(plot) {
  closePopup();
  const gone = await send("RemovePlot", { id: plot.id, expectedVersion: plot.version }, "removePlot");
  if (!gone) return;
  say(t("em_plot_removed"));
  await reload();
}

// ---- drawing ------------------------------------------------------------------------------
function stop() {
  tool = null;
  if (map) {
    map.getCanvas().style.cursor = "";
    map.doubleClickZoom.enable();
    layer.drawDraft(map, null);
  }
  showTool();
}

function start(shape) {
  if (tool?.shape === shape) { stop(); say(t("em_plot_cancelled")); return; }
  tool = { shape, symbol: box.querySelector("#em-plot-symbol").value, points: [] };
  map.getCanvas().style.cursor = "crosshair";
  map.doubleClickZoom.disable();
  showTool();
}

function finish() {
  if (!tool?.shape || tool.shape === "point") return;
  const pts = tool.points.filter((p, k) => k === 0 || p[0] !== tool.points[k - 1][0] || p[1] !== tool.points[k - 1][1]);
  const need = tool.shape === "line" ? 2 : 3;
  if (pts.length < need) { say(t("em_plot_short")); return; }
  add(tool.shape === "line" ? { type: "LineString", coordinates: pts } : { type: "Polygon", coordinates: [[...pts, pts[0]]] });
}

function showTool() {
  if (!box) return;
  for (const shape of SHAPES) {
    box.querySelector(`[data-shape=${shape}]`)?.setAttribute("aria-pressed", String(tool?.shape === shape));
  }
  const drawing = Boolean(tool?.shape && tool.shape !== "point");
  const finishButton = box.querySelector("#em-plot-finish");
  if (!finishButton) return;
  finishButton.hidden = !drawing;
  box.querySelector("#em-plot-cancel").hidden = !tool;
  const help = box.querySelector("#em-plot-help");
  if (!tool) help.textContent = "";
  else if (tool.move) help.textContent = t("em_plot_move_help");
  else if (tool.shape === "point") help.textContent = tf("em_plot_help_point", { symbol: symbolName(tool.symbol) });
  else help.textContent = tf("em_plot_help_shape", { n: tool.points.length });
  if (tool?.points) layer.drawDraft(map, tool);
}

/** A map click: true when plotting took it (a point, a corner, a plot's new place). */
export function onMapClick(event) {
  if (!tool) return false;
  const xy = [event.lngLat.lng, event.lngLat.lat];
  if (tool.move) {
    const plot = tool.move;
    stop();
    change(plot, { geometry: { type: "Point", coordinates: xy } }, "em_plot_saved");
  } else if (tool.shape === "point") {
    add({ type: "Point", coordinates: xy });
  } else {
    tool.points.push(xy);
    showTool();
  }
  return true;
}

function onKey(event) {
  if (!tool) return;
  if (event.key === "Escape") { stop(); say(t("em_plot_cancelled")); }
  else if (event.key === "Enter" && tool.shape && tool.shape !== "point") { event.preventDefault(); finish(); }
}

// ---- the panel ----------------------------------------------------------------------------
function tools() {
  const symbol = el("select", { id: "em-plot-symbol" }, symbols.map((s) =>
    el("option", { value: s.symbol }, symbolName(s.symbol, s))));
  symbol.addEventListener("change", () => { if (tool?.symbol) { tool.symbol = symbol.value; showTool(); } });
  return el("section", { class: "result em-plot-tools", dataset: { section: "em_plot_tools" } },
    el("h3", {}, t("em_plot_tools")),
    el("label", { class: "row" }, el("span", {}, t("em_plot_symbol")), symbol),
    el("label", { class: "row" }, el("span", {}, t("em_plot_label")),
      el("input", { id: "em-plot-label", type: "text", maxlength: "200" })),
    el("div", { class: "row" }, SHAPES.map((shape) => el("button", { type: "button", id: `em-plot-${shape}`,
      dataset: { shape }, "aria-pressed": "false", onclick: () => start(shape) }, t(`em_plot_${shape}`)))),
    el("div", { class: "row end" },
      el("button", { id: "em-plot-finish", type: "button", hidden: true, onclick: finish }, t("em_plot_finish")),
      el("button", { id: "em-plot-cancel", type: "button", hidden: true,
        onclick: () => { stop(); say(t("em_plot_cancelled")); } }, t("em_plot_cancel"))),
    el("p", { id: "em-plot-help", class: "note", "aria-live": "polite" }));
}

/** Fill the tools' box (kept while the incident, its status and the language stay). */
export async function renderTools(target) {
  const key = `${incident?.id}:${incident?.status}:${language()}:${commands()}`;
  if (key === toolsKey && box === target) return;
  toolsKey = key;
  box = target;
  if (tool) stop();
  if (!commands()) { fill(target); return; }
  if (!symbols.length) {
    try { symbols = (await query(DOC, "PlotSymbols")).data.plotSymbols; } catch (err) { say(`${t("error")}: ${err.message}`); }
  }
  if (toolsKey === key) fill(target, tools());
}

/** The plots' section of the panel: each plot, a click flies there and opens its popup. */
export function plotList() {
  const plots = incident?.plots || [];
  const item = (p) => el("li", { dataset: { plot: p.id, symbol: lower(p.symbol) } },
    el("button", { class: "link", type: "button", onclick: () => { fly(p.geometry); openPlot(p); } },
      swatch(PLOT_STYLES[lower(p.symbol)]?.colour), `${symbolName(p.symbol, p.legend)}${p.label ? ` · ${p.label}` : ""}`),
    el("span", { class: "sub" }, [p.createdBy?.displayName, formatTime(p.updatedAt)].filter(Boolean).join(" · ")));
  return el("section", { class: "result", dataset: { section: "em_plots" } },
    el("h3", {}, t("em_plots"), el("span", { class: "count" }, String(plots.length))),
    can("command_incidents") ? null : el("p", { class: "note" }, t("em_plot_read_only")),
    plots.length ? el("ul", {}, plots.map(item)) : el("p", { class: "note" }, t("none")));
}

function fly(g) {
  const xy = g.type === "Point" ? g.coordinates : g.type === "LineString" ? g.coordinates[0] : g.coordinates[0][0];
  map.flyTo({ center: xy, zoom: Math.max(map.getZoom(), 15) });
}

function anchor(g) {
  if (g.type === "Point") return g.coordinates;
  const xy = g.type === "LineString" ? g.coordinates : g.coordinates[0];
  return xy[Math.floor((xy.length - 1) / 2)];
}

/** A plot's popup: what it is; for commanders on an active incident, its label, place, removal. */
export function openPlot(plot, at = null) {
  const label = el("input", { type: "text", maxlength: "200", id: "em-plot-new-label", "aria-label": t("em_plot_label") });
  label.value = plot.label;
  const live = !replayed && plot.version != null && plot.createdAt;
  const edit = live && commands() ? el("div", { class: "em-plot-edit" },
    el("label", { class: "row" }, el("span", {}, t("em_plot_label")), label),
    el("div", { class: "row end" },
      el("button", { type: "button", id: "em-plot-save", onclick: () => change(plot, { label: label.value.trim() }, "em_plot_saved") }, t("em_plot_edit")),
      plot.geometry.type === "Point" ? el("button", { type: "button", id: "em-plot-move", onclick: () => {
        closePopup();
        tool = { move: plot };
        map.getCanvas().style.cursor = "crosshair";
        showTool();
        say(t("em_plot_move_help"));
      } }, t("em_plot_move")) : null,
      el("button", { type: "button", id: "em-plot-remove", onclick: () => remove(plot) }, t("em_plot_remove")))) : null;
  popup(map, at || anchor(plot.geometry), [
    el("h3", {}, swatch(PLOT_STYLES[lower(plot.symbol)]?.colour), symbolName(plot.symbol, plot.legend)),
    facts([[t("em_plot_label"), plot.label], [t("em_plot_by"), plot.createdBy?.displayName],
      [t("em_plot_at"), live ? formatTime(plot.updatedAt) : ""]]),
    edit,
  ], "plot");
}

/** A click on a drawn plot (incident_mode.onFeature). */
export function onFeature(f, at) {
  const list = replayed || incident?.plots || [];
  const plot = list.find((p) => String(p.id ?? p.plotId) === f.properties.id);
  if (plot) openPlot(plot, at);
}

function drawn(list) {
  return list.map((p) => ({ id: p.id ?? p.plotId, symbol: lower(p.symbol), label: p.label, geometry: p.geometry }));
}

/** The open incident (or null) after each load: its plots drawn, unless the replay shows others. */
export function update(next) {
  if (next?.id !== incident?.id) replayed = null;
  incident = next;
  if (tool && !commands()) stop();
  if (map && !replayed) layer.draw(map, drawn(incident?.plots || []));
}

/** Show the plots as they were at a moment of the replay (PlotState each), or the live ones (null). */
export function showReplayed(list) {
  replayed = list;
  if (map) layer.draw(map, drawn(list || incident?.plots || []));
}

export function redraw(m) { layer.redraw(m); }

export function setup(m, hooks) {
  map = m;
  say = hooks.say;
  reload = hooks.reload;
  document.addEventListener("keydown", onKey);
  map.on("dblclick", (event) => {
    if (tool?.shape && tool.shape !== "point") { event.preventDefault(); finish(); }
  });
}
