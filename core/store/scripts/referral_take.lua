-- referral_take: the first event to claim a member as a referred friend holds
-- the referral for good.
--   KEYS: NS:{ref:FRIEND}:by
--   ARGV: referrer, claim id, peek ("1": a dry run), the referrer's event type
--   -> 1 held by this claim (touched when held before) | 0 held by another
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HMGET', KEYS[1], 'referrer', 'claim')
if c[1] then
  if c[2] == ARGV[2] then redis.call('HSET', KEYS[1], 't', now()); return 1 end
  return 0
end
if ARGV[3] == '1' then return 1 end
redis.call('HSET', KEYS[1], 'referrer', ARGV[1], 'claim', ARGV[2], 't', now(), 'type', ARGV[4])
return 1
