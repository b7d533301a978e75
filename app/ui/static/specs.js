// Draft and approve specification revisions through the UI's JSON routes.
"use strict";
(function () {
  const msg = document.getElementById("spec-message");
  const say = (t, ok) => { if (msg) { msg.textContent = t; msg.className = "message " + (ok ? "ok" : "error"); } };
  // a field the form names gets the form's words; anything else the MES's own sentence
  const FIELD_WORDS = { based_on: "Based on #: no revision has that number (whole numbers from 1)" };
  function problemText(data) {
    const known = (Array.isArray(data.errors) ? data.errors : []).map((e) => FIELD_WORDS[e.field]).filter(Boolean);
    if (known.length) return known.join("; ");
    return typeof data.detail === "string" ? data.detail : "Not accepted by the MES.";
  }
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { say(problemText(data), false); return null; }
    return data;
  }
  const draft = document.getElementById("draft-form");
  if (draft) {
    draft.addEventListener("submit", async (e) => {
      e.preventDefault();
      let overrides;
      try { overrides = JSON.parse(document.getElementById("d-overrides").value || "{}"); } catch (err) { say("Overrides are not valid JSON: " + err.message, false); return; }
      const based = document.getElementById("d-based").value;
      const body = { station_type: document.getElementById("d-station").value, product_model: document.getElementById("d-model").value,
        overrides, note: document.getElementById("d-note").value };
      if (based) body.based_on = Number(based);
      const r = await post("/ui/specs/draft", body);
      if (r) window.location.href = `/ui/specs/${r.id}`;
    });
  }
  const approve = document.getElementById("approve-form");
  if (approve) {
    approve.addEventListener("submit", async (e) => {
      e.preventDefault();
      const secret = document.getElementById("a-secret");
      const r = await post(`/ui/specs/${approve.dataset.id}/approve`, { reason: document.getElementById("a-reason").value, secret: secret.value });
      secret.value = "";
      if (r) window.location.reload();
    });
  }
})();
