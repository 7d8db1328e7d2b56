// reportgen: draws every chart of a page with the vendored Vega bundle, and fills the build timings.
(function () {
  "use strict";
  function embedCharts() {
    var specs = document.querySelectorAll('script[type="application/json"][data-chart]');
    Array.prototype.forEach.call(specs, function (el) {
      var target = document.getElementById(el.getAttribute("data-chart"));
      vegaEmbed(target, JSON.parse(el.textContent), { actions: false, renderer: "svg" })
        .catch(function (err) { target.textContent = "This chart could not be drawn: " + err; });
    });
  }
  function fillTimings() {
    var table = document.getElementById("timings");
    if (!table || !window.reportgenTimings) { return; }
    var body = table.tBodies[0];
    Object.keys(window.reportgenTimings).forEach(function (name) {
      var row = body.insertRow();
      row.insertCell().textContent = name;
      row.insertCell().textContent = window.reportgenTimings[name].toFixed(2) + " s";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { embedCharts(); fillTimings(); });
})();
