-- close_claim: takes (or takes over) the close of one period by one mechanic.
--   KEYS: the close's hash NS:{close:MECHANIC}:PERIOD
--   ARGV: owner, now (ms), stale (ms), TTL (s)
--   -> "done" (closed before), "busy" (another owner touched it less than stale ago),
--      "mine" (ours now, nothing planned yet) or "plan:<the stored plan>" (ours, resume it)
-- The hash holds owner, t (last touched, ms), plan (the events to send, JSON) and
-- done. An owner that died leaves t behind: after stale, anyone takes it over.
local k = KEYS[1]
if redis.call('HEXISTS', k, 'done') == 1 then return 'done' end
local owner = redis.call('HGET', k, 'owner')
local t = tonumber(redis.call('HGET', k, 't') or '0')
if owner and owner ~= ARGV[1] and t > tonumber(ARGV[2]) - tonumber(ARGV[3]) then
  return 'busy'
end
redis.call('HSET', k, 'owner', ARGV[1], 't', ARGV[2])
redis.call('EXPIRE', k, ARGV[4])
local plan = redis.call('HGET', k, 'plan')
if plan then return 'plan:' .. plan end
return 'mine'
