// The birth record's actions, sent to the REST API as the signed-in user (csrf.js adds the session's CSRF
// token): hold the unit, release a hold with a disposition, override the latest verdict. A release and an
// override are e-signed with the signer's password; a refusal is said inside the form (a wrong password
// changes nothing) and the page reloads after a change, showing it with its signature.
"use strict";
(function () {
  const FIELD_WORDS = { reason: "The reason", secret: "Your password", disposition: "The disposition",
    verdict: "The verdict", reenter_at: "Re-enter at", then_reenter_at: "After the repair, re-enter at" };
  function problemText(data) {
    if (Array.isArray(data.errors) && data.errors.length) {
      return data.errors.map((e) => {
        const field = String(e.field || "").split(".").pop();
        const who = FIELD_WORDS[field] || "The form";
        return /at least 3 character/.test(String(e.message)) ? `${who} is too short: write at least 3 characters.`
          : `${who} was not accepted (${e.message}).`;
      }).join(" ");
    }
    return typeof data.detail === "string" ? data.detail : "Not accepted by the MES; try again, or tell a supervisor.";
  }
  function body(form) {
    const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    const kind = form.dataset.kind;
    if (kind === "hold") return { reason: value("reason") };
    const signed = { signature: { secret: form.elements.secret.value } };
    if (kind === "override") return { verdict: value("verdict"), reason: value("reason"), ...signed };
    const release = { disposition: value("disposition"), reason: value("reason"), ...signed };
    if (value("disposition") === "rework" && value("reenter_at")) release.reenter_at = value("reenter_at");
    if (release.reenter_at === "repair" && value("then_reenter_at")) release.then_reenter_at = value("then_reenter_at");
    return release;
  }
  const DONE = { hold: "Unit put on hold.", release: "Hold released, e-signed.", override: "Verdict overridden, e-signed." };
  document.querySelectorAll("form.signed-form").forEach((form) => {
    const button = form.querySelector('button[type="submit"]'), msg = form.querySelector(".form-message");
    const refuse = (text) => { msg.textContent = text; msg.className = "message form-message error"; };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (button.disabled) return;  // a double click sends once
      button.disabled = true;
      msg.textContent = "";
      let response;
      try {
        response = await fetch(form.dataset.url, { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body(form)) });
      } catch (err) { refuse("The MES cannot be reached: nothing was changed. Try again."); button.disabled = false; return; }
      if (form.elements.secret) form.elements.secret.value = "";
      const data = await response.json().catch(() => ({}));
      if (!response.ok) { refuse(problemText(data)); button.disabled = false; return; }
      sessionStorage.setItem("mes.recordFlash", DONE[form.dataset.kind]);
      window.location.reload();
    });
  });
  const flash = sessionStorage.getItem("mes.recordFlash"), box = document.getElementById("record-message");
  if (flash && box) { box.textContent = flash; box.className = "message ok"; sessionStorage.removeItem("mes.recordFlash"); }
})();
