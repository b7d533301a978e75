// Draft and approve specification revisions through the UI's JSON routes.
"use strict";
(function () {
  const msg = document.getElementById("spec-message");
  const say = (t, ok) => { if (msg) { msg.textContent = t; msg.className = "message " + (ok ? "ok" : "error"); } };
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { say(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail), false); return null; }
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
