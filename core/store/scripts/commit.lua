-- commit: all of one event's member changes, its ledger lines and its stored
-- response, or nothing.
--   KEYS: state, ledger, event
--   ARGV: expected version, response, dedupe TTL (s), then ops:
--         S field value | D field | L n k1 v1 ... kn vn
--   -> {0, new version} | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
-- The ops come from the store's own builder (ops_member.c), which writes only these
-- shapes: no second pass checks them (an unknown op still fails before any write
-- that follows it, and is a bug in that builder). On the hot path: GET, HGET, then
-- one HSET, one HDEL at most, one XADD per ledger entry, SET.
local stored = redis.call('GET', KEYS[3])
if stored then return {1, stored} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {2, redis.call('HGETALL', KEYS[1])} end
local n, i = #ARGV, 4
local set, del, xadd = {'v', tostring(v + 1)}, nil, nil
while i <= n do
  local op = ARGV[i]
  if op == 'S' then
    set[#set + 1] = ARGV[i + 1]; set[#set + 1] = ARGV[i + 2]; i = i + 3
  elseif op == 'D' then
    if del then del[#del + 1] = ARGV[i + 1] else del = {ARGV[i + 1]} end
    i = i + 2
  elseif op == 'L' then
    local k = tonumber(ARGV[i + 1])
    if xadd then xadd[#xadd + 1] = i else xadd = {i} end
    i = i + 2 + 2 * k
  else
    return redis.error_reply('commit: bad op ' .. tostring(op))
  end
end
if i ~= n + 1 then return redis.error_reply('commit: truncated ops') end
if del then redis.call('HDEL', KEYS[1], unpack(del)) end
redis.call('HSET', KEYS[1], unpack(set))
if xadd then
  for _, at in ipairs(xadd) do
    redis.call('XADD', KEYS[2], '*', unpack(ARGV, at + 2, at + 1 + 2 * tonumber(ARGV[at + 1])))
  end
end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return {0, v + 1}
