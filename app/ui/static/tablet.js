// Station tablet: remembered station, scan → panel, start/hold/repair, live events; the operator is the
// signed-in user (the server takes who acts from the session, never from the request body).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const store = window.localStorage;
  const stationSel = $("station"), serialIn = $("serial");
  const panel = $("panel"), message = $("message"), link = $("link");
  const liveBox = $("live"), liveValues = $("live-values"), vacTimer = $("vac-timer");
  let serial = "", source = null, retryTimer = null, belowSince = null, offlineTimer = null, leaving = false;

  stationSel.value = store.getItem("mes.station") || "";
  serialIn.value = store.getItem("mes.serialDraft") || "";
  stationSel.addEventListener("change", () => { store.setItem("mes.station", stationSel.value); if (serial) show(serial); });
  serialIn.addEventListener("input", () => store.setItem("mes.serialDraft", serialIn.value));

  function setOnline(online) {
    link.textContent = online ? "online" : "OFFLINE — keeps what you typed, resumes by itself";
    link.className = "link " + (online ? "online" : "offline");
    document.body.classList.toggle("is-offline", !online);
  }
  function say(text, kind) { message.textContent = text || ""; message.className = "message " + (kind || ""); }
  function station() { return stationSel.value; }
  // A session that ended (signed out elsewhere, expired, revoked) sends the tablet back to the sign-in page.
  function signedOut(response) {
    const toLogin = response.redirected && new URL(response.url).pathname === "/ui/login";
    if (response.status !== 401 && !toLogin) return false;
    leaving = true;
    if (source) source.close();
    window.location.assign("/ui/login?next=" + encodeURIComponent("/ui/tablet"));
    return true;
  }

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
    if (signedOut(response)) return;
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
    if (leaving) return;
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
    // The session ended elsewhere (signed out on another screen, revoked, expired): to the sign-in.
    source.addEventListener("signed_out", () => {
      leaving = true; source.close();
      location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    });
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

  // POST as the signed-in operator (csrf.js adds the session's CSRF token).
  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body) });
    } catch (err) { setOnline(false); say("Offline: nothing was sent; your input is kept. Try again when online.", "error"); return null; }
    setOnline(true);
    if (signedOut(response)) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      say(problemText(data), "error");
      await refresh();
      return null;
    }
    return data;
  }
  function problemText(data) {
    const detail = data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    return JSON.stringify(detail);
  }

  function wirePanel() {
    const start = $("start-btn");
    if (start) start.addEventListener("click", async () => {
      const r = await post(`/ui/tablet/${encodeURIComponent(station())}/start`, { serial });
      if (r) { say(r.aborted.length ? `Started; aborted ${r.aborted.join(", ")}` : "Started.", "ok"); await refresh(); }
    });
    const hold = $("hold-btn");
    if (hold) hold.addEventListener("click", () => $("hold-dialog").showModal());
    const check = $("check-btn");
    if (check) check.addEventListener("click", () => $("check-dialog").showModal());
    const parts = $("parts-form");
    if (parts) wireParts(parts);
    const slot = $("repair-slot");
    if (slot) wireRepair(slot);
  }

  // The repair record: a replaced compressor, inverter board or EVI valve (kind, serial, model) enters
  // the unit's genealogy and the old one is marked removed. A refused record (not the model the bill of
  // materials names, a part fitted in another unit) says why and keeps what was typed in the form.
  const repairFields = { action: "repair-action", description: "repair-description",
    replaced_part_kind: "repair-part-kind", replaced_part_serial: "repair-part", replaced_part_model: "repair-part-model" };
  let repairDraft = null;
  function wireRepair(slot) {
    slot.appendChild($("repair-template").content.cloneNode(true));
    if (repairDraft && repairDraft.serial === serial) {
      Object.entries(repairFields).forEach(([name, id]) => { $(id).value = repairDraft[name]; });
    }
    $("repair-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { serial };
      Object.entries(repairFields).forEach(([name, id]) => { body[name] = $(id).value; });
      repairDraft = { ...body };
      if (!body.replaced_part_kind) delete body.replaced_part_kind;  // a part the genealogy does not track: text only
      const r = await post(`/ui/tablet/${encodeURIComponent(station())}/repair`, body);
      if (!r) return;
      repairDraft = null;
      const part = r.fitted ? `; ${r.fitted.identifier} fitted` + (r.removed.length ? `, ${r.removed.join(", ")} marked removed` : "") : "";
      say(`Repair recorded: ${r.verdict}${part}`, "ok");
      await refresh();
    });
  }

  // Parts scanned at the sub-base go into the unit's record at once (the server checks each against
  // the bill of materials); refused scans stay listed until the next unit, and a part typed while
  // offline stays in the form (and in this tablet's storage) until it is sent.
  const refusedParts = new Map();
  function wireParts(form) {
    const draftKey = `mes.partDraft.${serial}`, kind = $("part-kind"), partSerial = $("part-serial"), model = $("part-model");
    const refused = refusedParts.get(serial) || [];
    refusedParts.clear(); refusedParts.set(serial, refused);
    const draft = JSON.parse(store.getItem(draftKey) || "null");
    if (draft) { kind.value = draft.kind; partSerial.value = draft.identifier; model.value = draft.model; }
    const keep = () => store.setItem(draftKey, JSON.stringify({ kind: kind.value, identifier: partSerial.value, model: model.value }));
    [kind, partSerial, model].forEach((el) => el.addEventListener("input", keep));
    const list = $("parts-refused");
    const showRefused = () => {
      list.innerHTML = "";
      refused.forEach((text) => { const li = document.createElement("li"); li.className = "part-wrong"; li.textContent = text; list.appendChild(li); });
    };
    showRefused();
    // a scanner sends Enter after each label: the serial's moves on to the model, the model's records the part
    partSerial.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); model.focus(); model.select(); } });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const part = { kind: kind.value, identifier: partSerial.value.trim(), model: model.value.trim() };
      let response;
      try {
        response = await fetch(`/ui/tablet/${encodeURIComponent(station())}/parts`, { method: "POST",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify({ serial, parts: [part] }) });
      } catch (err) { keep(); setOnline(false); say("Offline: the part was not recorded; your input is kept.", "error"); return; }
      setOnline(true);
      if (signedOut(response)) { keep(); return; }
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        refused.unshift(`${part.identifier || "—"} (${part.model || "—"}): ${problemText(data)}`);
        showRefused(); say(problemText(data), "error"); partSerial.select();
        return;
      }
      store.removeItem(draftKey);
      say(data.message, "ok");
      await refresh();
      const next = $("part-serial"); if (next) next.focus();
    });
  }

  $("check-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const verdict = document.querySelector('input[name="check-verdict"]:checked');
    const r = await post(`/ui/tablet/${encodeURIComponent(station())}/manual-check`, {
      serial, name: $("check-name").value.trim(), verdict: verdict ? verdict.value : "",
      message: $("check-message").value.trim() });
    if (r) {
      $("check-dialog").close(); $("check-form").reset();
      say(r.verdict === "FAIL" ? "Manual check FAIL recorded: the unit is on hold." : "Manual check PASS recorded.", r.verdict === "FAIL" ? "error" : "ok");
      await refresh();
    }
  });
  $("check-cancel").addEventListener("click", () => $("check-dialog").close());

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
