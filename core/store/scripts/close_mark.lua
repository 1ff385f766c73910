-- close_mark: the owner of a close job says it is alive (touch) or finished (done).
--   KEYS: the job's hash [, a period close's marker (the end of its latest period closed)]
--   ARGV: owner, "touch" | "done", now (ms), TTL (s, for done: how long "done" is kept),
--         the period's end (ms), events sent, events skipped (not in the segment)
--   -> 1, or 0 when another owner took the job over or the broadcast was cancelled
--      (bcast_cancel.lua; its counts are still written): the caller stops
local k, marker = KEYS[1], KEYS[2]
if redis.call('HGET', k, 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', k, 't', ARGV[3], 'sent', ARGV[6], 'skipped', ARGV[7])
if redis.call('HEXISTS', k, 'cancelled') == 1 then return 0 end
if ARGV[2] == 'done' then
  redis.call('HSET', k, 'done', ARGV[3])
  redis.call('EXPIRE', k, ARGV[4])
  if marker and tonumber(redis.call('GET', marker) or '0') < tonumber(ARGV[5]) then
    redis.call('SET', marker, ARGV[5], 'EX', ARGV[4])
  end
end
return 1
