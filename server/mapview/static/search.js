// The search box: facilities, places, grid cells, cases by number and case categories, nearest
// the map's centre first (GraphQL `search`, the same as the citizen API's). Picking a hit flies
// there and opens its popup, as a click on it would; a category filters the cases layer.
import { casePopup } from "./case_popup.js";
import { el, fill, toast } from "./dom.js";
import { query } from "./gql.js";
import { formatDistance, language, name, t, tf } from "./i18n.js";
import { areaPopup, facilityPopup } from "./popups.js";
import { CASE_CATEGORIES, FACILITY_CATEGORIES } from "./vocab.js";

const WAIT_MS = 250;

function title(hit) { return language() === "zh" ? hit.titleZh : hit.titleEn; }

function subtitle(hit) {
  const kind = t(`kind_${hit.kind}`);
  let what = hit.subtitle || "";
  if (hit.kind === "FACILITY") what = name(FACILITY_CATEGORIES, hit.subtitle);
  if (hit.kind === "CASE") what = name(CASE_CATEGORIES, hit.subtitle);
  const far = hit.distanceM != null ? formatDistance(hit.distanceM) : "";
  return [kind, what, far].filter(Boolean).join(" · ");
}

/** Open the popup of a hit, read as the popup shows it (its tile's properties). */
async function open(map, hit) {
  const at = hit.point?.coordinates;
  if (hit.kind === "FACILITY") {
    const { data } = await query("search.graphql", "MapFacility", { id: hit.id });
    const f = data.facility;
    if (!f) return;
    facilityPopup(map, { id: f.id, properties: { name_zh: f.nameZh, name_en: f.nameEn,
      category: f.category.toLowerCase(), address: f.address, capacity: f.capacity, code: f.code } }, at);
  } else if (hit.kind === "CASE") {
    const { data } = await query("search.graphql", "MapCase", { id: hit.id });
    const c = data.case;
    await casePopup(map, { id: c.id, properties: { category: c.category, public_id: c.publicId,
      status: c.status.toLowerCase(), priority: c.priority.toLowerCase(), reported_at: c.reportedAt,
      due_at: c.dueAt } }, at);
  } else if (hit.kind === "GRID_CELL") {
    const { data } = await query("search.graphql", "MapGridCell", { id: hit.id });
    const g = data.gridCell;
    if (!g) return;
    areaPopup(map, { id: g.id, layer: { source: "grid_cells" }, properties: { name: g.name, code: g.code,
      population: g.population, health_risk: g.healthRisk.toLowerCase() } }, at);
  } else {
    const { data } = await query("search.graphql", "MapAdminArea", { id: hit.id });
    const a = data.adminArea;
    if (!a) return;
    areaPopup(map, { id: a.id, layer: { source: "admin_areas" }, properties: { name_zh: a.nameZh,
      name_en: a.nameEn, level: a.level.toLowerCase(), code: a.code, population: a.population } }, at);
  }
}

function pickCategory(code) {
  const select = document.getElementById("case-category");
  select.value = code;
  select.dispatchEvent(new Event("change"));
  toast(tf("search_category", { name: name(CASE_CATEGORIES, code) }));
}

/** Fly to a hit and open it. */
function go(map, hit) {
  if (hit.kind === "CATEGORY") { pickCategory(hit.id); return; }
  const zoom = { FACILITY: 17, CASE: 17, GRID_CELL: 15, COMMUNITY: 14, STREET: 13, DISTRICT: 11 }[hit.kind];
  map.flyTo({ center: hit.point.coordinates, zoom: Math.max(zoom, hit.kind === "DISTRICT" ? 0 : map.getZoom()) });
  map.once("moveend", () => open(map, hit).catch((err) => toast(err.message)));
}

export function setup(map) {
  const form = document.getElementById("search");
  const input = document.getElementById("search-text");
  const list = document.getElementById("search-results");
  const state = document.getElementById("search-state");
  let timer = null;
  let asked = 0;

  const hide = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); };
  const render = (text, hits) => {
    if (!hits.length) {
      fill(list, el("li", { class: "empty" }, tf("search_none", { text })));
    } else {
      fill(list, hits.map((hit) => el("li", {},
        el("button", { type: "button", dataset: { kind: hit.kind, id: hit.id },
          onclick: () => { hide(); go(map, hit); } },
        title(hit), el("small", {}, subtitle(hit))))));
    }
    state.textContent = hits.length ? tf("search_found", { n: hits.length }) : tf("search_none", { text });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  };
  const run = async () => {
    const text = input.value.trim();
    if (text.length < 2) { hide(); return; }
    const mine = ++asked;
    const c = map.getCenter();
    try {
      const { data } = await query("search.graphql", "MapSearch",
        { text, near: { lon: c.lng, lat: c.lat }, first: 8 });
      if (mine === asked) render(text, data.search);
    } catch (err) {
      if (mine === asked) toast(err.message);
    }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, WAIT_MS); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const first = list.querySelector("button");
    if (!list.hidden && first) first.click(); else run();
  });
  // Arrows move through the hits, Escape closes them.
  form.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") { hide(); input.focus(); }
    else if (event.key === "ArrowDown" && buttons.length) {
      event.preventDefault(); buttons[Math.min(at + 1, buttons.length - 1)].focus();
    } else if (event.key === "ArrowUp" && buttons.length) {
      event.preventDefault(); (at <= 0 ? input : buttons[at - 1]).focus();
    }
  });
  document.addEventListener("click", (event) => { if (!form.contains(event.target)) hide(); });
}
