-- budget_take: all of amount within max per period, or nothing, under a claim.
--   KEYS: the budget's period, the claim
--   ARGV: amount, max, period TTL (s, 0 = none), claim TTL (s), peek ("1": a dry run)
--   -> 1 granted (or granted before to this claim, which is touched) | 0 refused
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 't', now())
  return 1
end
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local amount, max = tonumber(ARGV[1]), tonumber(ARGV[2])
if used + amount > max then return 0 end
if ARGV[5] == '1' then return 1 end
redis.call('HINCRBY', KEYS[1], 'used', amount)
redis.call('HSET', KEYS[1], 'max', max)
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('HSET', KEYS[2], 't', now(), 'amount', amount, 'key', KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
