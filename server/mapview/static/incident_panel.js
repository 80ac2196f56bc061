// The incident panel of the emergency mode: what a stored incident holds (EmergencyIncident in
// incidents.graphql), as words — plan and level, the place and reach, affected units, hazard
// sources, nearby cameras (▶ opens the map view's camera popup), population by grid cell, open
// cases, sensor alarms, the weather, the resources by drive time and the lifelines (生命线, routes
// on the roads from the quickest resource of each kind), and the tasks by department with the
// steps the server lists for this user (`allowedActions`). Level change and close are in incident_forms.js.
import { casePopup } from "./case_popup.js";
import { el, facts } from "./dom.js";
import { formatDistance, formatTime, language, name, t, tf } from "./i18n.js";
import { cameraPopup, facilityPopup } from "./popups.js";
import { CAMERA_STATUSES, CASE_CATEGORIES, CASE_STATUSES, FACILITY_CATEGORIES } from "./vocab.js";
import { ALARM_LEVELS, HAZARD_TYPES, INCIDENT_STATUSES, LEVELS, TASK_STATUSES, TASK_STEPS } from "./incident_words.js";

const lower = (v) => (v ? String(v).toLowerCase() : v);
const duration = (s) => (s < 60 ? tf("em_seconds", { n: Math.round(s) }) : tf("em_minutes", { n: (s / 60).toFixed(1) }));
const zh = () => language() === "zh";

function section(key, items, render, extra = null) {
  return el("section", { class: "result", dataset: { section: key } },
    el("h3", {}, t(key), el("span", { class: "count" }, String(items.length))),
    extra,
    items.length ? el("ul", {}, items.map(render)) : el("p", { class: "note" }, t("none")));
}

function row(id, label, onOpen, sub, actions = []) {
  return el("li", { dataset: { id } }, el("button", { class: "link", type: "button", onclick: onOpen }, label),
    el("span", { class: "sub" }, sub), actions);
}

function head(i) {
  const v = i.planVersion;
  const title = v ? (zh() ? v.titleZh : v.titleEn || v.titleZh) : "";
  return el("div", { class: "em-head", dataset: { status: lower(i.status), level: i.level } },
    el("h3", {}, i.title),
    facts([
      [t("em_number"), i.number],
      [t("em_plan"), i.plan ? `${i.plan.number} · ${title} · ${name(HAZARD_TYPES, i.plan.hazardType?.toLowerCase())}` : title],
      [t("em_level"), name(LEVELS, i.level)],
      [t("em_status"), name(INCIDENT_STATUSES, lower(i.status))],
      [t("em_reach"), i.geometry.type === "Point"
        ? `${i.geometry.coordinates.map((c) => c.toFixed(5)).join(", ")} · ${formatDistance(i.reachM)}`
        : `${t("em_inside")}${i.reachM ? ` + ${formatDistance(i.reachM)}` : ""}`],
      [t("em_started"), formatTime(i.startedAt)],
      [t("em_started_by"), i.startedBy?.displayName],
      [t("em_closed_at"), formatTime(i.closedAt)],
      [t("em_summary"), i.summary],
    ]));
}

function weather(w) {
  return el("section", { class: "result", dataset: { section: "em_weather" } },
    el("h3", {}, t("em_weather")),
    facts([
      [t("em_rain"), `${w.rainMmH.toFixed(1)} mm/h`],
      [t("em_wind"), `${w.windSpeedMS.toFixed(1)} m/s · ${Math.round(w.windDirectionDeg)}°`],
      [t("em_temperature"), `${w.temperatureC.toFixed(1)} °C`],
      [t("em_observed"), formatTime(w.observedAt)],
    ]),
    w.warnings.map((x) => el("p", { class: "em-warning", dataset: { colour: x.colour } }, zh() ? x.textZh : x.textEn)));
}

function taskItem(task, on) {
  const text = zh() ? task.textZh : task.textEn;
  const status = lower(task.status);
  const draft = on.drafts.get(task.id);
  const reason = el("input", { type: "text", maxlength: "500", "aria-label": t("em_refuse_reason"),
    placeholder: t("em_refuse_reason"), dataset: { focus: `${task.id}:reason` },
    oninput: (e) => on.drafts.set(task.id, e.target.value) });
  reason.value = draft ?? "";
  const refuse = el("div", { class: "row em-refuse", hidden: draft == null }, reason,
    el("button", { type: "button", dataset: { step: "refused-confirm", focus: `${task.id}:refused-confirm` },
      onclick: () => on.onStep(task, "REFUSED", reason.value.trim()) }, t("em_refuse_confirm")));
  const steps = (task.allowedActions || []).map(lower).filter((s) => TASK_STEPS[s]).map((s) =>
    el("button", { type: "button", dataset: { step: s, focus: `${task.id}:${s}` }, onclick: () => {
      if (s !== "refused") { on.onStep(task, s.toUpperCase(), null); return; }
      on.drafts.set(task.id, reason.value);
      refuse.hidden = false;
      reason.focus();
    } }, name(TASK_STEPS, s)));
  return el("li", { class: "em-task", dataset: { task: task.id, status } },
    el("span", { class: "em-task-text" }, text),
    el("span", { class: "sub" }, `${name(LEVELS, task.level)} · ${t("em_due")} ${formatTime(task.dueAt)}`),
    el("strong", { class: "em-task-status", dataset: { status } }, name(TASK_STATUSES, status)),
    task.reason ? el("span", { class: "sub" }, `${t("em_reason")}: ${task.reason}`) : null,
    steps.length ? el("div", { class: "row em-steps" }, steps) : null,
    steps.length ? refuse : null);
}

function tasks(list, on) {
  const byDepartment = new Map();
  for (const task of list) {
    const d = task.department;
    const key = d ? d.code : "";
    if (!byDepartment.has(key)) byDepartment.set(key, { d, items: [] });
    byDepartment.get(key).items.push(task);
  }
  return el("section", { class: "result", dataset: { section: "em_tasks" } },
    el("h3", {}, t("em_tasks"), el("span", { class: "count" }, String(list.length))),
    [...byDepartment.values()].map(({ d, items }) => el("div", { class: "em-department", dataset: { department: d?.code } },
      el("h4", {}, d ? (zh() ? d.nameZh : d.nameEn || d.nameZh) : ""),
      el("ul", {}, items.map((task) => taskItem(task, on))))));
}

/**
 * The incident's panel, as DOM: its head, the tasks, then its other sections. `on`:
 * {onStep(task, status, note)} for the task buttons, {drafts}: the refusal reasons being typed,
 * by task id, {onLifelinesNow()}: find the lifelines again on the roads as they are now.
 */
export function incidentPanel(map, i, on) {
  const c = i.context;
  const fly = (g) => map.flyTo({ center: g.coordinates, zoom: Math.max(map.getZoom(), 16) });
  const facility = (f, category, sub = null) => row(f.id, zh() ? f.nameZh : f.nameEn || f.nameZh, () => {
    fly(f.geometry);
    facilityPopup(map, { id: f.id, properties: { name_zh: f.nameZh, name_en: f.nameEn || "", category,
      capacity: f.capacity } }, f.geometry.coordinates);
  }, sub ?? `${name(FACILITY_CATEGORIES, category)} · ${formatDistance(f.distanceM)}`);
  const camera = (k) => {
    const open = () => { fly(k.geometry); cameraPopup(map, k.id, { code: k.code, name: k.name, status: lower(k.status) }, k.geometry.coordinates); };
    const play = k.streamUrl
      ? el("button", { class: "play", type: "button", "aria-label": `${t("play")} ${k.name}`, dataset: { camera: k.id }, onclick: open }, `▶ ${t("play")}`)
      : el("span", { class: "sub" }, t("no_video_role"));
    return row(k.id, k.name, open, `${name(CAMERA_STATUSES, lower(k.status))} · ${formatDistance(k.distanceM)}`, [play]);
  };
  const cell = (g) => el("li", { dataset: { id: g.id } }, el("strong", {}, g.name),
    el("span", { class: "sub" }, `${g.code}${g.worker ? ` · ${t("worker")} ${g.worker.displayName}` : ""}`),
    el("span", { class: "em-people" }, tf("em_people", { n: g.population })));
  const kase = (k) => row(k.id, name(CASE_CATEGORIES, k.category), () => {
    fly(k.geometry);
    casePopup(map, { id: k.id, properties: { category: k.category, public_id: k.publicId, status: lower(k.status),
      priority: lower(k.priority), reported_at: k.reportedAt } }, k.geometry.coordinates);
  }, `${k.publicId} · ${name(CASE_STATUSES, lower(k.status))} · ${formatDistance(k.distanceM)}`);
  const alarm = (a) => row(a.id, a.thing, () => fly(a.geometry),
    `${a.datastream} · ${name(ALARM_LEVELS, lower(a.level))} · ${a.lastValue} · ${formatTime(a.raisedAt)} · ${formatDistance(a.distanceM)}`);
  const resource = (r) => {
    const at = { type: "Point", coordinates: [r.lon, r.lat] };
    return facility({ ...r, geometry: at }, lower(r.category), `${name(FACILITY_CATEGORIES, lower(r.category))} · `
      + tf("em_drive", { time: duration(r.driveS), road: formatDistance(r.driveM), line: formatDistance(r.straightM) }));
  };
  const lifeline = (x) => {
    const r = x.route;
    const roads = (zh() ? r.roadNamesZh : r.roadNamesEn).join(zh() ? "、" : ", ");
    const fit = () => {
      const xy = r.geometry.coordinates;
      map.fitBounds([[Math.min(...xy.map((p) => p[0])), Math.min(...xy.map((p) => p[1]))],
        [Math.max(...xy.map((p) => p[0])), Math.max(...xy.map((p) => p[1]))]], { padding: 60, maxZoom: 16 });
    };
    return row(x.facilityId, zh() ? x.fromFacility : x.fromFacilityEn || x.fromFacility, r.found ? fit : null,
      r.found ? tf("em_route", { time: duration(r.durationS), road: formatDistance(r.lengthM), roads }) : t("em_no_route"));
  };
  return [
    head(i),
    tasks(i.tasks, on),
    section("em_affected", c.affectedUnits, (f) => facility(f, lower(f.category))),
    section("em_hazards", c.hazards, (f) => facility(f, "hazard_source")),
    section("em_cameras", c.cameras, camera),
    section("em_population", c.gridCells, cell, el("p", { class: "note" }, tf("em_population_total", { n: c.population }))),
    section("em_cases", c.openCases, kase),
    section("em_alarms", c.sensorAlarms, alarm),
    weather(c.weather),
    section("em_resources", c.resources, resource, c.routingNote ? el("p", { class: "note" }, c.routingNote) : null),
    section("em_lifelines", c.lifelines, lifeline, on.onLifelinesNow && i.status === "ACTIVE"
      ? el("div", { class: "row end" }, el("button", { id: "em-lifelines-now", type: "button", onclick: on.onLifelinesNow }, t("em_lifelines_now")))
      : null),
    // Plotting (指挥标绘, incident_plots.js) and the replay (复盘, incident_replay.js) have their
    // own boxes around this panel (incident_mode.js render).
  ];
}
