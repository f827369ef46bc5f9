// suanli console: renders ECharts charts from data-chart attributes (an
// ECharts option as JSON, built by the server) with the SVG renderer, on
// the first load and after every htmx swap.
(function () {
  "use strict";
  var charts = [];

  function init(root) {
    if (typeof echarts === "undefined" || !root.querySelectorAll) {
      return;
    }
    var els = root.querySelectorAll("[data-chart]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.getAttribute("data-chart-ready")) {
        continue;
      }
      try {
        var option = JSON.parse(el.getAttribute("data-chart"));
        var chart = echarts.init(el, null, { renderer: "svg" });
        chart.setOption(option);
        charts.push(chart);
        el.setAttribute("data-chart-ready", "1");
      } catch (e) {
        el.textContent = "chart error: " + e;
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
  window.addEventListener("resize", function () {
    for (var i = 0; i < charts.length; i++) {
      charts[i].resize();
    }
  });
})();
