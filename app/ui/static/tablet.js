// Station tablet: remembered station, scan → panel, start/hold/repair, live events; the operator is the
// signed-in user (the server takes who acts from the session, never from the request body).
// Every action acts on the unit the panel shows (its data-serial and data-station), never on what was
// scanned last: on a slow link a later scan's panel may not have arrived yet.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const store = window.localStorage;
  const stationSel = $("station"), serialIn = $("serial");
  const panel = $("panel"), message = $("message"), link = $("link");
  const liveBox = $("live"), liveValues = $("live-values"), vacTimer = $("vac-timer");
  // serial: the serial asked for last (what the panel will show once its answer arrives)
  let serial = "", source = null, retryTimer = null, belowSince = null, offlineTimer = null, leaving = false;
  let panelAsked = 0;  // number of the latest panel request: an older answer arriving later is dropped

  stationSel.value = store.getItem("mes.station") || "";
  serialIn.value = store.getItem("mes.serialDraft") || "";
  stationSel.addEventListener("change", () => {
    store.setItem("mes.station", stationSel.value);
    serialIn.focus();
    if (serial) show(serial);
  });
  // A barcode scanner types the serial and Enter wherever the focus is. On a button (the opener of a
  // dialog just cancelled, Start) its Enter would press that button and the serial would be lost; on the
  // station list its letters would pick another station. So, with no dialog open, typing outside a text
  // field goes to the serial field, which starts empty for it.
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;
    if (document.querySelector("dialog[open]")) return;
    const el = document.activeElement;
    if (el === serialIn || (el && (el.matches("input, textarea") || el.isContentEditable))) return;
    serialIn.value = "";
    serialIn.focus();
  }, true);
  serialIn.addEventListener("input", () => store.setItem("mes.serialDraft", serialIn.value));

  function setOnline(online) {
    link.textContent = online ? "online" : "OFFLINE — keeps what you typed, resumes by itself";
    link.className = "link " + (online ? "online" : "offline");
    document.body.classList.toggle("is-offline", !online);
  }
  function say(text, kind) { message.textContent = text || ""; message.className = "message " + (kind || ""); }
  function station() { return stationSel.value; }
  // The unit the panel shows, at the station it was built for; null while no unit is shown.
  function shownUnit() {
    const unit = panel.querySelector(".unit");
    return unit ? { serial: unit.dataset.serial, station: unit.dataset.station } : null;
  }
  const at = (unit, action) => `/ui/tablet/${encodeURIComponent(unit.station)}/${action}`;

  // A session that ended (signed out elsewhere, expired, revoked) sends the tablet to the sign-in page,
  // which says why; what was typed in a dialog or the repair form is kept on this tablet (drafts below)
  // and comes back once the operator has signed in again.
  function toSignIn(reason) {
    leaving = true;
    if (source) source.close();
    keepDrafts();
    window.location.assign("/ui/login?next=" + encodeURIComponent("/ui/tablet") + "&reason=" + reason);
  }
  function signedOut(response) {
    const toLogin = response.redirected && new URL(response.url).pathname === "/ui/login";
    if (response.status !== 401 && !toLogin) return false;
    toSignIn("session_ended");
    return true;
  }

  // A button on the panel may act only while its panel is the one shown and current: not marked stale
  // by a later scan (show() disables it then), not replaced by a newer panel.
  const onCurrentPanel = (button) => panel.contains(button) && !panel.classList.contains("stale");

  // A button that sends something stays disabled until the answer is in: a double tap sends once. A
  // panel's button is enabled again only if its panel is still current when the answer (or a dropped
  // link) comes: else a Start sent before another scan would start the old unit under the new one's panel.
  // A dialog's button (outside the panel) acts on the unit its dialog was opened for.
  async function whileSending(button, work) {
    if (!button || button.disabled) return;
    const onPanel = panel.contains(button);
    if (onPanel && !onCurrentPanel(button)) return;
    button.disabled = true;
    try { await work(); } finally { if (!onPanel || onCurrentPanel(button)) button.disabled = false; }
  }

  async function show(value) {
    serial = value.trim();
    if (!serial) return;
    if (!station()) { say("Pick this tablet's station first.", "error"); stationSel.focus(); return; }
    store.setItem("mes.lastSerial", serial);
    const shown = shownUnit();
    if (shown && (shown.serial !== serial || shown.station !== station())) {
      // another unit is still shown until the new panel arrives: nothing may be done to it meanwhile
      panel.classList.add("stale");
      panel.querySelectorAll("button, input, select, textarea").forEach((el) => { el.disabled = true; });
    }
    await refresh();
    listen();
  }

  async function refresh() {
    if (!serial || !station()) return;
    const asked = ++panelAsked;
    let response, html;
    try {
      response = await fetch(`/ui/tablet/${encodeURIComponent(station())}/panel?serial=${encodeURIComponent(serial)}`,
        { cache: "no-store" });
      if (asked !== panelAsked) return;  // a later request was made: its answer is the one to show
      setOnline(true);
      if (signedOut(response)) return;
      html = await response.text();
    } catch (err) {
      if (asked === panelAsked) { setOnline(false); scheduleRetry(); }
      return;
    }
    if (asked !== panelAsked) return;
    panel.classList.remove("stale");
    panel.innerHTML = html;
    showLiveBox();
    wirePanel();
    serialIn.select();
  }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(() => { retryTimer = null; refresh(); }, 3000);
  }

  // Live values are the station's, of whichever unit is in it: shown only while the unit the panel shows
  // is the one running there, each named with its unit (from the station type's traces).
  const liveUnits = JSON.parse($("live-units").textContent);
  const runningHere = () => panel.querySelector('.unit[data-open="yes"]') !== null && !panel.classList.contains("stale");
  function showLiveBox() { liveBox.hidden = !(runningHere() && liveValues.children.length); }
  function liveLabel(channel) {
    const unit = (liveUnits[station()] || {})[channel];
    if (!unit) return channel.replace(/_/g, " ");
    const cut = channel.lastIndexOf("_");
    return `${(cut > 0 ? channel.slice(0, cut) : channel).replace(/_/g, " ")} (${unit})`;
  }

  function listen() {
    if (source) source.close();
    if (leaving) return;
    liveValues.innerHTML = ""; belowSince = null; vacTimer.hidden = true; liveBox.hidden = true;
    $("live-station").textContent = station();
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
    source.addEventListener("signed_out", () => toSignIn("session_ended"));
  }

  function showLive(v) {
    let tile = liveValues.querySelector(`[data-channel="${CSS.escape(v.channel)}"]`);
    if (!tile) {
      tile = document.createElement("div");
      tile.className = "tile"; tile.dataset.channel = v.channel;
      tile.innerHTML = '<div class="tile-name"></div><div class="tile-value"></div>';
      tile.querySelector(".tile-name").textContent = liveLabel(v.channel);
      liveValues.appendChild(tile);
    }
    tile.querySelector(".tile-value").textContent = v.value === null ? "—" : Number(v.value).toPrecision(4);
    showLiveBox();
    const timer = panel.querySelector(".unit[data-timer-channel]");
    if (timer && v.channel === timer.dataset.timerChannel && v.value !== null) {
      below(v, Number(timer.dataset.timerThreshold), Number(timer.dataset.timerMinS), timer.dataset.timerUnit);
    }
  }

  // The time at or below the target (vacuum: the pressure ≤ the target for the minimum time), with the
  // target and the time of the specification revision the unit is judged by (the panel carries them).
  function below(v, threshold, minimumS, unit) {
    const at = v.at ? Date.parse(v.at) : Date.now();
    vacTimer.hidden = false;
    const target = `${threshold} ${unit}`;
    if (v.value <= threshold) { if (belowSince === null) belowSince = at; } else { belowSince = null; }
    if (belowSince === null) { vacTimer.textContent = `${Number(v.value).toPrecision(4)} ${unit} — target ≤ ${target}`; return; }
    const s = Math.max(0, Math.round((at - belowSince) / 1000));
    const left = Math.max(0, minimumS - s);
    vacTimer.textContent = `≤ ${target} for ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} — ` +
      (left ? `${Math.ceil(left / 60)} min to go` : `${Math.round(minimumS / 60)} min reached`);
  }

  // POST as the signed-in operator (csrf.js adds the session's CSRF token). A refusal is said in
  // ``errorBox`` when given (inside an open dialog, where the operator is looking), else in the message line.
  async function post(url, body, errorBox) {
    const refuse = (text) => {
      if (errorBox) { errorBox.textContent = text; errorBox.hidden = false; } else say(text, "error");
    };
    if (errorBox) { errorBox.hidden = true; errorBox.textContent = ""; }
    let response;
    try {
      response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body) });
    } catch (err) { setOnline(false); refuse("Offline: nothing was sent; your input is kept. Try again when online."); return null; }
    setOnline(true);
    if (signedOut(response)) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      refuse(problemText(data));
      await refresh();
      return null;
    }
    return data;
  }

  // A refusal in the operator's words: the field as the form names it, and what to do about it.
  const FIELD_WORDS = {
    reason: "The reason", message: "What you saw", name: "The check's name", verdict: "The verdict",
    description: "The description", action: "What was done", serial: "The serial",
    replaced_part_serial: "The replaced part's serial", replaced_part_model: "The new part's model",
    replaced_part_kind: "The replaced part's kind", recovered_mass_g: "The recovered refrigerant",
  };
  function fieldProblem(field, message) {
    const who = FIELD_WORDS[field] || (field === "request" ? "The form" : field.replace(/_/g, " "));
    let m = /at least (\d+) character/.exec(message);
    if (m) return `${who} is too short: write at least ${m[1]} characters.`;
    m = /at most (\d+) character/.exec(message);
    if (m) return `${who} is too long: at most ${m[1]} characters.`;
    if (/^Field required/.test(message)) return `${who} is missing: fill it in.`;
    m = /greater than or equal to (\S+)/.exec(message);
    if (m) return `${who} must be ${m[1]} or more.`;
    if (/valid number|finite number/.test(message)) return `${who} must be a number.`;
    if (/^Input should be/.test(message)) return `${who} is not one of the choices: pick one.`;
    return `${who} was not accepted (${message}).`;
  }
  function problemText(data) {
    if (Array.isArray(data.errors) && data.errors.length) {
      return data.errors.map((e) => fieldProblem(String(e.field || "request"), String(e.message || ""))).join(" ");
    }
    const detail = data.detail;
    if (typeof detail === "string") return detail;
    return "Not accepted by the MES; try again, or tell a supervisor.";
  }

  function wirePanel() {
    const unit = shownUnit();
    const start = $("start-btn");
    if (start && unit) start.addEventListener("click", () => whileSending(start, async () => {
      const r = await post(at(unit, "start"), { serial: unit.serial });
      if (r) { say(r.aborted.length ? `Started; aborted ${r.aborted.join(", ")}` : "Started.", "ok"); await refresh(); }
    }));
    const hold = $("hold-btn");
    if (hold && unit) hold.addEventListener("click", () => holdDialog.open(unit));
    const check = $("check-btn");
    if (check && unit) check.addEventListener("click", () => checkDialog.open(unit));
    const parts = $("parts-form");
    if (parts && unit) wireParts(parts, unit);
    const slot = $("repair-slot");
    if (slot && unit) wireRepair(slot, unit);
    if (unit) { holdDialog.restore(unit); checkDialog.restore(unit); }
  }

  // What is typed in a dialog or the repair form is kept in this tablet's storage until it is sent or
  // cancelled: a session that ends, a reload or a dropped link loses nothing (as the parts form does).
  // A draft is kept under the signed-in user's name and restored only to them: the next operator on this
  // tablet neither sees it nor sends it as theirs. Another user's drafts are left for their owner (a
  // colleague signing in meanwhile must not wipe a half-written hold reason), never read.
  const username = $("who") ? $("who").dataset.username : "";
  const draftKey = (kind, ...parts) => `mes.${kind}Draft:` + [username, ...parts].map(encodeURIComponent).join("/");
  const draftKeepers = [];  // the dialogs'
  let keepRepairDraft = () => {};  // the repair form's (a new form with each panel)
  function keepDrafts() { draftKeepers.forEach((keep) => keep()); keepRepairDraft(); }
  const readDraft = (key) => { try { return JSON.parse(store.getItem(key) || "null"); } catch (err) { return null; } };

  // The repair record: a replaced compressor, inverter board or EVI valve (kind, serial, model) enters
  // the unit's genealogy and the old one is marked removed. A refused record (not the model the bill of
  // materials names, a part fitted in another unit) says why inside the form and keeps what was typed.
  // A unit that holds its refrigerant charge (the panel says so) is repaired only after recovery: the
  // form then asks for the recovered mass, and the MES refuses the record without it.
  const repairFields = { action: "repair-action", description: "repair-description",
    replaced_part_kind: "repair-part-kind", replaced_part_serial: "repair-part", replaced_part_model: "repair-part-model",
    recovered_mass_g: "repair-recovered" };
  let repairRefusal = null;  // { key, text }: said again in the form the refusal's refresh builds
  function wireRepair(slot, unit) {
    slot.appendChild($("repair-template").content.cloneNode(true));
    const form = $("repair-form"), repairKey = draftKey("repair", unit.station, unit.serial);
    const errorBox = $("repair-error"), recoveredRow = $("repair-recovered-row");
    if (slot.dataset.heldCharge) {
      recoveredRow.hidden = false;
      $("repair-held-charge").textContent = slot.dataset.heldCharge;
    }
    if (repairRefusal && repairRefusal.key === repairKey) { errorBox.textContent = repairRefusal.text; errorBox.hidden = false; }
    repairRefusal = null;
    const draft = readDraft(repairKey);
    if (draft) Object.entries(repairFields).forEach(([name, id]) => { if (draft[name] !== undefined) $(id).value = draft[name]; });
    const keep = () => {
      if (!form.isConnected) return;
      const typed = {};
      Object.entries(repairFields).forEach(([name, id]) => { typed[name] = $(id).value; });
      store.setItem(repairKey, JSON.stringify(typed));
    };
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    keepRepairDraft = keep;
    const button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      whileSending(button, async () => {
        const body = { serial: unit.serial };
        Object.entries(repairFields).forEach(([name, id]) => { body[name] = $(id).value; });
        keep();
        if (!body.replaced_part_kind) delete body.replaced_part_kind;  // a part the genealogy does not track: text only
        if (recoveredRow.hidden || body.recovered_mass_g === "") delete body.recovered_mass_g;
        else body.recovered_mass_g = Number(body.recovered_mass_g);
        errorBox.hidden = true; errorBox.textContent = ""; repairRefusal = null;
        const r = await post(at(unit, "repair"), body);
        if (!r) {
          // said in the message line and inside the form (the panel's refresh builds a new form: said there)
          if (!message.classList.contains("error")) return;
          const box = $("repair-error");
          if (box) { box.textContent = message.textContent; box.hidden = false; } else repairRefusal = { key: repairKey, text: message.textContent };
          return;
        }
        store.removeItem(repairKey);
        const part = r.fitted ? `; ${r.fitted.identifier} fitted` + (r.removed.length ? `, ${r.removed.join(", ")} marked removed` : "") : "";
        say(`Repair recorded: ${r.verdict}${part}`, "ok");
        await refresh();
      });
    });
  }

  // Parts scanned at the sub-base go into the unit's record at once (the server checks each against
  // the bill of materials); refused scans stay listed until the next unit, and a part typed while
  // offline stays in the form (and in this tablet's storage) until it is sent.
  const refusedParts = new Map();
  function wireParts(form, unit) {
    const partKey = draftKey("part", unit.serial), kind = $("part-kind"), partSerial = $("part-serial"), model = $("part-model");
    const refused = refusedParts.get(unit.serial) || [];
    refusedParts.clear(); refusedParts.set(unit.serial, refused);
    const draft = readDraft(partKey);
    if (draft) { kind.value = draft.kind; partSerial.value = draft.identifier; model.value = draft.model; }
    const keep = () => store.setItem(partKey, JSON.stringify({ kind: kind.value, identifier: partSerial.value, model: model.value }));
    [kind, partSerial, model].forEach((el) => el.addEventListener("input", keep));
    const list = $("parts-refused");
    const showRefused = () => {
      list.innerHTML = "";
      refused.forEach((text) => { const li = document.createElement("li"); li.className = "part-wrong"; li.textContent = text; list.appendChild(li); });
    };
    showRefused();
    // a scanner sends Enter after each label: the serial's moves on to the model, the model's records the part
    partSerial.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); model.focus(); model.select(); } });
    const button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", (e) => { e.preventDefault(); whileSending(button, () => recordPart()); });
    async function recordPart() {
      const part = { kind: kind.value, identifier: partSerial.value.trim(), model: model.value.trim() };
      let response;
      try {
        response = await fetch(at(unit, "parts"), { method: "POST",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify({ serial: unit.serial, parts: [part] }) });
      } catch (err) { keep(); setOnline(false); say("Offline: the part was not recorded; your input is kept.", "error"); return; }
      setOnline(true);
      if (signedOut(response)) { keep(); return; }
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        refused.unshift(`${part.identifier || "—"} (${part.model || "—"}): ${problemText(data)}`);
        showRefused(); say(problemText(data), "error"); partSerial.select();
        return;
      }
      store.removeItem(partKey);
      say(data.message, "ok");
      await refresh();
      const next = $("part-serial"); if (next) next.focus();
    }
  }

  // A dialog (hold, manual check) acts on the unit shown when it was opened, names it in its heading,
  // says a refusal inside itself (the page behind a modal dialog cannot be read), sends once per tap,
  // and keeps what was typed until it is sent or cancelled.
  function wireDialog({ name, fields, send }) {
    const dialog = $(`${name}-dialog`), form = $(`${name}-form`), errorBox = $(`${name}-error`);
    const button = form.querySelector('button[type="submit"]'), dialogKey = draftKey(name);
    let target = null;
    const read = () => Object.fromEntries(fields.map((id) => {
      const el = $(id);
      return [id, el.type === "radio" ? el.checked : el.value];
    }));
    const write = (values) => fields.forEach((id) => {
      const el = $(id);
      if (values[id] === undefined) return;
      if (el.type === "radio") el.checked = values[id]; else el.value = values[id];
    });
    const keep = () => { if (target && dialog.open) store.setItem(dialogKey, JSON.stringify({ ...target, fields: read() })); };
    const forget = () => { store.removeItem(dialogKey); target = null; };
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    draftKeepers.push(keep);
    const open = (unit) => {
      target = unit;
      $(`${name}-serial`).textContent = unit.serial;
      errorBox.hidden = true; errorBox.textContent = "";
      if (!dialog.open) dialog.showModal();
      keep();
    };
    const cancel = () => { forget(); form.reset(); dialog.close(); };
    dialog.addEventListener("close", () => serialIn.focus());  // the next scan goes to the serial field
    $(`${name}-cancel`).addEventListener("click", cancel);
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); cancel(); });  // Esc
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!target) return;
      const unit = target;
      whileSending(button, async () => {
        const problem = send.check ? send.check() : "";
        if (problem) { errorBox.textContent = problem; errorBox.hidden = false; return; }
        const r = await post(send.url(unit), send.body(unit), errorBox);
        if (!r) return;
        forget(); form.reset(); dialog.close();
        send.done(r);
        await refresh();
      });
    });
    return {
      open,
      // typed before the session ended (or the page was left): open again, as it was, on the same unit
      restore(unit) {
        const draft = readDraft(dialogKey);
        if (!draft || document.querySelector("dialog[open]") || draft.serial !== unit.serial || draft.station !== unit.station) return;
        open(unit);
        write(draft.fields || {});
        keep();
      },
    };
  }

  const tooShort = (text, words) => (text.trim().length < 3 ? `${words} is too short: write at least 3 characters.` : "");
  const checkDialog = wireDialog({
    name: "check",
    fields: ["check-name", "check-pass", "check-fail", "check-message"],
    send: {
      check: () => tooShort($("check-message").value, "What you saw"),
      url: (unit) => at(unit, "manual-check"),
      body: (unit) => {
        const verdict = document.querySelector('input[name="check-verdict"]:checked');
        return { serial: unit.serial, name: $("check-name").value.trim(), verdict: verdict ? verdict.value : "",
          message: $("check-message").value.trim() };
      },
      done: (r) => say(r.verdict === "FAIL" ? "Manual check FAIL recorded: the unit is on hold." : "Manual check PASS recorded.",
        r.verdict === "FAIL" ? "error" : "ok"),
    },
  });
  const holdDialog = wireDialog({
    name: "hold",
    fields: ["hold-reason"],
    send: {
      check: () => tooShort($("hold-reason").value, "The reason"),
      url: () => "/ui/tablet/hold",
      body: (unit) => ({ serial: unit.serial, reason: $("hold-reason").value.trim() }),
      done: () => say("Unit put on hold.", "ok"),
    },
  });
  $("scan-form").addEventListener("submit", (e) => { e.preventDefault(); say(""); show(serialIn.value); });
  window.addEventListener("offline", () => setOnline(false));
  window.addEventListener("online", () => { setOnline(true); if (serial) { refresh(); listen(); } });
  const last = store.getItem("mes.lastSerial");
  if (last && station() && serialIn.value.trim() === last) show(last);
})();
