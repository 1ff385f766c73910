-- offer_take: one use of an offer's code, within its cap, under a claim.
--   KEYS: the offer's uses hash (used, returned, discount), the claim
--   ARGV: cap (0 = none), the discount granted (money off), claim TTL (s), peek ("1": a dry run)
--   -> 1 granted (or granted before to this claim, which is touched) | 0 used up
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 't', now())
  return 1
end
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local cap = tonumber(ARGV[1])
if cap > 0 and used >= cap then return 0 end
if ARGV[4] == '1' then return 1 end
redis.call('HINCRBY', KEYS[1], 'used', 1)
redis.call('HINCRBY', KEYS[1], 'discount', ARGV[2])
redis.call('HSET', KEYS[2], 't', now(), 'amount', 1, 'off', ARGV[2], 'key', KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
