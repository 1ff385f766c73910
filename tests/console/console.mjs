// Drives the console served by a real punchd in Debian's headless Chromium (playwright-core,
// no browser downloaded) and checks what it shows against what the API answers: the
// mechanics list and its numbers, the reload error and version history, a member's balance,
// timeline and ledger rows, the points of a plot per day, a draw's pool left, a budget's used
// and left, a leaderboard, the lists of draws (pools left, epochs revealed), budgets (used,
// max, left) and leaderboards (members) the program used, the shared history with a failed load,
// an experiment's groups and lift, a `punch simulate --html` report opened in the page. A
// wrong key must show an error and no data; no request may leave 127.0.0.1; no script error
// and no Content-Security-Policy violation may happen; text that looks like markup (a reload
// error, a member's attribute) must show as text. Screenshots go to OUTDIR.
//
// usage: node console.mjs TOOLS_DIR BASE_URL READ_KEY OUTDIR REPORT.html ROLL
// (ROLL: the roll ann's order o-0-0 drew in draw "lucky", epoch 1, now ended.)
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const [toolsDir, base, key, outDir, reportFile, roll] = process.argv.slice(2);
const require = createRequire(`${toolsDir}/package.json`);
const { chromium } = require("playwright-core");
mkdirSync(outDir, { recursive: true });

let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL ${msg}`);
};
const eq = (what, got, want) => {
  if (String(got) !== String(want)) fail(`${what}: shown ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
};
const api = async (p) => {
  const r = await fetch(base + "/v1" + p, { headers: { Authorization: `Bearer ${key}` } });
  if (!r.ok) throw new Error(`GET ${p}: ${r.status}`);
  return r.json();
};
const fmt = (n) => (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 2 }));

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const outside = [], errors = [];
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  // Nothing may leave the machine: every request is looked at, a non-local one refused.
  await ctx.route("**/*", (route) => {
    const u = new URL(route.request().url());
    const theReport = reportFile && u.protocol === "file:" && decodeURIComponent(u.pathname) === reportFile;
    if (u.hostname !== "127.0.0.1" && !theReport) {
      outside.push(u.href);
      return route.abort();
    }
    return route.continue();
  });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[134]/.test(m.text())) errors.push(`console: ${m.text()} (${JSON.stringify(m.location())}, ${page.url()})`);
  });
  return page;
}
const shot = (page, name) => page.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });
const texts = (page, sel) => page.$$eval(sel, (ns) => ns.map((n) => n.textContent.trim()));

try {
  // A wrong key: an error, and nothing of the program shown or kept.
  {
    const page = await newPage();
    await page.goto(base + "/console");
    await page.fill("#key", "not-the-key-0123456789");
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#login-error:not([hidden])", { timeout: 5000 });
    const msg = await page.textContent("#login-error");
    if (!/refused/.test(msg) || !/401/.test(msg)) fail(`wrong key: the message says ${JSON.stringify(msg)}`);
    if (!(await page.isHidden("#nav"))) fail("wrong key: the navigation is shown");
    eq("wrong key: nodes in the view", await page.$eval("#view", (v) => v.childElementCount), 0);
    if (await page.$("#mech-table, #ledger, .plot")) fail("wrong key: data is shown");
    eq("wrong key: key kept", await page.evaluate(() => sessionStorage.length), 0);
    await shot(page, "wrong-key");
    await page.context().close();
  }

  const page = await newPage();
  await page.goto(base + "/console");
  await page.fill("#key", key);
  await page.click("#login button[type=submit]");

  // Mechanics: the numbers of the list, each mechanic, the reload error, the history.
  {
    const m = await api("/mechanics");
    await page.waitForSelector("#mech-table");
    eq("mechanics: version", await page.textContent("#mech-version"), m.version);
    eq("mechanics: files", await page.textContent("#mech-files"), m.files.length);
    eq("mechanics: count", await page.textContent("#mech-count"), m.mechanics.length);
    eq("mechanics: rows", (await texts(page, "#mech-table tbody tr td:first-child")).join(","), m.mechanics.map((x) => x.name).join(","));
    if (!m.error) fail("mechanics: the test expects a reload error");
    else {
      const shown = await page.textContent("#reload-error pre");
      eq("mechanics: reload error", shown, m.error.message);
      if (!shown.includes("<b id=pwn>")) fail("mechanics: the error's markup is not shown as text");
      if (await page.$("#pwn")) fail("mechanics: the error's markup became an element");
    }
    if (m.history.length !== 3) fail(`mechanics: the test expects 2 versions and a failed reload in the history, API has ${m.history.length}`);
    if (!m.history_shared) fail("mechanics: the history is not the shared one (Redis)");
    eq("mechanics: history", (await texts(page, "#mech-history tbody tr td:first-child")).join(","), m.history.map((h) => h.version ?? "-").join(","));
    const results = await texts(page, "#mech-history tbody tr td:nth-child(3)");
    eq("mechanics: history results", results.map((t) => t.split(":")[0]).join(","), m.history.map((h) => (h.ok === false ? "failed" : "live")).join(","));
    if (!results[0].includes("<b id=pwn>")) fail("mechanics: the failed load's error is not shown as text");
    const files = await texts(page, "#mech-history tbody tr:nth-child(2) td:nth-child(4)");
    for (const f of m.history[1].files)
      if (!files[0].includes(`${f} ${m.history[1].digests[f]}`)) fail(`mechanics: history shows ${JSON.stringify(files[0])}, not ${f} and its digest`);
    await shot(page, "mechanics");
  }

  // A member: balance, timeline, ledger rows, an attribute that looks like markup.
  {
    const [mem, led] = await Promise.all([api("/members/ann"), api("/members/ann/ledger?limit=200")]);
    await page.goto(base + "/console#member/ann");
    await page.waitForSelector("#ledger");
    eq("member: id", await page.textContent("#member-id"), "ann");
    eq("member: stars", await page.textContent('#balances .tile[data-currency="stars"] .big'), fmt(mem.balances.stars));
    eq("member: ledger rows", (await page.$$("#ledger tbody tr")).length, led.entries.length);
    const first = await texts(page, "#ledger tbody tr:first-child td");
    eq("member: newest entry's event", first[1], led.entries[0].event);
    eq("member: newest entry's change", first[5], fmt(led.entries[0].delta));
    eq("member: newest entry's balance", first[6], fmt(led.entries[0].balance));
    const events = new Set(led.entries.map((e) => e.event)).size;
    const steps = (await page.$$("#timeline li")).length;
    if (steps < events + 1) fail(`member: timeline has ${steps} steps for ${events} events and the joining`);
    const codes = Object.keys(mem.codes || {});
    if (codes.length !== 1) fail(`member: the API shows ${codes.length} personal codes, the test issued 1`);
    eq("member: personal codes", (await texts(page, "#member-codes tbody tr td:first-child")).join(","), codes.join(","));
    const attrs = await page.textContent("#member");
    if (!attrs.includes(mem.attributes.note)) fail("member: the attribute is not shown as typed");
    if (await page.evaluate(() => window.__pwned)) fail("member: an attribute ran as code");
    await shot(page, "member");
  }

  // Figures per day: the plot's points are the API's numbers.
  {
    const st = await api("/stats");
    await page.goto(base + "/console#figures");
    await page.waitForSelector("#figures svg.plot");
    const days = Object.keys(st.days).sort(), today = days[days.length - 1];
    const section = await page.$$eval("#figures section.card:not(#offer-figures)", (ss) => ss.map((s) => [s.querySelector("h3").textContent,
      [...s.querySelectorAll('circle.pt[data-series="issued"]')].map((n) => [n.dataset.x, Number(n.dataset.y)])]));
    eq("figures: currencies", section.map(([c]) => c).join(","), Object.keys(st.total).sort().join(","));
    for (const [c, pts] of section) {
      if (pts.length < 30) fail(`figures: ${c} has ${pts.length} points of issued, not one per day of 30`);
      for (const d of days) {
        const p = pts.find(([x]) => x === d);
        eq(`figures: ${c} issued on ${d}`, p ? p[1] : "no point", ((st.days[d] || {})[c] || {}).issued ?? 0);
      }
    }
    const stars = section.find(([c]) => c === "stars");
    if (!stars) fail("figures: no stars plot");
    else {
      const point = stars[1].find(([x]) => x === today);
      eq(`figures: stars issued on ${today}`, point ? point[1] : "no point", st.days[today].stars.issued);
      if (!st.days[today].stars.issued) fail("figures: the test expects stars issued today");
    }
    const save5 = await page.$eval(`#offer-figures circle.pt[data-series="save5"][data-x="${today}"]`, (n) => Number(n.dataset.y)).catch(() => "no point");
    eq(`figures: save5 uses on ${today}`, save5, (((st.offers || {}).days || {})[today] || {}).save5?.uses ?? "none in the API");
    eq("figures: outstanding", (await texts(page, "#figures section.card .outstanding")).join(","),
      Object.keys(st.total).sort().map((c) => fmt(st.total[c].outstanding)).join(","));
    await shot(page, "figures");
  }

  // A draw: the pool left, as a bar and in the table.
  {
    const d = await api("/draws/lucky");
    await page.goto(base + "/console#draw/lucky");
    await page.waitForSelector("#pools");
    const bar = await page.$eval('#draw rect.bar[data-x="mug"]', (n) => Number(n.dataset.y));
    eq("draw: mug left (bar)", bar, d.prizes[0].left);
    eq("draw: mug left (table)", (await texts(page, "#pools tbody tr:first-child td"))[2], fmt(d.prizes[0].left));
    // The audit: epoch 1's secret matches its digest, and redoes ann's draw to its roll.
    eq("draw: secret checked", (await texts(page, "#revealed tbody tr td:last-child")).join(","), d.revealed.map(() => "yes").join(","));
    if (!d.revealed.length) fail("draw: the test expects a revealed epoch");
    await page.fill("#ask-member", "ann");
    await page.fill("#ask-event", "o-0-0");
    await page.click(".redo button[type=submit]");
    await page.waitForSelector("#redo-result span[data-roll]");
    const redone = await page.$eval("#redo-result span", (n) => Number(n.dataset.roll));
    if (!(Math.abs(redone - Number(roll)) < 1e-12)) fail(`draw: redone roll ${redone}, the event drew ${roll}`);
    if (!/wins/.test(await page.textContent("#redo-result"))) fail("draw: a draw at chance 1 must win");
    await shot(page, "draw");
  }

  // The lists: every draw, budget and board the program used, with their figures.
  {
    const { draws } = await api("/draws");
    await page.goto(base + "/console#draw");
    await page.waitForSelector("#draw-list");
    eq("draws: names", (await texts(page, "#draw-list tbody tr td:first-child")).join(","), draws.map((d) => d.draw).join(","));
    if (!draws.some((d) => d.draw === "lucky")) fail("draws: the API does not list lucky");
    const lucky = draws.find((d) => d.draw === "lucky");
    const row = await page.$$eval("#draw-list tbody tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)).find((c) => c[0] === "lucky"));
    eq("draws: lucky's pools left", row ? row[3] : "no row", lucky.prizes.map((p) => `${p.prize}: ${fmt(p.left)} of ${fmt(p.pool)}`).join(", "));
    eq("draws: lucky's epochs revealed", row ? row[5] : "no row", lucky.revealed.length);
    eq("draws: lucky's status", row ? row[6] : "no row", lucky.seen && lucky.declared ? "in use" : "the API says it is not");
    eq("draws: mug left (bar)", await page.$eval('#draws rect.bar[data-x="lucky/mug"]', (n) => Number(n.dataset.y)), lucky.prizes[0].left);
    await shot(page, "draws");

    const { budgets } = await api("/budgets");
    await page.goto(base + "/console#budget");
    await page.waitForSelector("#budget-list");
    const b = budgets.find((x) => x.budget === "order-bonus");
    if (!b || b.used !== 70 || b.left !== 5) fail(`budgets: the API lists ${JSON.stringify(b)}; 7 orders of 10 fit in 75`);
    const brow = await page.$$eval("#budget-list tbody tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)).find((c) => c[0] === "order-bonus"));
    eq("budgets: order-bonus used, max, left", brow ? brow.slice(2, 5).join(",") : "no row", b ? [b.used, b.max, b.left].map(fmt).join(",") : "");
    eq("budgets: bar", await page.$eval('#budgets rect.bar[data-x="order-bonus"]', (n) => Number(n.dataset.y)), b ? b.used : "none");
    await shot(page, "budgets");

    const { leaderboards } = await api("/leaderboards");
    await page.goto(base + "/console#leaderboard");
    await page.waitForSelector("#board-list");
    const l = leaderboards.find((x) => x.leaderboard === "orders");
    const lrow = await page.$$eval("#board-list tbody tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)).find((c) => c[0] === "orders"));
    eq("leaderboards: orders' period and members", lrow ? [lrow[1], lrow[3]].join(",") : "no row", l ? [l.period, fmt(l.members)].join(",") : "");
    if (!l || l.members !== 6) fail(`leaderboards: the API lists ${JSON.stringify(l)}; 6 members ordered`);
    await shot(page, "leaderboards");
  }

  // A budget: used and left of its newest period, and its bar.
  {
    const b = await api("/budgets/order-bonus");
    await page.goto(base + "/console#budget/order-bonus");
    await page.waitForSelector("#budget-periods");
    eq("budget: used", await page.textContent("#budget-used"), fmt(b.periods[0].used));
    eq("budget: left", await page.textContent("#budget-left"), fmt(b.periods[0].left));
    eq("budget: bar", await page.$eval('#budget rect.bar[data-series="used"]', (n) => Number(n.dataset.y)), b.periods[0].used);
    if (b.periods[0].used !== 70 || b.periods[0].left !== 5) fail(`budget: the API says used ${b.periods[0].used}, left ${b.periods[0].left}; 7 orders of 10 fit in 75`);
    await shot(page, "budget");
  }

  // The offers: the code as typed (markup shown as text), its uses and cap left.
  {
    const { offers } = await api("/offers");
    const o = offers.find((x) => x.offer === "save5");
    await page.goto(base + "/console#offers");
    await page.waitForSelector("#offer-table");
    const row = await page.$$eval("#offer-table tbody tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)).find((c) => c[0] === "save5"));
    if (!row) fail("offers: no row for save5");
    else {
      eq("offers: code", row[1], o.code);
      eq("offers: uses", row[6], fmt(o.uses));
      eq("offers: cap left", row[9], fmt(o.left));
    }
    if (o.uses !== 2) fail(`offers: the API counts ${o.uses} uses of save5, the test made 2`);
    if (await page.$("#offer-table i")) fail("offers: the code's markup became an element");
    eq("offers: bar", await page.$eval('#offers rect.bar[data-x="save5"]', (n) => Number(n.dataset.y)), o.uses);
    await shot(page, "offers");
  }

  // A leaderboard.
  {
    const b = await api("/leaderboards/orders?top=50");
    await page.goto(base + "/console#leaderboard/orders");
    await page.waitForSelector("#board");
    eq("leaderboard: members", (await texts(page, "#board tbody tr td:nth-child(2)")).join(","), b.top.map((r) => r.member).join(","));
    await shot(page, "leaderboard");
  }

  // An experiment: both groups' members, and the lift's point.
  {
    const x = await api("/experiments/spring");
    await page.goto(base + "/console#experiment/spring");
    await page.waitForSelector("#groups");
    eq("experiment: members", (await texts(page, "#groups tbody tr td:nth-child(2)")).join(","),
      [x.groups.control.members, x.groups.treatment.members].map(fmt).join(","));
    if (typeof x.lift === "number")
      eq("experiment: lift point", await page.$eval('#experiment circle.pt[data-series="lift"]', (n) => Number(n.dataset.y)), x.lift);
    await shot(page, "experiment");
  }

  // A `punch simulate --html` report opened in the console.
  if (reportFile) {
    await page.goto(base + "/console#simulation");
    await page.setInputFiles("#sim-file", reportFile);
    await page.waitForSelector("#sim-figures");
    const rows = await page.$$eval("#sim-figures tbody tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
    const ok = rows.find((r) => r[0] === "events / ok");
    if (!ok || ok[1] === "0") fail(`simulation: events / ok shown as ${JSON.stringify(ok)}`);
    if (!(await page.$("#sim-report svg.plot circle.pt"))) fail("simulation: no plot of the periods");
    await shot(page, "simulation");

    // The same file opened alone, from the disk: it draws itself, with nothing fetched.
    const alone = await newPage();
    await alone.goto("file://" + reportFile);
    await alone.waitForSelector("#sim-figures", { timeout: 5000 });
    const again = await alone.$$eval("#sim-figures tbody tr", (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
    eq("simulation alone: figures", JSON.stringify(again), JSON.stringify(rows));
    const days = await alone.$$eval('.sim-periods tbody tr td:first-child', (ns) => ns.map((n) => n.textContent));
    eq("simulation alone: days", days.slice(0, 3).join(","), "2026-11-20,2026-11-21,2026-11-22");
    await shot(alone, "simulation-alone");
    await alone.context().close();
  }
} catch (e) {
  fail(`${e.message}`);
} finally {
  await browser.close();
}
if (outside.length) fail(`requests left 127.0.0.1: ${outside.join(" ")}`);
for (const e of errors) fail(e);
console.log(`console checked in Chromium, ${failures} failures; screenshots in ${outDir}`);
process.exit(failures ? 1 : 0);
