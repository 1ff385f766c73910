-- close_claim: takes (or takes over) a close job: a period close of one mechanic, or a broadcast.
--   KEYS: the job's hash (NS:{close:MECHANIC}:PERIOD or NS:{bcast:ID}:job)
--         [, a period close's marker NS:{close:MECHANIC}:last: the end of its latest period closed]
--   ARGV: owner, now (ms), stale (ms), TTL (s), the period's end (ms), latest ("1": the
--         latest period ended; "0": an older one, caught up; "b": a broadcast)
--   -> "done" (closed before, or nothing to catch up), "busy" (another owner touched it less
--      than stale ago), "mine" (ours now, nothing planned yet) or "plan:<the stored plan>"
--      (ours, resume it)
-- The hash holds owner, t (last touched, ms), plan (the events to send, JSON) and
-- done. An owner that died leaves t behind: after stale, anyone takes it over.
local k, marker = KEYS[1], KEYS[2]
local endms = tonumber(ARGV[5])
if ARGV[6] == 'b' and redis.call('EXISTS', k) == 0 then return 'done' end -- expired, or never made
if redis.call('HEXISTS', k, 'done') == 1 then
  if marker and tonumber(redis.call('GET', marker) or '0') < endms then
    redis.call('SET', marker, ARGV[5], 'EX', ARGV[4])
  end
  return 'done'
end
if marker and ARGV[6] == '0' then
  -- An older period: caught up only after the mechanic's first close, and in order.
  local last = redis.call('GET', marker)
  if not last or tonumber(last) >= endms then return 'done' end
end
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
