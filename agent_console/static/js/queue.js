/* The queue page: waiting calls and open alarms, kept current by the event stream. */
"use strict";

(() => {
  const { t, el, fill, api, on, key } = Siaga;
  const queueList = document.getElementById("queue");
  const alarmList = document.getElementById("alarms");
  const technicalList = document.getElementById("technical");
  const search = document.getElementById("queue-search");
  let state = JSON.parse(document.getElementById("queue-state").textContent);

  function marks(call) {
    const out = el("span");
    if (call.silent_emergency) out.append(el("span", { class: "mark silent-emergency" }, t("mark.silent_emergency")));
    if (call.repeat_count > 0) out.append(el("span", { class: "mark repeat", title: t("mark.repeat") }, `${t("mark.repeat")} ×${call.repeat_count}`));
    if (call.prank_suspect) out.append(el("span", { class: "mark prank" }, t("mark.prank")));
    else if (call.silent) out.append(el("span", { class: "mark silent" }, t("mark.silent")));
    return out;
  }

  function callRow(call) {
    const row = fill("call-row", {
      priority: call.priority,
      caller: call.caller || t("caller.withheld"),
      caller_name: call.caller_name || "",
      marks: marks(call),
      category: Siaga.category(call.category_hint) || "–",
      location: [Siaga.place(call.place), call.location ? Siaga.location(call.location) : (call.landmark ? "" : t("location.none")),
        call.landmark ? `“${call.landmark}”` : ""].filter(Boolean).join(" · "),
      statement: Siaga.transcript(call.statement),
      wait: Siaga.duration(Siaga.since(call.queued_at)),
    });
    row.dataset.callId = call.id;
    row.dataset.priority = call.priority;
    if (call.silent_emergency) row.classList.add("silent-emergency");
    row.querySelector("[data-field=wait]").dataset.since = call.queued_at || call.started_at;
    const link = row.querySelector("[data-field=link]");
    link.href = `/calls/${call.id}`;
    link.setAttribute("aria-label", `${t("queue.open")} ${call.caller || ""}`);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") window.location.assign(link.href); });
    row.dataset.search = [call.caller, call.caller_name, Siaga.location(call.location), call.category_hint,
      call.statement && call.statement.transcript].join(" ").toLowerCase();
    return row;
  }

  async function changeAlarm(alarm, body, errorNode) {
    try {
      await api("PATCH", `/api/v1/alarms/${alarm.id}`, body);
      if (document.activeElement) document.activeElement.blur();  // the form is done: let the list redraw
      refresh();
    } catch (error) {
      if (errorNode) errorNode.textContent = error.message;
    }
  }

  function alarmRow(alarm) {
    const flags = el("span");
    if (alarm.urgent) flags.append(el("span", { class: "mark urgent" }, t("mark.urgent_alarm")));
    if (alarm.state === "acknowledged") flags.append(el("span", { class: "mark repeat" }, `${t("alarm.acknowledged")} · ${alarm.acknowledged_by || ""}`));
    if (alarm.flags && alarm.flags.reporter_blocked) flags.append(el("span", { class: "mark prank" }, t("mark.blocked")));
    const who = alarm.site ? alarm.site.name : alarm.reporter ? [alarm.reporter.name, alarm.reporter.phone].filter(Boolean).join(" · ") : "";
    const row = fill("alarm-row", {
      priority: alarm.priority, kind: Siaga.word("alarm_kind", alarm.kind), source: Siaga.word("alarm_source", alarm.source), marks: flags, who,
      location: alarm.location ? Siaga.location({ ...alarm.location, source: alarm.source }) : t("location.none"),
      message: alarm.message || "", age: Siaga.duration(Siaga.since(alarm.received_at)),
    });
    row.dataset.alarmId = alarm.id;
    row.dataset.priority = alarm.priority;
    row.querySelector("[data-field=age]").dataset.since = alarm.received_at;
    if (alarm.urgent) row.classList.add("urgent");
    if (alarm.technical) row.classList.add("technical");
    const link = row.querySelector("[data-field=new_incident]");
    link.href = `/incidents/new?alarm=${alarm.id}`;
    if (alarm.technical) link.remove();  // nothing to send anyone to: a technician's work
    const ack = row.querySelector("[data-action=acknowledge]");
    if (alarm.state !== "open") ack.remove();
    else ack.addEventListener("click", () => changeAlarm(alarm, { state: "acknowledged" }));
    const form = row.querySelector("[data-field=close_form]");
    const errorNode = row.querySelector("[data-field=close_error]");
    if (alarm.technical) form.reason.value = "technician";
    row.querySelector("[data-action=close]").addEventListener("click", () => {
      form.hidden = false;
      form.note.focus();
    });
    row.querySelector("[data-action=cancel]").addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = form.reason.value, note = form.note.value.trim();
      if (reason === "other" && !note) { errorNode.textContent = t("alarm.note_required"); return; }
      const words = form.reason.options[form.reason.selectedIndex].textContent;
      changeAlarm(alarm, { state: "closed", note: note ? `${words}: ${note}` : words }, errorNode);
    });
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.target.closest("form, button") && !alarm.technical) window.location.assign(link.href);
    });
    return row;
  }

  function render() {
    // A close form being filled in is not thrown away by a refresh.
    if (document.activeElement && document.activeElement.closest(".close-form:not([hidden])")) { pendingRender = true; return; }
    const alarms = state.alarms.filter((a) => !a.technical), technical = state.alarms.filter((a) => a.technical);
    queueList.replaceChildren(...state.calls.map(callRow));
    alarmList.replaceChildren(...alarms.map(alarmRow));
    technicalList.replaceChildren(...technical.map(alarmRow));
    document.getElementById("queue-count").textContent = state.calls.length ? `(${state.calls.length})` : "";
    document.getElementById("alarm-count").textContent = alarms.length ? `(${alarms.length})` : "";
    document.getElementById("technical-count").textContent = technical.length ? `(${technical.length})` : "";
    document.getElementById("alarms-empty").hidden = alarms.length > 0;
    document.getElementById("technical-empty").hidden = technical.length > 0;
    Siaga.tick();
    filter();
  }
  let pendingRender = false;
  document.addEventListener("focusout", () => setTimeout(() => { if (pendingRender) { pendingRender = false; render(); } }, 0));

  function filter() {
    const words = search.value.trim().toLowerCase();
    let shown = 0;
    for (const row of queueList.children) {
      row.hidden = words !== "" && !row.dataset.search.includes(words);
      if (!row.hidden) shown += 1;
    }
    document.getElementById("queue-empty").hidden = shown > 0;
  }

  /* Events arrive in bursts (queued, then a transcript, then a location): one refresh per burst. */
  let pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try { state = await api("GET", "/api/v1/console/queue"); render(); }
      catch (error) { console.error(error); }
    }, 50);
  }
  on("call.queued call.updated call.answered call.ended alarm.new alarm.updated incident.created incident.updated", refresh);

  search.addEventListener("input", filter);
  key("/", () => search.focus());
  key("Enter", () => {
    const top = [...queueList.children].find((row) => !row.hidden);
    if (top) window.location.assign(`/calls/${top.dataset.callId}`);
  });
  key("n", () => {
    const top = alarmList.querySelector("li:not(.technical)");
    window.location.assign(top ? `/incidents/new?alarm=${top.dataset.alarmId}` : "/incidents/new");
  });
  render();
})();
