-- commit: all of one event's member changes, its ledger lines and its stored
-- response, or nothing.
--   KEYS: state, ledger, event, outbox
--   ARGV: the response, then one MessagePack argument holding expected
--         version, new version, dedupe TTL (s), the counts S D O, then S field
--         value pairs, D fields to delete, O webhook entries for the outbox,
--         and the ledger entries to the end
--   -> {0, new version} | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
-- A ledger entry in the stream's own schema (kind [pending] [partner] [reason]
-- event type mechanic [experiments] currency delta balance at mv) comes as a
-- letter, 'A' + which optional fields it has (pending 1, partner 2, reason 4,
-- experiments 8), then its values in that order: the script writes the names.
-- Any other entry comes as 'g', its number of fields, then its names and
-- values. Packed, a value costs Redis one Lua string instead of an argument
-- (parsed, made an object, then a string in ARGV grown one slot at a time).
-- The arguments come from the store's own builder (ops_member.c); they are
-- unpacked and their layout checked before the first write. On the hot path
-- four calls: HGET, SET NX GET (the dedupe check and record in one), HSET, one
-- XADD per ledger entry.
local byte, floor = string.byte, math.floor
local h = {cmsgpack.unpack(ARGV[2])}
local d = 7 + 2 * h[4] -- the first field to delete
local o = d + h[5]     -- the first webhook entry
local l = o + h[6]     -- the first ledger entry
local n, i = #h, l
while i <= n do
  local c, w = byte(h[i]) - 65, 10 -- 'A': the schema without its optional fields
  if c == 38 then -- 'g'
    w = h[i + 1] > 0 and 2 + 2 * h[i + 1]
  elseif c ~= 0 then
    w = c > 0 and c < 16 and 10 + c % 2 + floor(c / 2) % 2 + floor(c / 4) % 2 + floor(c / 8)
  end
  if not w then break end
  i = i + w
end
if i ~= n + 1 then return redis.error_reply('commit: bad ops') end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= h[1] then
  local stored = redis.call('GET', KEYS[3])
  if stored then return {1, stored} end
  return {2, redis.call('HGETALL', KEYS[1])}
end
local stored = redis.call('SET', KEYS[3], ARGV[1], 'NX', 'GET', 'EX', h[3])
if stored then return {1, stored} end
if o > d then redis.call('HDEL', KEYS[1], unpack(h, d, o - 1)) end
redis.call('HSET', KEYS[1], 'v', h[2], unpack(h, 7, d - 1))
i = l
while i <= n do
  local c = byte(h[i]) - 65
  if c == 0 then
    redis.call('XADD', KEYS[2], '*', 'kind', h[i + 1], 'event', h[i + 2], 'type', h[i + 3],
      'mechanic', h[i + 4], 'currency', h[i + 5], 'delta', h[i + 6], 'balance', h[i + 7],
      'at', h[i + 8], 'mv', h[i + 9])
    i = i + 10
  elseif c == 38 then
    local k = h[i + 1]
    redis.call('XADD', KEYS[2], '*', unpack(h, i + 2, i + 1 + 2 * k))
    i = i + 2 + 2 * k
  else
    local e, j = {'kind', h[i + 1]}, i + 2
    local function put(name, bit)
      if not bit or floor(c / bit) % 2 == 1 then
        e[#e + 1] = name
        e[#e + 1] = h[j]
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
if l > o then redis.call('RPUSH', KEYS[4], unpack(h, o, l - 1)) end
return {0, h[2]}
