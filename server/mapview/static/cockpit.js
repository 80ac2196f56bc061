// 驾驶舱 Cockpit: the figures of the caller's jurisdiction for dispatchers and supervisors —
// today's cases by state, the warning and overdue counts, the departments and streets with most
// overdue and the on-time rate over the last 30 days (evaluation), and the warning and overdue
// lists, whose items fly the map to the case and open its popup (cockpit.graphql).
//
// What it shows is the server's decision: each section is shown when its query answers and
// replaced by a short message when it answers FORBIDDEN (no `evaluate` / `read_cases`); the page
// never decides by role. The toggle is offered once one of the two queries has answered.
// Live: a case event (live.js: "onemap:case-event") or a staff notification refreshes it,
// at most every REFRESH_MS.
import { casePopup } from "./case_popup.js";
import { el, fill, toast } from "./dom.js";
import { query, subscribe } from "./gql.js";
import { formatTime, name, t, tf } from "./i18n.js";
import { CASE_CATEGORIES, CASE_STATUSES } from "./vocab.js";

const DOC = "cockpit.graphql";
const LIST_SIZE = 20;
const COUNT_CAP = 1000; // the server's largest page: the counts read "1000+" beyond it
const TOP = 5;
export const REFRESH_MS = 3000;
const STATUSES = [
  ["reported", "reported"], ["dispatched", "dispatched"], ["in_progress", "inProgress"],
  ["resolved", "resolved"], ["closed", "closed"], ["rejected", "rejected"], ["duplicate", "duplicate"],
];
const $ = (id) => document.getElementById(id);
const lower = (v) => (v ? String(v).toLowerCase() : v);

let map = null;
let last = null; // {figures, clocks}: what was drawn, to redraw on a language switch
let timer = null;
let lastLoad = 0;
let stopNotifications = null;
let generation = 0; // a session's loads; a load of an ended session draws nothing

/** The city's day (Asia/Shanghai, UTC+8 all year) `days` from today, as "YYYY-MM-DD". */
export function cityDay(days = 0, now = new Date()) {
  const d = new Date(now.getTime() + 8 * 3600_000);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The variables of CockpitFigures: today (the city's day) and the last 30 days. */
export function figureVariables(now = new Date()) {
  return { dayFrom: `${cityDay(0, now)}T00:00:00+08:00`, dayTo: `${cityDay(1, now)}T00:00:00+08:00`,
    from: cityDay(-29, now), to: cityDay(0, now) };
}

function isOpen() { return !$("cockpit").hidden; }

function setOpen(open) {
  $("cockpit").hidden = !open;
  $("cockpit-toggle").setAttribute("aria-expanded", String(open));
  if (open) refresh(true);
}

const count = (conn) => `${conn.edges.length}${conn.pageInfo.hasNextPage ? "+" : ""}`;
const rate = (r) => (r == null ? "–" : `${(r * 100).toFixed(1)}%`);

function figure(id, label, value) {
  return el("div", { class: "figure", dataset: { figure: id } },
    el("strong", {}, String(value)), el("span", {}, label));
}

function forbidden(err) { return err?.code === "FORBIDDEN" || err?.code === "UNAUTHENTICATED"; }

function message(err) {
  return el("p", { class: "note", dataset: { refused: forbidden(err) ? "true" : "false" } },
    forbidden(err) ? t("cockpit_forbidden") : `${t("error")}: ${err.message}`);
}

function top(table, figureName) {
  const rows = table.rows.filter((r) => !r.total && r[figureName] > 0)
    .sort((a, b) => b[figureName] - a[figureName] || String(a.label).localeCompare(String(b.label)))
    .slice(0, TOP);
  if (!rows.length) return el("p", { class: "note" }, t("none"));
  return el("ol", { class: "ranking" }, rows.map((r) =>
    el("li", { dataset: { key: r.key } }, el("span", {}, r.label), el("strong", {}, String(r[figureName])))));
}

function drawFigures(result) {
  const box = $("cockpit-figures");
  if (result.error) { fill(box, message(result.error)); return; }
  const d = result.data;
  const total = d.departments.rows.find((r) => r.total) || {};
  fill(box,
    el("h3", {}, t("cockpit_today")),
    el("div", { class: "figures" }, STATUSES.map(([code, alias]) =>
      figure(`status-${code}`, name(CASE_STATUSES, code), d[alias].totalCount ?? "–"))),
    el("h3", {}, tf("cockpit_30days", { from: result.asked.from, to: result.asked.to })),
    el("div", { class: "figures" },
      figure("on-time-rate", t("cockpit_on_time_rate"), rate(total.handledOnTimeRate)),
      figure("received-30", t("cockpit_received"), total.received ?? "–"),
      figure("overdue-30", t("cockpit_overdue_30"), total.overdue ?? "–")),
    el("h4", {}, t("cockpit_top_departments")),
    el("div", { id: "cockpit-top-departments" }, top(d.departments, "overdue")),
    el("h4", {}, t("cockpit_top_streets")),
    el("div", { id: "cockpit-top-streets" }, top(d.streets, "overdue")));
}

/** Fly to a case and open the popup a click on it would open. */
function go(c) {
  const at = c.geometry.coordinates;
  map.flyTo({ center: at, zoom: Math.max(17, map.getZoom()) });
  map.once("moveend", () => casePopup(map, { id: c.id, properties: { category: c.category,
    public_id: c.publicId, status: lower(c.status), priority: lower(c.priority), reported_at: c.reportedAt,
    due_at: c.dueAt } }, at).catch((err) => toast(err.message)));
}

function caseList(id, conn) {
  const nodes = conn.edges.map((e) => e.node);
  if (!nodes.length) return el("p", { class: "note", id }, t("none"));
  return el("ol", { class: "feed cockpit-list", id }, nodes.map((c) => el("li", { dataset: { caseId: c.id } },
    el("button", { type: "button", class: "link", onclick: () => go(c) },
      `${name(CASE_CATEGORIES, c.category)} ${c.publicId}`),
    el("span", { class: "sub" }, `${t("due_at")} ${formatTime(c.clock?.deadline) || "–"}`))));
}

function drawClocks(result, counted) {
  const counts = $("cockpit-clock-counts");
  const lists = $("cockpit-lists");
  if (counted.error) fill(counts, message(counted.error));
  else {
    fill(counts, el("div", { class: "figures" },
      figure("warning", t("cockpit_warning"), count(counted.data.warning)),
      figure("overdue", t("cockpit_overdue"), count(counted.data.overdue))));
  }
  if (result.error) { fill(lists, counted.error ? null : message(result.error)); return; }
  const { warning, overdue } = result.data;
  fill(lists,
    el("h4", {}, t("cockpit_overdue_list")), caseList("cockpit-overdue", overdue),
    el("h4", {}, t("cockpit_warning_list")), caseList("cockpit-warning", warning));
}

function draw() {
  if (!last) return;
  drawFigures(last.figures);
  drawClocks(last.clocks, last.counts);
  $("cockpit-updated").textContent = tf("cockpit_updated", { at: formatTime(last.at) });
}

const settle = (promise) => promise.then(({ data }) => ({ data }), (error) => ({ error }));

/** Ask both queries; offer the toggle when one answers; draw if open. */
async function load() {
  const mine = generation;
  const asked = figureVariables();
  const [figures, clocks, counts] = await Promise.all([
    settle(query(DOC, "CockpitFigures", asked)).then((r) => ({ ...r, asked })),
    settle(query(DOC, "CockpitClocks", { first: LIST_SIZE })),
    settle(query(DOC, "CockpitClockCounts", { first: COUNT_CAP })),
  ]);
  if (mine !== generation) return;
  lastLoad = Date.now();
  last = { figures, clocks, counts, at: new Date().toISOString() };
  const any = !figures.error || !clocks.error;
  $("cockpit-toggle").hidden = !any;
  if (!any && isOpen()) setOpen(false);
  $("cockpit").dataset.loads = String(Number($("cockpit").dataset.loads || 0) + 1);
  draw();
}

/** Refresh now (`now`) or within REFRESH_MS of the last load, once, if the panel is open. */
function refresh(now = false) {
  if (!isOpen() || timer) return;
  const wait = now ? 0 : Math.max(0, lastLoad + REFRESH_MS - Date.now());
  timer = setTimeout(() => { timer = null; load().catch((err) => toast(err.message)); }, wait);
}

/** A new session (or none): probe what the cockpit may show, listen for changes. */
export async function onSession(session) {
  generation += 1;
  clearTimeout(timer);
  timer = null;
  last = null;
  if (stopNotifications) { stopNotifications(); stopNotifications = null; }
  setOpen(false);
  $("cockpit-toggle").hidden = true;
  fill($("cockpit-figures"));
  fill($("cockpit-clock-counts"));
  fill($("cockpit-lists"));
  if (!session) return;
  await load();
  if (!$("cockpit-toggle").hidden) {
    stopNotifications = await subscribe(DOC, "CockpitNotifications", {}, () => refresh(), () => {});
  }
}

export function setup(theMap) {
  map = theMap;
  $("cockpit-toggle").addEventListener("click", () => setOpen(!isOpen()));
  $("cockpit-close").addEventListener("click", () => { setOpen(false); $("cockpit-toggle").focus(); });
  $("cockpit").addEventListener("keydown", (event) => {
    if (event.key === "Escape") { setOpen(false); $("cockpit-toggle").focus(); }
  });
  document.addEventListener("onemap:case-event", () => refresh());
}

export function redraw() { draw(); }
