-- offer_return: a reversal gives an event's use of an offer back to its cap, once per
-- used event whatever reversal asks, under the reversal's own claim.
--   KEYS: the offer's uses hash, the mark of the used event's return, the claim
--   ARGV: the discount the use granted, mark TTL (s), claim TTL (s), peek ("1": a dry run)
--   -> 1 given back (or before, to this claim, which is touched) | 0 given back already
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 't', now())
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[4] == '1' then return 1 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'used', -1)
redis.call('HINCRBY', KEYS[1], 'returned', 1)
redis.call('HINCRBY', KEYS[1], 'discount', -tonumber(ARGV[1]))
redis.call('HSET', KEYS[3], 't', now(), 'amount', -1, 'off', -tonumber(ARGV[1]),
           'key', KEYS[1], 'mark', KEYS[2])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
