// 应急指挥 Emergency mode: activate a plan at a place and a level (activatePlan), reopen the
// active incidents, and follow one: its panel (incident_panel.js) and map (incident_map.js),
// kept current by the `incidentEvents` subscription, so every seat sees a task move as it
// happens. Documents: incidents.graphql and plans.graphql.
//
// What a user gets is the server's decision: the tab shows with `read_plans`, the activation
// and command forms with `command_incidents` (GET /mapview/access, session.can), the task
// buttons are each task's `allowedActions`; every mutation is decided again by the server,
// whose refusal is shown as it words it.
import { el, fill, toast } from "./dom.js";
import { query, subscribe } from "./gql.js";
import { formatTime, language, name, t, tf } from "./i18n.js";
import { commandForms } from "./incident_forms.js";
import * as drawing from "./incident_map.js";
import { incidentPanel } from "./incident_panel.js";
import * as place from "./incident_place.js";
import * as plots from "./incident_plots.js";
import * as replay from "./incident_replay.js";
import * as warnBox from "./incident_warnings.js";
import { HAZARD_TYPES, LEVELS, TASK_STATUSES } from "./incident_words.js";
import { cameraPopup, facilityPopup } from "./popups.js";
import { can, onSession } from "./session.js";

const DOC = "incidents.graphql";
const LIST_REFRESH_MS = 30_000; // incidents activated at other seats (no subscription lists them)
const $ = (id) => document.getElementById(id);
const lower = (v) => (v ? String(v).toLowerCase() : v);

let map = null;
let plans = [];
let current = null; // the open incident (EmergencyIncident)
let unsubscribe = null;
let reloadTimer = null;
let following = 0; // the latest follow(): a subscription that opens after a newer one is closed

function say(text) { $("em-state").textContent = text; }

// ---- activation ---------------------------------------------------------------------------
function levelOptions() {
  const select = $("em-level");
  const value = select.value || "II";
  fill(select, Object.keys(LEVELS).map((l) => el("option", { value: l }, name(LEVELS, l))));
  select.value = value;
}

function planOptions() {
  const select = $("em-plan");
  const value = select.value;
  const title = (v) => (language() === "zh" ? v?.titleZh : v?.titleEn || v?.titleZh) ?? "";
  fill(select, plans.map((p) => el("option", { value: p.id },
    `${p.number} · ${title(p.current)} · ${name(HAZARD_TYPES, lower(p.hazardType))}`)));
  if (value) select.value = value;
}

async function loadPlans() {
  try {
    const { data } = await query("plans.graphql", "Plans");
    plans = data.plans;
    planOptions();
  } catch (err) {
    plans = [];
    planOptions();
    say(err.code === "FORBIDDEN" ? t("em_plans_refused") : `${t("error")}: ${err.message}`);
  }
}

/** A map click: true when the emergency mode took it (choosing a place). */
export function onMapClick(_map, event) { return place.onMapClick(event) || plots.onMapClick(event); }

async function activate() {
  const where = place.variables();
  if (!where) { say(t("em_need_place")); return; }
  say(t("em_activating"));
  const variables = { planId: $("em-plan").value, level: $("em-level").value, ...where };
  const answer = await mutate("ActivatePlan", variables, "activatePlan");
  if (!answer) return;
  place.clear();
  show(answer);
  say(tf("em_activated", { number: answer.number }));
  loadList();
}

// ---- the list of active incidents -----------------------------------------------------------
async function loadList() {
  try {
    const { data } = await query(DOC, "Incidents", { status: "ACTIVE", first: 20 });
    fill($("em-list"), data.incidents.nodes.length ? data.incidents.nodes.map((i) => el("li", { dataset: { id: i.id } },
      el("button", { class: "link", type: "button", onclick: () => open(i.id) }, i.title),
      el("span", { class: "sub" }, `${i.number} · ${name(LEVELS, i.level)} · ${formatTime(i.startedAt)}`)))
      : el("li", { class: "note" }, t("none")));
  } catch (err) {
    fill($("em-list"), el("li", { class: "note" }, `${t("error")}: ${err.message}`));
  }
}

// ---- one incident -------------------------------------------------------------------------
/** Send a mutation; its incident, or null after saying why it was refused. */
async function mutate(operation, variables, field) {
  try {
    const { data } = await query(DOC, operation, variables);
    const result = data[field];
    if (result.__typename === "CaseError") { say(`${t("error")}: ${result.message}`); return null; }
    return result.incident;
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
    return null;
  }
}

async function step(task, status, note) {
  if (status === "REFUSED" && !note) { say(t("em_reason_first")); return; }
  const moved = await mutate("UpdateIncidentTask", { id: task.id, status, note }, "updateIncidentTask");
  if (!moved) return;
  drafts.delete(task.id);
  await reload();
  const text = language() === "zh" ? task.textZh : task.textEn;
  say(tf("em_task_done", { text, status: name(TASK_STATUSES, lower(status)) }));
  $("em-state").focus();
}

async function changeLevel(level, reason) {
  const answer = await mutate("ChangeIncidentLevel", { id: current.id, level, reason }, "changeIncidentLevel");
  if (answer) { show(answer); say(tf("em_changed", { level: name(LEVELS, level) })); loadList(); }
}

async function close(summary) {
  const answer = await mutate("CloseIncident", { id: current.id, summary }, "closeIncident");
  if (answer) { show(answer); say(t("em_closed")); loadList(); }
}

// The panel is drawn again on every event; what the user is typing must survive that: the
// command forms are kept while the incident's status and level stay, refusal reasons are
// drafts by task, and the focused control is found again by its data-focus key.
let formsKey = "";
const drafts = new Map(); // task id → the refusal reason being typed

function render() {
  const box = $("em-incident");
  if (!current) {
    if (box.children[3]) warnBox.render(box.children[3], null);
    box.replaceChildren(); formsKey = ""; drafts.clear(); replay.clear(); return;
  }
  if (!box.firstChild) {
    box.append(el("div", { class: "em-top" }), el("div", { class: "em-forms-box" }), el("div", { class: "em-plot-box" }),
      el("div", { class: "em-warn-box" }), el("div", { class: "em-rest" }), el("div", { class: "em-replay-box" }));
  }
  const [top, formsBox, plotBox, warnings, rest, replayBox] = box.children;
  const focused = box.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  const [head, taskList, ...sections] = incidentPanel(map, current, { onStep: step, drafts, onLifelinesNow: lifelinesNow });
  fill(top, head);
  fill(rest, taskList, plots.plotList(), sections);
  plots.renderTools(plotBox);
  warnBox.render(warnings, current);
  replay.render(replayBox, current);
  const key = `${current.id}:${current.status}:${current.level}:${language()}`;
  if (key !== formsKey) {
    formsKey = key;
    fill(formsBox, can("command_incidents") && current.status === "ACTIVE"
      ? commandForms(current, { onLevel: changeLevel, onClose: close, say }) : null);
  }
  box.dataset.incident = current.id;
  if (focused) box.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

// The lifelines found again on the roads as they are now (IncidentLifelinesNow): shown instead
// of the stored ones until another incident is opened.
let routesNow = null; // {id, lifelines, at}

function withRoutesNow(incident) {
  if (routesNow?.id !== incident.id) return incident;
  return { ...incident, context: { ...incident.context, lifelines: routesNow.lifelines } };
}

async function lifelinesNow() {
  try {
    const { data } = await query(DOC, "IncidentLifelinesNow", { id: current.id });
    routesNow = { id: current.id, lifelines: data.emergencyIncident.context.lifelinesNow };
    current = withRoutesNow(current);
    render();
    drawing.draw(map, current);
    say(tf("em_lifelines_checked", { time: formatTime(new Date().toISOString()) }));
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
  }
}

function show(incident) {
  const changed = current?.id !== incident.id;
  current = withRoutesNow(incident);
  plots.update(current);
  render();
  drawing.draw(map, current);
  if (changed) follow(incident.id);
}

async function reload() {
  if (!current) return;
  const { data } = await query(DOC, "EmergencyIncident", { id: current.id });
  current = withRoutesNow(data.emergencyIncident);
  plots.update(current);
  render();
  drawing.draw(map, current);
}

function follow(id) {
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  $("em-live").textContent = "";
  const mine = ++following;
  subscribe(DOC, "IncidentEvents", { incidentId: id }, (data) => {
    const e = data.incidentEvents;
    if (current?.id !== e.incidentId) return;
    $("em-live").textContent = tf("em_live", { what: `${t(`em_event_${lower(e.type)}`)} · ${formatTime(e.at)}` });
    clearTimeout(reloadTimer); // a burst of events (a level change and its tasks): one reload
    reloadTimer = setTimeout(() => reload().catch((err) => say(err.message)), 150);
  }, (err) => toast(err.message)).then((stop) => { if (mine === following) unsubscribe = stop; else stop(); });
}

async function open(id) {
  say(t("em_loading"));
  try {
    const { data } = await query(DOC, "EmergencyIncident", { id });
    show(data.emergencyIncident);
    say("");
    const [x0, y0, x1, y1] = bounds(current);
    map.fitBounds([[x0, y0], [x1, y1]], { padding: 40, maxZoom: 16 });
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
  }
}

function bounds(incident) {
  const points = drawing.place(incident.geometry, incident.reachM)[0].geometry.coordinates.flat(Infinity);
  const xs = points.filter((_, k) => k % 2 === 0);
  const ys = points.filter((_, k) => k % 2 === 1);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** A click on one of the incident's markers (app.js): its popup. */
export function onFeature(_map, f, at) {
  if (!current) return;
  if (f.layer.id.startsWith("emergency-plot")) { plots.onFeature(f, at); return; }
  const { kind, id } = f.properties;
  const c = current.context;
  if (kind === "camera") {
    const k = c.cameras.find((x) => x.id === id);
    if (k) cameraPopup(map, k.id, { code: k.code, name: k.name, status: lower(k.status) }, at);
  } else if (kind === "resource") {
    const r = c.resources.find((x) => x.id === id);
    if (r) facilityPopup(map, { id: r.id, properties: { name_zh: r.nameZh, name_en: r.nameEn || "",
      category: lower(r.category), code: r.code } }, at);
  } else if (kind === "affected" || kind === "hazard") {
    const u = (kind === "hazard" ? c.hazards : c.affectedUnits).find((x) => x.id === id);
    if (u) facilityPopup(map, { id: u.id, properties: { name_zh: u.nameZh, name_en: u.nameEn || "",
      category: kind === "hazard" ? "hazard_source" : lower(u.category), capacity: u.capacity } }, at);
  }
}

function reset() {
  following += 1;
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  current = null;
  routesNow = null;
  plots.update(null);
  place.clear();
  render();
  if (map) drawing.draw(map, null);
  say("");
  $("em-live").textContent = "";
}

/** After a new style or a change of language: draw and word everything again. */
export function redraw(m) {
  drawing.redraw(m);
  plots.redraw(m);
  levelOptions();
  planOptions();
  place.retext();
  render();
  if (document.querySelector("[data-tab=emergency]").hidden === false) loadList();
}

export function setup(m) {
  map = m;
  levelOptions();
  place.setup(m, say);
  plots.setup(m, { say, reload });
  replay.setup(m, say);
  warnBox.setup(m, { say });
  $("em-activate").addEventListener("click", () => activate());
  const tab = document.querySelector("[data-tab=emergency]");
  tab.addEventListener("click", () => loadList());
  setInterval(() => { if (!tab.hidden && !$("tab-emergency").hidden) loadList(); }, LIST_REFRESH_MS);
  onSession((s) => {
    const reads = Boolean(s) && can("read_plans");
    const commands = reads && can("command_incidents");
    document.querySelector("[data-tab=emergency]").hidden = !reads;
    $("em-start").hidden = !commands;
    $("em-read-only").hidden = !reads || commands;
    reset();
    if (commands) loadPlans();
    if (reads) loadList();
  });
}
