-- referral_release: lets go of a referral this claim holds.
--   KEYS: NS:{ref:FRIEND}:by
--   ARGV: claim id, min age (ms): with > 0, only a claim not touched for that long
--   -> 1 released | 0 not held by this claim | -1 touched too recently
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HMGET', KEYS[1], 'claim', 't')
if c[1] ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 and c[2] then
  if now() - tonumber(c[2]) < tonumber(ARGV[2]) then return -1 end
end
redis.call('DEL', KEYS[1])
return 1
