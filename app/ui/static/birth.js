// The birth record's actions (signed_form.js sends them): hold the unit, release a hold with a disposition,
// override the latest verdict; after a change the reloaded page says what was done.
"use strict";
(function () {
  function body(form) {
    const kind = form.dataset.kind;
    if (kind === "hold") return { reason: form.elements.reason.value.trim() };
    if (kind === "override") {
      return { verdict: form.elements.verdict.value.trim(), reason: form.elements.reason.value.trim(),
        signature: { secret: form.elements.secret.value } };
    }
    return window.MesSignedForms.releaseBody(form);
  }
  const DONE = { hold: "Unit put on hold.", release: "Hold released, e-signed.", override: "Verdict overridden, e-signed." };
  window.MesSignedForms.wire({ bodyOf: body, done: (data, form) => DONE[form.dataset.kind], flashKey: "mes.recordFlash" });
  const flash = sessionStorage.getItem("mes.recordFlash"), box = document.getElementById("record-message");
  if (flash && box) { box.textContent = flash; box.className = "message ok"; sessionStorage.removeItem("mes.recordFlash"); }
})();
