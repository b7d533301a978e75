// Station tablet: remembered station and operator, scan → panel, start/hold/repair, live events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const store = window.localStorage;
  const stationSel = $("station"), operatorIn = $("operator"), serialIn = $("serial");
  const panel = $("panel"), message = $("message"), link = $("link");
  const liveBox = $("live"), liveValues = $("live-values"), vacTimer = $("vac-timer");
  let serial = "", source = null, retryTimer = null, belowSince = null, offlineTimer = null;

  stationSel.value = store.getItem("mes.station") || "";
  operatorIn.value = store.getItem("mes.operator") || "";
  serialIn.value = store.getItem("mes.serialDraft") || "";
  stationSel.addEventListener("change", () => { store.setItem("mes.station", stationSel.value); if (serial) show(serial); });
  operatorIn.addEventListener("input", () => store.setItem("mes.operator", operatorIn.value.trim()));
  serialIn.addEventListener("input", () => store.setItem("mes.serialDraft", serialIn.value));

  function setOnline(online) {
    link.textContent = online ? "online" : "OFFLINE — keeps what you typed, resumes by itself";
    link.className = "link " + (online ? "online" : "offline");
    document.body.classList.toggle("is-offline", !online);
  }
  function say(text, kind) { message.textContent = text || ""; message.className = "message " + (kind || ""); }
  function station() { return stationSel.value; }

  async function show(value) {
    serial = value.trim();
    if (!serial) return;
    if (!station()) { say("Pick this tablet's station first.", "error"); stationSel.focus(); return; }
    store.setItem("mes.lastSerial", serial);
    await refresh();
    listen();
  }

  async function refresh() {
    if (!serial || !station()) return;
    let response;
    try {
      response = await fetch(`/ui/tablet/${encodeURIComponent(station())}/panel?serial=${encodeURIComponent(serial)}`,
        { cache: "no-store" });
    } catch (err) {
      setOnline(false); scheduleRetry(); return;
    }
    setOnline(true);
    panel.innerHTML = await response.text();
    wirePanel();
    serialIn.select();
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(() => { retryTimer = null; refresh(); }, 3000);
  }

  function listen() {
    if (source) source.close();
    liveValues.innerHTML = ""; belowSince = null; vacTimer.hidden = true;
    source = new EventSource(`/ui/tablet/${encodeURIComponent(station())}/events?serial=${encodeURIComponent(serial)}`);
    source.addEventListener("open", () => { clearTimeout(offlineTimer); offlineTimer = null; setOnline(true); });
    // The server ends each stream after a while and the browser reconnects: only a link that stays
    // down (or a stream the browser gave up on) counts as offline.
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) { setOnline(false); setTimeout(() => { refresh(); listen(); }, 3000); return; }
      if (!offlineTimer) offlineTimer = setTimeout(() => { offlineTimer = null; setOnline(false); scheduleRetry(); }, 4000);
    });
    source.addEventListener("state", (e) => {
      const digest = JSON.parse(e.data).digest;
      const unit = panel.querySelector(".unit");
      if (!unit || unit.dataset.digest !== digest) { say(""); refresh(); }
    });
    source.addEventListener("live", (e) => showLive(JSON.parse(e.data)));
  }

  function showLive(v) {
    liveBox.hidden = false;
    let tile = liveValues.querySelector(`[data-channel="${CSS.escape(v.channel)}"]`);
    if (!tile) {
      tile = document.createElement("div");
      tile.className = "tile"; tile.dataset.channel = v.channel;
      tile.innerHTML = '<div class="tile-name"></div><div class="tile-value"></div>';
      tile.querySelector(".tile-name").textContent = v.channel.replace(/_/g, " ");
      liveValues.appendChild(tile);
    }
    tile.querySelector(".tile-value").textContent = v.value === null ? "—" : Number(v.value).toPrecision(4);
    if (v.channel === "Pressure_Pa" && v.value !== null) vacuum(v);
  }

  function vacuum(v) {
    const at = v.at ? Date.parse(v.at) : Date.now();
    vacTimer.hidden = false;
    if (v.value <= 50) { if (belowSince === null) belowSince = at; } else { belowSince = null; }
    if (belowSince === null) { vacTimer.textContent = `Pressure ${Number(v.value).toPrecision(4)} Pa — target ≤ 50 Pa`; return; }
    const s = Math.max(0, Math.round((at - belowSince) / 1000));
    const left = Math.max(0, 1800 - s);
    vacTimer.textContent = `≤ 50 Pa for ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} — ` +
      (left ? `${Math.ceil(left / 60)} min to go` : "30 min reached");
  }

  async function post(url, body) {
    const operator = operatorIn.value.trim();
    if (!operator) { say("Enter your operator badge first.", "error"); operatorIn.focus(); return null; }
    let response;
    try {
      response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ operator }, body)) });
    } catch (err) { setOnline(false); say("Offline: nothing was sent. Try again when online.", "error"); return null; }
    setOnline(true);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = data.detail;
      say(typeof detail === "string" ? detail : JSON.stringify(detail), "error");
      await refresh();
      return null;
    }
    return data;
  }

  function wirePanel() {
    const start = $("start-btn");
    if (start) start.addEventListener("click", async () => {
      const r = await post(`/ui/tablet/${encodeURIComponent(station())}/start`, { serial });
      if (r) { say(r.aborted.length ? `Started; aborted ${r.aborted.join(", ")}` : "Started.", "ok"); await refresh(); }
    });
    const hold = $("hold-btn");
    if (hold) hold.addEventListener("click", () => $("hold-dialog").showModal());
    const parts = $("parts-form");
    if (parts) wireParts(parts);
    const slot = $("repair-slot");
    if (slot) {
      slot.appendChild($("repair-template").content.cloneNode(true));
      $("repair-form").addEventListener("submit", async (e) => {
        e.preventDefault();
        const r = await post(`/ui/tablet/${encodeURIComponent(station())}/repair`, {
          serial, action: $("repair-action").value, description: $("repair-description").value,
          replaced_part_serial: $("repair-part").value });
        if (r) { say(`Repair recorded: ${r.verdict}`, "ok"); await refresh(); }
      });
    }
  }

  // Parts scanned at the sub-base: each checked against the BOM; the list survives reloads per serial.
  function wireParts(form) {
    const key = `mes.parts.${serial}`, list = $("parts-list");
    const saved = JSON.parse(store.getItem(key) || "[]");
    const show = () => {
      list.innerHTML = "";
      saved.forEach((p) => { const li = document.createElement("li"); li.textContent = `${p.serial || "—"}: ${p.message}`;
        li.className = p.ok ? "part-ok" : "part-wrong"; list.appendChild(li); });
    };
    show();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const kind = $("part-kind").value, model = $("part-model").value.trim(), partSerial = $("part-serial").value.trim();
      let r;
      try {
        r = await fetch(`/ui/tablet/bom-check?serial=${encodeURIComponent(serial)}&kind=${kind}&model=${encodeURIComponent(model)}`);
      } catch (err) { setOnline(false); say("Offline: the part was not checked; your input is kept.", "error"); return; }
      const data = await r.json().catch(() => ({}));
      if (!r.ok) { say(typeof data.detail === "string" ? data.detail : "check refused", "error"); return; }
      saved.push({ kind, serial: partSerial, model, ok: data.ok, message: data.message });
      store.setItem(key, JSON.stringify(saved)); show();
      $("part-serial").value = ""; $("part-model").value = "";
    });
  }

  $("hold-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const reason = $("hold-reason").value.trim();
    const r = await post("/ui/tablet/hold", { serial, reason });
    if (r) { $("hold-dialog").close(); $("hold-reason").value = ""; say("Unit put on hold.", "ok"); await refresh(); }
  });
  $("hold-cancel").addEventListener("click", () => $("hold-dialog").close());
  $("scan-form").addEventListener("submit", (e) => { e.preventDefault(); say(""); show(serialIn.value); });
  window.addEventListener("offline", () => setOnline(false));
  window.addEventListener("online", () => { setOnline(true); if (serial) { refresh(); listen(); } });
  const last = store.getItem("mes.lastSerial");
  if (last && station() && serialIn.value.trim() === last) show(last);
})();
