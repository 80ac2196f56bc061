// One feature's page (templates/collections/items/item.html): the feature on a map.
"use strict";

(function () {
  const element = document.getElementById("items-map");
  const feature = window.OneMapOgc.data("item-data");
  if (!element || !feature || !feature.geometry) return;
  const map = window.OneMapOgc.map(element);
  const item = L.geoJSON(feature).addTo(map);
  map.fitBounds(item.getBounds(), { maxZoom: 15 });
})();
