-- load: the stored response when the event was already applied, else the
-- member's state, in one round trip; for a reversal, also the stored
-- response of the event it reverses (what that event earned).
--   KEYS: state, event [, reversed event]
--   ->  {1, response} | {0, {field, value, ...} [, response or false]}
local r = redis.call('GET', KEYS[2])
if r then return {1, r} end
if KEYS[3] then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3])}
end
return {0, redis.call('HGETALL', KEYS[1])}
