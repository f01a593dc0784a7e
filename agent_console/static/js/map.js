/* Maps on Leaflet served by the console itself: tiles only when a tile server is configured,
   otherwise boundaries and markers on a plain background (the console works offline). */
"use strict";

const SiagaMap = (() => {
  const DEFAULT_VIEW = [[-6.2, 106.82], 11];  // used only when there is nothing to show yet
  let boundaries = null;

  function create(elementId) {
    const map = L.map(elementId, { zoomControl: true, attributionControl: false });
    const tiles = document.body.dataset.tileUrl;
    if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    map.setView(...DEFAULT_VIEW);
    const layer = L.geoJSON(null, {
      style: { color: "#5b6773", weight: 1, fillColor: "#ffffff", fillOpacity: 0.35 },
      onEachFeature: (feature, shape) => shape.bindTooltip(String(feature.properties.name || ""), { sticky: true }),
    }).addTo(map);
    (boundaries = boundaries || Siaga.api("GET", "/api/v1/console/jurisdictions.geojson"))
      .then((data) => { layer.addData(data); layer.bringToBack(); map.fire("boundaries"); })
      .catch((error) => console.error(error));
    map.boundaryLayer = layer;
    return map;
  }

  /* A position with its accuracy circle (the true place is likely inside it). */
  function fix(layer, lat, lon, accuracy, options = {}) {
    const color = options.color || "#b3261e";
    if (accuracy) L.circle([lat, lon], { radius: accuracy, color, weight: 1, fillOpacity: 0.12 }).addTo(layer);
    const marker = L.circleMarker([lat, lon], { radius: options.radius || 6, color, weight: 2, fillOpacity: 0.9 }).addTo(layer);
    if (options.label) marker.bindTooltip(String(options.label));
    return marker;
  }

  function unit(layer, u, highlight) {
    const color = highlight ? "#0b5cad" : u.status === "available" ? "#1e7b3a" : "#5b6773";
    const marker = L.circleMarker([u.lat, u.lon], { radius: 5, color, weight: 2, fillColor: "#fff", fillOpacity: 1 }).addTo(layer);
    marker.bindTooltip(`${u.callsign} · ${Siaga.word("agency", u.agency)} · ${Siaga.word("unit_kind", u.kind)} · ${Siaga.word("unit_status", u.status)}`);
    return marker;
  }

  function incident(layer, i) {
    const marker = L.circleMarker([i.lat, i.lon], { radius: 8, color: "#a15c00", weight: 3, fillColor: "#f0b429", fillOpacity: 0.8 }).addTo(layer);
    marker.bindTooltip(`#${i.id} ${Siaga.category(i.category)} · ${Siaga.word("status", i.status)}`);
    marker.on("click", () => window.location.assign(`/incidents/${i.id}`));
    return marker;
  }

  function fitTo(map, layer, fallbackZoom = 15) {
    const bounds = layer.getBounds && layer.getBounds();
    if (bounds && bounds.isValid()) map.fitBounds(bounds.pad(0.3), { maxZoom: fallbackZoom });
  }

  return { create, fix, unit, incident, fitTo };
})();
