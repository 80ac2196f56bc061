// Popups: a facility (from its tile), a case (its tile, then its GraphQL detail and timeline for
// staff), a camera (live video through WHEP, with the streams service's own client).
import { Popup } from "./vendor/maplibre-gl/maplibre-gl.mjs";
import { watch, WhepError } from "../../streams/static/whep.js";
import { el, facts } from "./dom.js";
import { query } from "./gql.js";
import { formatTime, name, t } from "./i18n.js";
import { can, session } from "./session.js";
import {
  ADMIN_LEVELS, CAMERA_STATUSES, CASE_CATEGORIES, CASE_EVENTS, CASE_PRIORITIES, CASE_SOURCES,
  CASE_STATUSES, FACILITY_CATEGORIES, HEALTH_RISK,
} from "./vocab.js";

let open = null;

/** Show `content` at `lngLat`, closing the previous popup (and whatever it was playing). */
export function show(map, lngLat, content, kind) {
  if (open) open.remove();
  const box = el("div", { class: `popup popup-${kind}`, dataset: { kind } }, content);
  open = new Popup({ maxWidth: "min(92vw, 380px)", focusAfterOpen: false, className: "onemap-popup" })
    .setLngLat(lngLat).setDOMContent(box).addTo(map);
  const popup = open;
  popup.on("close", () => { if (open === popup) open = null; box.dispatchEvent(new Event("popupclose")); });
  return box;
}

export function closePopup() { if (open) open.remove(); }

export function swatch(colour) {
  const node = el("span", { class: "swatch", "aria-hidden": "true" });
  node.style.background = colour || "#999999"; // CSSOM, which the page's CSP allows
  return node;
}

export function facilityPopup(map, feature, lngLat) {
  const p = feature.properties;
  const [, , colour] = FACILITY_CATEGORIES[p.category] || [];
  show(map, lngLat, [
    el("h3", {}, p.name_zh, el("small", { lang: "en" }, p.name_en)),
    el("p", { class: "kind" }, swatch(colour), name(FACILITY_CATEGORIES, p.category)),
    facts([[t("address"), p.address], [t("capacity"), p.capacity], [t("code"), p.code]]),
  ], "facility");
}

export function areaPopup(map, feature, lngLat) {
  const p = feature.properties;
  const isCell = feature.layer.source === "grid_cells";
  show(map, lngLat, [
    el("h3", {}, isCell ? p.name : p.name_zh, isCell ? null : el("small", { lang: "en" }, p.name_en)),
    facts([
      [t("level"), isCell ? t("grid") : name(ADMIN_LEVELS, p.level)], [t("code"), p.code],
      [t("population"), p.population], [t("health_risk"), isCell ? name(HEALTH_RISK, p.health_risk) : null],
    ]),
  ], "area");
}

function caseFacts(c) {
  return facts([
    [t("status"), name(CASE_STATUSES, c.status)], [t("priority"), name(CASE_PRIORITIES, c.priority)],
    [t("reported_at"), formatTime(c.reported_at)], [t("due_at"), formatTime(c.due_at)],
  ]);
}

function timeline(events) {
  return el("ol", { class: "timeline" }, events.map((e) => el("li", {},
    el("time", {}, formatTime(e.at)), " ",
    el("strong", {}, name(CASE_EVENTS, e.eventType.toLowerCase())),
    e.actor ? ` · ${e.actor.displayName}` : "",
    e.department ? ` · ${e.department.nameZh}` : "",
    e.note ? el("p", {}, e.note) : null)));
}

export async function casePopup(map, feature, lngLat) {
  const p = feature.properties;
  const status = feature.state?.status || p.status;
  const detail = el("div", { class: "detail" });
  show(map, lngLat, [
    el("h3", {}, name(CASE_CATEGORIES, p.category), el("small", {}, p.public_id)),
    caseFacts({ ...p, status }),
    detail,
  ], "case");
  // Full cases (description, address, timeline) are for READ_CASES, within the jurisdiction.
  if (!can("read_cases")) { detail.append(el("p", { class: "note" }, t("case_public_note"))); return; }
  detail.append(el("p", { class: "note" }, t("loading")));
  try {
    const { data, errors } = await query("case_detail.graphql", "CaseDetail", { id: String(feature.id) });
    const c = data.case;
    detail.replaceChildren(
      facts([
        [t("description"), c.description], [t("address"), c.address],
        [t("source"), name(CASE_SOURCES, c.source?.toLowerCase())],
        [t("grid"), c.gridCell && `${c.gridCell.name}${c.gridCell.worker ? ` · ${t("worker")} ${c.gridCell.worker.displayName}` : ""}`],
        [t("department"), c.department?.nameZh], [t("assignee"), c.assignee?.displayName],
      ]),
      el("h4", {}, t("timeline")),
      timeline(c.events),
      errors.length ? el("p", { class: "note" }, errors[0].message) : null,
    );
  } catch (err) {
    detail.replaceChildren(el("p", { class: "error" }, err.message));
  }
}

/** A camera popup that plays the camera live. `props`: {code, name, status, last_seen_at}. */
export function cameraPopup(map, id, props, lngLat) {
  const video = el("video", { autoplay: true, muted: true, playsinline: true, class: "video" });
  video.muted = true; // the attribute alone does not mute a video created by script
  const state = el("p", { class: "note video-state", role: "status" }, t("connecting"));
  const kind = (status, seen) => [swatch(CAMERA_STATUSES[status]?.[2]), name(CAMERA_STATUSES, status),
    seen ? ` · ${t("last_seen")} ${formatTime(seen)}` : ""];
  const status = el("p", { class: "kind" }, kind(props.status, props.last_seen_at));
  const box = show(map, lngLat, [el("h3", {}, props.name, el("small", {}, props.code)), status, video, state],
    "camera");
  box.dataset.cameraId = String(id);
  let viewer = null;
  let closed = false;
  let retry = null;
  box.addEventListener("popupclose", () => { closed = true; clearTimeout(retry); if (viewer) viewer.stop(); });
  // Pictures arriving mean the server opened the source: the camera is online now.
  video.addEventListener("playing", () => { state.textContent = ""; status.replaceChildren(...kind("online")); });
  const url = new URL(`../../streams/cameras/${id}/whep`, import.meta.url).href;
  const start = async () => {
    if (closed) return;
    if (!can("watch_video")) { state.textContent = t("no_video_role"); return; }
    state.textContent = t("connecting");
    try {
      viewer = await watch(video, url, session().token, {
        onEnded: () => { if (!closed) retry = setTimeout(start, 2000); },
      });
      if (closed) viewer.stop();
    } catch (err) {
      if (err instanceof WhepError && err.status === 503) {
        state.textContent = `${err.message} ${t("offline_retry")}`;
        retry = setTimeout(start, (err.retryAfter || 5) * 1000);
      } else {
        state.textContent = err.message;
      }
    }
  };
  start();
  return box;
}
