// Individuals and moving-range charts from the page's embedded data; Nelson points in red.
"use strict";
(function () {
  const holder = document.getElementById("spc-data");
  if (!holder || typeof Plotly === "undefined") return;
  const d = JSON.parse(holder.textContent);
  const x = d.values.map((_, i) => i + 1);
  const hline = (y, color, dash, label) => (y === null || y === undefined) ? [] : [{
    type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color, width: 1.5, dash } }];
  const shapes = [...hline(d.mean, "#333", "solid"), ...hline(d.ucl, "#0b4f9c", "dash"), ...hline(d.lcl, "#0b4f9c", "dash"),
    ...hline(d.low, "#c00", "dot"), ...hline(d.high, "#c00", "dot")];
  const flagged = new Set(d.flagged);
  const config = { responsive: true, displaylogo: false };
  Plotly.newPlot("i-chart", [
    { x, y: d.values, text: d.serials, mode: "lines+markers", name: "value", marker: { color: d.values.map((_, i) => flagged.has(i) ? "#c00" : "#0b4f9c"), size: d.values.map((_, i) => flagged.has(i) ? 10 : 6) } },
  ], { title: { text: d.title + " — individuals (UCL/LCL dashed, spec dotted)" }, shapes, margin: { t: 40, r: 20, b: 40, l: 60 }, showlegend: false }, config);
  Plotly.newPlot("mr-chart", [{ x: x.slice(1), y: d.mr, mode: "lines+markers", name: "MR" }],
    { title: { text: "moving range" }, shapes: [...hline(d.mr_mean, "#333", "solid"), ...hline(d.mr_ucl, "#0b4f9c", "dash")],
      margin: { t: 40, r: 20, b: 40, l: 60 }, showlegend: false }, config);
  document.getElementById("i-chart").dataset.drawn = "yes";
})();
