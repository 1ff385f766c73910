// Sends every route of docs/openapi.yaml to real punchd (success and error answers) and
// validates each answer against the description: its status must be documented for the
// operation, its body must match the documented schema (ajv, JSON Schema 2020-12), and the
// documented headers of 401 and 429 must be there. Each case also states the status it
// expects, so the run checks punchd as much as the description. Every operation must be seen
// answering at least one success and (but /healthz and /metrics) one error.
//
// usage: node validate.mjs SPEC.json TOOLS_DIR OPEN_URL KEYED_URL READ_KEY LIMITED_KEY
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [specPath, toolsDir, openUrl, keyedUrl, readKey, limitedKey] = process.argv.slice(2);
const require = createRequire(`${toolsDir}/package.json`);
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats");

const spec = JSON.parse(readFileSync(specPath, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec, "openapi");

const escape = (s) => s.replaceAll("~", "~0").replaceAll("/", "~1");
const ops = [];
for (const [template, item] of Object.entries(spec.paths)) {
  for (const method of ["get", "post", "put", "delete"]) {
    if (!item[method]) continue;
    const re = new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$");
    ops.push({ template, method: method.toUpperCase(), re, op: item[method], ok: 0, err: 0 });
  }
}

function deref(obj) {
  while (obj && obj.$ref) {
    obj = obj.$ref.slice(2).split("/").reduce((o, k) => o[k.replaceAll("~1", "/").replaceAll("~0", "~")], spec);
  }
  return obj;
}

const order = (id, member, extra = "") =>
  `{"id":"${id}","type":"order","member":"${member}"${extra},` +
  `"data":{"items":[{"category":"fuel","amount":500},{"category":"shop","amount":125}]}}`;
const big = `{"id":"big","type":"order","member":"ann","data":{"pad":"${"x".repeat(70000)}"}}`;

// [server, Authorization, method, path, body, expected status]
const cases = [
  ["open", null, "POST", "/v1/events", order("o-1", "ann", ',"partner":"shell"'), 200],
  ["open", null, "POST", "/v1/events", order("o-2", "ann"), 200],
  ["open", null, "POST", "/v1/events", order("o-1", "ann", ',"partner":"shell"'), 200],
  ["open", null, "POST", "/v1/events?dry_run=1&explain=1", order("o-3", "bo"), 200],
  ["open", null, "POST", "/v1/events", `{"id":"w-1","type":"workout","member":"ann","data":{"minutes":30}}`, 200],
  ["open", null, "POST", "/v1/events", `{"id":"x-1","type":"order"}`, 400],
  ["open", null, "POST", "/v1/events", "not json", 400],
  ["open", null, "POST", "/v1/events?dry_run=maybe", order("o-4", "ann"), 400],
  ["open", null, "POST", "/v1/events", `{"id":"boom-1","type":"boom","member":"ann"}`, 422],
  ["open", null, "POST", "/v1/events", big, 413],
  ["open", null, "POST", "/v1/events/batch", `{"events":[${order("b-1", "cy")},{"id":"b-2","type":"Bad!","member":"cy"}]}`, 200],
  ["open", null, "POST", "/v1/events/batch", `{"events":"no"}`, 400],
  ["open", null, "POST", "/v1/events/o-2/reverse", `{"member":"ann"}`, 200],
  ["open", null, "POST", "/v1/events/o-2/reverse", `{"member":"ann","id":"rv-2","currency":"stars","amount":1}`, 422],
  ["open", null, "POST", "/v1/events/o-2/reverse", `{}`, 400],
  ["open", null, "GET", "/v1/members/ann", null, 200],
  ["open", null, "GET", "/v1/members/nobody-here", null, 404],
  ["open", null, "GET", "/v1/members/bad%20id", null, 400],
  ["open", null, "PUT", "/v1/members/ann", `{"id":"p-1","attributes":{"tz":"Europe/Paris"}}`, 200],
  ["open", null, "PUT", "/v1/members/ann", `{"nickname":"x"}`, 400],
  ["open", null, "GET", "/v1/members/ann/ledger?limit=2", null, 200],
  ["open", null, "GET", "/v1/members/ann/ledger?limit=0", null, 400],
  ["open", null, "POST", "/v1/members/ann/redeem", `{"id":"r-1","currency":"stars","amount":10}`, 200],
  ["open", null, "POST", "/v1/members/ann/redeem", `{"id":"r-2","currency":"stars","amount":1000000}`, 422],
  ["open", null, "POST", "/v1/members/ann/redeem", `{"currency":"stars"}`, 400],
  ["open", null, "GET", "/v1/stats", null, 200],
  ["open", null, "GET", "/v1/stats?per=week", null, 200],
  ["open", null, "GET", "/v1/stats?per=fortnight", null, 400],
  ["open", null, "GET", "/v1/stats?from=yesterday", null, 400],
  ["open", null, "GET", "/v1/partners/shell/summary", null, 200],
  ["open", null, "GET", "/v1/partners/shell/summary?to=13", null, 400],
  ["open", null, "GET", "/v1/draws/lucky", null, 200],
  ["open", null, "GET", "/v1/draws/Bad!", null, 404],
  ["open", null, "POST", "/v1/draws/lucky/refill", `{"prize":"mug","add":5}`, 200],
  ["open", null, "POST", "/v1/draws/lucky/refill", `{"prize":"mug"}`, 400],
  ["open", null, "POST", "/v1/draws/lucky/refill", `{"prize":"yacht","add":1}`, 404],
  ["open", null, "POST", "/v1/draws/lucky/rotate", null, 200],
  ["open", null, "POST", "/v1/draws/Bad!/rotate", null, 404],
  ["open", null, "GET", "/v1/leaderboards/orders?member=ann&top=3", null, 200],
  ["open", null, "GET", "/v1/leaderboards/orders?top=zero", null, 400],
  ["open", null, "GET", "/v1/budgets/order-bonus", null, 200],
  ["open", null, "GET", "/v1/budgets/untouched", null, 404],
  ["open", null, "GET", "/v1/draws", null, 200],
  ["open", null, "GET", "/v1/budgets", null, 200],
  ["open", null, "GET", "/v1/leaderboards", null, 200],
  ["open", null, "POST", "/v1/broadcasts", `{"id":"oa-news","type":"letter","segment":{"tier":["no-such-tier"]}}`, 202],
  ["open", null, "POST", "/v1/broadcasts", `{"id":"oa-news","type":"letter","segment":{"tier":["no-such-tier"]}}`, 200],
  ["open", null, "POST", "/v1/broadcasts", `{"id":"oa-news","type":"other"}`, 422],
  ["open", null, "POST", "/v1/broadcasts", `{"id":"oa-news"}`, 400],
  ["open", null, "GET", "/v1/broadcasts/oa-news", null, 200],
  ["open", null, "GET", "/v1/broadcasts/nothing", null, 404],
  ["open", null, "GET", "/v1/broadcasts", null, 200],
  ["open", null, "GET", "/v1/broadcasts?limit=1", null, 200],
  ["open", null, "GET", "/v1/broadcasts?limit=500", null, 400],
  ["open", null, "POST", "/v1/broadcasts", `{"id":"oa-stop","type":"letter","segment":{"tier":["no-such-tier"]}}`, 202],
  ["open", null, "POST", "/v1/broadcasts/oa-stop/cancel", null, 200],
  ["open", null, "POST", "/v1/broadcasts/oa-stop/cancel", null, 200],
  ["open", null, "POST", "/v1/broadcasts/nothing/cancel", null, 404],
  ["keyed", `Bearer ${readKey}`, "POST", "/v1/broadcasts/oa-stop/cancel", null, 403],
  ["keyed", `Bearer ${readKey}`, "POST", "/v1/broadcasts", `{"id":"oa-x","type":"letter"}`, 403],
  ["open", null, "GET", "/v1/experiments/spring", null, 200],
  ["open", null, "GET", "/v1/experiments/autumn", null, 404],
  ["open", null, "POST", "/v1/events", `{"id":"c-1","type":"order","member":"ann","data":{"code":"fixture-10","total":900}}`, 200],
  ["open", null, "GET", "/v1/offers", null, 200],
  ["open", null, "GET", "/v1/offers/fixture10", null, 200],
  ["open", null, "GET", "/v1/offers/nothing", null, 404],
  ["open", null, "POST", "/v1/offers/fixture-vip/codes", `{"codes":[{"code":"vip-1","member":"ann"}]}`, 200],
  ["open", null, "POST", "/v1/offers/fixture-vip/codes", `{"codes":[]}`, 400],
  ["open", null, "POST", "/v1/offers/fixture10/codes", `{"codes":[{"code":"fixture-11"}]}`, 200],
  ["open", null, "POST", "/v1/offers/nothing/codes", `{"codes":[{"code":"x"}]}`, 404],
  ["open", null, "GET", "/v1/webhooks/deliveries?limit=5", null, 200],
  ["open", null, "GET", "/v1/webhooks/deliveries?limit=0", null, 400],
  ["open", null, "POST", "/v1/webhooks/dead/msg_0123456789abcdef0123456789abcdef/retry", null, 200],
  ["open", null, "POST", "/v1/webhooks/dead/msg_0123456789abcdef0123456789abcdef/retry", null, 404],
  ["open", null, "POST", "/v1/webhooks/dead/nope/retry", null, 400],
  ["open", null, "GET", "/v1/mechanics", null, 200],
  ["open", null, "GET", "/v1/openapi.json", null, 200],
  ["open", null, "GET", "/healthz", null, 200],
  ["open", null, "GET", "/metrics", null, 200],
  ["open", null, "GET", "/console", null, 200],
  ["open", null, "GET", "/console/console.js", null, 200],
  ["open", null, "GET", "/console/no-such.js", null, 404],
  ["keyed", `Bearer ${readKey}`, "POST", "/v1/events", order("k-1", "ann"), 403],
  ["keyed", `Bearer ${readKey}`, "GET", "/v1/mechanics", null, 200],
  ["keyed", `Bearer ${limitedKey}`, "GET", "/v1/members/ann", null, 404],
  ["keyed", `Bearer ${limitedKey}`, "GET", "/v1/members/ann", null, 429],
];
// Every /v1/ operation without a key, on the punchd that wants one: 401.
for (const o of ops) {
  if (!o.template.startsWith("/v1/")) continue;
  const path = o.template.replace(/\{[^}]+\}/g, "x");
  cases.push(["keyed", null, o.method, path, o.method === "GET" ? null : "{}", 401]);
}

let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL ${msg}`);
};

for (const [server, auth, method, path, body, want] of cases) {
  const url = (server === "open" ? openUrl : keyedUrl) + path;
  const headers = { "Content-Type": "application/json" };
  if (auth) headers.Authorization = auth;
  const name = `${method} ${path.slice(0, 60)} (${server})`;
  let res, text;
  try {
    res = await fetch(url, { method, headers, body: body ?? undefined });
    text = await res.text();
  } catch (e) {
    fail(`${name}: ${e.message}`);
    continue;
  }
  if (res.status !== want) fail(`${name}: status ${res.status}, expected ${want}: ${text.slice(0, 200)}`);
  const bare = path.split("?")[0];
  const o = ops.find((x) => x.method === method && x.re.test(bare));
  if (!o) {
    fail(`${name}: no operation in the description`);
    continue;
  }
  const key = String(res.status);
  const doc = o.op.responses[key] ?? o.op.responses.default;
  if (!doc) {
    fail(`${name}: status ${key} is not documented for ${o.method} ${o.template}`);
    continue;
  }
  if (res.status < 300) o.ok++;
  else o.err++;
  if (!res.headers.get("x-request-id")) fail(`${name}: no X-Request-Id`);
  const resp = deref(doc);
  for (const h of Object.keys(resp.headers ?? {})) {
    if (["WWW-Authenticate", "Retry-After", "RateLimit-Limit"].includes(h) && !res.headers.get(h))
      fail(`${name}: documented header ${h} missing`);
  }
  const ctype = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  const media = resp.content?.[ctype];
  if (!media) {
    fail(`${name}: content type ${ctype} not documented (${Object.keys(resp.content ?? {})})`);
    continue;
  }
  if (ctype !== "application/json") continue;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    fail(`${name}: body is not JSON`);
    continue;
  }
  const ref = doc.$ref
    ? `openapi#${doc.$ref.slice(1)}/content/${escape(ctype)}/schema`
    : `openapi#/paths/${escape(o.template)}/${method.toLowerCase()}/responses/${key}/content/${escape(ctype)}/schema`;
  const validate = ajv.getSchema(ref);
  if (!validate) {
    fail(`${name}: cannot resolve ${ref}`);
    continue;
  }
  if (!validate(json))
    fail(`${name}: ${ajv.errorsText(validate.errors)}: ${text.slice(0, 300)}`);
}

// Every route punchd has (its table in core/server/routes.c) is described.
const table = readFileSync(new URL("../../core/server/routes.c", import.meta.url), "utf8");
for (const m of table.matchAll(/\{"(\/[^"]*)", (?:EVHTTP_REQ_(\w+)|0), /g)) {
  const [, path, method] = m;
  const sample = path.replaceAll("{}", "x");
  if (!ops.some((o) => (!method || o.method === method) && o.re.test(sample)))
    fail(`route ${method ?? "any"} ${path} of core/server/routes.c is not in docs/openapi.yaml`);
}

for (const o of ops) {
  if (!o.ok) fail(`${o.method} ${o.template}: no success answer was checked`);
  if (!o.err && o.template.startsWith("/v1/")) fail(`${o.method} ${o.template}: no error answer was checked`);
}
console.log(`${cases.length} answers checked against ${ops.length} operations, ${failures} failures`);
process.exit(failures ? 1 : 0);
