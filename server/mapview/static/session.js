// The staff session, in memory only: no localStorage, no cookie. Reloading the page logs out,
// which is the point on a shared command-centre screen. The access token is refreshed before it
// expires (POST /api/v1/auth/refresh rotates the refresh token), so a page open all day stays in.

const API = new URL("../../api/v1/", import.meta.url);
const listeners = new Set();
let current = null; // {token, refresh, userId, roles, access, collections, timer}

export function session() { return current; }
export function onSession(fn) { listeners.add(fn); }
function changed() { for (const fn of listeners) fn(current); }

/** The problem+json detail of a failed response, or its status line. */
export async function problemText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_) { /* not JSON */ }
  return `HTTP ${response.status}`;
}

async function post(path, body) {
  const response = await fetch(new URL(path, API), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await problemText(response));
  return response.json();
}

function schedule(pair) {
  clearTimeout(current?.timer);
  // Refresh at 80% of the lifetime; a failed refresh ends the session (and says so).
  const delay = Math.max(10, pair.expires_in * 0.8) * 1000;
  return setTimeout(refresh, delay);
}

/**
 * What a token (or nobody) may see and do, as the server's access policy says (GET
 * /mapview/access): the layers (`collections`), those in their internal view (`internal`), and
 * the capability names (`capabilities`). The page never decides by role names.
 */
export async function accessFor(token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(new URL("../access", import.meta.url), { headers });
  if (!response.ok) throw new Error(await problemText(response));
  const body = await response.json();
  const layers = Object.entries(body.layers || {});
  return {
    collections: new Set(layers.map(([name]) => name)),
    internal: new Set(layers.filter(([, view]) => view === "internal").map(([name]) => name)),
    capabilities: new Set(body.capabilities || []),
    // the catalogue's department layers the caller may see: [{id, title, geometry_type, …}]
    catalogue: body.catalogue || [],
  };
}

/** Whether the logged-in user has a capability (nobody logged in: none needing a session). */
export function can(capability) { return Boolean(current?.access.capabilities.has(capability)); }

async function start(pair) {
  const access = await accessFor(pair.access_token);
  current = { token: pair.access_token, refresh: pair.refresh_token, userId: pair.user_id,
    roles: pair.roles, access, collections: access.collections, timer: null };
  current.timer = schedule(pair);
  changed();
}

export async function login(phone, password) {
  await start(await post("auth/token", { grant_type: "password", phone, password }));
}

async function refresh() {
  if (!current) return;
  try {
    const pair = await post("auth/refresh", { refresh_token: current.refresh });
    current.token = pair.access_token;
    current.refresh = pair.refresh_token;
    current.timer = schedule(pair);
    for (const fn of refreshListeners) fn(current);
  } catch (_) {
    end("expired");
  }
}
const refreshListeners = new Set();
/** Called with the session when its access token was renewed (same user, same rights). */
export function onRefresh(fn) { refreshListeners.add(fn); }

function end(reason) {
  if (!current) return;
  clearTimeout(current.timer);
  current = null;
  changed();
  if (reason === "expired") document.dispatchEvent(new CustomEvent("onemap:expired"));
}

export async function logout() {
  const refreshToken = current?.refresh;
  end("logout");
  if (refreshToken) await post("auth/logout", { refresh_token: refreshToken }).catch(() => {});
}

const SCOPED = ["ogc/", "graphql", "streams/", "api/v1/staff/", "sta/"].map((p) => new URL(`../../${p}`, import.meta.url).href);

/** The Authorization header for our own /ogc, /graphql, /streams and staff API URLs only. */
export function authHeaders(url) {
  if (!current) return {};
  const href = new URL(url, location.href).href;
  return SCOPED.some((prefix) => href.startsWith(prefix)) ? { Authorization: `Bearer ${current.token}` } : {};
}
