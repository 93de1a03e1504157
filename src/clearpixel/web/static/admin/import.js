// An import's progress, polled until it finishes; then the page is loaded again to show
// the result (the report, or every refused line with its reason).
(function () {
  "use strict";
  var section = document.getElementById("import-status");
  if (!section) { return; }
  var url = section.getAttribute("data-progress");
  var bar = document.getElementById("import-progress");
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (p.total) { bar.max = p.total; bar.value = p.done; }
        if (p.finished) { window.location.reload(); } else { setTimeout(poll, 300); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
