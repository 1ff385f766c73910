-- outbox_mark: lists a member in the index of outboxes to deliver, before a
-- commit that writes to its outbox (so no committed entry can go unlisted).
-- Scores are 2 x ms (+1: a re-check the deliverer set after finding the
-- outbox empty). Marking always changes the score: a deliverer that saw the
-- outbox empty removes the member only while the score is the one it read
-- (outbox_unindex), so an entry committed meanwhile keeps it listed. A retry
-- due later (even, in the future) keeps its time; anything else becomes now.
--   KEYS: index (shard of the member)   ARGV: member, now (ms)   -> 1
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local now = 2 * tonumber(ARGV[2])
s = s and tonumber(s)
if s and s % 2 == 0 and s >= now then s = s + 2 else s = now end
redis.call('ZADD', KEYS[1], string.format('%.0f', s), ARGV[1])
return 1
