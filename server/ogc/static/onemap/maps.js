// What the OGC API's HTML pages share (server/ogc/templates): the city's districts as the
// base map — read from this API, never an online tile server, which is unreachable offline and
// unreliable in mainland China — and the page's data read from its JSON data block.
"use strict";

window.OneMapOgc = {
  /** The JSON a page carries in <script type="application/json" id="..."> (or null). */
  data(id) {
    const block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  },

  /** A Leaflet map without tiles, the city's districts drawn underneath once they arrive. */
  map(element) {
    // No tile layer sets the zoom range: markercluster needs it stated.
    const map = L.map(element, { attributionControl: true, minZoom: 3, maxZoom: 19 });
    map.attributionControl.addAttribution("OneMap (一张图)");
    const url = new URL(element.dataset.districts, document.baseURI);
    url.search = new URLSearchParams({ f: "json", level: "district", limit: "100" }).toString();
    fetch(url, { headers: { Accept: "application/geo+json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`districts: ${r.status}`))))
      .then((districts) => {
        const layer = L.geoJSON(districts, {
          interactive: false,
          style: { color: "#8795a1", weight: 1, fillColor: "#ffffff", fillOpacity: 0.6 },
        });
        layer.addTo(map).bringToBack();
      })
      .catch((error) => console.warn("no base map:", error.message));
    return map;
  },

  /** A popup's content: a link to the feature's page, its text set as text (never HTML). */
  popup(href, text) {
    const span = document.createElement("span");
    span.className = "onemap-popup";
    const link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    span.appendChild(link);
    return span;
  },
};
