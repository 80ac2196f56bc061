// The commander's forms on an active incident: change the response level (with the reason)
// and close it (with the summary). Shown to users whose capabilities include
// `command_incidents` (GET /mapview/access); the server decides again on every mutation.
import { el } from "./dom.js";
import { name, t } from "./i18n.js";
import { LEVELS } from "./incident_words.js";

/** The forms, as DOM; `say(text)` reports a missing reason or summary before anything is sent. */
export function commandForms(incident, { onLevel, onClose, say }) {
  const level = el("select", { id: "em-new-level" },
    Object.keys(LEVELS).filter((l) => l !== incident.level).map((l) => el("option", { value: l }, name(LEVELS, l))));
  const reason = el("input", { id: "em-level-reason", type: "text", maxlength: "500" });
  const summary = el("textarea", { id: "em-summary", rows: "3", maxlength: "4000" });
  const change = () => {
    if (!reason.value.trim()) { say(t("em_reason_needed")); reason.focus(); return; }
    onLevel(level.value, reason.value.trim());
  };
  const close = () => {
    if (!summary.value.trim()) { say(t("em_summary_needed")); summary.focus(); return; }
    onClose(summary.value.trim());
  };
  return el("section", { class: "result em-forms" },
    el("h3", {}, t("em_change_level")),
    el("label", { class: "row" }, el("span", {}, t("em_new_level")), level),
    el("label", { class: "row" }, el("span", {}, t("em_change_reason")), reason),
    el("div", { class: "row end" }, el("button", { id: "em-change", type: "button", onclick: change }, t("em_change"))),
    el("h3", {}, t("em_close")),
    el("label", { class: "stack" }, el("span", {}, t("em_close_summary")), summary),
    el("div", { class: "row end" }, el("button", { id: "em-close", type: "button", onclick: close }, t("em_close_confirm"))));
}
