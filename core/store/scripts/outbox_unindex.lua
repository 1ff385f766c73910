-- outbox_unindex: takes a member off the outbox index when its score is
-- still the one the deliverer read before it found the outbox empty.
--   KEYS: index   ARGV: member, score   -> 1 removed, 0 kept
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
