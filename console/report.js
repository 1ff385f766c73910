"use strict";
// What `punch simulate` reported (its --json, which `--html FILE` carries in the file as
// <script type="application/json" id="punch-report">), drawn: the runs, every figure (with
// --against: both runs and the change), the figures per period as plots, the experiments
// with their lift. The same code draws a report opened in the console and the report file
// on its own (punch inlines this file, console.js, plots.js and console.css in it).
(() => {
  const { el, num, pct, signed, table, facts } = PC;

  // The report in text: --json output, or a --html file, whose data is cut out as text
  // (the file is never parsed as HTML nor run; in it every '<' of the JSON is \u003c).
  const OPEN = '<script type="application/json" id="punch-report">';
  function reportFromText(text) {
    let r;
    if (/^\s*\{/.test(text)) r = JSON.parse(text);
    else {
      const at = text.indexOf(OPEN), end = at < 0 ? -1 : text.indexOf("<\/script>", at);
      if (end < 0) throw new Error("not a punch simulate report (no punch-report data in it)");
      r = JSON.parse(text.slice(at + OPEN.length, end));
    }
    if (!r || typeof r !== "object" || !r.scripts || typeof r.scripts !== "object")
      throw new Error("not a punch simulate report (no \"scripts\" run in it)");
    return r;
  }

  // Every number of a figures object, as [path, value] ("currencies / stars / issued").
  function flatten(o, path = [], out = new Map()) {
    for (const [k, v] of Object.entries(o || {})) {
      if (path.length === 0 && (k === "periods" || k === "experiments")) continue;
      if (v && typeof v === "object") flatten(v, path.concat(k), out);
      else if (typeof v === "number") out.set(path.concat(k).join(" / "), v);
    }
    return out;
  }

  function runsTable(r) {
    const runs = [["scripts", r.scripts]].concat(r.against ? [["against", r.against]] : []);
    return table([{ title: "run", get: (x) => x[0] }, { title: "mechanics", get: (x) => x[1].dir },
      { title: "version", get: (x) => el("code", {}, x[1].mechanics_version) }, { title: "events", get: (x) => num(x[1].events) },
      { title: "seconds", get: (x) => num(x[1].seconds) }, { title: "events/s", get: (x) => num(Math.round(x[1].events_per_s || 0)) }], runs);
  }

  function figuresTable(r) {
    const a = flatten(r.scripts.figures);
    if (!r.against)
      return table([{ title: "figure", get: (x) => x[0] }, { title: "value", get: (x) => x[1], num: true }], [...a], { id: "sim-figures" });
    const b = flatten(r.against.figures);
    const names = [...new Set([...b.keys(), ...a.keys()])];
    return table([{ title: "figure", get: (n) => n }, { title: "against", get: (n) => b.get(n) ?? 0, num: true },
      { title: "scripts", get: (n) => a.get(n) ?? 0, num: true },
      { title: "change", get: (n) => { const d = (a.get(n) ?? 0) - (b.get(n) ?? 0); return d ? signed(d) : "="; }, num: true }], names, { id: "sim-figures" });
  }

  function periodPlots(r) {
    const p = r.scripts.periods, q = r.against && r.against.periods;
    if (!p) return null;
    const ids = [...new Set(Object.keys(p).concat(Object.keys(q || {})))].sort();
    const currencies = [...new Set(ids.flatMap((id) => Object.keys(p[id] || {}).concat(Object.keys((q || {})[id] || {}))))].sort();
    const get = (t, id, c, f) => (((t || {})[id] || {})[c] || {})[f] ?? 0;
    return currencies.map((c) => el("section", { class: "card" }, el("h3", {}, `${c} per period`),
      PC.linePlot(ids, ["issued", "redeemed", "expired", "outstanding"].map((f) => ({ name: f, values: ids.map((id) => get(p, id, c, f)) }))
        .concat(q ? [{ name: "outstanding (against)", values: ids.map((id) => get(q, id, c, "outstanding")) }] : []),
      { title: `${c}: issued, redeemed, expired and outstanding per period` }),
      table([{ title: "period", get: (id) => id }, ...["issued", "redeemed", "expired", "reversed", "outstanding"].map((f) => ({ title: f, get: (id) => get(p, id, c, f), num: true })),
        { title: "breakage", get: (id) => pct(((p[id] || {})[c] || {}).breakage_rate) }], ids, { class: "sim-periods" })));
  }

  function experiments(label, run) {
    return Object.entries(run.experiments || {}).map(([name, x]) => {
      const g = x.groups || {}, ci = x.lift_ci95 || [];
      return el("section", { class: "card" }, el("h3", {}, `${label}: experiment ${name}`),
        facts([["held out", `${num(x.control)}%`], ["spend field", x.spend ?? "not declared"]]),
        table([{ title: "group", get: (k) => k }, { title: "members", get: (k) => (g[k] || {}).members, num: true },
          { title: "events", get: (k) => (g[k] || {}).events, num: true }, { title: "spend", get: (k) => (g[k] || {}).spend, num: true },
          { title: "spend per member", get: (k) => (g[k] || {}).spend_per_member, num: true }], ["control", "treatment"]),
        typeof x.lift === "number" ? PC.intervalPlot(x.lift, ci[0], ci[1], { title: `lift ${(100 * x.lift).toFixed(2)}% (${x.significant ? "significant" : "not significant"}), 95% interval`, series: "lift", format: (v) => (100 * v).toFixed(1) + "%" })
          : el("p", { class: "muted" }, x.note || "no lift yet"));
    });
  }

  function renderReport(r) {
    return el("div", { class: "report" },
      facts([["history", r.file ?? "-"], ["members", num((r.scripts.figures || {}).members)]]),
      runsTable(r), el("h3", {}, "Figures"), figuresTable(r), periodPlots(r),
      experiments("scripts", r.scripts), r.against ? experiments("against", r.against) : null);
  }

  // A report file opened on its own: its data is in the page.
  function standaloneReport(node) {
    let body;
    try {
      body = renderReport(reportFromText(node.textContent));
    } catch (e) {
      body = el("p", { class: "error" }, e.message);
    }
    document.body.replaceChildren(el("header", {}, el("h1", {}, "Punchcard"), el("span", {}, "punch simulate report")), el("main", {}, body));
  }

  Object.assign(PC, { reportFromText, renderReport, standaloneReport });
})();
