"use strict";
// The console's views, one per tab: each is an async function of the address's argument
// (#member/ann: "ann") that reads /v1/ and returns the node to show.
(() => {
  const { el, num, pct, signed, table, facts, api, seg, askForm, go, views } = PC;
  const when = (t) => (t ? String(t).replace("T", " ").replace(/\.\d+Z$/, "Z") : "-");
  const section = (title, ...kids) => el("section", { class: "card" }, el("h3", {}, title), kids);
  const keys = (o) => Object.keys(o || {});
  const chips = (o, fmt) => keys(o).length
    ? el("ul", { class: "chips" }, keys(o).map((k) => el("li", {}, el("b", {}, k), " ", fmt ? fmt(o[k]) : num(o[k]))))
    : el("p", { class: "muted" }, "none");

  // Mechanics: the live set, its version history, the last reload error.
  views.mechanics = async () => {
    const m = await api("/mechanics");
    const err = m.error;
    const exps = keys(m.experiments);
    return el("div", { id: "mechanics" },
      el("h2", {}, "Mechanics"),
      facts([["version", el("code", { id: "mech-version" }, m.version ?? "none")],
        ["loaded", when(m.loaded_at)], ["folder", m.dir],
        ["files", el("span", { id: "mech-files" }, num((m.files || []).length))],
        ["mechanics", el("span", { id: "mech-count" }, num((m.mechanics || []).length))]]),
      section("Last reload error", err
        ? el("div", { id: "reload-error", class: "error" },
          el("p", {}, el("b", {}, err.file ? `${err.file}${err.line ? ":" + err.line : ""}` : "scripts"), " at ", when(err.at)),
          el("pre", {}, err.message),
          el("p", { class: "muted" }, "The previous set keeps serving until the file is mended."))
        : el("p", { id: "reload-error", class: "ok" }, "none: the last reload succeeded")),
      section("Loaded mechanics", table([
        { title: "mechanic", key: "name" }, { title: "file", key: "file" },
        { title: "on", get: (r) => (r.on || []).join(", ") },
        { title: "active", get: (r) => (r.active ? [r.active.from, r.active.to].filter(Boolean).map(when).join(" – ") || "always" : "always") },
        { title: "control", get: (r) => (r.control !== undefined ? r.control + "%" : "-") },
      ], m.mechanics || [], { id: "mech-table" })),
      exps.length ? section("Experiments", el("ul", {}, exps.map((n) =>
        el("li", {}, el("a", { href: "#experiment/" + seg(n) }, n), ` (${m.experiments[n].control ?? "?"}% held out)`)))) : null,
      section("Version history", (m.history || []).length
        ? [el("p", { class: "muted" }, m.history_shared
          ? "Every load of the scripts, newest first (the last 50), the same for every punchd of the program."
          : "The versions this punchd loaded (Redis keeps no history yet)."),
        table([{ title: "version", get: (r) => (r.version ? el("code", {}, r.version) : "-") }, { title: "loaded", get: (r) => when(r.loaded_at) },
          { title: "result", get: (r) => (r.ok === false ? el("span", { class: "error" }, "failed: " + ((r.error || {}).message || "")) : "live") },
          { title: "files", get: (r) => (r.files || []).map((f, i) => [i ? ", " : "", f, r.digests && r.digests[f] ? [" ", el("code", { class: "muted" }, r.digests[f])] : ""]) }],
        m.history, { id: "mech-history" })]
        : el("p", { class: "muted" }, "this punchd keeps no history")));
  };

  // A member: balances, timeline, ledger.
  views.member = async (id) => {
    const ask = askForm([{ name: "member", label: "Member id", value: id || "" }], "Show", (v) => v.member && go("member", v.member));
    if (!id) return el("div", {}, el("h2", {}, "Members"), ask);
    const [m, led] = await Promise.all([api("/members/" + seg(id)), api("/members/" + seg(id) + "/ledger?limit=200")]);
    const entries = led.entries || [];
    // The timeline: one line per event, oldest first, with what it changed.
    const byEvent = new Map();
    for (const e of entries.slice().reverse()) {
      const k = e.event + "\u0000" + e.type;
      if (!byEvent.has(k)) byEvent.set(k, { at: e.at, event: e.event, type: e.type, changes: [] });
      byEvent.get(k).changes.push(e);
    }
    const steps = [{ at: m.joined_at, text: ["joined"] }];
    for (const s of byEvent.values())
      steps.push({ at: s.at, text: [el("b", {}, s.type), " ", el("code", {}, s.event), ": ",
        s.changes.map((c, i) => [i ? ", " : "", `${signed(c.delta)} ${c.currency}`, c.mechanic ? ` (${c.mechanic})` : ""])] });
    for (const [code, c] of Object.entries(m.codes || {}))
      steps.push({ at: c.issued_at, text: ["code ", el("code", {}, code), ` issued (${c.offer})`] });
    if (m.last_event_at) steps.push({ at: m.last_event_at, text: ["last event"] });
    if (m.next_wake_at) steps.push({ at: m.next_wake_at, text: ["next wake (due lots, streaks)"], future: true });
    steps.sort((a, b) => String(a.at).localeCompare(String(b.at)));
    // Each currency's balance after each ledger entry.
    const currencies = [...new Set(entries.map((e) => e.currency))];
    const chron = entries.slice().reverse();
    const plot = chron.length > 1 ? PC.linePlot(chron.map((e) => when(e.at).slice(5, 16)),
      currencies.map((c) => {
        let last = null;
        return { name: c, values: chron.map((e) => (e.currency === c ? (last = e.balance) : last)) };
      }), { title: "balance after each entry", height: 200 }) : null;
    return el("div", { id: "member" },
      ask,
      el("h2", {}, "Member ", el("code", { id: "member-id" }, m.member)),
      facts([["tier", m.tier ?? "none"], ["tier floor", m.tier_floor ?? "none"], ["joined", when(m.joined_at)],
        ["last event", when(m.last_event_at)], ["next wake", when(m.next_wake_at)], ["version", num(m.version)]]),
      section("Balances", keys(m.balances).length
        ? el("div", { id: "balances", class: "tiles" }, keys(m.balances).map((c) =>
          el("div", { class: "tile", "data-currency": c }, el("span", { class: "big" }, num(m.balances[c])), el("span", {}, c),
            m.pending && m.pending[c] ? el("small", {}, `${num(m.pending[c])} pending`) : null,
            m.expiring && m.expiring[c] && m.expiring[c].next_expiry
              ? el("small", {}, `${num(m.expiring[c].next_expiry.amount)} expire ${when(m.expiring[c].next_expiry.at)}`) : null)))
        : el("p", { class: "muted" }, "no balance")),
      section("Counters", chips(m.counters)),
      section("Badges, prizes, streaks", facts([
        ["badges", chips(m.badges, (v) => (typeof v === "object" ? when(v.at || v.earned_at) : num(v)))],
        ["prizes", chips(m.prizes)],
        ["streaks", chips(m.streaks, (v) => (typeof v === "object" ? num(v.count ?? v.current ?? JSON.stringify(v)) : num(v)))]])),
      section("Attributes", chips(m.attributes, (v) => String(v))),
      keys(m.offers).length || keys(m.codes).length ? section("Offers and codes",
        keys(m.offers).length ? table([{ title: "offer", get: (k) => k }, { title: "last use", get: (k) => when(m.offers[k].used_at) },
          { title: "event", get: (k) => el("code", {}, m.offers[k].event) }], keys(m.offers), { id: "member-offers" }) : null,
        keys(m.codes).length ? table([{ title: "personal code", get: (k) => el("code", {}, k) }, { title: "offer", get: (k) => m.codes[k].offer },
          { title: "issued", get: (k) => when(m.codes[k].issued_at) }, { title: "used", get: (k) => (m.codes[k].used_at ? when(m.codes[k].used_at) : "not yet") }],
        keys(m.codes), { id: "member-codes" }) : null) : null,
      section("Timeline", el("ol", { id: "timeline", class: "timeline" }, steps.filter((s) => s.at).map((s) =>
        el("li", { class: s.future ? "future" : null }, el("time", {}, when(s.at)), " ", s.text)))),
      plot,
      section("Ledger", table([
        { title: "at", get: (r) => when(r.at) }, { title: "event", get: (r) => el("code", {}, r.event) },
        { title: "type", key: "type" }, { title: "mechanic", key: "mechanic" }, { title: "currency", key: "currency" },
        { title: "change", key: "delta", num: true }, { title: "balance", key: "balance", num: true },
        { title: "group", get: (r) => (r.experiments ? Object.entries(r.experiments).map(([k, v]) => `${k}: ${v}`).join(", ") : "-") },
        { title: "mechanics", get: (r) => el("code", {}, r.mechanics_version || "-") },
      ], entries, { id: "ledger" }),
      led.next ? el("p", { class: "muted" }, `the 200 newest entries; older ones: punch member ${m.member} --ledger --cursor ${led.next}`) : null));
  };

  // Earn, burn, expire and the outstanding liability per day.
  views.figures = async (arg) => {
    const [from, to] = (arg || "").split("..");
    const q = new URLSearchParams();
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    const st = await api("/stats" + (q.toString() ? "?" + q : ""));
    // Every day of the range, the quiet ones too (punchd lists the days that had figures).
    const known = keys(st.days).sort(), iso = (t) => new Date(t).toISOString().slice(0, 10);
    const last = to || iso(Date.now()), first = from || iso(Date.parse(last) - 29 * 86400000);
    const days = [];
    for (let t = Date.parse(first); days.length < 366 && iso(t) <= last; t += 86400000) days.push(iso(t));
    for (const d of known) if (!days.includes(d)) days.push(d);
    days.sort();
    const currencies = [...new Set(days.flatMap((d) => keys(st.days[d])).concat(keys(st.total)))].sort();
    const ask = askForm([{ name: "from", label: "From", value: from || "", placeholder: "YYYY-MM-DD", size: 10 },
      { name: "to", label: "to", value: to || "", placeholder: "YYYY-MM-DD", size: 10 }], "Show",
    (v) => go("figures", `${v.from}..${v.to}`));
    // A quiet day moved nothing: 0, and the outstanding of the day before (none before the first).
    const fig = (d, c, f) => ((st.days[d] || {})[c] || {})[f] ?? (f === "outstanding" ? null : 0);
    const carried = (c) => {
      let o = null;
      return days.map((d) => (o = fig(d, c, "outstanding") ?? o));
    };
    return el("div", { id: "figures" }, el("h2", {}, "Figures per day (UTC)"), ask,
      currencies.length ? null : el("p", { class: "muted" }, "no currency moved yet"),
      currencies.map((c) => {
        const t = st.total[c] || {};
        return section(c,
          facts([["outstanding now", el("span", { class: "outstanding" }, num(t.outstanding))], ["issued", num(t.issued)],
            ["redeemed", num(t.redeemed)], ["expired", num(t.expired)], ["reversed", num(t.reversed)], ["breakage", pct(t.breakage_rate)]]),
          PC.linePlot(days, ["issued", "redeemed", "expired"].map((f) => ({ name: f, values: days.map((d) => fig(d, c, f)) }))
            .concat([{ name: "outstanding", values: carried(c) }]),
            { title: `${c}: earned, burned, expired per day, and outstanding at the day's end` }));
      }),
      offerFigures(st.offers, days));
  };

  // The offers' codes per day (GET /v1/stats "offers"): uses of each, and the totals.
  function offerFigures(o, days) {
    const names = keys((o || {}).total).sort();
    if (!names.length) return null;
    const uses = (d, n) => ((((o.days || {})[d] || {})[n] || {}).uses ?? 0);
    return el("section", { class: "card", id: "offer-figures" }, el("h3", {}, "Offers"),
      facts(names.map((n) => [n, `${num(o.total[n].uses)} uses, ${num(o.total[n].returned ?? 0)} given back, ${num(o.total[n].discount)} off granted`])),
      PC.linePlot(days, names.map((n) => ({ name: n, values: days.map((d) => uses(d, n)) })), { title: "uses of each offer's codes per day" }));
  }

  // A draw: pools left, the epoch's published digest, and the revealed secrets checked.
  views.draw = async (name) => {
    const ask = askForm([{ name: "draw", label: "Draw", value: name || "" }], "Show", (v) => v.draw && go("draw", v.draw));
    if (!name) return drawList(ask);
    const d = await api("/draws/" + seg(name));
    const sha = async (s) => {
      const b = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
      return [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
    };
    const revealed = await Promise.all((d.revealed || []).map(async (r) => ({ ...r, check: crypto.subtle ? await sha(r.secret) : null })));
    return el("div", { id: "draw" }, ask, el("h2", {}, "Draw ", el("code", {}, d.draw)),
      facts([["epoch", num(d.epoch)], ["wins", num(d.wins)], ["secret (SHA-256)", el("code", {}, d.secret_sha256)],
        ["secret source", d.secret_source || "-"], ["time zone", d.tz || "UTC"]]),
      d.secret_source === "development" ? el("p", { class: "error" }, "This punchd keys draws with the built-in development secret: anyone can predict them.") : null,
      section("Prize pools", (d.prizes || []).length ? [PC.barPlot((d.prizes || []).map((p) => ({ label: p.prize, value: p.left ?? 0, max: p.pool ?? 0 })), { title: "left of each pool", series: "left" }),
        table([{ title: "prize", key: "prize" }, { title: "pool", key: "pool", num: true }, { title: "left", key: "left", num: true },
          { title: "won", key: "won", num: true }, { title: "refill", key: "refill" }, { title: "period", key: "period" }], d.prizes, { id: "pools" })]
        : el("p", { class: "muted" }, "no prize")),
      section("Audit", el("p", {}, "Each epoch's secret is published as its SHA-256 before any draw, and revealed when the epoch ends (POST /v1/draws/{name}/rotate); a draw is then redone from the member, the event id and the secret (docs/mechanics.md, “Auditing a draw”)."),
        revealed.length ? table([{ title: "epoch", key: "epoch", num: true }, { title: "secret", get: (r) => el("code", {}, r.secret) },
          { title: "rotated", get: (r) => when(r.rotated_at) },
          { title: "SHA-256 matches", get: (r) => (r.secret_sha256 ? (r.check === r.secret_sha256 ? el("span", { class: "ok" }, "yes") : el("span", { class: "error" }, "NO")) : "-") }],
        revealed, { id: "revealed" }) : el("p", { class: "muted" }, "no epoch ended yet"),
        revealed.length && crypto.subtle ? redoDraw(d, revealed) : null));
  };

  // Redoes one draw of an ended epoch in the browser, from its revealed secret:
  // h = HMAC-SHA256(key = the secret's 64 hex characters, MEMBER "\n" EVENT_ID "\n" NAME),
  // u = h's first 8 bytes big-endian, roll = u / 2^64, won = u < floor(chance * 2^64)
  // (docs/mechanics.md, "Auditing a draw"; the next 8 bytes pick the prize tried first).
  function redoDraw(d, revealed) {
    const out = el("p", { id: "redo-result" });
    const last = revealed[revealed.length - 1];
    const form = askForm([{ name: "member", label: "Member" }, { name: "event", label: "event id" },
      { name: "epoch", label: "epoch", value: String(last.epoch), size: 4 }, { name: "chance", label: "chance", value: "1", size: 6 }], "Redo the draw",
    async (v) => {
      const r = revealed.find((x) => String(x.epoch) === v.epoch);
      if (!r) return out.replaceChildren(el("span", { class: "error" }, `epoch ${v.epoch} has not ended: its secret is not revealed yet`));
      const enc = new TextEncoder();
      const k = await crypto.subtle.importKey("raw", enc.encode(r.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const h = new DataView(await crypto.subtle.sign("HMAC", k, enc.encode(`${v.member}\n${v.event}\n${d.draw}`)));
      const u = h.getBigUint64(0), chance = Number(v.chance);
      const roll = Number(u) / 2 ** 64;
      const won = chance >= 1 || (chance > 0 && u < BigInt(Math.floor(chance * 2 ** 64)));
      out.replaceChildren(el("span", { "data-roll": roll }, `roll ${roll.toPrecision(12)}: `, el("b", {}, won ? "wins" : "loses"), ` at chance ${chance}`));
    });
    return el("div", { class: "redo" }, el("h3", {}, "Redo a draw"),
      el("p", { class: "muted" }, "Compare the roll with the draw's outcome in the event's answer (\"roll\")."), form, out);
  }

  // Every draw the scripts name or the program used: its pools left (bars and table), its audit state.
  async function drawList(ask) {
    const { draws = [] } = await api("/draws");
    const pools = draws.flatMap((d) => (d.prizes || []).map((p) => ({ draw: d.draw, ...p })));
    const limited = pools.filter((p) => typeof p.pool === "number" && p.pool > 0);
    return el("div", { id: "draws" }, el("h2", {}, "Draws"), ask,
      draws.length ? null : el("p", { class: "muted" }, "the program drew nothing yet"),
      limited.length ? PC.barPlot(limited.map((p) => ({ label: `${p.draw}/${p.prize}`, value: p.left, max: p.pool })), { title: "left in each pool (this period)", series: "left" }) : null,
      draws.length ? table([
        { title: "draw", get: (d) => el("a", { href: "#draw/" + seg(d.draw) }, d.draw) },
        { title: "epoch", key: "epoch", num: true }, { title: "wins", key: "wins", num: true },
        { title: "pools left", get: (d) => (d.prizes || []).map((p) => `${p.prize}: ${typeof p.pool === "number" && p.pool > 0 ? num(p.left) + " of " + num(p.pool) : "unlimited"}`).join(", ") || "-" },
        { title: "secret (SHA-256)", get: (d) => (d.secret_sha256 ? el("code", {}, d.secret_sha256.slice(0, 16) + "…") : "-") },
        { title: "epochs revealed", get: (d) => num((d.revealed || []).length), num: true },
        { title: "status", get: (x) => (x.seen === false ? "named in the scripts, not used yet" : x.declared === false ? "used (no longer named)" : "in use") },
      ], draws, { id: "draw-list" }) : null);
  }

  // Every campaign budget the program used: its newest period's used and left.
  async function budgetList(ask) {
    const { budgets = [] } = await api("/budgets");
    const live = budgets.filter((b) => typeof b.max === "number" && b.max > 0);
    return el("div", { id: "budgets" }, el("h2", {}, "Budgets"), ask,
      budgets.length ? null : el("p", { class: "muted" }, "the program took from no budget yet"),
      live.length ? PC.barPlot(live.map((b) => ({ label: b.budget, value: b.used, max: b.max })), { title: "used of each budget's newest period", series: "used" }) : null,
      budgets.length ? table([
        { title: "budget", get: (b) => el("a", { href: "#budget/" + seg(b.budget) }, b.budget) },
        { title: "period", get: (b) => b.period ?? "-" }, { title: "used", key: "used", num: true },
        { title: "max", get: (b) => (b.max ?? "-"), num: true }, { title: "left", get: (b) => (b.left ?? "-"), num: true },
        { title: "share used", get: (b) => (b.max ? pct(b.used / b.max) : "-") },
        { title: "periods kept", key: "periods", num: true }, { title: "used in all", key: "used_total", num: true },
        { title: "status", get: (x) => (x.seen === false ? "named in the scripts, not used yet" : x.declared === false ? "used (no longer named)" : "in use") },
      ], budgets, { id: "budget-list" }) : null);
  }

  // Every leaderboard the program scored on: its current period's size and leaders.
  async function boardList(ask) {
    const { leaderboards = [] } = await api("/leaderboards");
    return el("div", { id: "leaderboards" }, el("h2", {}, "Leaderboards"), ask,
      leaderboards.length ? table([
        { title: "leaderboard", get: (b) => el("a", { href: "#leaderboard/" + seg(b.leaderboard) }, b.leaderboard) },
        { title: "period", get: (b) => b.period ?? "-" }, { title: "per", get: (b) => b.per ?? "-" },
        { title: "members", get: (b) => (b.members ?? "-"), num: true },
        { title: "top 3", get: (b) => (b.top || []).map((r) => `${r.rank}. ${r.member} (${num(r.score)})`).join(", ") || "-" },
        { title: "status", get: (x) => (x.seen === false ? "named in the scripts, not used yet" : x.declared === false ? "used (no longer named)" : "in use") },
      ], leaderboards, { id: "board-list" }) : el("p", { class: "muted" }, "the program scored on no board yet"));
  }

  // A campaign budget (m:budget): used of max per period, the newest first.
  views.budget = async (name) => {
    const ask = askForm([{ name: "budget", label: "Budget", value: name || "" }], "Show", (v) => v.budget && go("budget", v.budget));
    if (!name) return budgetList(ask);
    const b = await api("/budgets/" + seg(name));
    const ps = b.periods || [], now = ps[0], old = ps.slice().reverse();
    return el("div", { id: "budget" }, ask, el("h2", {}, "Budget ", el("code", {}, b.budget)),
      now ? facts([["period", now.period], ["used", el("span", { id: "budget-used" }, num(now.used))], ["max", num(now.max)],
        ["left", el("span", { id: "budget-left" }, num(now.left))]]) : null,
      now ? PC.barPlot([{ label: now.period, value: now.used, max: now.max }], { title: "used of the newest period's budget", series: "used" }) : null,
      old.length > 1 ? PC.linePlot(old.map((p) => p.period), [{ name: "used", values: old.map((p) => p.used) }, { name: "max", values: old.map((p) => p.max) }],
        { title: "used and max per period", height: 200 }) : null,
      section("Periods", table([{ title: "period", key: "period" }, { title: "used", key: "used", num: true }, { title: "max", key: "max", num: true },
        { title: "left", key: "left", num: true }, { title: "share used", get: (p) => (p.max ? pct(p.used / p.max) : "-") }], ps, { id: "budget-periods" })));
  };

  // The offers and promo codes (offer "name" {...}): each one's rule, uses, cap left.
  views.offers = async () => {
    const { offers = [] } = await api("/offers");
    const off = (o) => (o.percent !== undefined && o.percent !== null ? `${num(o.percent)}%` : o.amount !== undefined && o.amount !== null ? `${num(o.amount)} off` : "-");
    const capped = offers.filter((o) => typeof o.cap === "number" && o.cap > 0);
    return el("div", { id: "offers" }, el("h2", {}, "Offers and promo codes"),
      offers.length ? null : el("p", { class: "muted" }, "the program declares no offer"),
      capped.length ? PC.barPlot(capped.map((o) => ({ label: o.offer, value: o.uses ?? 0, max: o.cap })), { title: "uses of each capped offer", series: "uses" }) : null,
      offers.length ? table([
        { title: "offer", key: "offer" },
        { title: "code", get: (o) => (o.personal ? "personal codes" : el("code", {}, o.code ?? "-")) },
        { title: "discount", get: off },
        { title: "window", get: (o) => (o.from || o.to ? `${o.from ? when(o.from) : "…"} – ${o.to ? when(o.to) : "…"}` : "always") },
        { title: "min order", key: "min_order", num: true },
        { title: "valid now", get: (o) => (o.valid_now ? "yes" : "no") },
        { title: "uses", key: "uses", num: true }, { title: "given back", key: "returned", num: true },
        { title: "money off", key: "discount", num: true },
        { title: "cap left", get: (o) => (typeof o.cap === "number" ? o.left : "no cap"), num: true },
      ], offers, { id: "offer-table" }) : null);
  };

  // A leaderboard: the top N of a period, and one member's rank.
  views.leaderboard = async (arg) => {
    const [name, period, member] = (arg || "").split("|");
    const ask = askForm([{ name: "board", label: "Leaderboard", value: name || "" }, { name: "period", label: "period", value: period || "", placeholder: "current" },
      { name: "member", label: "member", value: member || "", placeholder: "optional" }], "Show",
    (v) => v.board && go("leaderboard", [v.board, v.period, v.member].join("|").replace(/\|+$/, "")));
    if (!name) return boardList(ask);
    const q = new URLSearchParams({ top: "50" });
    if (period) q.set("period", period);
    if (member) q.set("member", member);
    const b = await api("/leaderboards/" + seg(name) + "?" + q);
    return el("div", { id: "leaderboard" }, ask, el("h2", {}, "Leaderboard ", el("code", {}, b.leaderboard), " ", el("small", {}, b.period || "")),
      b.member ? el("p", {}, `${member}: rank ${num(b.member.rank)}, score ${num(b.member.score)}`) : null,
      (b.top || []).length ? table([{ title: "rank", key: "rank", num: true }, { title: "member", get: (r) => el("a", { href: "#member/" + seg(r.member) }, r.member) },
        { title: "score", key: "score", num: true }], b.top, { id: "board" }) : el("p", { class: "muted" }, "nobody scored in this period"));
  };

  // An experiment: its groups and the lift with its 95% interval.
  views.experiment = async (name) => {
    const m = name ? null : await api("/mechanics");
    const ask = askForm([{ name: "experiment", label: "Experiment", value: name || "" }], "Show", (v) => v.experiment && go("experiment", v.experiment));
    if (!name)
      return el("div", {}, el("h2", {}, "Experiments"), ask, keys(m.experiments).length
        ? el("ul", {}, keys(m.experiments).map((n) => el("li", {}, el("a", { href: "#experiment/" + seg(n) }, n))))
        : el("p", { class: "muted" }, "the program declares no experiment"));
    const x = await api("/experiments/" + seg(name));
    const g = x.groups || {};
    const row = (k) => ({ group: k, ...(g[k] || {}) });
    const per = (o) => keys(o).map((c) => `${num(o[c])} ${c}`).join(", ") || "-";
    const ci = x.lift_ci95 || [];
    return el("div", { id: "experiment" }, ask, el("h2", {}, "Experiment ", el("code", {}, x.experiment)),
      facts([["held out", `${num(x.control)}%`], ["spend field", x.spend ?? "not declared"], ["metric", x.metric ?? "-"]]),
      table([{ title: "group", key: "group" }, { title: "members", key: "members", num: true }, { title: "events", key: "events", num: true },
        { title: "spend", key: "spend", num: true }, { title: "spend per member", key: "spend_per_member", num: true },
        { title: "issued", get: (r) => per(r.issued) }, { title: "redeemed", get: (r) => per(r.redeemed) }], [row("control"), row("treatment")], { id: "groups" }),
      typeof x.lift === "number"
        ? section("Lift", el("p", { id: "lift" }, `${x.metric || "spend per member"}: ${(100 * x.lift >= 0 ? "+" : "") + (100 * x.lift).toFixed(2)}%, 95% interval [${(100 * ci[0]).toFixed(2)}%, ${(100 * ci[1]).toFixed(2)}%] — `,
          el("b", {}, x.significant ? "significant" : "not significant")),
        PC.intervalPlot(x.lift, ci[0], ci[1], { title: "lift of the treatment over the control group, 95% interval", series: "lift", format: (v) => (100 * v).toFixed(1) + "%" }))
        : section("Lift", el("p", { id: "lift", class: "muted" }, x.note || "not enough members in a group yet")));
  };

  // A `punch simulate --html` report (or its --json) opened from a file.
  views.simulation = async () => {
    const out = el("div", { id: "sim-report" });
    const input = el("input", { type: "file", id: "sim-file", accept: ".html,.json,text/html,application/json" });
    input.addEventListener("change", async () => {
      const f = input.files[0];
      if (!f) return;
      try {
        out.replaceChildren(PC.renderReport(PC.reportFromText(await f.text())));
      } catch (e) {
        out.replaceChildren(el("p", { class: "error" }, `${f.name}: ${e.message}`));
      }
    });
    return el("div", {}, el("h2", {}, "Simulation report"),
      el("p", {}, "Open a report written by ", el("code", {}, "punch simulate --html FILE"), " (or the output of ", el("code", {}, "--json"), "). It is read in this page: nothing is sent to punchd."),
      el("label", {}, "Report ", input), out);
  };
})();
