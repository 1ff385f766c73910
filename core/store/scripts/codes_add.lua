-- codes_add: shared codes of an offer added through the API (POST /v1/offers/{name}/codes).
-- A code belongs to the offer that added it first; one another offer holds is refused, and
-- the hash holds at most a cap of codes.
--   KEYS: the shared codes hash (code -> offer)
--   ARGV: offer, cap, code...
--   -> JSON {"added": n, "held": n, "taken": [codes another offer holds], "full": [codes past the cap]}
local added, held, taken, full = 0, 0, {}, {}
local n = redis.call('HLEN', KEYS[1])
for i = 3, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur == ARGV[1] then
    held = held + 1
  elseif cur then
    taken[#taken + 1] = ARGV[i]
  elseif n >= tonumber(ARGV[2]) then
    full[#full + 1] = ARGV[i]
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    n = n + 1
    added = added + 1
  end
end
return cjson.encode({added = added, held = held, taken = taken, full = full})
