// Treasury dashboard: one stacked bar chart per currency (gross by kind, net as a line) with the
// vendored Chart.js. The numbers come from the JSON block #treasury-chart-data (data, never
// executed); each chart has a table with the same numbers, so without this script nothing is lost.
(function () {
  "use strict";
  var source = document.getElementById("treasury-chart-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data;
  try {
    data = JSON.parse(source.textContent);
  } catch (error) {
    return;
  }
  var colours = { membership: "#1565c0", partner_plan: "#ef6c00", featured: "#6a1b9a" };
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var language = document.documentElement.lang || "fr";
  (data.charts || []).forEach(function (chart) {
    var figure = document.getElementById(chart.id);
    var canvas = document.getElementById(chart.id + "-canvas");
    if (!figure || !canvas) {
      return;
    }
    var money = new Intl.NumberFormat(language, { style: "currency", currency: chart.currency });
    figure.hidden = false;
    var datasets = chart.datasets.map(function (series) {
      return {
        type: "bar",
        label: series.label,
        data: series.data,
        backgroundColor: colours[series.key],
        stack: "gross",
        order: 2
      };
    });
    datasets.push({
      type: "line",
      label: chart.net.label,
      data: chart.net.data,
      borderColor: "#2e7d32",
      backgroundColor: "#2e7d32",
      pointRadius: 2,
      tension: 0,
      order: 1
    });
    new window.Chart(canvas, {
      data: { labels: chart.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduceMotion ? false : undefined,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: {
              callback: function (value) {
                return money.format(value);
              }
            }
          }
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.dataset.label + ": " + money.format(context.parsed.y);
              }
            }
          }
        }
      }
    });
  });
})();
