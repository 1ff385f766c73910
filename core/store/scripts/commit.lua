-- commit: all of one event's member changes, its ledger lines and its stored
-- response, or nothing.
--   KEYS: state, ledger, event, outbox
--   ARGV: expected version, response, dedupe TTL (s), S, D, then S field value
--         pairs, D fields to delete, then ledger entries: n k1 v1 ... kn vn,
--         then webhook entries for the outbox and, last, their number O
--   -> {0, new version} | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
-- The arguments come from the store's own builder (ops_member.c, which groups
-- them so each write takes its slice of ARGV as it is); the layout is checked
-- before the first write. On the hot path: GET, HGET, then one HSET, one HDEL
-- at most, one XADD per ledger entry, SET.
local stored = redis.call('GET', KEYS[3])
if stored then return {1, stored} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {2, redis.call('HGETALL', KEYS[1])} end
local o = tonumber(ARGV[#ARGV])
local n, s, d = #ARGV - 1 - o, 6 + 2 * tonumber(ARGV[4]), tonumber(ARGV[5])
local i = s + d
while i <= n do i = i + 1 + 2 * tonumber(ARGV[i]) end
if i ~= n + 1 then return redis.error_reply('commit: truncated ops') end
if d > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, s, s + d - 1)) end
redis.call('HSET', KEYS[1], 'v', v + 1, unpack(ARGV, 6, s - 1))
i = s + d
while i <= n do
  local k = tonumber(ARGV[i])
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 1, i + 2 * k))
  i = i + 1 + 2 * k
end
if o > 0 then redis.call('RPUSH', KEYS[4], unpack(ARGV, n + 1, n + o)) end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return {0, v + 1}
