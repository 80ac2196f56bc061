// The player page. The access token never travels in a query string (those get logged): it is
// read from the URL fragment (#token=…, removed from the address bar at once) or posted by the
// embedding map view (window.postMessage({type: "onemap:token", token}, origin)), and kept in
// sessionStorage for reconnections.
import { watch, WhepError } from "./whep.js";

const main = document.querySelector(".player");
const video = document.getElementById("video");
const state = document.getElementById("state");
const KEY = "onemap.streams.token";
let viewer = null;
let retryTimer = null;

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(KEY, token);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function say(text) { state.textContent = text; }

function retry(seconds) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(start, seconds * 1000);
}

async function start() {
  const token = sessionStorage.getItem(KEY);
  if (!token) { say("Waiting for sign-in…"); return; }
  if (viewer) viewer.stop();
  say("Connecting…");
  try {
    viewer = await watch(video, main.dataset.whepUrl, token, {
      onEnded: () => { say("Connection lost; reconnecting…"); retry(2); },
    });
    video.addEventListener("playing", () => say(""), { once: true });
  } catch (err) {
    if (err instanceof WhepError && err.status === 503) {
      say(`${err.message} Retrying in ${err.retryAfter || 5} s.`);
      retry(err.retryAfter || 5);
    } else if (err instanceof WhepError && (err.status === 401 || err.status === 403)) {
      say(err.message);
    } else {
      say(`Cannot play: ${err.message}`);
      retry(10);
    }
  }
}

window.addEventListener("message", (event) => {
  const ok = event.origin === location.origin && event.data && event.data.type === "onemap:token";
  if (!ok || typeof event.data.token !== "string") return;
  sessionStorage.setItem(KEY, event.data.token);
  start();
});
window.addEventListener("pagehide", () => { if (viewer) viewer.stop(); });

tokenFromFragment();
start();
