-- admin_rotate: ends a draw's epoch (POST /v1/draws/{name}/rotate). The new
-- epoch draws with a new secret; the engine then reveals the old one.
--   KEYS: the draw's meta (epoch absent = 1)
--   -> the epoch that ended
local e = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '1')
redis.call('HSET', KEYS[1], 'epoch', e + 1)
return e
