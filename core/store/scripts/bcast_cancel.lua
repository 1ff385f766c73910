-- bcast_cancel: stops a broadcast not done yet (POST /v1/broadcasts/{id}/cancel).
--   KEYS: the broadcast's hash NS:{bcast:ID}:job
--   ARGV: now (ms), TTL (s: how long the cancelled broadcast is kept)
--   -> "cancelled" (now, or before), "done" (sent to every member already) or "missing"
-- Sets cancelled and done: no sweeper claims it again (close_claim sees done), and its
-- owner's next touch (close_mark) answers 0, so the owner stops sending.
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return 'missing' end
if redis.call('HEXISTS', k, 'cancelled') == 1 then return 'cancelled' end
if redis.call('HEXISTS', k, 'done') == 1 then return 'done' end
redis.call('HSET', k, 'cancelled', ARGV[1], 'done', ARGV[1])
redis.call('EXPIRE', k, ARGV[2])
return 'cancelled'
