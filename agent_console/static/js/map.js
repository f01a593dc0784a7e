/* Maps on Leaflet served by the console itself: the base map from the centre's own tile file
   (/tiles/{z}/{x}/{y}, see agent_console/tiles.py) when one is installed, kecamatan and kelurahan
   boundaries with their names, a legend, units drawn by kind and grouped where they stand close
   together, cameras. Nothing comes from outside the centre: the console works offline. */
"use strict";

const SiagaMap = (() => {
  const DEFAULT_VIEW = [[-6.2, 106.82], 11];  // used only when there is nothing to show yet
  const KELURAHAN_LABELS_FROM_ZOOM = 14;
  const CLUSTER_PIXELS = 28;
  const boundaries = {};
  const t = (key, values) => Siaga.t(key, values);
  /* Leaflet puts a string tooltip in as markup; names come from imports and devices, so as text. */
  const text = (words) => Siaga.el("span", {}, String(words));

  function loadBoundaries(level) {
    boundaries[level] = boundaries[level] || Siaga.api("GET", `/api/v1/console/jurisdictions.geojson?level=${level}`);
    return boundaries[level];
  }

  /* A map in the element; `options.legend` names what it shows (the situation map's by default). */
  function create(elementId, options = {}) {
    const tiles = (Siaga.settings && Siaga.settings.tiles) || {};
    const map = L.map(elementId, { zoomControl: false, attributionControl: false, maxZoom: tiles.max_zoom || 19 });
    L.control.zoom({ zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(map);
    if (tiles.url) L.tileLayer(tiles.url, { minZoom: tiles.min_zoom || 0, maxZoom: tiles.max_zoom || 19 }).addTo(map);
    map.getContainer().dataset.baseMap = tiles.url ? "tiles" : "none";
    map.setView(...DEFAULT_VIEW);
    const kecamatan = L.geoJSON(null, { style: { color: "#34495e", weight: 2, fillColor: "#ffffff", fillOpacity: tiles.url ? 0 : 0.35 } }).addTo(map);
    const kelurahan = L.geoJSON(null, { style: { color: "#7f8c9a", weight: 1, dashArray: "3 3", fill: false } }).addTo(map);
    const labels = L.layerGroup().addTo(map);
    const kelurahanLabels = L.layerGroup();
    function label(group, feature, shape, level) {
      const name = String(feature.properties.name || "");
      if (!name) return;
      const centre = shape.getBounds().getCenter();
      L.tooltip({ permanent: true, direction: "center", className: `area-label ${level}`, interactive: false })
        .setLatLng(centre).setContent(text(level === "kelurahan" ? `Kel. ${name}` : `Kec. ${name}`)).addTo(group);
    }
    Promise.all([loadBoundaries("kecamatan"), loadBoundaries("kelurahan")]).then(([kec, kel]) => {
      kecamatan.addData(kec);
      kelurahan.addData(kel);
      kecamatan.eachLayer((shape) => label(labels, shape.feature, shape, "kecamatan"));
      kelurahan.eachLayer((shape) => label(kelurahanLabels, shape.feature, shape, "kelurahan"));
      kecamatan.bringToBack();
      kelurahan.bringToBack();
      showKelurahanLabels();
      map.fire("boundaries");
    }).catch((error) => console.error(error));
    function showKelurahanLabels() {
      if (map.getZoom() >= KELURAHAN_LABELS_FROM_ZOOM) kelurahanLabels.addTo(map);
      else kelurahanLabels.remove();
    }
    map.on("zoomend", showKelurahanLabels);
    map.boundaryLayer = kecamatan;
    legend(map, options.legend || ["incident", "available", "busy", "cluster"]);
    return map;
  }

  /* The legend, listing only what this map shows. */
  const LEGEND = {
    incident: ["map.legend.incident", "background:#f0b429;border:3px solid #a15c00"],
    caller: ["map.legend.caller", "background:#b3261e"],
    accuracy: ["map.legend.accuracy", "background:rgba(179,38,30,.15);border:1px solid #b3261e"],
    recommended: ["map.legend.recommended", "background:#0b5cad"],
    available: ["map.legend.available", "background:#1e7b3a"],
    busy: ["map.legend.busy", "background:#5b6773"],
    cluster: ["map.legend.cluster", "background:#14263b"],
    camera: ["map.legend.camera", "background:#6a3fa0;border-radius:3px"],
    kecamatan: ["map.legend.kecamatan", "border:2px solid #34495e;border-radius:0"],
    kelurahan: ["map.legend.kelurahan", "border:1px dashed #7f8c9a;border-radius:0"],
  };
  function legend(map, entries) {
    const control = L.control({ position: "bottomright" });
    control.onAdd = () => {
      // A small map keeps its legend folded (one line); the situation map shows it open.
      const box = Siaga.el("details", { class: "map-legend", "aria-label": t("map.legend"),
        open: map.getContainer().clientHeight >= 400 }, Siaga.el("summary", {}, t("map.legend")));
      L.DomEvent.disableClickPropagation(box);
      for (const name of [...entries, "kecamatan", "kelurahan"]) {
        const [key, style] = LEGEND[name];
        const swatch = Siaga.el("i");
        swatch.style.cssText = style;  // CSSOM, not a style attribute: allowed under the console's CSP
        box.append(Siaga.el("div", { dataset: { legend: name } }, swatch, t(key)));
      }
      if (map.getContainer().dataset.baseMap === "none") box.append(Siaga.el("div", { class: "muted" }, t("map.no_base")));
      return box;
    };
    control.addTo(map);
    return control;
  }

  /* A position with its accuracy circle (the true place is likely inside it). */
  function fix(layer, lat, lon, accuracy, options = {}) {
    const color = options.color || "#b3261e";
    if (accuracy) L.circle([lat, lon], { radius: accuracy, color, weight: 1, fillOpacity: 0.12 }).addTo(layer);
    const marker = L.circleMarker([lat, lon], { radius: options.radius || 6, color, weight: 2, fillOpacity: 0.9 }).addTo(layer);
    if (options.label) marker.bindTooltip(text(options.label));
    return marker;
  }

  const KIND_LETTERS = { ambulance: "A", fire_engine: "D", patrol: "P", motorcycle: "M", rescue: "R", truck: "T",
    tow_truck: "Dr", car: "C", service_van: "L", chainsaw_crew: "G" };
  function unitLabel(u) {
    return [u.callsign, Siaga.word("unit_kind", u.kind), Siaga.word("agency", u.agency), Siaga.word("unit_status", u.status),
      u.incident_id ? `#${u.incident_id}` : ""].filter(Boolean).join(" · ");
  }

  function unitMarker(u, recommended) {
    const icon = L.divIcon({
      className: "", iconSize: [24, 24], iconAnchor: [12, 12],
      html: `<div class="unit-icon" data-status="${u.status === "available" ? "available" : "dispatched"}"${recommended ? " data-recommended" : ""}></div>`,
    });
    const marker = L.marker([u.lat, u.lon], { icon, keyboard: false, title: unitLabel(u) });
    marker.on("add", () => {
      const node = marker.getElement() && marker.getElement().firstElementChild;
      if (node) { node.textContent = KIND_LETTERS[u.kind] || (u.kind || "?").slice(0, 1).toUpperCase(); node.dataset.callsign = u.callsign; }
    });
    marker.bindTooltip(text(unitLabel(u)));
    return marker;
  }

  /* Units, grouped when they stand within CLUSTER_PIXELS of each other at the current zoom (a
     post with four ambulances is one numbered circle, not four markers on top of each other).
     Clicking a group zooms in, or lists its units where they share one spot. */
  function units(map, layer, list, recommended = []) {
    const group = L.featureGroup().addTo(layer);
    function draw() {
      group.clearLayers();
      const placed = [];
      for (const u of list) {
        if (u.lat === null || u.lat === undefined) continue;
        const point = map.latLngToLayerPoint([u.lat, u.lon]);
        const near = placed.find((cluster) => cluster.point.distanceTo(point) < CLUSTER_PIXELS);
        if (near) near.units.push(u); else placed.push({ point, units: [u] });
      }
      for (const cluster of placed) {
        if (cluster.units.length === 1) { unitMarker(cluster.units[0], recommended.includes(cluster.units[0].callsign)).addTo(group); continue; }
        const bounds = L.latLngBounds(cluster.units.map((u) => [u.lat, u.lon]));
        const icon = L.divIcon({ className: "", iconSize: [32, 32], iconAnchor: [16, 16],
          html: `<div class="unit-cluster">${cluster.units.length}</div>` });
        const marker = L.marker(bounds.getCenter(), { icon, keyboard: false });
        const names = cluster.units.map(unitLabel);
        marker.bindTooltip(text(`${cluster.units.length} ${t("map.units_here")}: ${names.join("; ")}`));
        marker.on("click", () => {
          if (map.getZoom() < map.getMaxZoom() && bounds.getNorthEast().distanceTo(bounds.getSouthWest()) > 5) map.fitBounds(bounds.pad(0.5));
          else marker.openTooltip();
        });
        marker.on("add", () => { const node = marker.getElement(); if (node) node.firstElementChild.dataset.count = String(cluster.units.length); });
        marker.addTo(group);
      }
    }
    draw();
    map.on("zoomend", draw);
    layer.on("remove", () => map.off("zoomend", draw));
    group.redraw = draw;
    return group;
  }

  function unit(layer, u, highlight) {
    return unitMarker(u, highlight).addTo(layer);
  }

  function camera(layer, c) {
    const icon = L.divIcon({ className: "", iconSize: [20, 20], iconAnchor: [10, 10], html: '<div class="camera-icon">▣</div>' });
    const marker = L.marker([c.lat, c.lon], { icon, keyboard: false }).addTo(layer);
    const link = c.stream_url || c.snapshot_url;
    marker.bindTooltip(text(`${t("map.legend.camera")}: ${String(c.name || "")}`));
    if (link) marker.on("click", () => window.open(link, "_blank", "noopener"));
    return marker;
  }

  function incident(layer, i) {
    const marker = L.circleMarker([i.lat, i.lon], { radius: 9, color: "#a15c00", weight: 3, fillColor: "#f0b429", fillOpacity: 0.9 }).addTo(layer);
    marker.bindTooltip(text(`#${i.id} ${Siaga.category(i.category)} · ${Siaga.word("status", i.status)}`));
    marker.on("click", () => window.location.assign(`/incidents/${i.id}`));
    return marker;
  }

  function fitTo(map, layer, fallbackZoom = 15) {
    const bounds = layer.getBounds && layer.getBounds();
    if (bounds && bounds.isValid()) map.fitBounds(bounds.pad(0.3), { maxZoom: fallbackZoom });
  }

  return { create, fix, unit, units, camera, incident, legend, fitTo };
})();
