// "Hold all": one request holds every unit of the lot with one reason (held by the signed-in user), then the list
// reloads. The button stays disabled while the request is out: a double click holds each unit once.
// "Release all": a lot hold still in force is released whole through the REST API as the signed-in user, with
// one disposition and one e-signature (the password re-entered), as the birth record releases one hold; a
// refusal is said inside the form (a wrong password changes nothing) and the page reloads after a release.
"use strict";
(function () {
  function released(data) {
    const parts = [`${data.released.length} hold(s) of lot hold ${data.lot_hold_id} released (${data.disposition}), e-signed`];
    if (data.already_released.length) parts.push(`${data.already_released.length} had been released before`);
    if (data.still_on_hold.length) parts.push(`still held for another reason: ${data.still_on_hold.join(", ")}`);
    return parts.join("; ");
  }
  window.MesSignedForms.wire({ bodyOf: window.MesSignedForms.releaseBody, done: released, flashKey: "mes.flash" });

  const form = document.getElementById("hold-all");
  if (!form) return;
  const msg = document.getElementById("hold-all-message");
  const button = form.querySelector('button[type="submit"]');
  const refuse = (text) => { msg.textContent = text; msg.className = "message error"; };
  async function holdAll() {
    const body = { identifier: form.dataset.identifier, reason: document.getElementById("hold-all-reason").value };
    if (form.dataset.kind) body.kind = form.dataset.kind;
    let r;
    try {
      r = await fetch("/ui/genealogy/hold", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    } catch (err) { refuse("The MES cannot be reached: nothing was held. Try again."); return false; }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const fields = Array.isArray(data.errors) ? data.errors.map((e) => e.field) : [];
      refuse(fields.includes("reason") ? "The reason is too short: write at least 3 characters."
        : typeof data.detail === "string" ? data.detail : "Not accepted by the MES; try again.");
      return false;
    }
    sessionStorage.setItem("mes.flash", `${data.held} unit(s) put on hold` + (data.skipped_scrapped.length ? `; ${data.skipped_scrapped.length} scrapped skipped` : ""));
    window.location.reload();
    return true;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    // after a hold the page reloads: the button stays disabled until then
    if (!(await holdAll().catch(() => false))) button.disabled = false;
  });
  const flash = sessionStorage.getItem("mes.flash");
  if (flash) { msg.textContent = flash; msg.className = "message ok"; sessionStorage.removeItem("mes.flash"); }
})();
