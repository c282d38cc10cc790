// MultiVip dashboard: confirmation prompts for removals and a live refresh of member health and
// traffic. Everything else is plain HTML forms, so the page works without this script.
"use strict";

document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

const live = document.getElementById("live");
if (live) {
  const status = document.getElementById("live-status");
  const url = live.getAttribute("data-live-url");
  const refresh = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (response.redirected || response.status === 401) {
        window.location.reload(); // signed out: the reload lands on the sign-in page
        return;
      }
      if (response.ok) {
        live.innerHTML = await response.text();
        status.textContent = "updated " + new Date().toLocaleTimeString();
      }
    } catch {
      status.textContent = "server unreachable, retrying";
    }
  };
  setInterval(refresh, 2000);
}
