// Metric charts: one uPlot per metric, each run's (already downsampled) series overlaid.
// The data comes from <script type="application/json" id="chart-data">; nothing here builds HTML.
(function () {
  "use strict";
  var PALETTE = ["#1f5f8b", "#e0a030", "#1b7f3b", "#b3261e", "#6a4fb3", "#0b8a8a", "#c05a9a", "#5b6b7b", "#8a6d1f", "#2e9bd6"];
  var source = document.getElementById("chart-data");
  if (!source || typeof uPlot === "undefined") { return; }
  var charts = JSON.parse(source.textContent);
  var axisSelect = document.querySelector(".chart-axis");
  var smoothing = document.querySelector(".chart-smoothing");
  var zoom = document.getElementById("zoom");
  var plots = [];

  function smooth(values, weight) {
    if (!weight) { return values; }
    var out = new Array(values.length), last = 0, debias = 0;
    for (var i = 0; i < values.length; i++) {
      last = last * weight + (1 - weight) * values[i];
      debias = debias * weight + (1 - weight);
      out[i] = last / debias;
    }
    return out;
  }

  function aligned(chart) {
    var byTime = axisSelect && axisSelect.value === "time";
    var weight = smoothing ? parseFloat(smoothing.value) : 0;
    var tables = chart.runs.map(function (s) {
      var xs = byTime ? s.timestamps.map(function (t) { return t / 1000; }) : s.steps.slice();
      var ys = smooth(s.values, weight);
      if (byTime) {
        var order = xs.map(function (_, i) { return i; }).sort(function (a, b) { return xs[a] - xs[b]; });
        xs = order.map(function (i) { return xs[i]; });
        ys = order.map(function (i) { return ys[i]; });
      }
      return [xs, ys];
    });
    return tables.length === 1 ? tables[0] : uPlot.join(tables);
  }

  function options(chart, element) {
    var byTime = axisSelect && axisSelect.value === "time";
    var series = [{ label: byTime ? "time" : "step" }].concat(chart.runs.map(function (s, i) {
      return { label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true, points: { show: s.steps.length < 100, size: 6 } };
    }));
    var opts = {
      width: Math.max(320, element.clientWidth - 16), height: 300, series: series,
      scales: { x: { time: byTime } }, cursor: { drag: { x: true, y: false } }, hooks: {}
    };
    if (zoom && !byTime) {
      opts.hooks.setSelect = [function (u) {
        if (u.select.width < 5) { return; }
        var low = Math.floor(u.posToVal(u.select.left, "x"));
        var high = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
        fetch(zoom.dataset.zoomUrl + "&min_step=" + low + "&max_step=" + high, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (s) {
            if (!s) { return; }
            chart.runs[0] = Object.assign({}, chart.runs[0], s);
            draw();
          });
      }];
    }
    return opts;
  }

  var original = JSON.parse(source.textContent);
  function draw() {
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
    charts.forEach(function (chart, index) {
      var element = document.querySelector('[data-chart="' + index + '"]');
      if (!element) { return; }
      plots.push(new uPlot(options(chart, element), aligned(chart), element));
      element.ondblclick = function () { charts = JSON.parse(JSON.stringify(original)); draw(); };
    });
  }
  if (axisSelect) { axisSelect.addEventListener("change", draw); }
  if (smoothing) { smoothing.addEventListener("input", draw); }
  draw();
})();
