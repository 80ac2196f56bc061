// The items page (templates/collections/items/index.html): the page's features on a map, the
// limit chooser, and the download links for the selection the page shows (its filters, not
// its paging: a download is the whole selection).
"use strict";

(function () {
  const here = new URL(window.location.href);

  const limits = document.getElementById("limits");
  if (limits) {
    limits.value = here.searchParams.get("limit") || limits.options[0].value;
    limits.addEventListener("change", () => {
      const next = new URL(here);
      next.searchParams.set("limit", limits.value);
      for (const paging of ["offset", "after"]) next.searchParams.delete(paging);
      window.location.href = next.toString();
    });
  }

  for (const [id, format] of [["download-csv", "csv"], ["download-gpkg", "gpkg"]]) {
    const link = document.getElementById(id);
    if (!link) continue;
    const target = new URL(link.href, document.baseURI);
    for (const [key, value] of here.searchParams) {
      if (!["f", "limit", "offset", "after"].includes(key)) target.searchParams.append(key, value);
    }
    target.searchParams.set("f", format);
    link.href = target.toString();
  }

  const element = document.getElementById("items-map");
  const features = window.OneMapOgc.data("items-data");
  if (!element || !features) return;
  const map = window.OneMapOgc.map(element);
  const titleField = element.dataset.titleField;
  const items = L.geoJSON(features, {
    onEachFeature(feature, layer) {
      const title = (titleField && feature.properties[titleField]) || feature.id;
      const href = `${element.dataset.items}/${encodeURIComponent(feature.id)}?f=html`;
      layer.bindPopup(window.OneMapOgc.popup(href, String(title)));
    },
  });
  const markers = L.markerClusterGroup({
    disableClusteringAtZoom: 9, chunkedLoading: true, chunkInterval: 500,
  });
  markers.addLayer(items);
  map.addLayer(markers);
  map.fitBounds(items.getBounds(), { maxZoom: 16, paddingTopLeft: [20, 45], paddingBottomRight: [20, 10] });
})();
