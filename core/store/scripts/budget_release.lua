-- budget_release: gives a claimed amount back to its budget (its period, and the log's line).
--   KEYS: the claim, the budget's log
--   ARGV: min age (ms): with > 0, only a claim not touched for that long
--   -> 1 released | 0 nothing to release | -1 touched too recently
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HMGET', KEYS[1], 'amount', 'key', 't', 'period')
if not c[1] then return 0 end
if tonumber(ARGV[1]) > 0 and c[3] then
  if now() - tonumber(c[3]) < tonumber(ARGV[1]) then return -1 end
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', c[2]) == 1 then
  redis.call('HINCRBY', c[2], 'used', -tonumber(c[1]))
end
if c[4] and redis.call('HEXISTS', KEYS[2], 'used:' .. c[4]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'used:' .. c[4], -tonumber(c[1]))
end
return 1
