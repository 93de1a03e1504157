// The notice form: what the text still lacks, checked as you type (POST /admin/notices/check,
// the same check the save runs), before anything is stored. Its texts come from the form's
// data-missing and data-complete attributes, in the page's language.
(function () {
  "use strict";
  var form = document.getElementById("notice-form");
  var out = document.getElementById("notice-missing");
  if (!form || !out) { return; }
  var timer = null;
  function check() {
    var body = new URLSearchParams(new FormData(form));
    fetch("/admin/notices/check", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        out.textContent = "";
        var p = document.createElement("p");
        if (answer.missing.length) {
          p.className = "banner danger";
          p.textContent = form.getAttribute("data-missing").replace("%s", answer.missing.join("; "));
        } else {
          p.className = "banner ok";
          p.textContent = form.getAttribute("data-complete");
        }
        out.appendChild(p);
      })
      .catch(function () {});
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 400); });
})();
