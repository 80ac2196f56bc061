// The daily loop's steps as the case popup offers them: for each step the server may list in
// `Case.allowedActions` (and each task step in `Case.tasks[].allowedActions`), its mutation in
// the contract's documents (graphql/operations/*.graphql), the variable its note goes in, and
// the form of the steps that need more than a note: a department picker (transfer), several
// departments (co-handling, the joint task), a deadline (督办), the on-site check (核查: passed or
// not, photos uploaded to the REST photos endpoint first, the position from the browser) and the
// callback (回访: the caller's satisfaction). Which steps show is the server's decision, never
// this module's.
import { el } from "./dom.js";
import { query } from "./gql.js";
import { language, t } from "./i18n.js";
import { authHeaders } from "./session.js";

const FLOW = "dispatch_flow.graphql";
const TEAM = "collaboration.graphql";
const SUPERVISION = "supervision.graphql";
const HOTLINE = "hotline.graphql";
const CLOCK = "case_clock.graphql";

/** Departments, fetched once per page (GraphQL `departments`). */
let departmentList = null;
function departments() {
  departmentList ??= query(TEAM, "Departments").then(({ data }) => data.departments)
    .catch((err) => { departmentList = null; throw err; });
  return departmentList;
}

const departmentName = (d) => (language() === "zh" ? d.nameZh : d.nameEn || d.nameZh);

/** Every department but the case's own (the lead), as radio buttons or checkboxes. */
function departmentPicker(c, multiple) {
  const type = multiple ? "checkbox" : "radio";
  const list = el("div", { class: "choices", role: "group" }, t("loading"));
  departments().then((all) => list.replaceChildren(...all
    .filter((d) => d.id !== c.department?.id)
    .map((d) => el("label", {}, el("input", { type, name: `dept-${c.id}`, value: d.id }), " ",
      departmentName(d)))))
    .catch((err) => { list.textContent = `${t("error")}: ${err.message}`; });
  const node = el("fieldset", { class: "step-form" },
    el("legend", {}, t(multiple ? "pick_departments" : "pick_department")), list);
  const chosen = () => [...list.querySelectorAll("input:checked")].map((i) => i.value);
  return { node, chosen };
}

const transferForm = (c) => {
  const picker = departmentPicker(c, false);
  return { node: picker.node, collect: async () => {
    const [id] = picker.chosen();
    if (!id) throw new Error(t("pick_department_first"));
    return { departmentId: id };
  } };
};

const departmentsForm = (c) => {
  const picker = departmentPicker(c, true);
  return { node: picker.node, collect: async () => {
    const ids = picker.chosen();
    if (!ids.length) throw new Error(t("pick_departments_first"));
    return { departmentIds: ids };
  } };
};

/** `datetime-local`'s text for a Date, in the browser's time zone. */
function localText(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const superviseForm = (c) => {
  const id = `deadline-${c.id}`;
  const input = el("input", { id, type: "datetime-local", required: true,
    value: localText(new Date(Date.now() + 2 * 86400_000)) });
  const node = el("div", { class: "step-form" }, el("label", { for: id }, t("supervise_deadline")), input);
  return { node, collect: async () => {
    const when = new Date(input.value);
    if (!input.value || Number.isNaN(when.getTime())) throw new Error(t("supervise_deadline_first"));
    return { deadline: when.toISOString() };
  } };
};

/** Radio buttons, the first chosen; `cls`: "step-form" for a form of its own. */
function choice(c, key, options, cls = "step-form") {
  return el("fieldset", { class: cls }, el("legend", {}, t(key)),
    options.map(([value, label], i) => el("label", {},
      el("input", { type: "radio", name: `${key}-${c.id}`, value, checked: i === 0 }), " ", t(label))));
}

const picked = (node) => node.querySelector("input:checked")?.value;

/** Whom to call back: the case's callers who agreed to it, with their number (the read of
 * their contact is audited by the server, as the call-taker is about to call). */
function callerPicker(c) {
  const list = el("div", { class: "choices", role: "group" }, t("loading"));
  query(HOTLINE, "CaseCallers", { id: c.id }).then(({ data, errors }) => {
    const callers = (data?.case?.callers || []).filter((p) => p.consentCallback);
    if (!callers.length) { list.textContent = errors[0]?.message || t("none"); return; }
    list.replaceChildren(...callers.map((p, i) => el("label", {},
      el("input", { type: "radio", name: `caller-${c.id}`, value: p.id, checked: i === 0 }), " ",
      `${p.name} · ${p.phone}`, p.callbackTime ? ` · ${p.callbackTime}` : null)));
  }).catch((err) => { list.textContent = `${t("error")}: ${err.message}`; });
  return el("fieldset", { class: "choice" }, el("legend", {}, t("callback_to")), list);
}

const callbackForm = (c) => {
  const callers = callerPicker(c);
  const satisfaction = choice(c, "satisfaction", [["SATISFIED", "satisfied"],
    ["BASICALLY_SATISFIED", "basically_satisfied"], ["NOT_SATISFIED", "not_satisfied"]], "choice");
  const node = el("div", { class: "step-form" }, callers, satisfaction);
  return { node, collect: async () => {
    const caller = picked(callers);
    return { satisfaction: picked(satisfaction), ...(caller ? { callerId: caller } : {}) };
  } };
};

/** Where the browser says the person is. No fallback to the case's own position: the check's
 * rule (geo/services/checks.py) is that the checker stands within the category's radius of the
 * case, which sending the case's position would claim without anyone being there. */
function here() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error(t("check_no_position"))); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude }),
      (err) => reject(new Error(err.code === 1 ? t("locate_denied") : t("check_no_position"))),
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 30_000 });
  });
}

/** Upload the chosen photos (REST, with the user's token); their ids. */
async function upload(caseId, files) {
  const url = new URL(`../../api/v1/staff/cases/${encodeURIComponent(caseId)}/photos`, import.meta.url);
  const body = new FormData();
  for (const f of files) body.append("photos", f);
  const response = await fetch(url, { method: "POST", body, headers: authHeaders(url) });
  let answer = null;
  try { answer = await response.json(); } catch (_) { /* not JSON: said below */ }
  if (!response.ok) throw new Error(answer?.detail || answer?.title || `HTTP ${response.status}`);
  return answer.photos.map((p) => String(p.id));
}

const checkForm = (c) => {
  const result = choice(c, "check_result", [["passed", "check_passed"], ["failed", "check_failed"]], "choice");
  const id = `check-photos-${c.id}`;
  const photos = el("input", { id, type: "file", accept: "image/*", multiple: true, capture: "environment" });
  const node = el("div", { class: "step-form" }, result,
    el("label", { for: id }, t("check_photos")), photos,
    el("p", { class: "sub" }, t("check_position_note")));
  let uploaded = null; // kept for a second try (after moving closer): not uploaded twice
  photos.addEventListener("change", () => { uploaded = null; });
  return { node, collect: async () => {
    if (!photos.files.length && !uploaded) throw new Error(t("check_photos_first"));
    const { lon, lat } = await here();
    uploaded ??= await upload(c.id, photos.files);
    return { passed: picked(result) === "passed", lon, lat, photoIds: uploaded };
  } };
};

/** The extension asked for, in working hours (the server counts working minutes). */
const extensionForm = (c) => {
  const id = `extension-${c.id}`;
  const input = el("input", { id, type: "number", min: "1", max: "240", step: "1", value: "8", required: true });
  const node = el("div", { class: "step-form" }, el("label", { for: id }, t("extension_hours")), input);
  return { node, collect: async () => {
    const hours = Number(input.value);
    if (!Number.isInteger(hours) || hours < 1 || hours > 240) throw new Error(t("extension_hours_range"));
    return { workingMinutes: hours * 60 };
  } };
};

/**
 * The steps: mutation (file, operation), the variable the note goes in, whether the note is
 * required, the variable the case's (or task's) id goes in, and the form, if any.
 */
export const STEPS = {
  dispatch: { file: FLOW, op: "DispatchCase", note: "note" },
  start: { file: FLOW, op: "StartCase", note: "note" },
  resolve: { file: FLOW, op: "ResolveCase", note: "note", required: true },
  close: { file: FLOW, op: "CloseCase", note: "note" },
  reject: { file: FLOW, op: "RejectCase", note: "reason", required: true },
  reopen: { file: FLOW, op: "ReopenCase", note: "note", required: true },
  transfer: { file: TEAM, op: "TransferCase", note: "reason", required: true, form: transferForm },
  request_return: { file: TEAM, op: "RequestReturn", note: "reason", required: true },
  accept_return: { file: TEAM, op: "AcceptReturn", note: "note" },
  refuse_return: { file: TEAM, op: "RefuseReturn", note: "reason", required: true },
  add_co_handlers: { file: TEAM, op: "AddCoHandlers", note: "note", form: departmentsForm },
  blow_whistle: { file: TEAM, op: "BlowWhistle", note: "reason", required: true, form: departmentsForm },
  comment: { file: TEAM, op: "CommentCase", note: "note", required: true },
  supervise: { file: SUPERVISION, op: "SuperviseCase", note: "note", required: true, form: superviseForm },
  answer_supervision: { file: SUPERVISION, op: "AnswerSupervision", note: "note", required: true,
    id: (c) => c.pendingSupervision?.id },
  check: { file: HOTLINE, op: "CheckCase", note: "note", form: checkForm },
  callback: { file: HOTLINE, op: "RecordCallback", note: "note", idVar: "caseId", form: callbackForm },
  request_suspension: { file: CLOCK, op: "RequestSuspension", note: "reason", required: true },
  request_extension: { file: CLOCK, op: "RequestExtension", note: "reason", required: true, form: extensionForm },
  resume: { file: CLOCK, op: "ResumeCase", note: "reason", required: true },
  approve_clock_request: { file: CLOCK, op: "ApproveClockRequest", note: "note", required: true },
  refuse_clock_request: { file: CLOCK, op: "RefuseClockRequest", note: "reason", required: true },
  task_start: { file: TEAM, op: "StartTask", note: "note", idVar: "taskId" },
  task_finish: { file: TEAM, op: "FinishTask", note: "note", required: true, idVar: "taskId" },
  task_decline: { file: TEAM, op: "DeclineTask", note: "reason", required: true, idVar: "taskId" },
};

/** The steps to offer on `c`: its allowed actions, then its tasks' (each with the task). */
export function offered(c) {
  const lower = (v) => String(v).toLowerCase();
  const steps = (c.allowedActions || []).map(lower).filter((s) => STEPS[s])
    .map((step) => ({ step, label: t(`action_${step}`) }));
  for (const task of c.tasks || []) {
    for (const a of task.allowedActions || []) {
      const step = `task_${lower(a)}`;
      steps.push({ step, task, label: `${t(`action_${step}`)} · ${task.department ? departmentName(task.department) : ""}` });
    }
  }
  // A comment is always possible and never the point: last.
  return [...steps.filter((s) => s.step !== "comment"), ...steps.filter((s) => s.step === "comment")];
}

/** Run one offered step with the note and the form's values; the mutation's answer. */
export async function run(c, { step, task }, note, values = {}) {
  const rule = STEPS[step];
  const subject = task ? task.id : rule.id ? rule.id(c) : c.id;
  const variables = { [rule.idVar || "id"]: subject, ...values };
  if (note) variables[rule.note] = note;
  const { data } = await query(rule.file, rule.op, variables);
  const result = Object.values(data || {})[0];
  if (!result) throw new Error(t("error"));
  if (result.__typename === "CaseError") throw new Error(result.message);
  return result;
}
