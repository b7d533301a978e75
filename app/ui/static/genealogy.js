// "Hold all": one request holds every unit of the lot with one reason (held by the signed-in user), then the list
// reloads. The button stays disabled while the request is out: a double click holds each unit once.
// "Release all": a lot hold still in force is released whole through the REST API as the signed-in user, with
// one disposition and one e-signature (the password re-entered), as the birth record releases one hold; a
// refusal is said inside the form (a wrong password changes nothing) and the page reloads after a release.
"use strict";
(function () {
  const FIELD_WORDS = { reason: "The reason", secret: "Your password", disposition: "The disposition",
    reenter_at: "Re-enter at", then_reenter_at: "After the repair, re-enter at" };
  function problemText(data) {
    if (Array.isArray(data.errors) && data.errors.length) {
      return data.errors.map((e) => {
        const who = FIELD_WORDS[String(e.field || "").split(".").pop()] || "The form";
        return /at least 3 character/.test(String(e.message)) ? `${who} is too short: write at least 3 characters.`
          : `${who} was not accepted (${e.message}).`;
      }).join(" ");
    }
    return typeof data.detail === "string" ? data.detail : "Not accepted by the MES; try again, or tell a supervisor.";
  }
  function releaseBody(form) {
    const value = (name) => form.elements[name].value.trim();
    const body = { disposition: value("disposition"), reason: value("reason"), signature: { secret: form.elements.secret.value } };
    if (body.disposition === "rework" && value("reenter_at")) body.reenter_at = value("reenter_at");
    if (body.reenter_at === "repair" && value("then_reenter_at")) body.then_reenter_at = value("then_reenter_at");
    return body;
  }
  function released(data) {
    const parts = [`${data.released.length} hold(s) of lot hold ${data.lot_hold_id} released (${data.disposition}), e-signed`];
    if (data.already_released.length) parts.push(`${data.already_released.length} had been released before`);
    if (data.still_on_hold.length) parts.push(`still held for another reason: ${data.still_on_hold.join(", ")}`);
    return parts.join("; ");
  }
  document.querySelectorAll("form.signed-form").forEach((release) => {
    const button = release.querySelector('button[type="submit"]'), msg = release.querySelector(".form-message");
    const refuse = (text) => { msg.textContent = text; msg.className = "message form-message error"; };
    release.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (button.disabled) return;  // a double click sends once
      button.disabled = true;
      msg.textContent = "";
      let response;
      try {
        response = await fetch(release.dataset.url, { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(releaseBody(release)) });
      } catch (err) { refuse("The MES cannot be reached: nothing was released. Try again."); button.disabled = false; return; }
      release.elements.secret.value = "";
      const data = await response.json().catch(() => ({}));
      if (!response.ok) { refuse(problemText(data)); button.disabled = false; return; }
      sessionStorage.setItem("mes.flash", released(data));
      window.location.reload();
    });
  });

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
