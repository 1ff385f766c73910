#!/usr/bin/env node
// Send one event to punchd, safely retried (Node.js 18+, no dependencies).
//
//   PUNCHD_URL=http://127.0.0.1:8080 node examples/clients/client.mjs '{"type": "order", "member": "ann"}'
//
// An event without "id" gets one here, before the first try, so every retry carries the same
// id and punchd applies it once. Retried, with exponential backoff: 503 (Redis unavailable:
// the outcome is unknown), 409 (the member changed under the event too often), 429 (rate
// limited: waits Retry-After) and connection errors. Prints punchd's answer (JSON) on stdout.
// Exit status: 0 on 2xx, 1 on an HTTP error, 2 on bad usage, 3 when punchd cannot be reached.
// Environment: PUNCHD_URL, PUNCHD_API_KEY, PUNCH_RETRIES (default 8 tries).
const RETRIED = new Set([409, 429, 503]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function send(url, event, apiKey, tries = 8) {
  const headers = { "Content-Type": "application/json" };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  let status = 0, text = "";
  for (let attempt = 0; attempt < tries; attempt++) {
    let wait = 100 * 2 ** attempt;
    try {
      const res = await fetch(url.replace(/\/$/, "") + "/v1/events", {
        method: "POST", headers, body: JSON.stringify(event), signal: AbortSignal.timeout(10000),
      });
      status = res.status;
      text = await res.text();
      if (!RETRIED.has(status)) return { status, text };
      const after = Number(res.headers.get("retry-after"));
      if (status === 429 && after > 0) wait = Math.max(wait, after * 1000);
    } catch (e) {
      status = 0;
      text = String(e.cause?.code ?? e.message);
    }
    if (attempt + 1 < tries) await sleep(Math.min(wait, 5000));
  }
  return { status, text };
}

async function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node client.mjs EVENT_JSON");
    return 2;
  }
  let event;
  try {
    event = JSON.parse(process.argv[2]);
  } catch (e) {
    console.error(`client.mjs: the event is not JSON: ${e.message}`);
    return 2;
  }
  event.id ??= `node-${Date.now()}-${process.pid}`;
  const { status, text } = await send(process.env.PUNCHD_URL ?? "http://127.0.0.1:8080", event,
    process.env.PUNCHD_API_KEY, Number(process.env.PUNCH_RETRIES ?? 8));
  if (status === 0) {
    console.error(`client.mjs: punchd unreachable: ${text}`);
    return 3;
  }
  console.log(text.trim());
  if (status < 200 || status >= 300) {
    console.error(`client.mjs: HTTP ${status}`);
    return 1;
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
