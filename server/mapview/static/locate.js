// "Locate me": a map control whose button asks the browser for the user's position and shows
// it (MapLibre's GeolocateControl draws the dot and the accuracy circle and moves the map).
//
// The button is ours, not GeolocateControl's: that one disables itself, silently, when the
// browser has no location or the user refused it, and a disabled button can neither be
// focused nor explain itself. Ours always answers, in the page's language, with what to do.
import { GeolocateControl } from "./vendor/maplibre-gl/maplibre-gl.mjs";
import { el, toast } from "./dom.js";
import { formatDistance, t, tf } from "./i18n.js";

const MESSAGES = { 1: "locate_denied", 2: "locate_failed", 3: "locate_timeout" };

export class LocateControl {
  onAdd(map) {
    this.map = map;
    this.geolocate = new GeolocateControl({
      positionOptions: { enableHighAccuracy: true, timeout: 10000, maximumAge: 0 }, // a fresh fix: asked for on purpose
      fitBoundsOptions: { maxZoom: 16 },
      trackUserLocation: false,
      showAccuracyCircle: true,
    });
    // Its own container stays out of the page; it still draws the position on the map.
    this.geolocate.onAdd(map);
    this.geolocate.on("geolocate", (position) => this.done(tf("locate_done",
      { accuracy: formatDistance(position.coords.accuracy) })));
    this.geolocate.on("outofmaxbounds", () => this.done(t("locate_outside")));
    this.geolocate.on("error", (error) => this.done(t(MESSAGES[error.code] || "locate_failed")));
    this.button = el("button", {
      type: "button", id: "locate", class: "onemap-locate", "data-i18n-title": "locate",
      "data-i18n-aria-label": "locate", title: t("locate"), "aria-label": t("locate"),
      onclick: () => this.locate(),
    }, el("span", { "aria-hidden": "true" }, "◎"));
    this.container = el("div", { class: "maplibregl-ctrl maplibregl-ctrl-group" }, this.button);
    return this.container;
  }

  onRemove() {
    this.geolocate.onRemove();
    this.container.remove();
    this.map = undefined;
  }

  locate() {
    // No API, or a page not served over HTTPS (or from localhost): the browser cannot tell.
    if (!("geolocation" in navigator) || !window.isSecureContext) {
      this.done(t("locate_unavailable"));
      return;
    }
    this.button.setAttribute("aria-busy", "true");
    toast(t("locate_busy"));
    // trigger() is false until the control has asked the browser what it supports (a moment
    // after the page starts): try again shortly rather than fail a quick first press.
    const attempt = (left) => {
      if (this.geolocate.trigger()) return;
      if (left > 0) setTimeout(() => attempt(left - 1), 250);
      else this.done(t("locate_failed"));
    };
    attempt(8);
  }

  done(message) {
    this.button.removeAttribute("aria-busy");
    toast(message, 8000);
  }
}
