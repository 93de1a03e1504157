// Preference page: a browser that runs this script stops tracking on arrival (one click: the
// one that opened the page) and offers an undo. A fetch that runs no script changes nothing;
// the "Stop tracking" button does the same by a plain form POST.
(function () {
  "use strict";
  var form = document.getElementById("cp-stop");
  var status = document.getElementById("cp-status");
  if (!form || !status) { return; }

  function post(body) {
    return fetch(window.location.pathname, {
      method: "POST",
      headers: { "Accept": "application/json" },
      body: body,
      credentials: "omit",
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  }

  function showCurrent(granted) {
    var items = document.querySelectorAll("#cp-current li[data-purpose]");
    items.forEach(function (item) {
      var on = granted.indexOf(item.getAttribute("data-purpose")) >= 0;
      item.querySelector("strong").textContent =
        on ? form.dataset.accepted : form.dataset.notAccepted;
      var box = document.getElementById("cp-purpose-" + item.getAttribute("data-purpose"));
      if (box) { box.checked = on; }
    });
  }

  function say(text, undoOf) {
    status.textContent = text;
    status.className = "confirm";
    if (undoOf && undoOf.length) {
      var undo = document.createElement("button");
      undo.type = "button";
      undo.id = "cp-undo";
      undo.className = "cp-button secondary";
      undo.textContent = form.dataset.undo;
      undo.addEventListener("click", function () {
        var body = new FormData(document.getElementById("cp-choices"));
        body.set("action", "save");
        body.delete("purpose");
        undoOf.forEach(function (name) { body.append("purpose", name); });
        post(body).then(function (result) {
          showCurrent(result.after);
          say(form.dataset.undone, null);
        }, function () { say(form.dataset.failed, null); });
      });
      status.appendChild(document.createTextNode(" "));
      status.appendChild(undo);
      undo.focus();
    }
  }

  function withdraw() {
    return post(new FormData(form)).then(function (result) {
      showCurrent(result.after);
      say(form.dataset.done, result.before);
    }, function () { say(form.dataset.failed, null); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    withdraw();
  });
  if (form.dataset.auto === "yes") { withdraw(); }
})();
