// Draw every .plot[data-sources] with Plotly: trace samples from the API, limit lines as shapes.
"use strict";
(function () {
  const printBtn = document.getElementById("print-btn");
  if (printBtn) printBtn.addEventListener("click", () => window.print());
  if (typeof Plotly === "undefined") return;

  // Least-squares straight line through the samples after pump isolation: a leak rises linearly.
  function riseFit(t, p, from) {
    const xs = [], ys = [];
    t.forEach((ti, i) => { if (ti >= from && p[i] !== null) { xs.push(ti); ys.push(p[i]); } });
    if (xs.length < 3) return null;
    const n = xs.length, mx = xs.reduce((a, b) => a + b) / n, my = ys.reduce((a, b) => a + b) / n;
    let sxy = 0, sxx = 0;
    xs.forEach((x, i) => { sxy += (x - mx) * (ys[i] - my); sxx += (x - mx) ** 2; });
    if (sxx === 0) return null;
    const slope = sxy / sxx, icept = my - slope * mx, x0 = xs[0], x1 = xs[n - 1];
    return { x: [x0, x1], y: [icept + slope * x0, icept + slope * x1], slope };
  }

  async function draw(el) {
    const sources = el.dataset.sources.split("|"), names = el.dataset.names.split("|");
    const series = await Promise.all(sources.map((src) => fetch(src).then((r) => r.json())));
    const data = series.map((s, i) => ({ x: s.t_s, y: s.values, name: names[i], type: "scattergl", mode: "lines" }));
    if (el.dataset.fit === "rise" && el.dataset.vline) {
      const fit = riseFit(series[0].t_s, series[0].values, Number(el.dataset.vline));
      if (fit) data.push({ x: fit.x, y: fit.y, name: `rise-test fit: ${fit.slope.toPrecision(3)} Pa/s`, mode: "lines",
        line: { color: "#b86e00", width: 3, dash: "dash" } });
    }
    const shapes = [], annotations = [];
    if (el.dataset.hline) {
      const y = Number(el.dataset.hline);
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color: "#c00", width: 2, dash: "dash" } });
      annotations.push({ xref: "paper", x: 1, y: el.dataset.logY === "yes" ? Math.log10(y) : y, text: el.dataset.hlineLabel,
        showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#c00" } });
    }
    if (el.dataset.vline) {
      const x = Number(el.dataset.vline);
      shapes.push({ type: "line", yref: "paper", y0: 0, y1: 1, x0: x, x1: x, line: { color: "#0b4f9c", width: 2, dash: "dot" } });
      annotations.push({ yref: "paper", y: 1, x: x, text: el.dataset.vlineLabel, showarrow: false, xanchor: "left", yanchor: "top" });
    }
    const layout = {
      title: { text: el.dataset.title }, margin: { t: 40, r: 20, b: 45, l: 60 }, shapes, annotations,
      xaxis: { title: { text: "t (s)" } },
      yaxis: { title: { text: el.dataset.yTitle }, type: el.dataset.logY === "yes" ? "log" : "linear" },
      legend: { orientation: "h" },
    };
    await Plotly.newPlot(el, data, layout, { responsive: true, displaylogo: false });
    el.dataset.drawn = "yes";
  }
  async function bands(el) {
    const b = JSON.parse(el.dataset.bands);
    const colors = b.verdicts.map((v) => (v === "PASS" ? "#0a7d20" : v === "FAIL" ? "#c00" : "#b86e00"));
    const width = b.highs.map((h, i) => (h === null || b.lows[i] === null ? 0 : h - b.lows[i]));
    const data = [
      { x: b.labels, y: width, base: b.lows, type: "bar", name: "judged band", marker: { color: "rgba(11,79,156,0.18)" } },
      { x: b.labels, y: b.residuals, type: "scatter", mode: "markers", name: "measured − model", marker: { color: colors, size: 11 } },
    ];
    const layout = { title: { text: b.title }, margin: { t: 60, r: 20, b: 110, l: 60 }, legend: { orientation: "h", x: 0, y: 1.12 },
      yaxis: { title: { text: b.y_title }, zeroline: true }, shapes: [] };
    await Plotly.newPlot(el, data, layout, { responsive: true, displaylogo: false });
    el.dataset.drawn = "yes";
  }
  document.querySelectorAll(".plot[data-bands]").forEach((el) => { bands(el).catch((e) => { el.textContent = "plot unavailable: " + e; }); });
  document.querySelectorAll(".plot[data-sources]").forEach((el) => { draw(el).catch((e) => { el.textContent = "plot unavailable: " + e; }); });
})();
