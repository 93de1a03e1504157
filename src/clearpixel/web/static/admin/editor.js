// The campaign editor: CodeMirror (served by this installation) over the HTML textarea,
// and the template's problems checked as you type (POST /admin/campaigns/check, the same
// check a save runs), shown under the editor with their line marked.
// Keyboard: Tab indents in the editor; Esc then Tab (or Shift+Tab) leaves it, as the page says
// (#editor-help). Texts come from data attributes of #problems, in the page's language.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  var area = document.getElementById("html");
  var problems = document.getElementById("problems");
  if (!form || !area || !window.CodeMirror) { return; }
  var leaving = false;  // Esc was the last key: the next Tab or Shift+Tab leaves the editor
  var editor = window.CodeMirror.fromTextArea(area, {
    mode: { name: "htmlmixed" },
    lineNumbers: true,
    lineWrapping: true,
    screenReaderLabel: problems.getAttribute("data-label"),
    extraKeys: { Tab: "insertSoftTab", "Shift-Tab": "indentLess" }
  });
  editor.on("keydown", function (cm, event) {
    if (event.key === "Tab" && leaving) {
      leaving = false;
      event.codemirrorIgnore = true;  // the browser moves the focus, as everywhere else
      return;
    }
    leaving = event.key === "Escape" || (leaving && event.key === "Shift");
  });
  editor.getInputField().setAttribute("aria-describedby", "editor-help");
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
      var at = problems.getAttribute("data-line-prefix").replace("%s", String(p.line));
      item.textContent = (p.line && !named ? at : "") + p.message;
      if (p.line) { item.setAttribute("data-line", String(p.line)); mark(p.line); }
      problems.appendChild(item);
    });
    if (!list.length) {
      var ok = document.createElement("p");
      ok.className = "banner ok";
      ok.id = "template-ok";
      ok.textContent = problems.getAttribute("data-ok");
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
