// 复盘 Replay of an incident, active or closed: a slider from its start to its close (or now) and
// play/pause; each moment shows `incidentStateAt` — the plots as they were drawn on the map, the
// level and the tasks' statuses in words — and the `incidentReplay` timeline up to it (newest at
// the bottom; an entry with a place flies there). And the printable report, downloaded with the
// page's own authorisation (`incidentReport`). Documents: plots.graphql.
import { el, facts, fill } from "./dom.js";
import { query } from "./gql.js";
import { language, name, parseTime, t, tf } from "./i18n.js";
import { REPLAY_KINDS } from "./incident_plot_words.js";
import * as plots from "./incident_plots.js";
import { LEVELS, TASK_STATUSES } from "./incident_words.js";

const DOC = "plots.graphql";
const STEPS = 80; // a play goes from start to end in this many steps
const TICK_MS = 250;
const lower = (v) => (v ? String(v).toLowerCase() : v);
const zh = () => language() === "zh";

let map = null;
let say = () => {};
let incident = null;
let box = null;
let key = "";
let on = false;
let entries = []; // ReplayEntry, oldest first
let startMs = 0;
let endMs = 0;
let asked = 0; // the latest state asked for: an older answer arriving late is dropped
let debounce = null;
let player = null;

/** A moment with its seconds, in the city's time zone. */
function moment(ms) {
  return new Date(ms).toLocaleString(zh() ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function kindName(kind) {
  if (REPLAY_KINDS[kind]) return name(REPLAY_KINDS, kind);
  return kind.startsWith("case_") ? `${name(REPLAY_KINDS, "case")} · ${kind.slice(5)}` : kind;
}

const $ = (id) => box?.querySelector(`#${id}`);

function entryItem(e) {
  const ms = parseTime(e.at).getTime();
  const open = () => {
    $("em-replay-slider").value = String(ms - startMs);
    show(e.at, ms);
    if (e.geometry) fly(e.geometry);
  };
  return el("li", { dataset: { kind: e.kind, source: e.source } },
    el("button", { class: "link", type: "button", onclick: open }, `${moment(ms)} · ${kindName(e.kind)}`),
    el("span", { class: "sub" }, zh() ? e.summaryZh : e.summaryEn));
}

function fly(g) {
  const xy = g.type === "Point" ? g.coordinates : (g.type === "LineString" ? g.coordinates : g.coordinates[0])[0];
  map.flyTo({ center: xy, zoom: Math.max(map.getZoom(), 15) });
}

/** Show the moment `at` (the ISO text sent to the server) = `ms`. */
async function show(at, ms) {
  const mine = ++asked;
  $("em-replay-at").textContent = `${t("em_replay_at")}: ${moment(ms)}`;
  let state;
  try {
    state = (await query(DOC, "IncidentStateAt", { id: incident.id, at })).data.incidentStateAt;
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
    return;
  }
  if (mine !== asked || !on) return;
  plots.showReplayed(state.plots);
  const tasks = state.tasks.map((k) => el("li", { dataset: { task: k.taskId, status: lower(k.status) } },
    el("span", {}, zh() ? k.textZh : k.textEn || k.textZh), " · ",
    el("strong", {}, name(TASK_STATUSES, lower(k.status)))));
  fill($("em-replay-state"),
    facts([[t("em_replay_level"), state.level ? name(LEVELS, state.level) : t("em_replay_not_yet")],
      [t("em_replay_plots"), state.plots.map((p) => `${zh() ? p.legend.labelZh : p.legend.labelEn}${p.label ? ` · ${p.label}` : ""}`).join("；")]]),
    el("h4", {}, t("em_replay_tasks")), tasks.length ? el("ul", {}, tasks) : el("p", { class: "note" }, t("none")));
  const list = $("em-replay-entries");
  fill(list, entries.filter((e) => parseTime(e.at).getTime() <= ms).map(entryItem));
  list.scrollTop = list.scrollHeight;
  box.firstChild.dataset.at = at;
}

/** The moment `ms` as sent to the server: an entry's own time when the slider stands on it (the
 * server's microseconds, which a Date drops, keep that entry in the state), else the ms. */
function exact(ms) {
  const on = entries.filter((e) => parseTime(e.at).getTime() === ms);
  if (on.length) return on[on.length - 1].at;
  return ms === parseTime(incident.startedAt).getTime() ? incident.startedAt : new Date(ms).toISOString();
}

function slid() {
  const ms = startMs + Number($("em-replay-slider").value);
  clearTimeout(debounce);
  debounce = setTimeout(() => show(exact(ms), ms), 120);
}

function play() {
  if (player) { pause(); return; }
  const slider = $("em-replay-slider");
  if (Number(slider.value) >= endMs - startMs) slider.value = "0";
  $("em-replay-play").textContent = t("em_replay_pause");
  player = setInterval(() => {
    const next = Math.min(endMs - startMs, Number(slider.value) + Math.max(1000, (endMs - startMs) / STEPS));
    slider.value = String(next);
    const ms = startMs + next;
    show(exact(ms), ms);
    if (next >= endMs - startMs) pause();
  }, TICK_MS);
}

function pause() {
  clearInterval(player);
  player = null;
  if ($("em-replay-play")) $("em-replay-play").textContent = t("em_replay_play");
}

async function begin() {
  say(t("em_replay_loading"));
  try {
    entries = (await query(DOC, "IncidentReplay", { id: incident.id })).data.incidentReplay;
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
    return;
  }
  say("");
  on = true;
  startMs = Math.min(parseTime(incident.startedAt).getTime(), ...entries.map((e) => parseTime(e.at).getTime()));
  endMs = incident.closedAt ? parseTime(incident.closedAt).getTime() : Date.now();
  const last = entries.length ? parseTime(entries[entries.length - 1].at).getTime() : endMs;
  endMs = Math.max(endMs, last);
  const slider = $("em-replay-slider");
  slider.max = String(endMs - startMs);
  slider.value = slider.max;
  $("em-replay-body").hidden = false;
  $("em-replay-toggle").textContent = t("em_replay_stop");
  show(exact(endMs), endMs);
}

function end() {
  on = false;
  asked += 1;
  pause();
  plots.showReplayed(null);
  if (!box?.firstChild) return;
  $("em-replay-body").hidden = true;
  $("em-replay-toggle").textContent = t("em_replay_start");
  delete box.firstChild.dataset.at;
}

async function report() {
  try {
    const { data } = await query(DOC, "IncidentReport", { id: incident.id, format: "HTML" });
    const r = data.incidentReport;
    // A download, not a window: a Blob page opened from here would inherit this page's CSP,
    // which strips the report's own print styling.
    const url = URL.createObjectURL(new Blob([r.content], { type: r.mediaType }));
    const a = el("a", { href: url, download: r.filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    say(tf("em_report_saved", { file: r.filename }));
  } catch (err) {
    say(`${t("error")}: ${err.message}`);
  }
}

function section() {
  return el("section", { class: "result em-replay", dataset: { section: "em_replay" } },
    el("h3", {}, t("em_replay")),
    el("div", { class: "row" },
      el("button", { id: "em-replay-toggle", type: "button", onclick: () => (on ? end() : begin()) }, t("em_replay_start")),
      el("button", { id: "em-report", type: "button", onclick: report }, t("em_report"))),
    el("div", { id: "em-replay-body", hidden: true },
      el("div", { class: "row" },
        el("button", { id: "em-replay-play", type: "button", onclick: play }, t("em_replay_play")),
        el("input", { id: "em-replay-slider", type: "range", min: "0", max: "0", step: "1",
          "aria-label": t("em_replay_at"), oninput: () => { pause(); slid(); } })),
      el("p", { id: "em-replay-at", class: "note" }),
      el("div", { id: "em-replay-state" }),
      el("h4", {}, t("em_replay_entries")),
      el("ol", { id: "em-replay-entries", class: "em-replay-entries" })));
}

/** Fill the replay's box (kept while the incident and the language stay; a new one ends it). */
export function render(target, next) {
  incident = next;
  const k = `${next?.id}:${language()}`;
  if (k === key && target === box) return;
  if (on) end();
  key = k;
  box = target;
  fill(target, next ? section() : null);
}

/** Leave the replay and forget its box (no incident open). */
export function clear() {
  if (on) end();
  key = "";
  box = null;
  incident = null;
}

export function setup(m, sayFn) {
  map = m;
  say = sayFn;
}
