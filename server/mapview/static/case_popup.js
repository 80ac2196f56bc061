// The case popup: the case's record from its tile for everyone; for staff who read cases
// (READ_CASES) the full case (CaseDetail) with its timeline, and buttons for the workflow steps
// the server lists in `allowedActions` — what the case's status allows and the caller's
// capabilities and jurisdiction permit, decided by the server's policy, not here. A step runs
// its mutation (dispatch_flow.graphql); the popup and the cases layer then show the new status.
import { el, facts, fill } from "./dom.js";
import { query } from "./gql.js";
import { formatTime, language, name, t, tf } from "./i18n.js";
import { refit, show, swatch } from "./popups.js";
import { can } from "./session.js";
import { CASE_CATEGORIES, CASE_EVENTS, CASE_PRIORITIES, CASE_SOURCES, CASE_STATUSES } from "./vocab.js";

const lower = (v) => (v ? String(v).toLowerCase() : v);

/**
 * The steps the popup offers, each with its mutation and the variable its note goes in. Marking
 * a duplicate needs the original case's id, which a popup cannot pick: it is not offered here.
 */
const STEPS = {
  dispatch: { op: "DispatchCase", note: "note" },
  start: { op: "StartCase", note: "note" },
  resolve: { op: "ResolveCase", note: "note", required: true },
  close: { op: "CloseCase", note: "note" },
  reject: { op: "RejectCase", note: "reason", required: true },
  reopen: { op: "ReopenCase", note: "note", required: true },
};

function header(category, publicId) {
  return el("h3", {}, name(CASE_CATEGORIES, category), el("small", {}, publicId));
}

function statusOf(status) {
  return el("span", { class: "status", dataset: { status } }, swatch(CASE_STATUSES[status]?.[2]),
    name(CASE_STATUSES, status));
}

function timeline(events) {
  return el("ol", { class: "timeline" }, events.map((e) => el("li", {},
    el("time", {}, formatTime(e.at)), " ",
    el("strong", {}, name(CASE_EVENTS, lower(e.eventType))),
    e.actor ? ` · ${e.actor.displayName}` : null,
    e.department ? ` · ${e.department.nameZh}` : null,
    e.note ? el("p", {}, e.note) : null)));
}

const departmentName = (d) => d && (language() === "zh" ? d.nameZh : d.nameEn || d.nameZh);

/** What the case is (read before acting on it) and who has it (read after). */
function what(c) {
  return facts([
    [t("status"), statusOf(lower(c.status))], [t("priority"), name(CASE_PRIORITIES, lower(c.priority))],
    [t("reported_at"), formatTime(c.reportedAt)], [t("due_at"), formatTime(c.dueAt)],
    [t("description"), c.description], [t("address"), c.address],
  ]);
}

function who(c) {
  const cell = c.gridCell && [c.gridCell.name,
    c.gridCell.worker ? ` · ${t("worker")} ${c.gridCell.worker.displayName}` : null];
  return facts([
    [t("source"), name(CASE_SOURCES, lower(c.source))], [t("grid"), cell],
    [t("department"), departmentName(c.department)], [t("assignee"), c.assignee?.displayName],
  ]);
}

/** The step buttons with a note field; `run(step, note)` resolves when the step is done. */
function actions(c, run) {
  const steps = (c.allowedActions || []).map(lower).filter((a) => STEPS[a]);
  if (!steps.length) return null;
  const id = `case-note-${c.id}`;
  const note = el("textarea", { id, rows: "2", maxlength: "4000", "aria-describedby": `${id}-help` });
  const state = el("p", { class: "note action-state", role: "status", "aria-live": "polite" });
  const buttons = steps.map((step, i) => el("button", {
    type: "button", class: i === 0 ? "primary" : null, dataset: { action: step },
    onclick: () => go(step),
  }, t(`action_${step}`)));
  async function go(step) {
    const text = note.value.trim();
    if (STEPS[step].required && !text) {
      state.classList.add("error");
      state.textContent = tf("note_required", { action: t(`action_${step}`) });
      note.focus();
      return;
    }
    for (const b of buttons) b.disabled = true;
    state.classList.remove("error");
    state.textContent = t("action_working");
    try {
      await run(step, text);
    } catch (err) {
      state.classList.add("error");
      state.textContent = `${t("error")}: ${err.message}`;
      for (const b of buttons) b.disabled = false;
    }
  }
  return el("section", { class: "actions", "aria-labelledby": `${id}-title` },
    el("h4", { id: `${id}-title` }, t("actions")),
    el("label", { for: id }, t("note"), " ", el("span", { class: "sub", id: `${id}-help` }, `(${t("note_help")})`)),
    note, el("div", { class: "buttons" }, buttons), state);
}

/** Run `step` on case `c`; the answer's case, or an Error with the server's message. */
async function runStep(c, step, note) {
  const variables = { id: c.id };
  if (note) variables[STEPS[step].note] = note;
  const { data } = await query("dispatch_flow.graphql", STEPS[step].op, variables);
  const result = Object.values(data || {})[0];
  if (!result) throw new Error(t("error"));
  if (result.__typename === "CaseError") throw new Error(result.message);
  return result.case;
}

/** The cases layer after a step: the new colour at once, the tiles (and so filters) reloaded. */
function refreshLayer(map, id, status) {
  if (!map.getSource("cases")) return;
  map.setFeatureState({ source: "cases", sourceLayer: "cases", id: Number(id) }, { status });
  if (map.refreshTiles) map.refreshTiles("cases");
}

/** Fill the popup with the full case; `done` is the message of a step just taken. */
async function showDetail(map, box, id, done = null) {
  const { data, errors } = await query("case_detail.graphql", "CaseDetail", { id });
  const c = data?.case;
  if (!c) throw new Error(errors[0]?.message || t("error"));
  const doneLine = done && el("p", { class: "note action-done", role: "status", tabindex: "-1" }, done);
  fill(box,
    header(c.category, c.publicId),
    doneLine,
    what(c),
    actions(c, async (step, note) => {
      const changed = await runStep(c, step, note);
      const status = lower(changed.status);
      refreshLayer(map, c.id, status);
      if (!box.isConnected) return; // closed meanwhile: nothing to redraw
      await showDetail(map, box, id, tf("action_done", { action: t(`action_${step}`), status: name(CASE_STATUSES, status) }));
    }),
    who(c),
    el("h4", {}, t("timeline")),
    timeline(c.events || []),
    errors.length ? el("p", { class: "note" }, errors[0].message) : null,
  );
  refit();
  if (doneLine) doneLine.focus(); // the button pressed is gone: keep the keyboard in the popup
}

export async function casePopup(map, feature, lngLat) {
  const p = feature.properties;
  const status = feature.state?.status || p.status;
  const id = String(feature.id);
  const more = el("p", { class: "note" }, can("read_cases") ? t("loading") : t("case_public_note"));
  const box = show(map, lngLat, [
    header(p.category, p.public_id),
    facts([
      [t("status"), statusOf(status)], [t("priority"), name(CASE_PRIORITIES, p.priority)],
      [t("reported_at"), formatTime(p.reported_at)], [t("due_at"), formatTime(p.due_at)],
    ]),
    more,
  ], "case");
  box.dataset.caseId = id;
  // Full cases (description, address, timeline, steps) are for READ_CASES, in the jurisdiction.
  if (!can("read_cases")) return;
  try {
    await showDetail(map, box, id);
  } catch (err) {
    fill(more, err.message);
    more.className = "error";
  }
}
