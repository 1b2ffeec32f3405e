// The ops console's live regions: every few seconds, fetch this page again and swap in
// each element marked data-refresh (matched by id), without reloading the page. The
// X-Ops-Refresh header tells the server this is not the operator's doing: it does not
// keep an idle session alive.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-refresh][id]");
  if (!regions.length) return;
  var seconds = Number(document.body.getAttribute("data-refresh-seconds")) || 5;
  var busy = false;

  function swap(fresh) {
    document.querySelectorAll("[data-refresh][id]").forEach(function (old) {
      var next = fresh.getElementById(old.id);
      if (next) old.replaceWith(document.importNode(next, true));
    });
    var stamp = fresh.getElementById("refreshed-at");
    var here = document.getElementById("refreshed-at");
    if (stamp && here) here.replaceWith(document.importNode(stamp, true));
    document.body.setAttribute("data-refreshes", String(Number(document.body.getAttribute("data-refreshes") || 0) + 1));
  }

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html", "X-Ops-Refresh": "1" } })
      .then(function (answer) {
        if (!answer.ok || answer.redirected) throw new Error("refresh: " + answer.status);
        return answer.text();
      })
      .then(function (html) { swap(new DOMParser().parseFromString(html, "text/html")); })
      .catch(function () { document.body.classList.add("stale"); })
      .finally(function () { busy = false; });
  }

  window.setInterval(refresh, seconds * 1000);
})();
