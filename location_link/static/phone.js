/* The caller's page: after consent, share the position while open, send photos (resized here,
   their EXIF position cut out and sent beside them), and live video when the call-taker asks.
   No framework and nothing from elsewhere: a cheap phone on a weak network loads it at once. */
"use strict";

(function () {
  var words = JSON.parse(document.getElementById("words").textContent);
  var config = JSON.parse(document.getElementById("config").textContent);
  var base = location.pathname.replace(/\/+$/, "");
  var $ = function (id) { return document.getElementById(id); };
  var after = 0, ended = false, lastSent = null, pc = null, stream = null, pollTimer = null, watchId = null;
  var MAX_SIDE = 1600, QUALITY = 0.8;

  function request(method, path, body, type, timeoutMs) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || 20000) : null;
    var headers = { "X-Siaga-Link": "1", "Accept": "application/json" };
    if (type) headers["Content-Type"] = type;
    return fetch(base + path, { method: method, headers: headers, body: body, credentials: "same-origin",
      signal: controller ? controller.signal : undefined })
      .then(function (response) {
        if (timer) clearTimeout(timer);
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.status === 410 || response.status === 403 || response.status === 404) finish(data);
          if (!response.ok) { var e = new Error((data.error && data.error.message) || response.status); e.status = response.status; throw e; }
          return data;
        });
      });
  }
  function postJson(path, data) { return request("POST", path, JSON.stringify(data), "application/json"); }

  function status(text, kind) { var node = $("status"); node.textContent = text; node.className = kind || ""; }

  function finish(data) {
    if (ended) return;
    ended = true;
    stopVideo(false);
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    clearTimeout(pollTimer);
    status((data && data.error && data.error.message) || words.ended, "bad");
  }

  /* ---- position ---- */
  function distance(a, b) {
    var r = Math.PI / 180, x = (b.lon - a.lon) * r * Math.cos((a.lat + b.lat) * r / 2), y = (b.lat - a.lat) * r;
    return Math.sqrt(x * x + y * y) * 6371000;
  }
  function onPosition(pos) {
    var c = pos.coords, fix = { lat: c.latitude, lon: c.longitude, accuracy_m: c.accuracy, timestamp_ms: pos.timestamp };
    if (c.altitude !== null) fix.altitude_m = c.altitude;
    if (c.heading !== null && !isNaN(c.heading)) fix.heading = c.heading;
    if (c.speed !== null) fix.speed_mps = c.speed;
    var now = Date.now();
    // Every fix that says something new goes; the same spot again waits 15 s (a weak network, a small budget).
    if (lastSent && distance(lastSent, fix) < 5 && fix.accuracy_m > lastSent.accuracy_m * 0.8 && now - lastSent.at < 15000) return;
    fix.at = now;
    var sent = lastSent;
    lastSent = fix;
    postJson("/positions", fix).then(function () {
      status(words.sent_fix + " ±" + Math.round(c.accuracy) + " m (" + words.accuracy + "), " + new Date().toLocaleTimeString(), "ok");
    }).catch(function () { lastSent = sent; status(words.network, "bad"); });
  }
  function onGeoError(error) {
    status(error.code === 1 ? words.geo_denied : words.geo_unavailable, "bad");
  }
  function startPosition() {
    if (!navigator.geolocation) { status(words.geo_unavailable, "bad"); return; }
    watchId = navigator.geolocation.watchPosition(onPosition, onGeoError, { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
  }

  /* ---- photos ---- */
  function exifSegment(file) {
    // The APP1 "Exif" block of a JPEG, cut out before the canvas drops it: the centre reads its position.
    return file.slice(0, 131072).arrayBuffer().then(function (buffer) {
      var view = new DataView(buffer), offset = 2;
      if (buffer.byteLength < 4 || view.getUint16(0) !== 0xFFD8) return null;
      while (offset + 4 <= buffer.byteLength) {
        var marker = view.getUint16(offset), size = view.getUint16(offset + 2);
        if (marker === 0xFFE1 && offset + 10 <= buffer.byteLength && view.getUint32(offset + 4) === 0x45786966)
          return new Blob([buffer.slice(offset + 4, Math.min(buffer.byteLength, offset + 2 + size))]);
        if (marker === 0xFFDA || (marker & 0xFF00) !== 0xFF00) return null;
        offset += 2 + size;
      }
      return null;
    }).catch(function () { return null; });
  }
  function loadImage(file) {
    if (window.createImageBitmap) return createImageBitmap(file, { imageOrientation: "from-image" });
    return new Promise(function (resolve, reject) {
      var img = new Image(); img.onload = function () { resolve(img); }; img.onerror = reject; img.src = URL.createObjectURL(file);
    });
  }
  function resize(file) {
    return loadImage(file).then(function (img) {
      var scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale); canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", QUALITY); });
    });
  }
  function sendPhoto(file) {
    var note = $("photo-status");
    note.textContent = words.photo_sending;
    return Promise.all([resize(file), exifSegment(file)]).then(function (parts) {
      var form = new FormData();
      form.append("photo", parts[0], "photo.jpg");
      if (parts[1]) form.append("exif", parts[1], "exif.bin");
      return request("POST", "/photos", form, null, 90000).then(function () {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(parts[0]); img.alt = words.photo_sent;
        $("thumbs").appendChild(img);
        note.textContent = words.photo_sent;
      });
    }).catch(function (error) { note.textContent = words.photo_failed + (error && error.message ? ": " + error.message : ""); });
  }
  function onFiles(event) {
    var files = Array.prototype.slice.call(event.target.files || []);
    event.target.value = "";
    files.reduce(function (chain, file) { return chain.then(function () { return sendPhoto(file); }); }, Promise.resolve());
  }

  /* ---- live video (this page offers, the console answers) ---- */
  function gathered(connection) {
    return new Promise(function (resolve) {
      if (connection.iceGatheringState === "complete") return resolve();
      var done = function () { if (connection.iceGatheringState === "complete") resolve(); };
      connection.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000); // enough candidates by now; a slow STUN server must not hold the video up
    });
  }
  function startVideo() {
    $("video-ask").hidden = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
      .then(function (media) {
        stream = media;
        $("preview").srcObject = media;
        $("video-on").hidden = false;
        pc = new RTCPeerConnection({ iceServers: config.ice || [] });
        media.getTracks().forEach(function (track) { pc.addTrack(track, media); });
        pc.onconnectionstatechange = function () { if (pc && pc.connectionState === "failed") stopVideo(true); };
        return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); })
          .then(function () { return gathered(pc); })
          .then(function () { return postJson("/signals", { kind: "offer", sdp: pc.localDescription.sdp }); });
      })
      .catch(function () { status(words.video_failed, "bad"); stopVideo(true); postJson("/signals", { kind: "refused" }).catch(function () {}); });
  }
  function stopVideo(tell) {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    if (pc) pc.close();
    var had = pc || stream;
    stream = null; pc = null;
    if ($("video-on")) $("video-on").hidden = true;
    if (tell && had) postJson("/signals", { kind: "hangup" }).catch(function () {});
  }
  function onSignal(signal) {
    if (signal.kind === "request") { if (!pc) $("video-ask").hidden = false; }
    else if (signal.kind === "answer" && pc) pc.setRemoteDescription({ type: "answer", sdp: signal.body.sdp }).catch(function () { stopVideo(true); });
    else if (signal.kind === "hangup") { stopVideo(false); $("video-ask").hidden = true; }
  }

  /* ---- polling for the call-taker's requests ---- */
  function poll() {
    if (ended) return;
    request("GET", "/signals?after=" + after).then(function (data) {
      data.signals.forEach(function (signal) { after = Math.max(after, signal.id); onSignal(signal); });
      pollTimer = setTimeout(poll, pc && pc.connectionState !== "connected" ? 700 : 1500);
    }).catch(function (error) {
      if (!ended) pollTimer = setTimeout(poll, error.status === 429 ? 5000 : 3000);
    });
  }

  function start() {
    postJson("/start", {}).then(function (data) {
      if (data.ice_servers) config.ice = data.ice_servers;
      $("consent").hidden = true;
      $("live").hidden = false;
      startPosition();
      poll();
    }).catch(function (error) { if (!ended) status(error.message, "bad"); $("live").hidden = false; });
  }

  $("agree").addEventListener("click", start);
  $("camera").addEventListener("change", onFiles);
  $("gallery").addEventListener("change", onFiles);
  $("video-start").addEventListener("click", startVideo);
  $("video-decline").addEventListener("click", function () { $("video-ask").hidden = true; postJson("/signals", { kind: "refused" }).catch(function () {}); });
  $("video-stop").addEventListener("click", function () { stopVideo(true); status(words.video_ended); });
  window.addEventListener("pagehide", function () { stopVideo(true); });
  if (config.started) start();
  document.body.setAttribute("data-ready", "1");
})();
