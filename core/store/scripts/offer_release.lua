-- offer_release: undoes a claim of offer_take (the use goes back to the cap) or of
-- offer_return (the use is counted again, and the used event may be given back later).
--   KEYS: the claim
--   ARGV: min age (ms): with > 0, only a claim not touched for that long
--   -> 1 released | 0 nothing to release | -1 touched too recently
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HMGET', KEYS[1], 'amount', 'off', 'key', 't', 'mark')
if not c[1] then return 0 end
if tonumber(ARGV[1]) > 0 and c[4] then
  if now() - tonumber(c[4]) < tonumber(ARGV[1]) then return -1 end
end
redis.call('DEL', KEYS[1])
if c[5] then
  redis.call('DEL', c[5])
  redis.call('HINCRBY', c[3], 'returned', -1)
end
redis.call('HINCRBY', c[3], 'used', -tonumber(c[1]))
redis.call('HINCRBY', c[3], 'discount', -tonumber(c[2] or '0'))
return 1
