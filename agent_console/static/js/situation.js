/* The situation map: every unit and located incident, redrawn when one of them changes. */
"use strict";

(() => {
  const map = SiagaMap.create("situation-map");
  const layer = L.featureGroup().addTo(map);
  let fitted = false;
  async function load() {
    const data = await Siaga.api("GET", "/api/v1/console/map");
    layer.clearLayers();
    for (const unit of data.units) SiagaMap.unit(layer, unit);
    for (const incident of data.incidents) if (incident.lat !== null) SiagaMap.incident(layer, incident);
    if (!fitted) { SiagaMap.fitTo(map, layer, 14); fitted = layer.getLayers().length > 0; }
  }
  map.on("boundaries", () => { if (!fitted) SiagaMap.fitTo(map, map.boundaryLayer, 13); });
  Siaga.on("incident.created incident.updated unit.updated", load);
  load();
})();
