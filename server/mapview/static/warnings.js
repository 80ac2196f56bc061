// Warnings (预警发布) on the map: the areas of the warnings in force (GraphQL `warnings`, the
// public's Actual ones), filled in their severity's colour, refreshed every minute. A click
// shows the headline in the page's language, the severity, until when, and the CAP XML.
import { el, facts } from "./dom.js";
import { query } from "./gql.js";
import { formatTime, language, name, t } from "./i18n.js";
import { show, swatch } from "./popups.js";
import { WARNING_SEVERITIES } from "./vocab.js";

const REFRESH_MS = 60_000;
let current = { type: "FeatureCollection", features: [] };
let timer = null;

function feature(w, i) {
  const texts = Object.fromEntries(w.info.map((b) => [b.language, b]));
  return { type: "Feature", id: i + 1, geometry: w.area,
    properties: { identifier: w.identifier, severity: w.severity, urgency: w.urgency,
      expires: w.expires, cap_url: w.capUrl, area_desc: w.areaDesc,
      headline_zh: texts["zh-CN"]?.headline ?? "", headline_en: texts["en-US"]?.headline ?? "",
      instruction_zh: texts["zh-CN"]?.instruction ?? "", instruction_en: texts["en-US"]?.instruction ?? "" } };
}

/** Draw what was last fetched on the map's current style (after a style change too). */
export function redraw(map) { map.getSource("warnings")?.setData(current); }

export async function refresh(map) {
  const { data } = await query("map_view.graphql", "MapWarnings");
  current = { type: "FeatureCollection", features: (data?.warnings ?? []).map(feature) };
  redraw(map);
  return current.features.length;
}

export function start(map, onError) {
  if (timer) clearInterval(timer);
  refresh(map).catch(onError);
  timer = setInterval(() => refresh(map).catch(() => {}), REFRESH_MS);
}

export function warningPopup(map, f, lngLat) {
  const p = f.properties;
  const zh = language() === "zh";
  const box = show(map, lngLat, [
    el("h3", {}, zh ? p.headline_zh : p.headline_en,
      el("small", { lang: zh ? "en" : "zh" }, zh ? p.headline_en : p.headline_zh)),
    el("p", { class: "kind" }, swatch(WARNING_SEVERITIES[p.severity]?.[2]), t("warning"), " · ",
      name(WARNING_SEVERITIES, p.severity)),
    facts([[t("warning_area"), p.area_desc], [t("warning_until"), formatTime(p.expires)],
      [t("warning_do"), zh ? p.instruction_zh : p.instruction_en]]),
    el("p", {}, el("a", { href: new URL(`../..${p.cap_url}`, import.meta.url).href, target: "_blank" }, "CAP 1.2 XML")),
  ], "warning");
  box.dataset.identifier = p.identifier;
}
