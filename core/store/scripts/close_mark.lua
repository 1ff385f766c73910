-- close_mark: the owner of a close says it is alive (touch) or finished (done).
--   KEYS: the close's hash
--   ARGV: owner, "touch" | "done", now (ms), TTL (s, for done: how long "done" is kept)
--   -> 1, or 0 when another owner took the close over (the caller stops)
local k = KEYS[1]
if redis.call('HGET', k, 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', k, 't', ARGV[3])
if ARGV[2] == 'done' then
  redis.call('HSET', k, 'done', ARGV[3])
  redis.call('EXPIRE', k, ARGV[4])
end
return 1
