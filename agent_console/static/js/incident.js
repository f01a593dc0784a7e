/* Incident pages: create one (prefilled), dispatch units, change its status. The incidents API
   does the work; this script only sends what the person chose. */
"use strict";

(() => {
  const { t, api, on, key } = Siaga;
  for (const node of document.querySelectorAll("[data-time]")) node.textContent = Siaga.clock(node.dataset.time);

  /* --- new incident --- */
  const form = document.getElementById("incident-form");
  if (form) {
    const map = SiagaMap.create("incident-map");
    const layer = L.featureGroup().addTo(map);
    const point = () => {
      const lat = parseFloat(form.lat.value.replace(",", ".")), lon = parseFloat(form.lon.value.replace(",", "."));
      return Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
    };
    const show = () => {
      layer.clearLayers();
      const p = point();
      if (p) { SiagaMap.fix(layer, p[0], p[1], null); map.setView(p, 15); }
    };
    form.lat.addEventListener("change", show);
    form.lon.addEventListener("change", show);
    map.on("click", (event) => {
      form.lat.value = event.latlng.lat.toFixed(6);
      form.lon.value = event.latlng.lng.toFixed(6);
      show();
    });
    show();
    form.description.focus();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const p = point();
      const body = {
        category: form.category.value, description: form.description.value.trim(),
        priority: Number(form.priority.value),
        call_ids: JSON.parse(form.dataset.callIds), alarm_ids: JSON.parse(form.dataset.alarmIds),
      };
      const address = form.address.value.trim();
      if (p) body.location = { lat: p[0], lon: p[1], ...(address ? { address } : {}) };
      else if (address) body.location = { address };
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const incident = await api("POST", "/api/v1/incidents", body);
        window.location.assign(`/incidents/${(incident.incident || incident).id}`);
      } catch (error) {
        document.getElementById("incident-error").textContent = t("error.failed") + error.message;
        button.disabled = false;
      }
    });
  }

  /* --- one incident --- */
  const page = document.getElementById("incident-page");
  if (page) {
    const state = JSON.parse(document.getElementById("incident-state").textContent);
    const map = SiagaMap.create("incident-map");
    const layer = L.featureGroup().addTo(map);
    if (state.lat !== null) SiagaMap.incident(layer, state);
    api("GET", "/api/v1/console/map").then((data) => {
      for (const unit of data.units) {
        const recommended = state.recommended.includes(unit.callsign);
        if (recommended || unit.incident_id === state.id) SiagaMap.unit(layer, unit, recommended);
      }
      SiagaMap.fitTo(map, layer, 15);
    });
    if (state.lat !== null) map.setView([state.lat, state.lon], 15);

    /* Parts of the page are swapped for the server's fresh rendering (escaped by the template):
       after this person's own action all of them, after another console's change only those
       that hold no choice being made here. */
    const SHOWN = ["incident-status", "timeline", "assignments-block", "linked"];
    const refresh = async (parts) => {
      const response = await fetch(window.location.pathname, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of parts) {
        const next = fresh.getElementById(id), current = document.getElementById(id);
        if (next && current) current.replaceWith(document.importNode(next, true));
      }
      for (const node of document.querySelectorAll("[data-time]")) node.textContent = Siaga.clock(node.dataset.time);
      bindDispatch();
    };

    const dispatch = async (event) => {
      if (event) event.preventDefault();
      const form = document.getElementById("dispatch-form");
      if (!form || !document.getElementById("dispatch")) return;
      const units = [...form.querySelectorAll("input[name=units]:checked")].map((box) => box.value);
      try {
        await api("POST", `/api/v1/incidents/${state.id}/dispatch`, { units });
        await refresh([...SHOWN, "dispatch-block"]);
      } catch (error) {
        document.getElementById("dispatch-error").textContent = t("error.failed") + error.message;
      }
    };
    function bindDispatch() {
      const form = document.getElementById("dispatch-form");
      if (form && !form.dataset.bound) { form.addEventListener("submit", dispatch); form.dataset.bound = "1"; }
    }
    bindDispatch();
    key("d", () => dispatch());

    document.getElementById("status-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = event.target;
      try {
        await api("PATCH", `/api/v1/incidents/${state.id}`, { status: f.status.value, note: f.note.value.trim() || null });
        f.note.value = "";
        document.getElementById("status-error").textContent = "";
        await refresh([...SHOWN, "dispatch-block"]);
      } catch (error) {
        document.getElementById("status-error").textContent = t("error.failed") + error.message;
      }
    });
    on("incident.updated", (data) => {
      if ((data.payload.id || data.payload.incident_id) === state.id) refresh(SHOWN).catch((error) => console.error(error));
    });
  }
})();
