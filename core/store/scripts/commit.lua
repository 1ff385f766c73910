-- commit: all of one event's member changes, its ledger lines and its stored
-- response, or nothing.
--   KEYS: state, ledger, event, outbox
--   ARGV: expected version, new version, response, dedupe TTL (s), then as
--         MessagePack strings (each a run of strings, '' for none): the
--         fields to set (field value ...), the fields to delete, the webhook
--         entries for the outbox, and one per ledger entry
--   -> {0, new version} | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
-- A ledger entry in the stream's own schema (kind [pending] [partner] [reason]
-- event type mechanic [experiments] currency delta balance at mv) comes as a
-- letter, 'A' + which optional fields it has (pending 1, partner 2, reason 4,
-- experiments 8), then its values in that order: the script writes the names.
-- Any other entry comes as 'g' then its names and values. Packed, the values
-- cost Redis a Lua string each instead of an argument each (parsed, made an
-- object, then a string in ARGV). Everything is unpacked and checked before the
-- first write. On the hot path four calls: HGET, SET NX GET (the dedupe check
-- and record in one), HSET, one XADD per ledger entry.
local A, mp, byte = ARGV, cmsgpack.unpack, string.byte
local set, n = {mp(A[5])}, #A
local entries = {}
for i = 8, n do
  local e = {mp(A[i])}
  local c, want = byte(e[1]) - 65, 10 -- 'A': the schema without its optional fields
  if c == 38 then -- 'g'
    want = #e % 2 == 1 and #e > 2 and #e
  elseif c ~= 0 then
    want = c > 0 and c < 16 and
      10 + c % 2 + math.floor(c / 2) % 2 + math.floor(c / 4) % 2 + math.floor(c / 8)
  end
  if #e ~= want then return redis.error_reply('commit: bad ledger entry') end
  entries[i - 7] = e
end
if #set % 2 == 1 then return redis.error_reply('commit: bad fields') end
local del, out = A[6] ~= '' and {mp(A[6])}, A[7] ~= '' and {mp(A[7])}
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= A[1] then
  local stored = redis.call('GET', KEYS[3])
  if stored then return {1, stored} end
  return {2, redis.call('HGETALL', KEYS[1])}
end
local stored = redis.call('SET', KEYS[3], A[3], 'NX', 'GET', 'EX', A[4])
if stored then return {1, stored} end
if del then redis.call('HDEL', KEYS[1], unpack(del)) end
redis.call('HSET', KEYS[1], 'v', A[2], unpack(set))
for k = 1, n - 7 do
  local e = entries[k]
  local c = byte(e[1]) - 65
  if c == 0 then
    redis.call('XADD', KEYS[2], '*', 'kind', e[2], 'event', e[3], 'type', e[4],
      'mechanic', e[5], 'currency', e[6], 'delta', e[7], 'balance', e[8], 'at', e[9], 'mv', e[10])
  elseif c == 38 then
    redis.call('XADD', KEYS[2], '*', unpack(e, 2))
  else
    local x, j = {'kind', e[2]}, 3
    local function put(name, bit)
      if not bit or math.floor(c / bit) % 2 == 1 then
        x[#x + 1] = name
        x[#x + 1] = e[j]
        j = j + 1
      end
    end
    put('pending', 1) put('partner', 2) put('reason', 4)
    put('event') put('type') put('mechanic') put('experiments', 8)
    put('currency') put('delta') put('balance') put('at') put('mv')
    redis.call('XADD', KEYS[2], '*', unpack(x))
  end
end
if out then redis.call('RPUSH', KEYS[4], unpack(out)) end
return {0, A[2]}
