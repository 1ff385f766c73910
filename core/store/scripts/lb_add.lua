-- lb_add: adds to a member's score on a leaderboard's period, and keeps the
-- board's period kind and time zone for its readers.
--   KEYS: the board's period (zset), the board's meta
--   ARGV: score, member, period TTL (s, 0 = none), per, tz
--   -> 1
redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('HSET', KEYS[2], 'per', ARGV[4], 'tz', ARGV[5])
return 1
