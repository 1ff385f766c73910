"use strict";
// Plots drawn as SVG by hand: no plotting library, nothing to fetch, nothing inline for the
// Content-Security-Policy to refuse. Every data point is a <circle class="pt"> (or a <rect>)
// carrying data-series, data-x and data-y, and a <title> a mouse shows: what is drawn is
// what punchd answered, readable by a test as well as by an eye.
(() => {
  const { svg, el, num } = PC;

  // Round steps (1, 2, 5 x 10^k) from 0 (or below) to at least max.
  function ticks(min, max, want) {
    if (max <= min) max = min + 1;
    const raw = (max - min) / want, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = Math.floor(min / step) * step; v <= max + step / 2; v += step) out.push(Math.round(v * 1e9) / 1e9);
    if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
    return out;
  }

  // A line plot: xs (labels, in order) and series [{name, values (one per x, null: none)}].
  // opts: {title, height}. Returns a <figure>.
  function linePlot(xs, series, opts = {}) {
    const W = 760, H = opts.height || 260, L = 64, R = 16, T = 16, B = 40;
    const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
    const lo = Math.min(0, ...all), hi = Math.max(1, ...all);
    const ys = ticks(lo, hi, 5), y0 = ys[0], y1 = ys[ys.length - 1];
    const X = (i) => L + (xs.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (xs.length - 1));
    const Y = (v) => T + (H - T - B) * (1 - (v - y0) / (y1 - y0));
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "aria-label": opts.title || "plot" });
    for (const v of ys) {
      g.append(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: v === 0 ? "axis" : "grid" }));
      g.append(svg("text", { x: L - 6, y: Y(v) + 4, class: "ylabel" }, num(v)));
    }
    const every = Math.max(1, Math.ceil(xs.length / 8));
    xs.forEach((x, i) => {
      if (i % every === 0 || i === xs.length - 1)
        g.append(svg("text", { x: X(i), y: H - B + 18, class: xs.length > 1 && i === 0 ? "xlabel first" : xs.length > 1 && i === xs.length - 1 ? "xlabel last" : "xlabel" }, x));
    });
    series.forEach((s, k) => {
      const pts = s.values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
      if (pts.length > 1)
        g.append(svg("polyline", { class: `line s${k}`, points: pts.map(([i, v]) => `${X(i)},${Y(v)}`).join(" ") }));
      for (const [i, v] of pts)
        g.append(svg("circle", { class: `pt s${k}`, cx: X(i), cy: Y(v), r: 3, "data-series": s.name, "data-x": xs[i], "data-y": v },
          svg("title", {}, `${s.name} ${xs[i]}: ${num(v)}`)));
    });
    const legend = el("p", { class: "legend" },
      series.map((s, k) => el("span", { class: `key s${k}` }, s.name)));
    return el("figure", { class: "plotbox" }, opts.title ? el("figcaption", {}, opts.title) : null, g, legend);
  }

  // Horizontal bars: rows [{label, value, max}] (value of max, e.g. a pool's left of its size).
  function barPlot(rows, opts = {}) {
    const W = 760, row = 26, L = 160, R = 120, H = rows.length * row + 8;
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot bars", role: "img", "aria-label": opts.title || "bars" });
    rows.forEach((r, i) => {
      const y = 4 + i * row, full = W - L - R;
      const w = r.max > 0 ? Math.max(0, Math.min(1, r.value / r.max)) * full : 0;
      g.append(svg("text", { x: L - 8, y: y + 16, class: "ylabel" }, r.label));
      g.append(svg("rect", { x: L, y: y + 3, width: full, height: row - 8, class: "track" }));
      g.append(svg("rect", { x: L, y: y + 3, width: w, height: row - 8, class: "bar", "data-series": opts.series || "value", "data-x": r.label, "data-y": r.value },
        svg("title", {}, `${r.label}: ${num(r.value)} of ${num(r.max)}`)));
      g.append(svg("text", { x: W - R + 8, y: y + 16, class: "vlabel" }, `${num(r.value)} / ${num(r.max)}`));
    });
    return el("figure", { class: "plotbox" }, opts.title ? el("figcaption", {}, opts.title) : null, g);
  }

  // An estimate with its interval on an axis through 0 (a lift and its 95% interval).
  function intervalPlot(value, low, high, opts = {}) {
    const W = 760, H = 70, L = 40, R = 40;
    const lo = Math.min(0, low, value), hi = Math.max(0, high, value);
    const pad = (hi - lo || 1) * 0.1, a = lo - pad, b = hi + pad;
    const X = (v) => L + ((v - a) * (W - L - R)) / (b - a);
    const fmt = opts.format || ((v) => v.toFixed(2));
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot interval", role: "img", "aria-label": opts.title || "interval" },
      svg("line", { x1: L, x2: W - R, y1: 35, y2: 35, class: "grid" }),
      svg("line", { x1: X(0), x2: X(0), y1: 10, y2: 60, class: "axis" }),
      svg("text", { x: X(0), y: 68, class: "xlabel" }, "0"),
      svg("line", { x1: X(low), x2: X(high), y1: 35, y2: 35, class: "ci", "data-low": low, "data-high": high }),
      svg("line", { x1: X(low), x2: X(low), y1: 27, y2: 43, class: "ci" }),
      svg("line", { x1: X(high), x2: X(high), y1: 27, y2: 43, class: "ci" }),
      svg("text", { x: X(low), y: 20, class: "xlabel" }, fmt(low)),
      svg("text", { x: X(high), y: 20, class: "xlabel" }, fmt(high)),
      svg("circle", { cx: X(value), cy: 35, r: 5, class: "pt s0", "data-series": opts.series || "estimate", "data-y": value },
        svg("title", {}, `${fmt(value)} [${fmt(low)}, ${fmt(high)}]`)));
    return el("figure", { class: "plotbox" }, opts.title ? el("figcaption", {}, opts.title) : null, g);
  }

  Object.assign(PC, { linePlot, barPlot, intervalPlot });
})();
