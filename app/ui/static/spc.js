// The location chart (individuals, or X̄ of each unit's readings) and the dispersion chart (moving range,
// or s) from the page's embedded data; flagged points in red. Limits that differ per unit (X̄ / s charts
// of units with different numbers of readings) are drawn as steps.
"use strict";
(function () {
  const holder = document.getElementById("spc-data");
  if (!holder || typeof Plotly === "undefined") return;
  const d = JSON.parse(holder.textContent);
  const x = d.values.map((_, i) => i + 1);
  const hline = (y, color, dash) => (y === null || y === undefined || Array.isArray(y)) ? [] : [{
    type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color, width: 1.5, dash } }];
  const steps = (xs, y, color, dash, name) => Array.isArray(y) ? [{
    x: xs, y, mode: "lines", name, hoverinfo: "skip", connectgaps: false,
    line: { color, width: 1.5, dash, shape: "hvh" } }] : [];
  const marked = (ys, flagged) => ({
    color: ys.map((_, i) => flagged.has(i) ? "#c00" : "#0b4f9c"),
    size: ys.map((_, i) => flagged.has(i) ? 10 : 6),
  });
  const config = { responsive: true, displaylogo: false };
  const margin = { t: 40, r: 20, b: 50, l: 70 };
  const xaxis = { title: { text: d.x_title } };
  const subgrouped = d.kind === "xbar_s";
  const text = subgrouped ? d.serials.map((s, i) => `${s} (n ${d.sizes[i]})`) : d.serials;

  Plotly.newPlot("i-chart", [
    { x, y: d.values, text, mode: "lines+markers", name: subgrouped ? "unit mean" : "value",
      marker: marked(d.values, new Set(d.flagged)) },
    ...steps(x, d.ucl, "#0b4f9c", "dash", "UCL"), ...steps(x, d.lcl, "#0b4f9c", "dash", "LCL"),
  ], {
    title: { text: `${d.title} — ${subgrouped ? "X̄ (unit means)" : "individuals"} (UCL/LCL dashed, spec dotted)` },
    shapes: [...hline(d.mean, "#333", "solid"), ...hline(d.ucl, "#0b4f9c", "dash"), ...hline(d.lcl, "#0b4f9c", "dash"),
      ...hline(d.low, "#c00", "dot"), ...hline(d.high, "#c00", "dot")],
    xaxis, yaxis: { title: { text: d.y_title } }, margin, showlegend: false,
  }, config);

  const spread = new Set(d.dispersion_flagged);
  if (subgrouped) {
    Plotly.newPlot("mr-chart", [
      { x, y: d.s, text, mode: "lines+markers", name: "s", connectgaps: false, marker: marked(d.s, spread) },
      ...steps(x, d.s_centre, "#333", "solid", "centre"), ...steps(x, d.s_ucl, "#0b4f9c", "dash", "UCL"),
      ...steps(x, d.s_lcl, "#0b4f9c", "dash", "LCL"),
    ], { title: { text: "s (standard deviation within each unit)" }, xaxis, yaxis: { title: { text: d.y_title } },
      margin, showlegend: false }, config);
  } else {
    const mr = [null, ...d.mr]; // the moving range ending at each point
    Plotly.newPlot("mr-chart", [{ x, y: mr, text, mode: "lines+markers", name: "MR", marker: marked(mr, spread) }],
      { title: { text: "moving range" }, shapes: [...hline(d.mr_mean, "#333", "solid"), ...hline(d.mr_ucl, "#0b4f9c", "dash")],
        xaxis, yaxis: { title: { text: d.y_title } }, margin, showlegend: false }, config);
  }
  document.getElementById("i-chart").dataset.drawn = "yes";
})();
