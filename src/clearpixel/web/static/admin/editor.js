// The campaign editor: CodeMirror (served by this installation) over the HTML textarea,
// and the template's problems checked as you type (POST /admin/campaigns/check, the same
// check a save runs), shown under the editor with their line marked.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  var area = document.getElementById("html");
  var problems = document.getElementById("problems");
  if (!form || !area || !window.CodeMirror) { return; }
  var editor = window.CodeMirror.fromTextArea(area, {
    mode: { name: "htmlmixed" },
    lineNumbers: true,
    lineWrapping: true,
    screenReaderLabel: "HTML of the campaign",
    extraKeys: { Tab: false, "Shift-Tab": false }
  });
  var marked = null;

  function mark(line) {
    if (marked !== null) { editor.removeLineClass(marked, "background", "problem-line"); marked = null; }
    if (line) {
      marked = editor.addLineClass(line - 1, "background", "problem-line");
    }
  }

  function show(list) {
    problems.textContent = "";
    mark(null);
    list.forEach(function (p) {
      var item = document.createElement("p");
      item.className = "banner danger problem";
      var named = /\bline \d+/.test(p.message);
      item.textContent = (p.line && !named ? "Line " + p.line + ": " : "") + p.message;
      if (p.line) { item.setAttribute("data-line", String(p.line)); mark(p.line); }
      problems.appendChild(item);
    });
    if (!list.length) {
      var ok = document.createElement("p");
      ok.className = "banner ok";
      ok.id = "template-ok";
      ok.textContent = "No problem found in the template.";
      problems.appendChild(ok);
    }
  }

  var timer = null;
  function check() {
    editor.save();
    var body = new URLSearchParams(new FormData(form));
    fetch("/admin/campaigns/check", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { problems: [] }; })
      .then(function (answer) { show(answer.problems || []); })
      .catch(function () { /* the save checks again */ });
  }
  function later() { clearTimeout(timer); timer = setTimeout(check, 500); }
  editor.on("change", later);
  ["list_id", "kind", "subject"].forEach(function (id) {
    var field = document.getElementById(id);
    if (field) { field.addEventListener("change", later); }
  });
  var first = problems.querySelector("[data-line]");
  if (first) { mark(parseInt(first.getAttribute("data-line"), 10)); }
})();
