-- catalog_note: lists a draw, budget or leaderboard the program used, once (the time of its
-- first use kept), up to a cap of names (a program that makes names up stops being listed
-- there, nothing else).
--   KEYS: the catalogue hash
--   ARGV: field ("draw:NAME", "budget:NAME", "board:NAME"), now (ms), cap
--   -> 1 listed now | 0 listed before, or the catalogue is full
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
