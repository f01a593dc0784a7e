/* Siaga112 console core: words, the API with its CSRF token, the live event stream, the
   screen-pop, ticking timers and keyboard shortcuts. Data is only ever put on the page with
   textContent (never innerHTML), so a caller's name or words cannot become markup. */
"use strict";

const Siaga = (() => {
  const body = document.body;
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const me = body.dataset.user || null;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const settingsNode = document.getElementById("console-settings");
  const settings = settingsNode ? JSON.parse(settingsNode.textContent) : {};

  /* Words by message id, `%(name)s` filled from params; an unknown id shows as itself. */
  function t(key, params) {
    const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    if (!params) return text;
    return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }
  /* A code of a vocabulary (`status`, `unit_kind`, ...) as words; an unknown code as itself. */
  function word(prefix, code) {
    if (code === null || code === undefined || code === "") return "";
    const key = `${prefix}.${code}`;
    return Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : String(code);
  }

  /* A fresh Idempotency-Key: the server answers a repeat of the same key with the first answer. */
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  /* api(method, url, data, {key}): every POST carries an Idempotency-Key (one per intended action:
     pass the same `key` when the person may send the same thing twice). A failure throws an Error
     with .status, .code, .details (the server's error object) and .message in the page's language. */
  async function api(method, url, data, opts = {}) {
    const options = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (data !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = csrf;
    if (method === "POST") options.headers["Idempotency-Key"] = opts.key || newKey();
    let response;
    try {
      response = await fetch(url, options);
    } catch (failure) {
      const error = new Error(t("error.network"));
      error.status = 0; error.code = "network";
      throw error;
    }
    const json = await response.json().catch(() => ({}));
    if (!response.ok) {
      const details = json.error || {};
      const known = details.code && messages[`error.code.${details.code}`];
      const error = new Error(known ? (known.endsWith(": ") ? known + (details.message || "") : known)
        : (details.message || response.statusText));
      error.status = response.status; error.code = details.code; error.details = details;
      if (response.status === 401) connection.signedOut();
      throw error;
    }
    return json;
  }

  /* Build an element: el("li", {class: "x", dataset: {id: 1}}, "text", child) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "dataset") Object.assign(node.dataset, value);
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /* Fill a <template>'s clone: each [data-field] gets its value as text. */
  function fill(templateId, values) {
    const node = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
    for (const slot of node.querySelectorAll("[data-field]")) {
      const value = values[slot.dataset.field];
      if (value instanceof Node) slot.replaceChildren(value);
      else if (value !== undefined && value !== null) slot.textContent = String(value);
    }
    return node;
  }

  function clear(node) { node.replaceChildren(); }

  /* ---- formatting ---- */
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    return `${m}:${String(s).padStart(2, "0")}`;
  }
  function since(iso) { return iso ? (Date.now() - Date.parse(iso)) / 1000 : 0; }
  /* How a wait compares with the answer targets: ok, warn (amber) or late (red). */
  function waitLevel(seconds) {
    if (seconds >= (settings.wait_late_s || 20)) return "late";
    if (seconds >= (settings.wait_warn_s || 10)) return "warn";
    return "ok";
  }
  function coords(lat, lon) { return `${Number(lat).toFixed(6)}, ${Number(lon).toFixed(6)}`; }
  function metres(value) {
    if (value === null || value === undefined) return "?";
    return value >= 1000 ? `${(value / 1000).toFixed(1)} km` : `${Math.round(value)} ${t("unit.metres")}`;
  }
  /* Every time a person reads, in the centre's zone and the one format the server writes too
     (siaga112.i18n.DATETIME_FORMAT): 2026-12-06 14:03:05. */
  const zone = body.dataset.timezone || "Asia/Jakarta";
  const clockParts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function clock(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const p = Object.fromEntries(clockParts.formatToParts(date).map((part) => [part.type, part.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }
  /* "Kel. Kebonsari, Kec. Siaga Utara" from a place's names (null when outside the boundaries). */
  function place(names) {
    if (!names) return "";
    return [names.kelurahan && `Kel. ${names.kelurahan}`, names.kecamatan && `Kec. ${names.kecamatan}`].filter(Boolean).join(", ");
  }
  function category(name) { return word("category", name); }
  function location(loc) {
    if (!loc) return t("location.none");
    return `${coords(loc.lat, loc.lon)} ±${metres(loc.accuracy_m)} (${word("fix_source", loc.source) || "?"})`;
  }
  function transcript(statement) {
    if (!statement) return t("transcript.none");
    if (statement.transcript) return statement.transcript;
    return ["pending", "partial"].includes(statement.transcript_status) ? t("transcript.pending") : t("transcript.unavailable");
  }

  /* Timers: any element with data-since (ISO time) shows the time elapsed, every second; one with
     data-wait too is coloured against the answer targets. A console that is not live stops its
     timers and greys them: a wait it can no longer see is not shown as if it were still counted. */
  function tick() {
    if (body.dataset.live === "lost" || body.dataset.live === "signed-out") return;
    for (const node of document.querySelectorAll("[data-since]")) {
      const parsed = Date.parse(node.dataset.since);
      if (Number.isNaN(parsed)) continue;
      const seconds = (Date.now() - parsed) / 1000;
      node.textContent = duration(seconds);
      if ("wait" in node.dataset) node.dataset.wait = waitLevel(seconds);
    }
  }
  setInterval(tick, 1000);

  /* ---- the live event stream ---- */
  const handlers = {};
  const seen = new Set();
  function on(kinds, handler) {
    for (const kind of kinds.split(" ")) (handlers[kind] = handlers[kind] || []).push(handler);
  }
  function dispatch(event) {
    const data = JSON.parse(event.data);
    if (seen.has(data.id)) return;  // a resumed stream may repeat an event
    seen.add(data.id);
    for (const handler of (handlers[data.kind] || []).concat(handlers["*"] || [])) {
      try { handler(data); } catch (error) { console.error(error); }
    }
  }
  const KINDS = ["call.queued", "call.updated", "call.answered", "call.ended", "alarm.new", "alarm.updated",
    "incident.created", "incident.updated", "unit.updated", "agent.status"];

  /* ---- knowing whether this console is live ----
     The server sends a heartbeat every 2 s and checks the sign-in at each. Nothing heard for
     LOST_AFTER_MS, or the stream failing, shows the red banner; a session ended anywhere (the
     server's `session.ended`, a 401, another tab signing out) shows "sign in again". */
  const LOST_AFTER_MS = 4500;
  const connection = (() => {
    let source = null, lastHeard = 0, watchdog = null, ended = false, probing = false;
    const live = () => document.getElementById("live");
    const banner = () => document.getElementById("connection-banner");

    function show(state) {
      if (ended && state !== "signed-out") return;
      body.dataset.live = state;
      const dot = live();
      if (dot) { dot.dataset.state = state; dot.title = t(state === "open" ? "live.connected" : state === "signed-out" ? "live.signed_out" : "live.lost"); }
      const bar = banner();
      if (!bar) return;
      bar.hidden = state === "open" || state === "connecting";
      bar.dataset.state = state;
      document.getElementById("connection-text").textContent = state === "signed-out" ? t("live.signed_out") : t("live.lost");
      const login = document.getElementById("connection-login");
      login.hidden = state !== "signed-out";
      login.href = `/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
      for (const timer of document.querySelectorAll("[data-since]")) timer.title = state === "open" ? "" : t("live.stale_timer");
    }
    function heard() {
      lastHeard = Date.now();
      if (body.dataset.live !== "open") show("open");
    }
    /* Signed out, or only the network? One cheap request tells: 401 means the session is gone. */
    async function probe() {
      if (probing || ended) return;
      probing = true;
      try {
        const response = await fetch("/api/v1/console/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.status === 401) signedOut();
        else if (!response.ok) show("lost");
      } catch (error) { show("lost"); }
      finally { probing = false; }
    }
    function signedOut() {
      ended = true;
      show("signed-out");
      if (source) source.close();
      clearInterval(watchdog);
    }
    function start() {
      if (!me) return;
      const after = body.dataset.after;
      source = new EventSource(`/api/v1/events${after ? `?after=${encodeURIComponent(after)}` : ""}`);
      for (const kind of KINDS) source.addEventListener(kind, (event) => { heard(); dispatch(event); });
      source.addEventListener("heartbeat", heard);
      source.addEventListener("session.ended", signedOut);
      source.onopen = heard;
      source.onerror = () => {
        if (ended) return;
        show("lost");
        probe();
        if (source.readyState === EventSource.CLOSED) setTimeout(() => { if (!ended) start(); }, 2000);
      };
      lastHeard = Date.now();
      clearInterval(watchdog);
      watchdog = setInterval(() => {
        if (!ended && Date.now() - lastHeard > LOST_AFTER_MS) { show("lost"); probe(); }
      }, 1000);
      window.addEventListener("pagehide", () => source.close());
    }
    /* Another tab of this browser signing out tells this one at once. */
    const channel = "BroadcastChannel" in window ? new BroadcastChannel("siaga112-session") : null;
    if (channel) channel.onmessage = (event) => { if (event.data === "signed-out") signedOut(); };
    document.addEventListener("submit", (event) => {
      if (channel && event.target.matches("form[action$='/logout']")) channel.postMessage("signed-out");
    });
    return { start, signedOut };
  })();
  const connect = connection.start;

  /* ---- attention: a sound and the tab title when a call or alarm arrives ---- */
  const attention = (() => {
    const baseTitle = document.title;
    let unseen = 0, audio = null;
    const state = { chimes: 0 };
    function chime(urgent) {
      state.chimes += 1;
      body.dataset.chimes = String(state.chimes);
      try {
        audio = audio || new (window.AudioContext || window.webkitAudioContext)();
        const notes = urgent ? [880, 660, 880, 660] : [660, 880];
        notes.forEach((freq, index) => {
          const osc = audio.createOscillator(), gain = audio.createGain();
          osc.frequency.value = freq;
          gain.gain.setValueAtTime(0.0001, audio.currentTime + index * 0.18);
          gain.gain.exponentialRampToValueAtTime(0.3, audio.currentTime + index * 0.18 + 0.02);
          gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + index * 0.18 + 0.16);
          osc.connect(gain).connect(audio.destination);
          osc.start(audio.currentTime + index * 0.18);
          osc.stop(audio.currentTime + index * 0.18 + 0.17);
        });
      } catch (error) { /* no sound device: the title and the colours still tell */ }
    }
    function notice(label, urgent) {
      unseen += 1;
      document.title = `(${unseen}) ${urgent ? "‼ " : ""}${label} · ${baseTitle}`;
      chime(urgent);
    }
    function seen() { if (document.visibilityState === "visible" && document.hasFocus()) { unseen = 0; document.title = baseTitle; } }
    window.addEventListener("focus", seen);
    document.addEventListener("visibilitychange", seen);
    document.addEventListener("keydown", seen);
    document.addEventListener("pointerdown", seen);
    return { notice, state };
  })();
  on("call.queued", (data) => attention.notice(t("attention.new_call"), Boolean(data.payload.silent_emergency) || data.payload.priority >= 8));
  on("alarm.new", (data) => attention.notice(t("attention.new_alarm"), (data.payload.priority || 0) >= 9));

  /* ---- the call-taker's own state: ready or on break (on a call and wrap-up follow the phone) ---- */
  function showAgentState(status) {
    const box = document.getElementById("agent-state");
    if (!box) return;
    box.dataset.status = status;
    document.getElementById("agent-state-label").textContent = word("agent", status);
  }
  async function setAgentState(status) {
    try { showAgentState((await api("POST", "/api/v1/console/me/status", { status })).status); }
    catch (error) { window.alert(error.code === "on_call" ? t("agent.still_on_call") : error.message); }
  }
  on("agent.status", (data) => { if (data.payload.username === me) showAgentState(data.payload.status); });
  window.addEventListener("DOMContentLoaded", () => {
    const ready = document.getElementById("agent-ready"), pause = document.getElementById("agent-break");
    if (ready) ready.addEventListener("click", () => setAgentState("available"));
    if (pause) pause.addEventListener("click", () => setAgentState("break"));
  });

  /* Screen-pop: a call answered on this user's phone opens its call view at once. */
  on("call.answered", (data) => {
    const callId = data.payload.id || data.payload.call_id;
    if (data.audience !== me || !callId) return;
    const target = `/calls/${callId}`;
    if (window.location.pathname !== target) window.location.assign(target);
  });

  /* ---- keyboard ---- */
  const keys = {
    q: () => window.location.assign("/"),
    c: () => window.location.assign("/callbacks"),
    i: () => window.location.assign("/incidents"),
    m: () => window.location.assign("/map"),
    "?": () => { const d = document.getElementById("keys"); d.open = !d.open; },
  };
  function key(name, action) { keys[name] = action; }
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") {
      if (typing) { event.target.blur(); return; }
      if (keys.Escape) keys.Escape(event);
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(event); }
  });
  /* Ctrl+Enter submits the form being typed in. */
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest("form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
    }
  });

  function copyButton(text) {
    return el("button", { type: "button", class: "small", title: t("call.copy"),
      onclick: () => navigator.clipboard && navigator.clipboard.writeText(text) }, t("call.copy"));
  }

  /* Every page script has run by now: mark the page ready (tests and tools wait for it). */
  window.addEventListener("DOMContentLoaded", () => { connect(); body.dataset.ready = "1"; });
  return { t, word, api, el, fill, clear, duration, since, coords, metres, clock, category, location, transcript,
    on, key, copyButton, me, tick, newKey, settings, waitLevel, attention: attention.state, place };
})();
