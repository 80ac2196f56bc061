// 预警 An incident's warnings in its panel: each CAP message issued for it (incidentId) with how
// far it got — citizens reached, inboxes, push answers (delivered, gone, failed), still pending:
// counts only, from `Warning.delivery` — refreshed every few seconds while the incident is open,
// since the pushes are answered after the message is written. With `issue_warnings` (the
// warning desk) a form drafts a warning prefilled from the incident: its area (or a circle of
// its reach around its point), the event and headline from the plan's hazard type, severity
// from the level, urgency/certainty pickers, instructions in both languages; 发布预警 sends
// `IssueIncidentWarning`. The server decides again; its refusal is shown as it words it.
// Document: incident_warnings.graphql. Words: incident_warning_words.js.
import { el, fill } from "./dom.js";
import { query } from "./gql.js";
import { formatTime, language, name, t, tf } from "./i18n.js";
import { circle } from "./incident.js";
import { HAZARD_WARNINGS, LEVEL_SEVERITY } from "./incident_warning_words.js";
import { LEVELS } from "./incident_words.js";
import { can } from "./session.js";
import { WARNING_SEVERITIES } from "./vocab.js";
import { refresh as refreshMapWarnings } from "./warnings.js";

const DOC = "incident_warnings.graphql";
export const DELIVERY_REFRESH_MS = 5_000;
const URGENCIES = ["Immediate", "Expected", "Future", "Past", "Unknown"];
const CERTAINTIES = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
const SEVERITIES = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const upper = (v) => String(v).toUpperCase();
const zh = () => language() === "zh";

let map = null;
let say = () => {};
let incident = null;
let warnings = []; // IncidentWarnings: the incident's messages with their delivery
let loadedFor = null;
let timer = null;
let listBox = null;
let formBox = null;
let formKey = "";

/** The area a warning of the incident covers: its area, or a circle of its reach (closed). */
export function areaOf(i) {
  if (i.geometry.type !== "Point") return i.geometry;
  const ring = circle(i.geometry.coordinates, i.reachM, 48).coordinates[0]
    .map(([x, y]) => [Number(x.toFixed(6)), Number(y.toFixed(6))]);
  ring[ring.length - 1] = ring[0];
  return { type: "Polygon", coordinates: [ring] };
}

function deliveryFacts(d) {
  if (!d) return el("p", { class: "note" }, t("ew_no_delivery"));
  return el("dl", { class: "facts em-delivery" }, [
    ["recipients", d.recipients], ["inbox", d.inboxDelivered], ["push_delivered", d.pushDelivered],
    ["push_gone", d.pushGone], ["push_failed", d.pushFailed], ["pending", d.pending],
  ].map(([key, n]) => [el("dt", {}, t(`ew_${key}`)), el("dd", { dataset: { count: key } }, String(n))]),
  d.updatedAt ? [el("dt", {}, t("ew_updated")), el("dd", {}, formatTime(d.updatedAt))] : null);
}

function item(w) {
  const texts = Object.fromEntries(w.info.map((b) => [b.language, b]));
  const text = zh() ? texts["zh-CN"] : texts["en-US"] || texts["zh-CN"];
  const state = w.active ? t("ew_in_force") : w.replacedBy ? tf("ew_replaced", { by: w.replacedBy }) : t("ew_not_in_force");
  return el("li", { class: "em-warning-item", dataset: { identifier: w.identifier, severity: upper(w.severity) } },
    el("strong", {}, text?.headline ?? w.identifier),
    el("span", { class: "sub" }, `${w.identifier} · ${w.msgType} · ${w.status} · ${name(WARNING_SEVERITIES, upper(w.severity))} · ${state}`),
    el("span", { class: "sub" }, `${t("ew_sent")} ${formatTime(w.sent)} · ${t("ew_until")} ${formatTime(w.expires)}`),
    deliveryFacts(w.delivery),
    el("p", {}, el("a", { href: new URL(`../..${w.capUrl}`, import.meta.url).href, target: "_blank" }, "CAP 1.2 XML")));
}

function renderList() {
  if (!listBox) return;
  fill(listBox, el("h3", {}, t("ew_title"), el("span", { class: "count" }, String(warnings.length))),
    warnings.length ? el("ul", {}, warnings.map(item)) : el("p", { class: "note" }, t("none")));
}

/** Read the incident's warnings and their delivery again (the panel stays as it is on error). */
export async function load() {
  const id = incident?.id;
  if (!id) return;
  try {
    const { data, errors } = await query(DOC, "IncidentWarnings", { id });
    if (incident?.id !== id) return;
    warnings = data?.emergencyIncident?.warnings ?? [];
    loadedFor = id;
    renderList();
    if (errors.length && !warnings.length) say(`${t("error")}: ${errors[0].message}`);
  } catch (err) {
    if (incident?.id === id) say(`${t("error")}: ${err.message}`);
  }
}

// CAP's own words for urgency and certainty; severity also in the page's language.
const optionText = (id, v) => (id === "ew-severity" ? `${name(WARNING_SEVERITIES, upper(v))} · ${v}` : v);
const select = (id, values, chosen) => {
  const box = el("select", { id }, values.map((v) => el("option", { value: v }, optionText(id, v))));
  box.value = chosen;
  return box;
};

/** The draft form, prefilled from the incident (built once per incident, status and language). */
function form(i) {
  const hazard = (i.plan?.hazardType ?? "other").toLowerCase();
  const words = HAZARD_WARNINGS[hazard] ?? HAZARD_WARNINGS.other;
  const level = name(LEVELS, i.level);
  const input = (id, value, max = "160") => {
    const box = el("input", { id, type: "text", maxlength: max });
    box.value = value;
    return box;
  };
  const area = (id, value) => {
    const box = el("textarea", { id, rows: "2", maxlength: "4000" });
    box.value = value;
    return box;
  };
  const fields = {
    eventZh: input("ew-event-zh", words.zh), eventEn: input("ew-event-en", words.en),
    headlineZh: input("ew-headline-zh", `${words.zh}预警：${i.title}`.slice(0, 160)),
    headlineEn: input("ew-headline-en", `${words.en} warning: incident ${i.number}`.slice(0, 160)),
    descriptionZh: area("ew-description-zh", `${i.title}（${i.number}）已启动${name(LEVELS, i.level)}应急响应。`),
    descriptionEn: area("ew-description-en", `Emergency response at level ${i.level} for incident ${i.number} (${words.en.toLowerCase()}).`),
    instructionZh: area("ew-instruction-zh", words.doZh), instructionEn: area("ew-instruction-en", words.doEn),
    severity: select("ew-severity", SEVERITIES, LEVEL_SEVERITY[i.level] ?? "Severe"),
    urgency: select("ew-urgency", URGENCIES, "Immediate"),
    certainty: select("ew-certainty", CERTAINTIES, "Observed"),
    hours: input("ew-hours", "6", "3"),
  };
  fields.hours.type = "number";
  fields.hours.min = "1";
  fields.hours.max = "72";
  const issue = async () => {
    const v = Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.value.trim()]));
    if (!v.headlineZh || !v.headlineEn || !v.eventZh || !v.eventEn) { say(t("ew_texts_needed")); return; }
    const hours = Number(v.hours);
    if (!(hours >= 1 && hours <= 72)) { say(t("ew_hours_needed")); fields.hours.focus(); return; }
    const input = {
      category: words.category, severity: upper(v.severity), urgency: upper(v.urgency),
      certainty: upper(v.certainty), expires: new Date(Date.now() + hours * 3600_000).toISOString(),
      areaDesc: `${i.title}（${i.number}）${t("ew_area_of")}`.slice(0, 500), area: areaOf(i),
      incidentId: Number(i.id),
      info: [
        { language: "zh-CN", event: v.eventZh, headline: v.headlineZh, description: v.descriptionZh || v.headlineZh, instruction: v.instructionZh },
        { language: "en-US", event: v.eventEn, headline: v.headlineEn, description: v.descriptionEn || v.headlineEn, instruction: v.instructionEn },
      ],
    };
    say(t("ew_issuing"));
    try {
      const { data, errors } = await query(DOC, "IssueIncidentWarning", { input });
      if (!data?.issueWarning) { say(`${t("error")}: ${errors.map((e) => e.message).join("; ")}`); return; }
      say(tf("ew_issued", { identifier: data.issueWarning.identifier }));
      await load();
      refreshMapWarnings(map).catch(() => {});
    } catch (err) {
      say(`${t("error")}: ${err.message}`);
    }
  };
  const labelled = (key, control) => el("label", { class: "row" }, el("span", {}, t(key)), control);
  const stacked = (key, control) => el("label", { class: "stack" }, el("span", {}, t(key)), control);
  return el("details", { class: "result em-warn-form", id: "ew-form" },
    el("summary", { id: "ew-open" }, t("ew_draft")),
    el("p", { class: "note" }, tf("ew_area_note", {
      area: i.geometry.type === "Point" ? tf("ew_area_circle", { r: Math.round(i.reachM) }) : t("ew_area_incident") })),
    labelled("ew_severity", fields.severity), labelled("ew_urgency", fields.urgency),
    labelled("ew_certainty", fields.certainty), labelled("ew_hours", fields.hours),
    labelled("ew_event_zh", fields.eventZh), labelled("ew_event_en", fields.eventEn),
    stacked("ew_headline_zh", fields.headlineZh), stacked("ew_headline_en", fields.headlineEn),
    stacked("ew_description_zh", fields.descriptionZh), stacked("ew_description_en", fields.descriptionEn),
    stacked("ew_instruction_zh", fields.instructionZh), stacked("ew_instruction_en", fields.instructionEn),
    el("p", { class: "note" }, tf("ew_level_note", { level })),
    el("div", { class: "row end" }, el("button", { id: "ew-issue", type: "button", onclick: issue }, t("ew_issue"))));
}

/** Draw the section into `box` (kept across the panel's redraws) for the open incident. */
export function render(box, i) {
  incident = i;
  if (!i) { stop(); box.replaceChildren(); warnings = []; loadedFor = null; formKey = ""; return; }
  if (!box.firstChild) {
    box.append(el("section", { class: "result", dataset: { section: "em_warnings" } }), el("div"));
  }
  [listBox, formBox] = box.children;
  if (loadedFor !== i.id) { warnings = []; load(); }
  renderList();
  const key = `${i.id}:${i.status}:${language()}:${can("issue_warnings")}`;
  if (key !== formKey) {
    formKey = key;
    fill(formBox, can("issue_warnings") && i.status === "ACTIVE" ? form(i) : null);
  }
  if (!timer) timer = setInterval(() => { if (incident && !document.hidden) load(); }, DELIVERY_REFRESH_MS);
}

function stop() {
  clearInterval(timer);
  timer = null;
}

export function setup(m, { say: sayer }) {
  map = m;
  say = sayer;
}
