// Dashboard charts from the page's embedded figures.
"use strict";
(function () {
  const holder = document.getElementById("dash-data");
  if (!holder || typeof Plotly === "undefined") return;
  const d = JSON.parse(holder.textContent);
  const cfg = { responsive: true, displaylogo: false }, margin = { t: 40, r: 20, b: 90, l: 50 };
  Plotly.newPlot("throughput", [
    { x: d.hours, y: d.started, type: "bar", name: "started" },
    { x: d.hours, y: d.finished, type: "bar", name: "finished" },
  ], { title: { text: "Units started / finished per hour" }, barmode: "group", margin }, cfg);
  Plotly.newPlot("fpy", [{ x: d.stations, y: d.fpy, type: "bar", name: "FPY %" }],
    { title: { text: "First-pass yield per station (%)" }, yaxis: { range: [0, 100] }, margin }, cfg);
  Plotly.newPlot("pareto", [{ x: d.pareto_names, y: d.pareto_counts, type: "bar", name: "failing checks" }],
    { title: { text: "Pareto of failing checks" }, margin }, cfg);
  document.getElementById("throughput").dataset.drawn = "yes";
})();
