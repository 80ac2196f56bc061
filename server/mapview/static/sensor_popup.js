// A sensor device's popup: its kind and state, each Datastream's latest reading with its unit
// and time, and a chart of its last 24 hours — read from the SensorThings API (/sta/v1.1), which
// applies the access policy (a critical device's readings only with a staff token).
import { el } from "./dom.js";
import { formatTime, name, t, tf } from "./i18n.js";
import { authHeaders } from "./session.js";
import { show, swatch } from "./popups.js";
import { SENSOR_KINDS, SENSOR_PROPERTIES, SENSOR_STATES } from "./vocab.js";

const STA = new URL("../../sta/v1.1/", import.meta.url);
const DAY_MS = 24 * 3600 * 1000;
const CHART = { width: 320, height: 72, pad: 4 };
const SVG = "http://www.w3.org/2000/svg";

/** The Thing with its Datastreams and their readings of the last 24 h, oldest first. */
async function readings(id) {
  const since = new Date(Date.now() - DAY_MS).toISOString().replace(/\.\d+Z$/, "Z");
  const observations = `Observations($select=phenomenonTime,result;$orderby=phenomenonTime asc;$top=1000;`
    + `$filter=phenomenonTime ge ${since})`;
  const url = new URL(`Things(${Number(id)})`, STA);
  url.searchParams.set("$select", "id,name,description,properties");
  url.searchParams.set("$expand", `Datastreams($select=id,name,unitOfMeasurement;`
    + `$expand=ObservedProperty($select=name),${observations})`);
  const response = await fetch(url, { headers: authHeaders(url.href) });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || `${response.status} ${response.statusText}`);
  }
  return response.json();
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** A line of the numeric readings over the last 24 hours, the newest at the right edge. */
function chart(points, colour) {
  const values = points.map((p) => [Date.parse(p.phenomenonTime), Number(p.result)])
    .filter(([at, v]) => Number.isFinite(at) && Number.isFinite(v));
  if (values.length < 2) return el("p", { class: "note" }, t("sensor_no_chart"));
  const { width, height, pad } = CHART;
  const end = Date.now();
  const lo = Math.min(...values.map(([, v]) => v));
  const hi = Math.max(...values.map(([, v]) => v));
  const x = (at) => pad + ((at - (end - DAY_MS)) / DAY_MS) * (width - 2 * pad);
  const y = (v) => height - pad - (hi === lo ? 0.5 : (v - lo) / (hi - lo)) * (height - 2 * pad);
  const box = svg("svg", { class: "sensor-chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": tf("sensor_chart", { n: values.length, lo: round(lo), hi: round(hi) }) });
  box.append(svg("polyline", { fill: "none", stroke: colour, "stroke-width": 1.6,
    points: values.map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
  box.dataset.points = String(values.length);
  return el("figure", { class: "sensor-chart-box" }, box,
    el("figcaption", {}, `${t("sensor_24h")} · ${round(lo)} – ${round(hi)}`));
}

const round = (v) => (typeof v === "number" ? Number(v.toPrecision(4)) : v);

function reading(stream, colour) {
  const list = stream.Observations || [];
  const latest = list[list.length - 1];
  const unit = stream.unitOfMeasurement?.symbol || "";
  const value = latest ? `${typeof latest.result === "object" ? JSON.stringify(latest.result) : round(latest.result)} ${unit}`.trim() : t("sensor_no_reading");
  return el("section", { class: "sensor-stream", dataset: { datastreamId: stream["@iot.id"] } },
    el("h4", {}, stream.ObservedProperty ? name(SENSOR_PROPERTIES, stream.ObservedProperty.name.toLowerCase())
      : stream.name),
    el("p", { class: "sensor-latest" }, el("strong", {}, value),
      latest ? el("span", { class: "sub" }, ` · ${formatTime(latest.phenomenonTime)}`) : null),
    chart(list, colour));
}

/** The popup of a device clicked on the sensors layer (its tile feature). */
export function sensorPopup(map, feature, lngLat) {
  const p = feature.properties;
  const state = feature.state?.state || p.state;
  const [, , colour] = SENSOR_STATES[state] || [];
  const body = el("div", { class: "sensor-readings", role: "status" }, t("loading"));
  const box = show(map, lngLat, [
    el("h3", {}, p.name, el("small", {}, name(SENSOR_KINDS, p.kind))),
    el("p", { class: "kind status" }, swatch(colour), name(SENSOR_STATES, state)),
    body,
  ], "sensor");
  box.dataset.id = String(feature.id);
  readings(feature.id).then((thing) => {
    const streams = thing.Datastreams || [];
    body.replaceChildren(...(streams.length ? streams.map((s) => reading(s, colour || "#333"))
      : [el("p", { class: "note" }, t("sensor_no_reading"))]));
    body.dataset.loaded = "true";
  }).catch((err) => {
    body.replaceChildren(el("p", { class: "note" }, `${t("error")}: ${err.message}`));
    body.dataset.loaded = "error";
  });
}
