// radiusd console: the live parts. An element with data-refresh="N" is reloaded every N
// seconds from the same page (the server renders it; nothing else runs here).
(function () {
  "use strict";
  function refresh(el, seconds) {
    window.setTimeout(function () {
      if (document.hidden) { refresh(el, seconds); return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html) {
            var next = new DOMParser().parseFromString(html, "text/html").getElementById(el.id);
            if (next) { el.replaceWith(next); el = next; }
          }
          refresh(el, seconds);
        })
        .catch(function () { refresh(el, seconds); });
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      var s = parseInt(el.getAttribute("data-refresh"), 10);
      if (el.id && s > 0) { refresh(el, s); }
    });
  });
})();
