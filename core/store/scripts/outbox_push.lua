-- outbox_push: appends an entry to an outbox once per id within ttl (s):
-- the program's own events (a failed reload) that every worker and every
-- punchd sees, written once.
--   KEYS: outbox, seen marker of the id   ARGV: entry, ttl   -> 1 appended, 0 seen before
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1
