/* Incident pages: create one (prefilled), dispatch units, change its status. The incidents API
   does the work; this script only sends what the person chose. */
"use strict";

(() => {
  const { t, api, on, key } = Siaga;
  for (const node of document.querySelectorAll("[data-time]")) node.textContent = Siaga.clock(node.dataset.time);

  /* --- new incident --- */
  const form = document.getElementById("incident-form");
  if (form) {
    const map = SiagaMap.create("incident-map", { legend: ["caller"] });
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

    /* One incident per form, however often it is sent: the form's Idempotency-Key lives in this
       history entry, so Ctrl+Enter pressed again, a retry, or Back and submit get the incident
       already made instead of a second one. A new form (a fresh page) gets a fresh key. */
    const key = (history.state && history.state.incidentKey) || Siaga.newKey();
    history.replaceState({ ...(history.state || {}), incidentKey: key }, "");
    const errorNode = document.getElementById("incident-error");
    const number = (text) => {
      const cleaned = text.trim().replace(",", ".");
      return /^[-+]?\d+(\.\d+)?$/.test(cleaned) ? Number(cleaned) : NaN;
    };
    /* What the form holds, or the first thing wrong with it in words a person can act on. */
    function read() {
      if (!form.category.value) return { problem: t("incident.category_required"), field: form.category };
      const latText = form.lat.value.trim(), lonText = form.lon.value.trim();
      const body = {
        category: form.category.value, description: form.description.value.trim(),
        priority: Number(form.priority.value),
        call_ids: JSON.parse(form.dataset.callIds), alarm_ids: JSON.parse(form.dataset.alarmIds),
      };
      const address = form.address.value.trim();
      if (latText || lonText) {
        if (!latText || !lonText) return { problem: t("incident.both_coords"), field: latText ? form.lon : form.lat };
        const lat = number(latText), lon = number(lonText);
        if (!(lat >= -90 && lat <= 90)) return { problem: t("incident.bad_lat"), field: form.lat };
        if (!(lon >= -180 && lon <= 180)) return { problem: t("incident.bad_lon"), field: form.lon };
        body.location = { lat, lon, ...(address ? { address } : {}) };
      } else if (address) body.location = { address };
      return { body };
    }
    let sending = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (sending) return;
      const { body, problem, field } = read();
      if (problem) { errorNode.textContent = problem; field.setAttribute("aria-invalid", "true"); field.focus(); return; }
      for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
      const button = form.querySelector("button[type=submit]");
      sending = true;
      button.disabled = true;
      errorNode.textContent = t("incident.sending");
      try {
        const incident = await api("POST", "/api/v1/incidents", body, { key });
        window.location.assign(`/incidents/${(incident.incident || incident).id}`);
      } catch (error) {
        errorNode.textContent = t("error.failed") + error.message;
        button.disabled = false;
        sending = false;
      }
    });
  }

  /* --- one incident --- */
  const page = document.getElementById("incident-page");
  if (page) {
    const state = JSON.parse(document.getElementById("incident-state").textContent);
    let map = null, layer = null;
    if (document.getElementById("incident-map")) {
      map = SiagaMap.create("incident-map", { legend: ["incident", "recommended", "available", "busy", "cluster", "camera"] });
      layer = L.featureGroup().addTo(map);
    }
    async function drawMap() {
      if (!map) return;
      const data = await api("GET", "/api/v1/console/map");
      layer.clearLayers();
      SiagaMap.incident(layer, { ...state, lat: state.lat, lon: state.lon });
      const shown = data.units.filter((unit) => state.recommended.includes(unit.callsign) || unit.incident_id === state.id);
      SiagaMap.units(map, layer, shown, state.recommended);
      for (const camera of state.cameras || []) SiagaMap.camera(layer, camera);
      if (!drawMap.fitted) { SiagaMap.fitTo(map, layer, 15); drawMap.fitted = true; }
    }
    if (map) {
      map.setView([state.lat, state.lon], 15);
      drawMap().catch((error) => console.error(error));
    }

    /* Parts of the page are swapped for the server's fresh rendering (escaped by the template):
       after this person's own action all of them, after another console's change those that hold
       no choice being made here; the units offered keep the ticks the person made. */
    const SHOWN = ["incident-status", "timeline", "assignments-block", "linked", "sms-block", "sms-alert", "waiting-block", "cameras-block"];
    const refresh = async (parts) => {
      const response = await fetch(window.location.pathname, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const ticked = new Set([...document.querySelectorAll("#dispatch-form input[name=units]")]
        .filter((box) => box.dataset.touched).map((box) => [box.value, box.checked]).map(([v, c]) => `${v}:${c}`));
      for (const id of parts) {
        const next = fresh.getElementById(id), current = document.getElementById(id);
        if (next && current) current.replaceWith(document.importNode(next, true));
      }
      // The person's own ticks survive a refresh, for units still offered.
      for (const box of document.querySelectorAll("#dispatch-form input[name=units]")) {
        if (ticked.has(`${box.value}:true`)) { box.checked = true; box.dataset.touched = "1"; }
        if (ticked.has(`${box.value}:false`)) { box.checked = false; box.dataset.touched = "1"; }
      }
      const freshStatus = fresh.querySelector("#status-form select[name=status]");
      const status = document.querySelector("#status-form select[name=status]");
      // The status list follows the incident (a dispatch makes it "dispatched"), unless the person
      // has picked another status there and not sent it yet.
      if (freshStatus && status && !status.dataset.touched) status.value = freshStatus.value;
      const freshState = fresh.getElementById("incident-state");
      if (freshState) Object.assign(state, JSON.parse(freshState.textContent));
      for (const node of document.querySelectorAll("[data-time]")) node.textContent = Siaga.clock(node.dataset.time);
      bindDispatch();
      drawMap().catch((error) => console.error(error));
    };

    const dispatchError = document.getElementById("dispatch-error");
    function reassignOffer(error) {
      const unit = error.details.unit, busy = error.details.incident;
      dispatchError.replaceChildren(
        t("incident.unit_busy", { unit, incident: busy }), " ",
        Siaga.el("button", { type: "button", class: "small reassign", dataset: { callsign: unit, busyIncident: busy },
          onclick: () => reassign(unit, busy) }, t("incident.reassign", { unit })));
    }
    async function send(units, reassigning) {
      try {
        await api("POST", `/api/v1/incidents/${state.id}/dispatch`, reassigning ? { units, reassign: true } : { units });
        dispatchError.textContent = "";
        await refresh([...SHOWN, "dispatch-block"]);
      } catch (error) {
        if (error.code === "unit_busy" && error.details && error.details.unit) reassignOffer(error);
        else dispatchError.textContent = t("error.failed") + error.message;
      }
    }
    async function reassign(unit, busy) {
      if (!window.confirm(t("incident.reassign_confirm", { unit, incident: busy }))) return;
      await send([unit], true);
    }
    let dispatching = false;
    const dispatch = async (event) => {
      if (event) event.preventDefault();
      const form = document.getElementById("dispatch-form");
      if (!form || !document.getElementById("dispatch") || dispatching) return;
      const units = [...form.querySelectorAll("input[name=units]:checked")].map((box) => box.value);
      if (!units.length) { dispatchError.textContent = t("incident.nothing_ticked"); return; }
      dispatching = true;
      try { await send(units, false); } finally { dispatching = false; }
    };
    function bindDispatch() {
      const form = document.getElementById("dispatch-form");
      if (form && !form.dataset.bound) {
        form.addEventListener("submit", dispatch);
        form.addEventListener("change", (event) => { if (event.target.name === "units") event.target.dataset.touched = "1"; });
        form.dataset.bound = "1";
      }
      for (const button of document.querySelectorAll("#busy-units button.reassign")) {
        if (button.dataset.bound) continue;
        button.dataset.bound = "1";
        button.addEventListener("click", () => reassign(button.dataset.callsign, button.dataset.busyIncident));
      }
      for (const button of document.querySelectorAll("button.retry-sms")) {
        if (button.dataset.bound) continue;
        button.dataset.bound = "1";
        button.addEventListener("click", async () => {
          button.disabled = true;
          try { await api("POST", `/api/v1/incidents/${state.id}/notifications/${button.dataset.notificationId}/retry`, {}); }
          catch (error) { dispatchError.textContent = t("error.failed") + error.message; }
          await refresh(SHOWN);
        });
      }
    }
    bindDispatch();
    key("d", () => dispatch());

    /* A note is its own action; a status change may carry a reason. A status change that fails
       never loses what was typed: the words are saved as a note and the person is told why the
       status stayed. */
    const noteForm = document.getElementById("note-form");
    noteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = noteForm.note.value.trim();
      const errorNode = document.getElementById("note-error");
      if (!note) { errorNode.textContent = t("error.code.note_required"); return; }
      try {
        await api("POST", `/api/v1/incidents/${state.id}/notes`, { note });
        noteForm.note.value = "";
        errorNode.textContent = "";
        await refresh(SHOWN);
      } catch (error) { errorNode.textContent = t("error.failed") + error.message; }
    });
    document.querySelector("#status-form select[name=status]").addEventListener("change", (event) => { event.target.dataset.touched = "1"; });
    document.getElementById("status-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = event.target;
      const note = f.note.value.trim();
      const errorNode = document.getElementById("status-error");
      if (f.status.value === state.status) {
        if (note) { noteForm.note.value = note; f.note.value = ""; noteForm.requestSubmit(); }
        else errorNode.textContent = t("error.code.same_status");
        return;
      }
      try {
        await api("PATCH", `/api/v1/incidents/${state.id}`, { status: f.status.value, note: note || null });
        f.note.value = "";
        delete f.status.dataset.touched;
        errorNode.textContent = "";
        await refresh([...SHOWN, "dispatch-block"]);
      } catch (error) {
        if (note && error.code !== "note_required") {
          try {
            await api("POST", `/api/v1/incidents/${state.id}/notes`, { note });
            f.note.value = "";
            errorNode.textContent = t("incident.note_saved_status_failed") + error.message;
            await refresh(SHOWN);
            return;
          } catch (noteError) { /* the words stay in the field */ }
        }
        errorNode.textContent = t("error.failed") + error.message;
      }
    });
    /* Another console's change, another incident's dispatch or a unit's report can change what
       this page shows and which units are free to offer: one refresh per burst of events. */
    let soon = null;
    on("incident.updated incident.created unit.updated", () => {
      if (soon) return;
      soon = setTimeout(() => { soon = null; refresh([...SHOWN, "dispatch-block"]).catch((error) => console.error(error)); }, 300);
    });
  }
})();
