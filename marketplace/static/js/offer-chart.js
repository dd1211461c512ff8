// Offer analytics: draws the daily views, reveals and redemptions with the vendored Chart.js.
// The numbers come from the JSON block #chart-data (data, never executed); the page shows the
// same numbers in a table, so without this script (or Chart.js) nothing is lost.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  var figure = document.getElementById("chart");
  var canvas = document.getElementById("chart-canvas");
  if (!source || !figure || !canvas || typeof window.Chart === "undefined") {
    return;
  }
  var data;
  try {
    data = JSON.parse(source.textContent);
  } catch (error) {
    return;
  }
  var colours = { views: "#1565c0", reveals: "#ef6c00", redemptions: "#2e7d32" };
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  figure.hidden = false;
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: data.datasets.map(function (series) {
        return {
          label: series.label,
          data: series.data,
          borderColor: colours[series.key],
          backgroundColor: colours[series.key],
          pointRadius: data.labels.length > 31 ? 0 : 2,
          tension: 0
        };
      })
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduceMotion ? false : undefined,
      interaction: { mode: "index", intersect: false },
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 } },
        x: { ticks: { maxRotation: 0, autoSkip: true } }
      },
      plugins: { legend: { position: "bottom" } }
    }
  });
})();
