/* The situation map: every unit with a position (grouped where they stand together) and the open
   incidents, kept current by the event stream. */
"use strict";

(() => {
  const map = SiagaMap.create("situation-map");
  const layer = L.featureGroup().addTo(map);
  let fitted = false, pending = null;
  async function load() {
    const data = await Siaga.api("GET", "/api/v1/console/map");
    layer.clearLayers();
    SiagaMap.units(map, layer, data.units);
    for (const incident of data.incidents) if (incident.lat !== null) SiagaMap.incident(layer, incident);
    if (!fitted) { SiagaMap.fitTo(map, layer, 14); fitted = layer.getLayers().length > 0; }
  }
  map.on("boundaries", () => { if (!fitted) SiagaMap.fitTo(map, map.boundaryLayer, 13); });
  // Units report often: one reload per burst of events.
  Siaga.on("incident.created incident.updated unit.updated", () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; load().catch((error) => console.error(error)); }, 500);
  });
  load().catch((error) => console.error(error));
})();
