-- draw_read: the draw's epoch, or the prize this claim already won (a retry,
-- or a decision taken again, gets the same prize; its claim is touched).
--   KEYS: the draw's meta, the claim
--   -> {epoch, prize, 1} (won before) | {epoch, '', 0}
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local c = redis.call('HMGET', KEYS[2], 'epoch', 'prize')
if c[1] then
  redis.call('HSET', KEYS[2], 't', now())
  return {tonumber(c[1]), c[2], 1}
end
return {tonumber(redis.call('HGET', KEYS[1], 'epoch') or '1'), '', 0}
