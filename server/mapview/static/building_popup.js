// A building's popup (a click on a footprint, drawn from z15 for users whose layers include
// `buildings`: the server's policy, GET /mapview/access): its name, use, floors and height from
// the tile at once, then its address, grid cell, houses and organisations from GraphQL
// (`MapBuilding` in base_data.graphql) — words only, built as DOM. Never a person.
import { el, facts, fill } from "./dom.js";
import { query } from "./gql.js";
import { addWords, name, t, tf } from "./i18n.js";
import { refit, show, swatch } from "./popups.js";
import { BUILDING_USES } from "./vocab.js";

function body(b) {
  return [
    el("h3", {}, b.nameZh || t("building")),
    el("p", { class: "kind" }, swatch(BUILDING_USES[b.use]?.[2]), t("building"), " · ", name(BUILDING_USES, b.use)),
    facts([
      [t("building_floors"), tf("building_floors_n", { n: b.floors, h: Number(b.heightM).toFixed(1) })],
      [t("address"), b.addressZh],
      [t("building_cell"), b.gridCell ? `${b.gridCell.name} · ${b.gridCell.code}` : null],
      [t("building_year"), b.yearBuilt],
      [t("building_houses"), b.housesCount],
      [t("building_organisations"), b.organisationsCount],
    ]),
  ];
}

export async function buildingPopup(map, f, lngLat) {
  const p = f.properties;
  const id = String(f.id ?? p.id);
  const first = { nameZh: p.name_zh, use: p.use, floors: p.floors, heightM: p.height_m, yearBuilt: p.year_built };
  const box = show(map, lngLat, [...body(first), el("p", { class: "note" }, t("loading"))], "building");
  box.dataset.id = id;
  try {
    const { data } = await query("base_data.graphql", "MapBuilding", { id });
    if (!box.isConnected) return;
    fill(box, data.building ? body(data.building) : el("p", { class: "note" }, t("none")));
  } catch (err) {
    if (box.isConnected) fill(box, ...body(first), el("p", { class: "note" }, `${t("error")}: ${err.message}`));
  }
  box.dataset.loaded = "true";
  refit();
}

addWords({
  zh: { building: "建筑物", building_floors: "层数", building_floors_n: "{n} 层（约 {h} 米）",
    building_cell: "所属网格", building_year: "建成年份", building_houses: "房屋（套/间）",
    building_organisations: "单位" },
  en: { building: "Building", building_floors: "Floors", building_floors_n: "{n} floors (about {h} m)",
    building_cell: "Grid cell", building_year: "Built", building_houses: "Houses (units)",
    building_organisations: "Organisations" },
});
