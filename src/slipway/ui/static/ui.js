// Small page behaviours; everything works without them (plain links and forms).
(function () {
  "use strict";
  // htmx requests carry the session's CSRF token (the server also accepts it in forms).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.dataset.csrf;
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });
  // A "compare" form needs 2 to 10 runs: say so before asking the server.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "compare-form") { return; }
    var chosen = form.querySelectorAll('input[name="run"]:checked').length;
    if (chosen < 2 || chosen > 10) {
      event.preventDefault();
      var button = document.getElementById("compare-button");
      if (button) { button.textContent = "Choose 2 to 10 runs (" + chosen + " chosen)"; }
    }
  });
})();
