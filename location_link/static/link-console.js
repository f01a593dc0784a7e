/* The call view's location link: send it (key l), follow it, see the caller's photos, and ask for
   live video, which arrives by WebRTC (the phone offers, signalling through Siaga112) and is
   recorded here, chunk by chunk, as evidence. Positions arrive as the call's fixes (call.js). */
"use strict";

(() => {
  const { t, el, api, on, key } = Siaga;
  const panel = document.getElementById("location-link");
  if (!panel) return;
  const callId = Number(panel.dataset.callId);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const videoEl = document.getElementById("ll-video");
  let state = { links: [], media: [], whatsapp: false, ice_servers: [] };
  let live = null;  // {linkId, pc, after, timer, recorder, mediaId, uploads, startedAt}
  const photoNodes = new Map();

  function setText(id, text) { document.getElementById(id).textContent = text || ""; }
  function openLink() { return state.links.find((link) => link.state === "opened") || null; }

  async function refresh() {
    try { state = await api("GET", `/api/v1/calls/${callId}/location-link`); render(); }
    catch (error) { console.error(error); }
  }

  function render() {
    document.getElementById("ll-send-whatsapp").hidden = !state.whatsapp;
    const items = state.links.map((link) => el("li", { dataset: { linkId: link.id, state: link.state } },
      el("span", {}, `${link.via.toUpperCase()} · ${t(`ll.state.${link.state}`)}`,
        link.last_error ? el("div", { class: "line2" }, link.last_error) : null),
      el("span", { class: "line2" }, `${link.positions} ${t("ll.positions")} · ${t("ll.expires")} ${Siaga.clock(link.expires_at)}`),
      link.state === "opened" || link.state === "sent"
        ? el("button", { type: "button", class: "small", onclick: () => closeLink(link.id) }, t("ll.close")) : null));
    if (!items.length) items.push(el("li", { class: "empty" }, t("ll.none")));
    document.getElementById("ll-links").replaceChildren(...items);
    document.getElementById("ll-video-ask").disabled = !openLink() || Boolean(live);
    if (!live) setText("ll-video-state", openLink() ? "" : t("ll.no_link_open"));
    renderPhotos();
    const videos = state.media.filter((m) => m.kind === "video" && m.state === "ok").map((m) => el("li", { dataset: { mediaId: m.id } },
      state.can_listen && m.url ? el("a", { href: m.url, target: "_blank", rel: "noopener" }, `#${m.id}`) : `#${m.id}`,
      ` ${Siaga.clock(m.created_at)} · ${Math.round(m.duration_s || 0)} s · sha256 ${String(m.sha256).slice(0, 12)}…`));
    if (videos.length) videos.unshift(el("li", {}, el("strong", {}, t("ll.videos"))));
    document.getElementById("ll-videos").replaceChildren(...videos);
  }

  function renderPhotos() {
    // Photo nodes are kept, not rebuilt: each fetch of a photo is an audited view.
    const box = document.getElementById("ll-photos");
    const photos = state.media.filter((m) => m.kind === "photo" && m.url);
    for (const photo of photos) {
      if (photoNodes.has(photo.id)) continue;
      const node = el("figure", { dataset: { mediaId: photo.id } },
        el("a", { href: photo.url, target: "_blank", rel: "noopener" }, el("img", { src: photo.url, alt: `#${photo.id}` })),
        el("figcaption", {}, `${Siaga.clock(photo.created_at)}${photo.exif_position_used ? ` · ${t("ll.exif")}` : ""}`));
      photoNodes.set(photo.id, node);
      box.append(node);
    }
    if (!photos.length) box.replaceChildren(el("span", { class: "empty" }, t("ll.photos_none")));
    else box.querySelector(".empty")?.remove();
  }

  let sending = false;
  async function send(via) {
    if (sending) return;  // a double press sends one text, not two
    sending = true;
    const buttons = [document.getElementById("ll-send-sms"), document.getElementById("ll-send-whatsapp")];
    for (const button of buttons) button.disabled = true;
    setText("ll-error", "");
    try {
      const sent = await api("POST", `/api/v1/calls/${callId}/location-link`, { via });
      document.getElementById("ll-url").hidden = false;
      setText("ll-url-text", sent.url);
      if (!sent.sent) setText("ll-error", `${t("ll.state.failed")}: ${sent.error || ""}`);
    } catch (error) { setText("ll-error", error.message); }
    finally {
      sending = false;
      for (const button of buttons) button.disabled = false;
    }
    refresh();
  }

  async function closeLink(linkId) {
    if (live && live.linkId === linkId) stopVideo(true);
    try { await api("POST", `/api/v1/location-links/${linkId}/close`, {}); } catch (error) { setText("ll-error", error.message); }
    refresh();
  }

  /* ---- live video ---- */
  function gathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") { resolve(); return; }
      pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
      setTimeout(resolve, 3000);
    });
  }

  async function askVideo() {
    const link = openLink();
    if (!link || live) return;
    setText("ll-error", "");
    try {
      const request = await api("POST", `/api/v1/location-links/${link.id}/signals`, { kind: "request" });
      live = { linkId: link.id, after: request.id, pc: null, recorder: null, uploads: Promise.resolve() };
      setText("ll-video-state", t("ll.video_waiting"));
      document.getElementById("ll-video-ask").disabled = true;
      document.getElementById("ll-video-stop").hidden = false;
      pollSignals();
    } catch (error) { setText("ll-error", error.message); }
  }

  async function pollSignals() {
    if (!live) return;
    const session = live;
    try {
      const data = await api("GET", `/api/v1/location-links/${session.linkId}/signals?after=${session.after}`);
      for (const signal of data.signals) {
        session.after = Math.max(session.after, signal.id);
        await onSignal(session, signal);
      }
      if (data.state === "ended") { stopVideo(false); return; }
    } catch (error) { console.error(error); }
    if (live === session) session.timer = setTimeout(pollSignals, session.pc ? 1500 : 600);
  }

  async function onSignal(session, signal) {
    if (signal.kind === "offer") {
      if (session.pc) session.pc.close();
      const pc = new RTCPeerConnection({ iceServers: state.ice_servers || [] });
      session.pc = pc;
      pc.ontrack = (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        videoEl.srcObject = stream;
        videoEl.hidden = false;
        setText("ll-video-state", t("ll.video_live"));
        startRecording(session, stream);
      };
      await pc.setRemoteDescription({ type: "offer", sdp: signal.body.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await api("POST", `/api/v1/location-links/${session.linkId}/signals`, { kind: "answer", sdp: pc.localDescription.sdp });
    } else if (signal.kind === "refused") {
      stopVideo(false);
      setText("ll-video-state", t("ll.video_refused"));
    } else if (signal.kind === "hangup") {
      stopVideo(false);
      setText("ll-video-state", t("ll.video_ended"));
    }
  }

  async function startRecording(session, stream) {
    if (session.recorder || !window.MediaRecorder) return;
    const type = ["video/webm;codecs=vp8", "video/webm", "video/mp4"].find((m) => MediaRecorder.isTypeSupported(m));
    if (!type) return;
    const recorder = new MediaRecorder(stream, { mimeType: type });
    session.recorder = recorder;
    try {
      const media = await api("POST", `/api/v1/location-links/${session.linkId}/videos`, { content_type: type });
      session.mediaId = media.id;
    } catch (error) { console.error(error); return; }
    session.startedAt = Date.now();
    const url = `/api/v1/location-links/${session.linkId}/videos/${session.mediaId}`;
    recorder.ondataavailable = (event) => {
      if (!event.data || !event.data.size) return;
      session.uploads = session.uploads.then(() => fetch(url, { method: "POST", body: event.data, credentials: "same-origin",
        headers: { "Content-Type": "application/octet-stream", "X-CSRFToken": csrf } })).catch((error) => console.error(error));
    };
    recorder.onstop = () => {
      session.uploads.then(() => api("POST", `${url}/finish`, { duration_s: (Date.now() - session.startedAt) / 1000 }))
        .then(refresh).catch((error) => console.error(error));
    };
    recorder.start(2000);
  }

  function stopVideo(tell) {
    const session = live;
    if (!session) return;
    live = null;
    clearTimeout(session.timer);
    if (session.recorder && session.recorder.state !== "inactive") session.recorder.stop();
    if (session.pc) session.pc.close();
    videoEl.srcObject = null;
    videoEl.hidden = true;
    document.getElementById("ll-video-stop").hidden = true;
    if (tell) api("POST", `/api/v1/location-links/${session.linkId}/signals`, { kind: "hangup" }).catch(() => {});
    render();
  }

  document.getElementById("ll-send-sms").addEventListener("click", () => send("sms"));
  document.getElementById("ll-send-whatsapp").addEventListener("click", () => send("whatsapp"));
  document.getElementById("ll-video-ask").addEventListener("click", askVideo);
  document.getElementById("ll-video-stop").addEventListener("click", () => { stopVideo(true); setText("ll-video-state", t("ll.video_ended")); });
  key("l", () => send("sms"));
  on("call.updated", (data) => { if ((data.payload.id || data.payload.call_id) === callId) refresh(); });
  window.addEventListener("pagehide", () => stopVideo(true));
  refresh();
})();
