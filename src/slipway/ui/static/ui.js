// Small page behaviours; everything works without them (plain links and forms).
(function () {
  "use strict";
  // MLflow's client prints "View run at <server>/#/experiments/<id>/runs/<run id>" (its UI routes
  // in the fragment, which never reaches the server): open Slipway's page for that run or experiment.
  // Also on a hash change: a link into the page already open changes only its fragment.
  function openMlflowLink() {
    var mlflow = /^#\/experiments\/([^\/?#]+)(?:\/runs\/([0-9a-f]{32}))?/.exec(window.location.hash);
    if (!mlflow) { return false; }
    window.location.replace(mlflow[2] ? "/runs/" + mlflow[2]
      : "/runs?experiment=" + encodeURIComponent(mlflow[1] === "0" ? "Default" : decodeURIComponent(mlflow[1])));
    return true;
  }
  window.addEventListener("hashchange", openMlflowLink);
  if (openMlflowLink()) { return; }
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
