// The workbench's forms that change a unit through the REST API as the signed-in user (csrf.js adds the
// session's CSRF token): hold a unit, release a hold or a lot hold, override a verdict. A release and an
// override are e-signed with the signer's password. A refusal is said inside the form (a wrong password
// changes nothing), a double click sends once, and after a change the page reloads with what was done
// kept in sessionStorage for the reloaded page to say.
"use strict";
window.MesSignedForms = (function () {
  const FIELD_WORDS = { reason: "The reason", secret: "Your password", disposition: "The disposition",
    verdict: "The verdict", reenter_at: "Re-enter at", then_reenter_at: "After the repair, re-enter at" };
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
  // A release's body: disposition, reason, the e-signature and, for a rework, where the unit re-enters.
  function releaseBody(form) {
    const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    const body = { disposition: value("disposition"), reason: value("reason"), signature: { secret: form.elements.secret.value } };
    if (body.disposition === "rework" && value("reenter_at")) body.reenter_at = value("reenter_at");
    if (body.reenter_at === "repair" && value("then_reenter_at")) body.then_reenter_at = value("then_reenter_at");
    return body;
  }
  // Every form.signed-form posts bodyOf(form) to its data-url; on success flashKey holds done(data, form).
  function wire({ bodyOf, done, flashKey }) {
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
            body: JSON.stringify(bodyOf(form)) });
        } catch (err) { refuse("The MES cannot be reached: nothing was changed. Try again."); button.disabled = false; return; }
        if (form.elements.secret) form.elements.secret.value = "";
        const data = await response.json().catch(() => ({}));
        if (!response.ok) { refuse(problemText(data)); button.disabled = false; return; }
        sessionStorage.setItem(flashKey, done(data, form));
        window.location.reload();
      });
    });
  }
  return { problemText, releaseBody, wire };
})();
