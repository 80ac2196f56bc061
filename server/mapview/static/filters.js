// The case filter as a MapLibre expression: statuses, a category, and the days reported.
//
// Filters run on the tiles' own properties (what the server put in the tile: the caller's view
// of each case). A tile carries `reported_at` as PostgreSQL's text in UTC ("2026-11-20
// 08:00:00+00", the app's sessions run in UTC), so a day range becomes two UTC instants written
// the same way, and string order is time order. Days are the city's (Asia/Shanghai, UTC+8 all
// year, no daylight saving), as the page shows every time.

const CITY_OFFSET = "+08:00";

/** "YYYY-MM-DD" as typed in an <input type=date>, or null. */
function day(value) {
  return /^\d{4}-\d{2}-\d{2}$/.test(value || "") ? value : null;
}

/** The UTC instant the city's day `value` starts, as a tile writes times ("YYYY-MM-DD HH:MM:SS"). */
export function dayStartUtc(value, plusDays = 0) {
  const d = new Date(`${value}T00:00:00${CITY_OFFSET}`);
  d.setUTCDate(d.getUTCDate() + plusDays);
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** Whether `from` is after `to` (both days, either may be empty). */
export function backwards(from, to) {
  return Boolean(day(from) && day(to) && from > to);
}

/**
 * The clauses for cases reported from the start of day `from` to the end of day `to` (both
 * included; either may be empty for an open end).
 */
export function reportedBetween(from, to) {
  const at = ["to-string", ["get", "reported_at"]]; // a feature without it is ""
  const clauses = [];
  if (day(from)) clauses.push([">=", at, dayStartUtc(from)]);
  if (day(to)) clauses.push(["<", at, dayStartUtc(to, 1)], ["!=", at, ""]);
  return clauses;
}

/**
 * The whole case filter for the current choices, on single features. A cell of an aggregated
 * tile (it has `count`, no status) was already filtered by the server: it always passes.
 */
export function caseFilter({ statuses, category, from, to }) {
  const all = ["all", ["in", ["get", "status"], ["literal", [...statuses]]]];
  if (category) all.push(["==", ["get", "category"], category]);
  return ["any", ["has", "count"], [...all, ...reportedBetween(from, to)]];
}

const quoted = (text) => `'${String(text).replace(/'/g, "''")}'`;

/**
 * The same choices as a CQL2 filter for the cases tiles (docs/ogc.md, Tiles: Filters): the
 * server counts what it matches, so aggregated tiles and the heat map at low zoom agree with
 * the points. Every status chosen → no status clause; none → nothing matches.
 */
export function caseCql({ statuses, category, from, to }, allStatuses) {
  const clauses = [];
  const chosen = [...statuses];
  if (chosen.length === 0) clauses.push("status = ''");
  else if (chosen.length < allStatuses.length) clauses.push(`status IN (${chosen.map(quoted).join(", ")})`);
  if (category) clauses.push(`category = ${quoted(category)}`);
  const iso = (text) => `TIMESTAMP('${text.replace(" ", "T")}Z')`;
  if (day(from)) clauses.push(`reported_at >= ${iso(dayStartUtc(from))}`);
  if (day(to)) clauses.push(`reported_at < ${iso(dayStartUtc(to, 1))}`);
  return clauses.join(" AND ");
}
