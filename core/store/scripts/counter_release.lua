-- counter_release: gives back a counter claim.
--   KEYS: the counter, the claim
--   -> 1 released, 0 nothing to release
-- The increment is given back only when nobody counted since: a value is
-- never handed out twice (an every-Nth prize stays exact), at the price of a
-- skipped value after a failed event.
local c = redis.call('GET', KEYS[2])
if not c then return 0 end
redis.call('DEL', KEYS[2])
local v, by = string.match(c, '^(-?%d+):(-?%d+)$')
if v and tonumber(redis.call('GET', KEYS[1]) or '0') == tonumber(v) then
  redis.call('DECRBY', KEYS[1], by)
end
return 1
