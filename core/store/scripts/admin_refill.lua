-- admin_refill: adds prizes to what is left of a draw's pool in one period
-- (POST /v1/draws/{name}/refill). A period nobody drew in yet starts from the
-- pool's size, as draw_take would start it.
--   KEYS: the pool of the period, the draw's meta
--   ARGV: prize, how many to add (may be negative), the period's TTL (s, 0 = none)
--   -> what is left after, or nil when the draw has no pool for that prize
local size = tonumber(redis.call('HGET', KEYS[2], 'pool:' .. ARGV[1]) or '-1')
if size < 0 then return false end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'left', size, 'won', 0, 'size', size)
  if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
end
return redis.call('HINCRBY', KEYS[1], 'left', ARGV[2])
