-- counter_reserve: a global counter, incremented once per claim.
--   KEYS: the counter, the claim
--   ARGV: by, claim TTL (s), peek ("1": a dry run only looks)
--   -> the counter's value after this event's increment
-- The claim holds "<value>:<by>", so a retried event meets its claim and gets
-- the same value instead of counting twice.
local c = redis.call('GET', KEYS[2])
if c then return tonumber(string.match(c, '^(-?%d+)')) end
if ARGV[3] == '1' then
  return tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], v .. ':' .. ARGV[1], 'EX', ARGV[2])
return v
