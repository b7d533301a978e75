// "Hold all": one request holds every unit of the lot with one reason (held by the signed-in user), then the list reloads.
"use strict";
(function () {
  const form = document.getElementById("hold-all");
  if (!form) return;
  const msg = document.getElementById("hold-all-message");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { identifier: form.dataset.identifier, reason: document.getElementById("hold-all-reason").value };
    if (form.dataset.kind) body.kind = form.dataset.kind;
    const r = await fetch("/ui/genealogy/hold", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { msg.textContent = typeof data.detail === "string" ? data.detail : "refused: " + JSON.stringify(data.detail); msg.className = "message error"; return; }
    sessionStorage.setItem("mes.flash", `${data.held} unit(s) put on hold` + (data.skipped_scrapped.length ? `; ${data.skipped_scrapped.length} scrapped skipped` : ""));
    window.location.reload();
  });
  const flash = sessionStorage.getItem("mes.flash");
  if (flash) { msg.textContent = flash; msg.className = "message ok"; sessionStorage.removeItem("mes.flash"); }
})();
