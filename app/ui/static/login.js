// Sign-in: posts the form as JSON; on success the server sets the session cookie and names the next page.
"use strict";
(() => {
  const error = document.getElementById("login-error");
  // A badge reader types the badge id and then Enter: that moves on to the PIN rather than sending.
  const badge = document.getElementById("badge"), pin = document.getElementById("pin");
  badge.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    if (badge.value.trim()) { pin.value = ""; pin.focus(); }
  });
  for (const form of document.querySelectorAll("form.login")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      const body = Object.fromEntries(new FormData(form).entries());
      delete body.next;  // the form's own field for a post without this script: sent in the URL here
      const next = encodeURIComponent(form.dataset.next || "");
      let response;
      try {
        response = await fetch(`/ui/login?next=${next}`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        });
      } catch (e) {
        error.textContent = "The MES cannot be reached; try again.";
        error.hidden = false;
        return;
      }
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        window.location.assign(answer.next);
      } else {
        error.textContent = typeof answer.detail === "string" ? answer.detail : "Not signed in: fill in every field.";
        error.hidden = false;
        for (const input of form.querySelectorAll("input[type=password]")) input.value = "";
        const secret = form.querySelector("input[type=password]");
        if (secret) secret.focus();
      }
    });
  }
})();
