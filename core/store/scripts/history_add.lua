-- history_add: records one load of the scripts (a version that went live, or a failed
-- reload) in the program's history, newest first, keeping the last ARGV[3]; the same load
-- seen again (by another worker or punchd, or at a restart) is recorded once.
--   KEYS: the history list, the key of its newest entry (same slot: {mech})
--   ARGV: this load's key ("ok:VERSION" or "err:DIGEST"), the entry (JSON), max entries
--   -> 1 recorded | 0 the newest entry is this load already
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
return 1
