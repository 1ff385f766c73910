-- budget_take: all of amount within max per period, or nothing, under a claim.
--   KEYS: the budget's period, the claim, the budget's log
--   ARGV: amount, max, period TTL (s, 0 = none), claim TTL (s), peek ("1": a dry run), period id
--   -> 1 granted (or granted before to this claim, which is touched) | 0 refused
-- The log (used:PERIOD, max:PERIOD) outlives each period's key: GET /v1/budgets/{name} reads
-- it. Past 200 periods the oldest are dropped down to 100 (ids of one `per` sort by time).
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 't', now())
  return 1
end
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local amount, max = tonumber(ARGV[1]), tonumber(ARGV[2])
if used + amount > max then return 0 end
if ARGV[5] == '1' then return 1 end
redis.call('HINCRBY', KEYS[1], 'used', amount)
redis.call('HSET', KEYS[1], 'max', max)
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('HINCRBY', KEYS[3], 'used:' .. ARGV[6], amount)
redis.call('HSET', KEYS[3], 'max:' .. ARGV[6], max)
if redis.call('HLEN', KEYS[3]) > 400 then
  local periods = {}
  for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do
    if string.sub(f, 1, 5) == 'used:' then periods[#periods + 1] = string.sub(f, 6) end
  end
  table.sort(periods)
  for i = 1, #periods - 100 do
    redis.call('HDEL', KEYS[3], 'used:' .. periods[i], 'max:' .. periods[i])
  end
end
redis.call('HSET', KEYS[2], 't', now(), 'amount', amount, 'key', KEYS[1], 'period', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
