-- bcast_create: makes a broadcast once (POST /v1/broadcasts is idempotent on its id).
--   KEYS: the broadcast's hash NS:{bcast:ID}:job
--   ARGV: body (the request, its keys sorted), plan (what the job sends, JSON), now (ms), TTL (s)
--   -> "new", "same" (made before with this very body), "done" (the same, sent already) or
--      "mismatch" (made before with another body)
local k = KEYS[1]
local body = redis.call('HGET', k, 'body')
if body then
  if body == ARGV[1] then
    if redis.call('HEXISTS', k, 'done') == 1 then return 'done' end
    return 'same'
  end
  return 'mismatch'
end
redis.call('HSET', k, 'body', ARGV[1], 'plan', ARGV[2], 'created', ARGV[3], 't', '0')
redis.call('EXPIRE', k, ARGV[4])
return 'new'
