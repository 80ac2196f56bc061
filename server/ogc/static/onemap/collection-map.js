// A collection's page (templates/collections/collection.html): its extent on a map of the
// city. Ctrl + drag draws a box and a click on it shows it as a bbox parameter (as pygeoapi's
// page does).
"use strict";

(function () {
  const element = document.getElementById("collection-map");
  if (!element) return;
  const map = window.OneMapOgc.map(element);
  const bbox = gen_safe_bbox(JSON.parse(element.dataset.bbox));
  const extent = L.rectangle([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { fillOpacity: 0.05 });
  extent.addTo(map);
  map.fitBounds(extent.getBounds(), { maxZoom: 12 });

  let first = null;
  let drawing = null;
  let box = null;
  map.on("mousedown", (e) => {
    if (!e.originalEvent.ctrlKey) return;
    if (box) map.removeLayer(box);
    map.dragging.disable();
    first = e.latlng;
  });
  map.on("mousemove", (e) => {
    if (!first) return;
    if (drawing) map.removeLayer(drawing);
    drawing = L.rectangle([first, e.latlng], { dashArray: "4 1", weight: 0.4 }).addTo(map);
  });
  map.on("mouseup", (e) => {
    if (drawing) map.removeLayer(drawing);
    if (first && e.originalEvent.ctrlKey) {
      box = L.rectangle([first, e.latlng], { color: "#ff7800", weight: 1 }).addTo(map);
      box.on("click", () => {
        L.popup({ maxWidth: "auto" }).setLatLng(box.getBounds().getCenter())
          .setContent(`bbox=${box.getBounds().toBBoxString()}`).openOn(map);
      });
    }
    first = null;
    drawing = null;
    map.dragging.enable();
  });
})();
