-- close_plan: stores what a close sends, once: a plan stored before wins.
--   KEYS: the close's hash
--   ARGV: owner, plan (JSON), now (ms)
--   -> "plan:<the stored plan>" (this one, or the one stored first), or "lost" when
--      another owner took the close over meanwhile
local k = KEYS[1]
if redis.call('HGET', k, 'owner') ~= ARGV[1] then return 'lost' end
redis.call('HSETNX', k, 'plan', ARGV[2])
redis.call('HSET', k, 't', ARGV[3])
return 'plan:' .. redis.call('HGET', k, 'plan')
