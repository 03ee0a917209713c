// tailorcrm console: charts from JSON blocks, the CSRF header on htmx requests. No inline
// scripts anywhere (the Content-Security-Policy forbids them).
(function () {
  "use strict";
  function drawCharts(root) {
    if (typeof window.Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) { return; }
      canvas.dataset.drawn = "1";
      new window.Chart(canvas, JSON.parse(source.textContent));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    var meta = document.querySelector('meta[name="csrf-token"]');
    document.body.addEventListener("htmx:configRequest", function (event) {
      if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      drawCharts(event.detail.target);
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      var target = event.detail.target;
      if (target && event.detail.xhr) { target.innerHTML = event.detail.xhr.responseText; }
    });
  });
}());
