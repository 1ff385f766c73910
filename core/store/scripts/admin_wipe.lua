-- admin_wipe: one step of deleting every key of a namespace (punch's reset(),
-- a spec's or a simulation's throwaway namespace): SCAN a batch from the
-- cursor, UNLINK it. Keys are found, not named: on a Redis Cluster the store
-- runs it on each master in turn, which SCANs and unlinks its own keys.
--   ARGV: cursor ("0" to start), the namespace's pattern ("NS:*")
--   -> the next cursor ("0" after the last step)
local r = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', 1000)
for _, k in ipairs(r[2]) do redis.call('UNLINK', k) end
return r[1]
