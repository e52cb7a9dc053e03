/* Bóveda: when a new block is synced (or the book records an event), swap in the page again.
   The page works without this file; it only saves a reload. Same-origin requests only. */
(function () {
  "use strict";
  var body = document.body;
  var statusUrl = body.getAttribute("data-live-url");
  if (!statusUrl || !window.fetch || !window.DOMParser) { return; }
  var known = body.getAttribute("data-version");
  var pinned = body.hasAttribute("data-pinned");
  var busy = false;
  var INTERVAL_MS = 1000;

  function say(text) {
    var status = document.getElementById("live-status");
    if (status) { status.textContent = text; }
  }

  function swap(html, version) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    if (doc.body.getAttribute("data-version") !== version) { return false; }
    ["main", "tip", "audit"].forEach(function (id) {
      var fresh = doc.getElementById(id);
      var old = document.getElementById(id);
      if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
    });
    body.setAttribute("data-version", version);
    known = version;
    body.classList.add("updated");
    window.setTimeout(function () { body.classList.remove("updated"); }, 2500);
    return true;
  }

  function check() {
    if (busy) { return; }
    busy = true;
    fetch(statusUrl, { cache: "no-cache", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status || status.version === known) { return null; }
        if (pinned) {
          known = status.version;
          say(" · " + (document.documentElement.lang.indexOf("es") === 0 ? "nuevo bloque " : "new block ") +
              (status.tip ? status.tip.height : ""));
          return null;
        }
        return fetch(window.location.href, { cache: "no-cache" })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) { if (html) { swap(html, status.version); } });
      })
      .catch(function () { /* the site is restarting or the network is down: try again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(check, INTERVAL_MS);
})();
