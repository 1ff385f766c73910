-- commit: all of one event's member changes, its ledger lines and its stored
-- response, or nothing.
--   KEYS: state, ledger, event
--   ARGV: expected version, response, dedupe TTL (s), then ops:
--         S field value | D field | L n k1 v1 ... kn vn
--   -> {0, new version} | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
-- Ops are checked before the first write: Redis does not roll a script back.
local stored = redis.call('GET', KEYS[3])
if stored then return {1, stored} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {2, redis.call('HGETALL', KEYS[1])} end
local n, i = #ARGV, 4
while i <= n do
  local op = ARGV[i]
  if op == 'S' then i = i + 3
  elseif op == 'D' then i = i + 2
  elseif op == 'L' then i = i + 2 + 2 * tonumber(ARGV[i + 1])
  else return redis.error_reply('commit: bad op ' .. tostring(op)) end
end
if i ~= n + 1 then return redis.error_reply('commit: truncated ops') end
local set = {'v', tostring(v + 1)}
i = 4
while i <= n do
  local op = ARGV[i]
  if op == 'S' then
    set[#set + 1] = ARGV[i + 1]; set[#set + 1] = ARGV[i + 2]; i = i + 3
  elseif op == 'D' then
    redis.call('HDEL', KEYS[1], ARGV[i + 1]); i = i + 2
  else
    local k = tonumber(ARGV[i + 1])
    redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 2, i + 1 + 2 * k))
    i = i + 2 + 2 * k
  end
end
redis.call('HSET', KEYS[1], unpack(set))
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return {0, v + 1}
