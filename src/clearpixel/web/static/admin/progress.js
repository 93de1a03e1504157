// A campaign's send progress, polled from /admin/campaigns/{id}/progress while it runs.
(function () {
  "use strict";
  var section = document.getElementById("send-status");
  if (!section) { return; }
  var url = section.getAttribute("data-progress");
  var bar = document.getElementById("send-progress");
  var text = document.getElementById("progress-text");
  var status = document.getElementById("progress-status");
  var modes = document.getElementById("progress-modes");
  var error = document.getElementById("progress-error");
  var numbers = new Intl.NumberFormat(document.documentElement.lang || "en");
  var statuses = JSON.parse(section.getAttribute("data-statuses") || "{}");  // in the page's language
  function sum(obj) { var n = 0; for (var k in obj) { n += obj[k]; } return n; }
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var total = sum(p.recipients);
        var done = total - (p.recipients.pending || 0);
        if (p.job && !p.job.finished && p.job.total) { total = p.job.total; done = p.job.done; }
        bar.max = Math.max(total, 1);
        bar.value = done;
        text.textContent = numbers.format(done) + " / " + numbers.format(total);
        status.textContent = statuses[p.status] || p.status;
        modes.textContent = Object.keys(p.by_mode).sort().map(function (m) {
          return m + ": " + numbers.format(p.by_mode[m]);
        }).join(" · ");
        if (p.job && p.job.error) { error.textContent = p.job.error; }
        else if (p.status === "failed" && p.detail) { error.textContent = p.detail; }
        var running = p.status === "sending" || (p.job && !p.job.finished);
        if (running) { setTimeout(poll, 400); }
        else if (p.status === "scheduled") { setTimeout(poll, 5000); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
