/* The call view: caller, locations side by side, transcript, earlier calls, incidents nearby. */
"use strict";

(() => {
  const { t, el, api, on, key } = Siaga;
  const page = document.getElementById("call-page");
  const callId = Number(page.dataset.callId);
  let call = JSON.parse(document.getElementById("call-state").textContent);
  const map = SiagaMap.create("call-map", { legend: ["caller", "accuracy", "incident"] });
  const markers = L.featureGroup().addTo(map);
  let fitted = false;

  function text(id, value) { document.getElementById(id).textContent = value === null || value === undefined ? "" : String(value); }

  async function confirmFix(fixId) {
    call = await api("POST", `/api/v1/console/calls/${callId}/confirm-fix`, { fix_id: fixId });
    render();
  }

  async function join(incidentId) {
    call = await api("POST", `/api/v1/console/calls/${callId}/incident`, { incident_id: incidentId });
    render();
  }

  function renderHead() {
    text("call-priority", call.priority);
    page.querySelector(".call-head").dataset.priority = call.priority;
    text("call-caller", call.caller || t("caller.withheld"));
    text("call-caller-name", call.caller_name || "");
    text("call-state-label", Siaga.word("state", call.state));
    text("call-category", Siaga.category(call.category_hint) || "–");
    text("call-started", Siaga.clock(call.started_at));
    const marks = document.getElementById("call-marks");
    marks.replaceChildren();
    if (call.repeat_count > 0) marks.append(el("span", { class: "mark repeat" }, `${t("mark.repeat")} ×${call.repeat_count}`));
    if (call.prank_suspect) marks.append(el("span", { class: "mark prank" }, t("mark.prank")));
    if (call.silent_emergency) marks.append(el("span", { class: "mark silent-emergency" }, t("mark.silent_emergency")));
    else if (call.silent) marks.append(el("span", { class: "mark silent" }, t("mark.silent")));
    page.querySelector(".call-head").classList.toggle("silent-emergency", Boolean(call.silent_emergency));
    text("call-place", Siaga.place(call.place));
    text("call-landmark", call.landmark ? `“${call.landmark}”` : "");
    const link = document.getElementById("call-incident-link");
    link.hidden = !call.incident_id;
    if (call.incident_id) { link.href = `/incidents/${call.incident_id}`; link.textContent = `${t("call.joined")} #${call.incident_id}`; }
  }

  function renderFixes() {
    const rows = call.fixes.map((fix) => {
      const confirmed = fix.id === call.confirmed_fix_id;
      const newer = fix.id === call.newer_fix_id;
      const coords = Siaga.coords(fix.lat, fix.lon);
      const action = confirmed
        ? el("strong", { class: "confirmed-label" }, `✔ ${t("call.confirmed")}`)
        : el("button", { type: "button", class: "small", dataset: { fixId: fix.id }, onclick: () => confirmFix(fix.id) }, t("call.confirm"));
      // A place the caller named is only offered: the call-taker checks it before confirming.
      const offered = fix.source === "speech" && !confirmed ? el("div", { class: "line2 offered" }, t("call.speech_offered")) : null;
      const warnings = (fix.warnings || []).length
        ? el("div", { class: "line2 fix-warning", title: fix.warnings.join("\n") }, `⚠ ${t("call.fix_warnings")}: ${fix.warnings.join("; ")}`)
        : null;
      const source = el("span", {}, Siaga.word("fix_source", fix.source), fix.note ? el("div", { class: "line2" }, fix.note) : null, offered, warnings);
      return el("tr", { class: [confirmed ? "confirmed" : "", newer ? "newer" : ""].join(" ").trim() || null, dataset: { fixId: fix.id } },
        el("td", {}, source),
        el("td", {}, el("code", { class: "coords" }, coords), " ", Siaga.copyButton(coords)),
        el("td", {}, `±${Siaga.metres(fix.accuracy_m)}`),
        el("td", { dataset: { since: fix.observed_at || fix.received_at } }, Siaga.duration(Siaga.since(fix.observed_at || fix.received_at))),
        el("td", {}, action));
    });
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, class: "empty" }, t("location.none"))));
    document.querySelector("#fixes tbody").replaceChildren(...rows);
    document.getElementById("newer-fix").hidden = !call.newer_fix_id;
  }

  function renderMap() {
    // No position yet: say so and what to do, instead of an empty grey box.
    const empty = call.fixes.length === 0;
    document.getElementById("call-map").hidden = empty;
    document.getElementById("call-map-empty").hidden = !empty;
    if (!empty) map.invalidateSize();
    markers.clearLayers();
    for (const fix of call.fixes) {
      const best = call.location && fix.lat === call.location.lat && fix.lon === call.location.lon;
      SiagaMap.fix(markers, fix.lat, fix.lon, fix.accuracy_m,
        { color: best ? "#b3261e" : "#6a3fa0", radius: best ? 7 : 4, label: `${Siaga.word("fix_source", fix.source)} ±${Siaga.metres(fix.accuracy_m)}` });
    }
    for (const incident of call.nearby_incidents) SiagaMap.incident(markers, incident);
    if (!fitted && call.fixes.length) { SiagaMap.fitTo(map, markers, 16); fitted = true; }
  }

  function renderSide() {
    document.getElementById("call-transcript").textContent = Siaga.transcript(call.statement);
    // Which words gave the category hint, and how each was heard ("kebakaran" heard as "kemakaran").
    const keywords = (call.statement && call.statement.keywords) || [];
    const holder = document.getElementById("call-keywords");
    holder.hidden = !keywords.length;
    holder.querySelector(".keywords").replaceChildren(...keywords.map((k) => el("span", {
      class: "tag keyword", dataset: { category: k.category, how: k.how },
      title: `${Siaga.category(k.category)} · ${Siaga.word("keyword_how", k.how)}`,
    }, k.heard === k.keyword ? k.keyword : `${k.keyword} (“${k.heard}”)`)));
    const nearby = call.nearby_incidents.map((incident) => el("li", { dataset: { incidentId: incident.id } },
      el("span", {}, el("a", { href: `/incidents/${incident.id}` }, `#${incident.id}`), " ",
        `${Siaga.category(incident.category)} · ${Siaga.word("status", incident.status)} · ${Siaga.metres(incident.distance_m)}`,
        incident.description ? el("div", { class: "line2" }, incident.description) : null),
      call.incident_id === incident.id
        ? el("strong", {}, t("call.joined"))
        : el("button", { type: "button", class: "small join", onclick: () => join(incident.id) }, t("call.join"))));
    if (!nearby.length) nearby.push(el("li", { class: "empty" }, t("call.nearby_none")));
    document.getElementById("nearby").replaceChildren(...nearby);
    const earlier = call.earlier_calls.map((c) => el("li", {},
      el("a", { href: `/calls/${c.id}` }, `#${c.id} ${Siaga.clock(c.started_at)}`),
      el("span", {}, `${Siaga.word("state", c.state)}${c.prank_suspect ? ` · ${t("mark.prank")}` : ""}${c.incident_id ? ` · #${c.incident_id}` : ""}`)));
    if (!earlier.length) earlier.push(el("li", { class: "empty" }, t("call.earlier_none")));
    document.getElementById("earlier").replaceChildren(...earlier);
  }

  function render() { renderHead(); renderFixes(); renderMap(); renderSide(); }

  async function reload() {
    try { call = await api("GET", `/api/v1/console/calls/${callId}`); render(); }
    catch (error) { console.error(error); }
  }
  on("call.updated call.answered call.ended", (data) => {
    if ((data.payload.id || data.payload.call_id) === callId) reload();
  });
  on("incident.created incident.updated", reload);

  document.getElementById("manual-fix").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const errorNode = document.getElementById("manual-error");
    const accuracy = form.accuracy_m.value.trim();
    const latText = form.lat.value.trim().replace(",", "."), lonText = form.lon.value.trim().replace(",", ".");
    const landmark = form.note.value.trim();
    const numeric = /^[-+]?\d+(\.\d+)?$/;
    // The caller's words alone are worth keeping: a landmark needs no coordinates.
    if (!latText && !lonText) {
      if (!landmark) { errorNode.textContent = t("incident.both_coords"); form.note.focus(); return; }
      try {
        call = await api("POST", `/api/v1/console/calls/${callId}/landmark`, { landmark });
        form.reset();
        errorNode.textContent = t("call.landmark_saved");
        render();
      } catch (error) { errorNode.textContent = error.message; }
      return;
    }
    if (!latText || !lonText) { errorNode.textContent = t("incident.both_coords"); return; }
    const lat = numeric.test(latText) ? Number(latText) : NaN, lon = numeric.test(lonText) ? Number(lonText) : NaN;
    if (!(lat >= -90 && lat <= 90)) { errorNode.textContent = t("incident.bad_lat"); form.lat.focus(); return; }
    if (!(lon >= -180 && lon <= 180)) { errorNode.textContent = t("incident.bad_lon"); form.lon.focus(); return; }
    try {
      call = await api("POST", `/api/v1/console/calls/${callId}/fixes`, {
        lat, lon, accuracy_m: accuracy ? Number(accuracy) : null, note: landmark,
      });
      if (landmark) call = await api("POST", `/api/v1/console/calls/${callId}/landmark`, { landmark });
      form.reset();
      errorNode.textContent = "";
      render();
    } catch (error) {
      errorNode.textContent = error.message;
    }
  });
  key("n", () => document.getElementById("call-new-incident").click());
  key("Escape", () => window.location.assign("/"));
  render();
})();
