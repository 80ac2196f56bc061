// Popups: a facility (from its tile), an area, a camera (live video through WHEP, with the
// streams service's own client). The case popup is case_popup.js.
import { Popup } from "./vendor/maplibre-gl/maplibre-gl.mjs";
import { watch, WhepError } from "../../streams/static/whep.js";
import { el, facts, fill } from "./dom.js";
import { formatTime, name, t, tf } from "./i18n.js";
import { can, session } from "./session.js";
import { ADMIN_LEVELS, CAMERA_STATUSES, CASE_STATUSES, FACILITY_CATEGORIES, HEALTH_RISK } from "./vocab.js";

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

/** Place the open popup again (above or below its point) after its content grew or shrank. */
export function refit() { if (open) open.setLngLat(open.getLngLat()); }

export function swatch(colour) {
  const node = el("span", { class: "swatch", "aria-hidden": "true" });
  node.style.background = colour || "#999999"; // CSSOM, which the page's CSP allows
  return node;
}

export function facilityPopup(map, feature, lngLat) {
  const p = feature.properties;
  const [, , colour] = FACILITY_CATEGORIES[p.category] || [];
  const box = show(map, lngLat, [
    el("h3", {}, p.name_zh, el("small", { lang: "en" }, p.name_en)),
    el("p", { class: "kind" }, swatch(colour), name(FACILITY_CATEGORIES, p.category)),
    facts([[t("address"), p.address], [t("capacity"), p.capacity], [t("code"), p.code]]),
  ], "facility");
  if (feature.id != null) box.dataset.id = String(feature.id);
}

/** A cell of an aggregated cases tile: how many cases, by status (docs/ogc.md, honest tiles). */
export function cellPopup(map, feature, lngLat) {
  const p = feature.properties;
  const byStatus = Object.keys(CASE_STATUSES).filter((code) => p[`status_${code}`] > 0)
    .map((code) => [name(CASE_STATUSES, code), p[`status_${code}`]]);
  show(map, lngLat, [
    el("h3", {}, tf("cell_cases", { n: p.count })),
    facts(byStatus),
    el("p", { class: "note" }, t("cell_zoom")),
  ], "cell");
}

export function areaPopup(map, feature, lngLat) {
  const p = feature.properties;
  const isCell = feature.layer.source === "grid_cells";
  const box = show(map, lngLat, [
    el("h3", {}, isCell ? p.name : p.name_zh, isCell ? null : el("small", { lang: "en" }, p.name_en)),
    facts([
      [t("level"), isCell ? t("grid") : name(ADMIN_LEVELS, p.level)], [t("code"), p.code],
      [t("population"), p.population], [t("health_risk"), isCell ? name(HEALTH_RISK, p.health_risk) : null],
    ]),
  ], "area");
  box.dataset.id = String(feature.id);
  box.dataset.layer = feature.layer.source;
}

/** A catalogue layer's feature (docs/catalogue.md): the layer's title, then every property. */
export function cataloguePopup(map, feature, title, lngLat) {
  const rows = Object.entries(feature.properties).map(([k, v]) => [k, String(v)]);
  const box = show(map, lngLat, [el("h3", {}, title), facts(rows)], "catalogue");
  box.dataset.id = String(feature.id);
  box.dataset.layer = feature.layer.source;
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
  video.addEventListener("playing", () => { state.textContent = ""; fill(status, kind("online")); });
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
