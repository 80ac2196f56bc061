// The case popup: the case's record from its tile for everyone; for staff who read cases
// (READ_CASES) the full case (CaseDetail) with its timeline, and buttons for the workflow steps
// the server lists in `allowedActions` — what the case's status allows and the caller's
// capabilities and jurisdiction permit, decided by the server's policy, not here — and the
// case's clock (时限). A step (case_steps.js: its mutation, note and form) runs; the popup and the
// cases layer then show the new status.
import { offered, run as runStep, STEPS } from "./case_steps.js";
import { el, facts, fill } from "./dom.js";
import { query } from "./gql.js";
import { formatTime, language, name, t, tf } from "./i18n.js";
import { refit, show, swatch } from "./popups.js";
import { can } from "./session.js";
import {
  CASE_CATEGORIES, CASE_EVENTS, CASE_PRIORITIES, CASE_SOURCES, CASE_STAGES, CASE_STATUSES, CLOCK_STATES,
} from "./vocab.js";

const lower = (v) => (v ? String(v).toLowerCase() : v);

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

/** The clock line: stage, state (coloured), deadline; suspended, or a request waiting. */
function clockLine(clock) {
  if (!clock) return null;
  const state = lower(clock.state);
  const request = clock.pendingRequest;
  return el("p", { class: "clock", dataset: { state } },
    `${t("clock")}：${name(CASE_STAGES, lower(clock.stage))} · `,
    el("span", { class: "clock-state" }, swatch(CLOCK_STATES[state]?.[2]), name(CLOCK_STATES, state)),
    clock.suspended ? ` · ${t("clock_suspended")}` : ` · ${t("clock_deadline")} ${formatTime(clock.deadline)}`,
    request ? ` · ${tf("clock_pending", { what: name(CASE_EVENTS, lower(request.kind)) })}` : null);
}

/** The supervision waiting for the caller's answer, if any. */
function supervisionLine(s) {
  return s && el("p", { class: `note supervision${s.missed ? " error" : ""}` },
    tf("supervision_waiting", { deadline: formatTime(s.deadline) }), " ", el("q", {}, s.note));
}

/** The step buttons with a note field and, for a step with one, its form; `act(offer, note,
 * values)` resolves when the step is done. */
function actions(c, act) {
  const steps = offered(c);
  if (!steps.length) return null;
  const id = `case-note-${c.id}`;
  const note = el("textarea", { id, rows: "2", maxlength: "4000", "aria-describedby": `${id}-help` });
  const state = el("p", { class: "note action-state", role: "status", "aria-live": "polite" });
  const formBox = el("div", { class: "step-form-box" });
  let open = null; // the offer whose form is shown, and the form
  const buttons = steps.map((offer, i) => el("button", {
    type: "button", class: i === 0 ? "primary" : null,
    dataset: { action: offer.step, task: offer.task?.id }, onclick: () => choose(offer),
  }, offer.label));
  const confirm = el("button", { type: "button", class: "primary", dataset: { confirm: "" },
    onclick: () => go(open.offer, open.form) });
  const fail = (message) => {
    state.classList.add("error");
    state.textContent = `${t("error")}: ${message}`;
  };
  function choose(offer) {
    const form = STEPS[offer.step].form;
    if (!form) { go(offer, null); return; }
    open = { offer, form: form(c) };
    confirm.textContent = tf("confirm_step", { action: offer.label });
    formBox.replaceChildren(open.form.node, el("div", { class: "buttons" }, confirm,
      el("button", { type: "button", onclick: () => { open = null; formBox.replaceChildren(); } }, t("cancel"))));
    state.classList.remove("error");
    state.textContent = "";
    refit();
  }
  async function go(offer, form) {
    const text = note.value.trim();
    if (STEPS[offer.step].required && !text) {
      state.classList.add("error");
      state.textContent = tf("note_required", { action: offer.label });
      note.focus();
      return;
    }
    const all = [...buttons, confirm];
    for (const b of all) b.disabled = true;
    state.classList.remove("error");
    state.textContent = t("action_working");
    try {
      await act(offer, text, form ? await form.collect() : {});
    } catch (err) {
      fail(err?.message || String(err));
      for (const b of all) b.disabled = false;
    }
  }
  return el("section", { class: "actions", "aria-labelledby": `${id}-title` },
    el("h4", { id: `${id}-title` }, t("actions")),
    el("label", { for: id }, t("note"), " ", el("span", { class: "sub", id: `${id}-help` }, `(${t("note_help")})`)),
    note, el("div", { class: "buttons" }, buttons), formBox, state);
}

/** The cases layer after a step: the new colour at once, the tiles (and so filters) reloaded. */
function refreshLayer(map, id, status) {
  if (!map.getSource("cases")) return;
  map.setFeatureState({ source: "cases", sourceLayer: "cases", id: Number(id) }, { status });
  if (map.refreshTiles) map.refreshTiles("cases");
}

/** Fill the popup with the full case; `done(case)` says what a step just taken did. */
async function showDetail(map, box, id, done = null) {
  const { data, errors } = await query("case_detail.graphql", "CaseDetail", { id });
  const c = data?.case;
  if (!c) throw new Error(errors[0]?.message || t("error"));
  const doneLine = done && el("p", { class: "note action-done", role: "status", tabindex: "-1" }, done(c));
  fill(box,
    header(c.category, c.publicId),
    doneLine,
    what(c),
    clockLine(c.clock),
    supervisionLine(c.pendingSupervision),
    actions(c, async (offer, note, values) => {
      const changed = await runStep(c, offer, note, values);
      if (changed.case?.status) refreshLayer(map, c.id, lower(changed.case.status));
      if (!box.isConnected) return; // closed meanwhile: nothing to redraw
      await showDetail(map, box, id, (now) => tf("action_done",
        { action: offer.label, status: name(CASE_STATUSES, lower(now.status)) }));
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
