// Every change a page sends carries the session's CSRF token (the server refuses one without it).
"use strict";
(() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.content : "";
  const plain = window.fetch.bind(window);
  window.fetch = (resource, init = {}) => {
    const method = (init.method || "GET").toUpperCase();
    if (token && !["GET", "HEAD", "OPTIONS"].includes(method)) {
      const headers = new Headers(init.headers || {});
      headers.set("X-CSRF-Token", token);
      init = { ...init, headers };
    }
    return plain(resource, init);
  };
})();

// Signing out is a change too: sent with the token, then back to the sign-in page. A refused sign-out
// says so (the session would still be valid) rather than showing the sign-in page as if it had worked.
document.addEventListener("submit", async (event) => {
  if (event.target.id !== "logout-form") return;
  event.preventDefault();
  let response;
  try {
    response = await window.fetch("/ui/logout", { method: "POST" });
  } catch (err) {
    window.alert("Not signed out: the MES cannot be reached. Try again.");
    return;
  }
  if (!response.ok && response.status !== 401) {  // 401: the session had already ended
    const problem = await response.json().catch(() => ({}));
    window.alert("Not signed out: " + (problem.detail || response.status) + ". Reload the page and try again.");
    return;
  }
  window.location.assign("/ui/login");
});
