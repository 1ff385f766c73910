-- outbox_head: leases a member's outbox to one deliverer and returns its
-- first entry, with how often it was tried and which endpoints have it.
--   KEYS: outbox (list of "<id> <body>"), at (hash: owner, until, id, tries, ok)
--   ARGV: owner, now (ms), lease (ms)
--   -> {0} leased by another | {2} empty | {1, entry, tries, ok}
local at = redis.call('HMGET', KEYS[2], 'owner', 'until', 'id', 'tries', 'ok')
local now = tonumber(ARGV[2])
if at[1] and at[1] ~= ARGV[1] and tonumber(at[2] or '0') > now then return {0} end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  redis.call('DEL', KEYS[2])
  return {2}
end
local id = string.match(head, '^(%S+) ')
if not id then return redis.error_reply('outbox_head: bad entry') end
redis.call('HSET', KEYS[2], 'owner', ARGV[1], 'until', tostring(now + tonumber(ARGV[3])))
if at[3] ~= id then
  redis.call('HSET', KEYS[2], 'id', id, 'tries', '0', 'ok', '')
  return {1, head, 0, ''}
end
return {1, head, tonumber(at[4] or '0'), at[5] or ''}
