-- outbox_ack: what the deliverer made of a member's first entry. 'done'
-- (delivered, or dead-lettered) takes it off the list; 'fail' counts a try
-- and keeps the endpoints that have it. Only while the entry is still the
-- first one, and the lease is the caller's.
--   KEYS: outbox, at   ARGV: owner, id, 'done' | 'fail', ok, release ('1': end the lease)
--   -> {entries left, tries} | {-1, 0} (the entry is no longer first, or the lease moved)
local head = redis.call('LINDEX', KEYS[1], 0)
local id = ARGV[2]
if not head or string.sub(head, 1, #id + 1) ~= id .. ' ' or
   redis.call('HGET', KEYS[2], 'owner') ~= ARGV[1] then
  return {-1, 0}
end
local tries = 0
if ARGV[3] == 'done' then
  redis.call('LPOP', KEYS[1])
  redis.call('HSET', KEYS[2], 'id', '', 'tries', '0', 'ok', '')
else
  tries = redis.call('HINCRBY', KEYS[2], 'tries', 1)
  redis.call('HSET', KEYS[2], 'ok', ARGV[4])
end
if ARGV[5] == '1' then redis.call('HSET', KEYS[2], 'until', '0') end
return {redis.call('LLEN', KEYS[1]), tries}
