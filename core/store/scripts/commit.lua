-- commit: a group of events' commits, each all of one event's member changes,
-- its ledger lines and its stored response, or nothing; applied in turn, each
-- on its own (one commit's refusal, duplicate or error leaves the others as
-- they would be alone). A group is the commits one punchd loop turn sent
-- (ops_commit.c); on a Redis Cluster a group holds one commit (its keys are
-- one slot).
--   KEYS: per commit: state, ledger, event, outbox
--   ARGV: per commit: the response, then one MessagePack argument holding
--         expected version, new version, dedupe TTL (s), the counts S D O,
--         then S field value pairs, D fields to delete, O webhook entries for
--         the outbox, and the ledger entries to the end
--   -> one reply per commit, in order: {0, new version}
--    | {1, stored response} (already applied)
--    | {2, {field, value, ...}} (version moved: the current state, to decide again)
--    | an error (bad ops, or a command refused: WRONGTYPE, OOM ...)
-- A ledger entry in the stream's own schema (kind [pending] [partner] [reason]
-- event type mechanic [experiments] currency delta balance at mv) comes as a
-- letter, 'A' + which optional fields it has (pending 1, partner 2, reason 4,
-- experiments 8), then its values in that order: the script writes the names.
-- Any other entry comes as 'g', its number of fields, then its names and
-- values. Packed, a value costs Redis one Lua string instead of an argument
-- (parsed, made an object, then a string in ARGV grown one slot at a time).
-- The arguments come from the store's own builder (ops_commit.c); each
-- commit's are unpacked and their layout checked before its first write. On
-- the hot path four calls per commit: HGET, SET NX GET (the dedupe check and
-- record in one), HSET, one XADD per ledger entry.
local byte, floor, call, unpack = string.byte, math.floor, redis.call, unpack

-- The commit whose keys start at KEYS[k] and arguments at ARGV[a].
local function commit(k, a)
  local state, ledger = KEYS[k], KEYS[k + 1]
  local h = {cmsgpack.unpack(ARGV[a + 1])}
  local d = 7 + 2 * h[4] -- the first field to delete
  local o = d + h[5]     -- the first webhook entry
  local l = o + h[6]     -- the first ledger entry
  local n, i = #h, l
  while i <= n do
    local c, w = byte(h[i]) - 65, 10 -- 'A': the schema without its optional fields
    if c == 38 then -- 'g'
      w = h[i + 1] > 0 and 2 + 2 * h[i + 1]
    elseif c ~= 0 then
      w = c > 0 and c < 16 and 10 + c % 2 + floor(c / 2) % 2 + floor(c / 4) % 2 + floor(c / 8)
    end
    if not w then break end
    i = i + w
  end
  if i ~= n + 1 then return redis.error_reply('commit: bad ops') end
  if (call('HGET', state, 'v') or '0') ~= h[1] then
    local stored = call('GET', KEYS[k + 2])
    if stored then return {1, stored} end
    return {2, call('HGETALL', state)}
  end
  local stored = call('SET', KEYS[k + 2], ARGV[a], 'NX', 'GET', 'EX', h[3])
  if stored then return {1, stored} end
  if o > d then call('HDEL', state, unpack(h, d, o - 1)) end
  call('HSET', state, 'v', h[2], unpack(h, 7, d - 1))
  i = l
  while i <= n do
    local c = byte(h[i]) - 65
    if c == 0 then
      call('XADD', ledger, '*', 'kind', h[i + 1], 'event', h[i + 2], 'type', h[i + 3],
        'mechanic', h[i + 4], 'currency', h[i + 5], 'delta', h[i + 6], 'balance', h[i + 7],
        'at', h[i + 8], 'mv', h[i + 9])
      i = i + 10
    elseif c == 38 then
      local f = h[i + 1]
      call('XADD', ledger, '*', unpack(h, i + 2, i + 1 + 2 * f))
      i = i + 2 + 2 * f
    else
      local e, j = {'kind', h[i + 1]}, i + 2
      local function put(name, bit)
        if not bit or floor(c / bit) % 2 == 1 then
          e[#e + 1] = name
          e[#e + 1] = h[j]
          j = j + 1
        end
      end
      put('pending', 1) put('partner', 2) put('reason', 4)
      put('event') put('type') put('mechanic') put('experiments', 8)
      put('currency') put('delta') put('balance') put('at') put('mv')
      call('XADD', ledger, '*', unpack(e))
      i = j
    end
  end
  if l > o then call('RPUSH', KEYS[k + 3], unpack(h, o, l - 1)) end
  return {0, h[2]}
end

-- Each commit in turn; an error of one (a refused command, a malformed
-- argument) is its reply alone. Redis rolls nothing back: what that commit
-- wrote before the error stays, as it did when a commit was a script alone.
local r = {}
for j = 1, #ARGV / 2 do
  local ok, res = pcall(commit, 4 * j - 3, 2 * j - 1)
  if ok then
    r[j] = res
  elseif type(res) == 'table' then
    r[j] = res
  else
    r[j] = redis.error_reply(tostring(res))
  end
end
return r
