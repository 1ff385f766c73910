-- commit: all of one event's member changes, its ledger lines and its stored
-- response, or nothing.
--   KEYS: state, ledger, event, outbox
--   ARGV: expected version, new version, response, dedupe TTL (s), S, D, O,
--         then S field value pairs, D fields to delete, the ledger entries,
--         and O webhook entries for the outbox
--   -> {0, new version} | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
-- A ledger entry in the stream's own schema (kind [pending] [partner] [reason]
-- event type mechanic [experiments] currency delta balance at mv) comes as a
-- letter, 'A' + which optional fields it has (pending 1, partner 2, reason 4,
-- experiments 8), then its values in that order: the script writes the names.
-- Any other entry comes as 'g', n, k1 v1 ... kn vn. The arguments come from
-- the store's own builder (ops_member.c); their layout is checked before the
-- first write. On the hot path four calls: HGET, SET NX GET (the dedupe
-- check and record in one), HSET, one XADD per ledger entry.
local A, byte = ARGV, string.byte
local s = 8 + 2 * tonumber(A[5]) -- the first D field
local l, o = s + tonumber(A[6]), #A + 1 - tonumber(A[7]) -- the first entry, webhook
local i = l
while i < o do
  local c = byte(A[i]) - 65
  if c >= 0 and c < 16 then
    i = i + 10 + c % 2 + math.floor(c / 2) % 2 + math.floor(c / 4) % 2 + math.floor(c / 8)
  elseif c == 38 then -- 'g'
    i = i + 2 + 2 * tonumber(A[i + 1])
  else
    break
  end
end
if i ~= o then return redis.error_reply('commit: truncated ops') end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= A[1] then
  local stored = redis.call('GET', KEYS[3])
  if stored then return {1, stored} end
  return {2, redis.call('HGETALL', KEYS[1])}
end
local stored = redis.call('SET', KEYS[3], A[3], 'NX', 'GET', 'EX', A[4])
if stored then return {1, stored} end
if l > s then redis.call('HDEL', KEYS[1], unpack(A, s, l - 1)) end
redis.call('HSET', KEYS[1], 'v', A[2], unpack(A, 8, s - 1))
i = l
while i < o do
  local c = byte(A[i]) - 65
  if c == 0 then
    redis.call('XADD', KEYS[2], '*', 'kind', A[i + 1], 'event', A[i + 2], 'type', A[i + 3],
      'mechanic', A[i + 4], 'currency', A[i + 5], 'delta', A[i + 6], 'balance', A[i + 7],
      'at', A[i + 8], 'mv', A[i + 9])
    i = i + 10
  elseif c == 38 then
    local n = tonumber(A[i + 1])
    redis.call('XADD', KEYS[2], '*', unpack(A, i + 2, i + 1 + 2 * n))
    i = i + 2 + 2 * n
  else
    local e, j = {'kind', A[i + 1]}, i + 2
    local function put(name, bit)
      if not bit or math.floor(c / bit) % 2 == 1 then
        local n = #e
        e[n + 1], e[n + 2] = name, A[j]
        j = j + 1
      end
    end
    put('pending', 1) put('partner', 2) put('reason', 4)
    put('event') put('type') put('mechanic') put('experiments', 8)
    put('currency') put('delta') put('balance') put('at') put('mv')
    redis.call('XADD', KEYS[2], '*', unpack(e))
    i = j
  end
end
if o <= #A then redis.call('RPUSH', KEYS[4], unpack(A, o, #A)) end
return {0, tonumber(A[2])}
