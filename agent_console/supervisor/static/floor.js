// Keeps the floor current: when a call, alarm or incident changes (the console's live event
// stream), and every 30 s for the wait clocks, the figures are fetched again from the server and
// swapped in whole. Server-rendered and escaped there; nothing here builds markup from data.
(function () {
  "use strict";
  const REFRESH_MS = 30000, SETTLE_MS = 1500;
  let timer = null;

  async function refresh() {
    timer = null;
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("floor-live");
    const current = document.getElementById("floor-live");
    if (fresh && current && !current.contains(document.activeElement)) current.replaceWith(document.adoptNode(fresh));
  }

  // The longest wait counts up every second between refreshes, as the queue's timers do.
  function tick() {
    for (const clock of document.querySelectorAll("#floor-live [data-since]")) {
      const seconds = Math.max(0, Math.round(Date.now() / 1000 - Number(clock.dataset.since)));
      const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
      const mm = h ? String(m).padStart(2, "0") : String(m);
      clock.textContent = `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
    }
  }

  function soon() { if (!timer) timer = setTimeout(refresh, SETTLE_MS); }

  if (typeof Siaga !== "undefined") Siaga.on("call.queued call.updated call.answered call.ended alarm.new alarm.updated incident.created incident.updated agent.status", soon);
  setInterval(soon, REFRESH_MS);
  setInterval(tick, 1000);
})();
