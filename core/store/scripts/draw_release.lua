-- draw_release: gives a claimed prize back to its pool.
--   KEYS: the draw's meta, the claim
--   ARGV: min age (ms): with > 0, only a claim not touched for that long
--   -> 1 released | 0 nothing to release | -1 touched too recently
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HMGET', KEYS[2], 'prize', 'pool', 't')
if not c[1] then return 0 end
if tonumber(ARGV[1]) > 0 and c[3] then
  if now() - tonumber(c[3]) < tonumber(ARGV[1]) then return -1 end
end
redis.call('DEL', KEYS[2])
if c[2] ~= '' and redis.call('EXISTS', c[2]) == 1 then
  redis.call('HINCRBY', c[2], 'left', 1)
  redis.call('HINCRBY', c[2], 'won', -1)
end
redis.call('HINCRBY', KEYS[1], 'wins', -1)
redis.call('HINCRBY', KEYS[1], 'won:' .. c[1], -1)
return 1
