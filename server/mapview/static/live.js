// Live updates while logged in (graphql-transport-ws, map_view.graphql): a case event recolours
// the case on the map (feature-state on its tile feature), marks it, and enters the feed; a
// sensor alarm's raise, change of level or clear enters the feed and every notice recolours the
// device; a camera status change recolours the camera.
import { el } from "./dom.js";
import { closeSubscriptions, subscribe } from "./gql.js";
import { formatTime, name, t } from "./i18n.js";
import { CASE_CATEGORIES, CASE_EVENTS, CASE_STATUSES } from "./vocab.js";

const FEED_SIZE = 100;
const LIVE_SIZE = 500;
const live = new Map(); // case id → GeoJSON feature of a case changed while we watched
const caseStates = new Map(); // case id → status, re-applied after a style change
const cameraStates = new Map();
const sensorStates = new Map(); // device (Thing) id → its state, from the alarm notices
let stops = [];

const lower = (v) => (v ? String(v).toLowerCase() : v);

function drawLive(map) {
  const source = map.getSource("live");
  if (source) source.setData({ type: "FeatureCollection", features: [...live.values()] });
}

/** Re-apply what arrived live to a freshly loaded style. */
export function reapply(map) {
  drawLive(map);
  for (const [id, status] of caseStates) {
    if (map.getSource("cases")) map.setFeatureState({ source: "cases", sourceLayer: "cases", id }, { status, live: true });
  }
  for (const [id, state] of sensorStates) {
    if (map.getSource("sensors")) map.setFeatureState({ source: "sensors", sourceLayer: "sensors", id }, { state });
  }
  for (const [id, status] of cameraStates) {
    if (map.getSource("cameras")) map.setFeatureState({ source: "cameras", sourceLayer: "cameras", id }, { status });
  }
}

function onCase(map, notice) {
  const { event, case: c } = notice.caseEvents;
  const id = Number(c.id);
  const status = lower(c.status);
  caseStates.set(id, status);
  live.delete(id);
  live.set(id, { type: "Feature", id, geometry: c.geometry,
    properties: { id, status, category: c.category, public_id: c.publicId, priority: lower(c.priority) } });
  if (live.size > LIVE_SIZE) live.delete(live.keys().next().value);
  reapply(map);
  const feed = document.getElementById("feed");
  const item = el("li", { dataset: { caseId: c.id, event: lower(event.eventType) } },
    el("time", {}, formatTime(event.at)), " ",
    el("strong", {}, name(CASE_EVENTS, lower(event.eventType))), " · ",
    el("button", { class: "link", onclick: () => map.flyTo({ center: c.geometry.coordinates, zoom: 16 }) },
      `${name(CASE_CATEGORIES, c.category)} ${c.publicId}`),
    " → ", name(CASE_STATUSES, status),
    event.actor ? el("span", { class: "sub" }, ` ${event.actor.displayName}`) : null);
  feed.querySelector(".empty")?.remove();
  feed.prepend(item);
  while (feed.children.length > FEED_SIZE) feed.lastElementChild.remove();
  document.dispatchEvent(new CustomEvent("onemap:case-event", { detail: { caseId: c.id } })); // the cockpit
}

const SENSOR_CHANGES = new Set(["raised", "escalated", "eased", "cleared"]);

function onSensor(map, notice) {
  const { change, alarm: a, thingId, thingState } = notice.sensorAlarms;
  sensorStates.set(Number(thingId), lower(thingState));
  reapply(map);
  if (!a || !SENSOR_CHANGES.has(change)) return; // peaks and offline/online: the map's, not the feed's
  const feed = document.getElementById("feed");
  const level = change === "cleared" ? "normal" : lower(a.level);
  const item = el("li", { dataset: { sensorAlarmId: a.id, change } },
    el("time", {}, formatTime(a.lastAt)), " ",
    el("strong", {}, t(`sensor_${change}`)), " · ", `${a.thingName} · ${a.ruleName}`,
    " → ", t(`sensor_level_${level}`), ` (${Number(a.lastValue.toPrecision(3))})`,
    a.casePublicId ? el("span", { class: "sub" }, ` ${t("sensor_case")} ${a.casePublicId}`) : null);
  feed.querySelector(".empty")?.remove();
  feed.prepend(item);
  while (feed.children.length > FEED_SIZE) feed.lastElementChild.remove();
}

function onCamera(map, notice) {
  const n = notice.cameraStatus;
  cameraStates.set(Number(n.cameraId), lower(n.status));
  reapply(map);
}

function unavailable(err) {
  const feed = document.getElementById("feed");
  feed.prepend(el("li", { class: "note" }, `${t("error")}: ${err.message}`));
}

export async function start(map) {
  stop();
  const feed = document.getElementById("feed");
  feed.replaceChildren(el("li", { class: "note empty" }, t("feed_empty")));
  document.getElementById("live").hidden = false;
  stops = await Promise.all([
    subscribe("map_view.graphql", "MapCaseEvents", {}, (d) => onCase(map, d), unavailable),
    subscribe("map_view.graphql", "MapCameraStatus", {}, (d) => onCamera(map, d), () => {}),
    subscribe("map_view.graphql", "MapSensorAlarms", {}, (d) => onSensor(map, d), () => {}),
  ]);
}

export function stop() {
  for (const s of stops) s();
  stops = [];
  closeSubscriptions();
  live.clear();
  caseStates.clear();
  cameraStates.clear();
  sensorStates.clear();
  document.getElementById("live").hidden = true;
}
