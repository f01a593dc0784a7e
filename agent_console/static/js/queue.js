/* The queue page: waiting calls and open alarms, kept current by the event stream. */
"use strict";

(() => {
  const { t, el, fill, api, on, key } = Siaga;
  const queueList = document.getElementById("queue");
  const alarmList = document.getElementById("alarms");
  const search = document.getElementById("queue-search");
  let state = JSON.parse(document.getElementById("queue-state").textContent);

  function marks(call) {
    const out = el("span");
    if (call.repeat_count > 0) out.append(el("span", { class: "mark repeat", title: t("mark.repeat") }, `${t("mark.repeat")} ×${call.repeat_count}`));
    if (call.prank_suspect) out.append(el("span", { class: "mark prank" }, t("mark.prank")));
    if (call.silent) out.append(el("span", { class: "mark silent" }, t("mark.silent")));
    return out;
  }

  function callRow(call) {
    const row = fill("call-row", {
      priority: call.priority,
      caller: call.caller || t("caller.withheld"),
      caller_name: call.caller_name || "",
      marks: marks(call),
      category: Siaga.category(call.category_hint) || "–",
      location: Siaga.location(call.location),
      statement: Siaga.transcript(call.statement),
      wait: Siaga.duration(Siaga.since(call.queued_at)),
    });
    row.dataset.callId = call.id;
    row.dataset.priority = call.priority;
    row.querySelector("[data-field=wait]").dataset.since = call.queued_at || call.started_at;
    const link = row.querySelector("[data-field=link]");
    link.href = `/calls/${call.id}`;
    link.setAttribute("aria-label", `${t("queue.open")} ${call.caller || ""}`);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") window.location.assign(link.href); });
    row.dataset.search = [call.caller, call.caller_name, Siaga.location(call.location), call.category_hint,
      call.statement && call.statement.transcript].join(" ").toLowerCase();
    return row;
  }

  function alarmRow(alarm) {
    const flags = el("span");
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
    const link = row.querySelector("[data-field=new_incident]");
    link.href = `/incidents/new?alarm=${alarm.id}`;
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") window.location.assign(link.href); });
    return row;
  }

  function render() {
    queueList.replaceChildren(...state.calls.map(callRow));
    alarmList.replaceChildren(...state.alarms.map(alarmRow));
    document.getElementById("queue-count").textContent = state.calls.length ? `(${state.calls.length})` : "";
    document.getElementById("alarm-count").textContent = state.alarms.length ? `(${state.alarms.length})` : "";
    document.getElementById("alarms-empty").hidden = state.alarms.length > 0;
    filter();
  }

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
    const top = alarmList.firstElementChild;
    window.location.assign(top ? `/incidents/new?alarm=${top.dataset.alarmId}` : "/incidents/new");
  });
  render();
})();
