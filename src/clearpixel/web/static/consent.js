// Consent page: tell the server that a browser showed this request to someone. A link scanner
// that fetches the page runs no script, so its fetch is never taken for a person's visit
// (only a person who saw the page and left counts as 'no decision'). Changes no consent.
(function () {
  "use strict";
  var form = document.getElementById("cp-answer");
  if (!form) { return; }
  fetch(window.location.pathname + "/seen", {
    method: "POST",
    body: new FormData(form),
    credentials: "omit",
  }).catch(function () { /* the answer buttons work without it */ });
})();
