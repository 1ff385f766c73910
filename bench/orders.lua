-- wrk script: POST /v1/events orders with unique ids over many members.
--
--   wrk -t1 -c50 -d10s -s bench/orders.lua http://127.0.0.1:PORT
--
-- Environment (all optional):
--   NONCE    run nonce put into every event id (default: 8 random hex digits), so two
--            runs against the same Redis never collide with earlier ids
--   MEMBERS  how many distinct members (default 10000); member k is "bm<k>"
--   LABEL    name printed in the result line (default "run")
--   BATCH    0 (default): one order per POST /v1/events; N: N orders per
--            POST /v1/events/batch ({"events": [...]}); sent and ok then count events
--
-- Ids are "<nonce>-<thread>-<counter>", unique per run. Members are chosen
-- round-robin (thread-interleaved), so every member gets about the same load.
-- The response() hook counts statuses (this costs wrk some throughput; run.sh
-- uses the same script for punchd and the hello-world so the ratio is fair).
-- done() prints one machine-readable line starting with "RESULT".

local threads = {}
local nthreads = 0
local function fresh_nonce()
  local f = io.open("/proc/sys/kernel/random/uuid", "r")
  local u = f and f:read("*l")
  if f then f:close() end
  return u and u:sub(1, 8) or string.format("%x", os.time())
end
-- Evaluated in the main state; setup() hands it to every thread as run_nonce.
local nonce = os.getenv("NONCE") or fresh_nonce()
local members = tonumber(os.getenv("MEMBERS") or "10000")
local label = os.getenv("LABEL") or "run"
local batch = tonumber(os.getenv("BATCH") or "0")

function setup(thread)
  thread:set("tid", nthreads)
  thread:set("run_nonce", nonce)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state). The counters are
-- globals so done() can read them with thread:get().
sent, ok, bad, bad4, bad5 = 0, 0, 0, 0, 0
local prefix, pos
local headers = { ["Content-Type"] = "application/json" }
local tail = '","type":"order","member":"'
local items = '","data":{"items":[{"category":"fuel","amount":500},' ..
  '{"category":"shop","amount":125}]}}'

function init(args)
  prefix = '{"id":"' .. run_nonce .. "-" .. tid .. "-"
  pos = tid
end

local function one_order()
  sent = sent + 1
  local m = (pos + sent * 7919) % members
  return prefix .. sent .. tail .. "bm" .. m .. items
end

function request()
  if batch > 0 then
    local parts = {}
    for i = 1, batch do parts[i] = one_order() end
    return wrk.format("POST", "/v1/events/batch", headers,
      '{"events":[' .. table.concat(parts, ",") .. ']}')
  end
  sent = sent + 1
  -- Walk all members with a prime stride (gcd(7919, members) = 1 for the default),
  -- offset by the thread id: consecutive requests hit different members.
  local m = (pos + sent * 7919) % members
  local body = prefix .. sent .. tail .. "bm" .. m .. items
  return wrk.format("POST", "/v1/events", headers, body)
end

function response(status, hdrs, body)
  if batch > 0 then
    -- One result per event; an event that failed has another status in its place.
    local n = status == 200 and select(2, body:gsub('"status":200', '')) or 0
    ok = ok + n
    bad = bad + (batch - n)
    if status >= 500 then bad5 = bad5 + batch elseif status >= 400 then bad4 = bad4 + batch end
    return
  end
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if status >= 500 then bad5 = bad5 + 1 elseif status >= 400 then bad4 = bad4 + 1 end
  end
end

function done(summary, latency, requests)
  local sent_total, ok_total, bad_total, bad4_total, bad5_total = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    sent_total = sent_total + (t:get("sent") or 0)
    ok_total = ok_total + (t:get("ok") or 0)
    bad_total = bad_total + (t:get("bad") or 0)
    bad4_total = bad4_total + (t:get("bad4") or 0)
    bad5_total = bad5_total + (t:get("bad5") or 0)
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "%s: %d requests in %.2fs = %.0f req/s; latency p50 %.2f ms, p90 %.2f ms, " ..
    "p99 %.2f ms, max %.2f ms; 2xx %d, non-2xx %d (4xx %d, 5xx %d); " ..
    "socket errors connect %d read %d write %d timeout %d\n",
    label, summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    ok_total, bad_total, bad4_total, bad5_total,
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format(
    "RESULT label=%s requests=%d secs=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f " ..
    "max_ms=%.3f sent=%d ok=%d non2xx=%d sock_errors=%d nonce=%s per_request=%d\n",
    label, summary.requests * math.max(batch, 1), secs,
    summary.requests * math.max(batch, 1) / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    sent_total, ok_total, bad_total, e.connect + e.read + e.write + e.timeout, nonce,
    math.max(batch, 1)))
end
