-- draw_take: takes one prize of a draw under a claim, trying the pools in the
-- order given (the first with a prize left wins).
--   KEYS: the draw's meta, the claim, then one pool per prize (its period's key)
--   ARGV: epoch, claim TTL (s), peek ("1": a dry run only looks), tz,
--         then per prize: name, pool size (< 0: unlimited), refill, pool TTL (s)
--   -> the prize's name | '' (every pool empty)
-- A claim that holds a prize already answers with it (and is touched).
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HGET', KEYS[2], 'prize')
if c then redis.call('HSET', KEYS[2], 't', now()); return c end
local peek = ARGV[3] == '1'
if not peek then redis.call('HSET', KEYS[1], 'tz', ARGV[4]) end
for i = 1, #KEYS - 2 do
  local b = 4 + (i - 1) * 4
  local name, size, ttl = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 4])
  local pk, ok = KEYS[2 + i], size < 0
  if not peek then
    redis.call('HSET', KEYS[1], 'pool:' .. name, size, 'refill:' .. name, ARGV[b + 3])
  end
  if ok then pk = '' else
    local left = redis.call('HGET', pk, 'left')
    if not left then
      left = size
      if not peek then
        redis.call('HSET', pk, 'left', size, 'won', 0, 'size', size)
        if ttl > 0 then redis.call('EXPIRE', pk, ttl) end
      end
    end
    ok = tonumber(left) > 0
    if ok and not peek then
      redis.call('HINCRBY', pk, 'left', -1)
      redis.call('HINCRBY', pk, 'won', 1)
    end
  end
  if ok then
    if not peek then
      redis.call('HINCRBY', KEYS[1], 'wins', 1)
      redis.call('HINCRBY', KEYS[1], 'won:' .. name, 1)
      redis.call('HSET', KEYS[2], 't', now(), 'epoch', ARGV[1], 'prize', name, 'pool', pk)
      redis.call('EXPIRE', KEYS[2], ARGV[2])
    end
    return name
  end
end
return ''
