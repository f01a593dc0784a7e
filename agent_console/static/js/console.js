/* Siaga112 console core: words, the API with its CSRF token, the live event stream, the
   screen-pop, ticking timers and keyboard shortcuts. Data is only ever put on the page with
   textContent (never innerHTML), so a caller's name or words cannot become markup. */
"use strict";

const Siaga = (() => {
  const body = document.body;
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const me = body.dataset.user || null;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

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

  async function api(method, url, data) {
    const options = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (data !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = csrf;
    const response = await fetch(url, options);
    const json = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((json.error && json.error.message) || response.statusText);
      error.status = response.status;
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

  /* Timers: any element with data-since (ISO time) shows the time elapsed, every second. */
  function tick() {
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = duration(since(node.dataset.since));
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
    "incident.created", "incident.updated", "unit.updated"];
  function connect() {
    if (!me) return;
    const live = document.getElementById("live");
    const after = body.dataset.after;
    const source = new EventSource(`/api/v1/events${after ? `?after=${encodeURIComponent(after)}` : ""}`);
    for (const kind of KINDS) source.addEventListener(kind, dispatch);
    source.onopen = () => { live.dataset.state = "open"; live.title = t("live.connected"); };
    source.onerror = () => { live.dataset.state = "retry"; live.title = t("live.reconnecting"); };
    window.addEventListener("pagehide", () => source.close());
  }

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
    on, key, copyButton, me, tick };
})();
