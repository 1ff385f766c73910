/*
 * The server-side scripts of the event transaction. Each runs atomically in
 * Redis and touches only keys of one member (one Cluster slot).
 */
#include "store-scripts.h"

/*
 * Load: the stored response when the event was already applied, else the
 * member's state, in one round trip; for a reversal, also the stored response
 * of the event it reverses (what that event earned).
 *   KEYS: state, event [, reversed event]
 *   ->  {1, response} | {0, {field, value, ...} [, response or false]}
 */
store_script store_script_load = {
    "load",
    "local r = redis.call('GET', KEYS[2])\n"
    "if r then return {1, r} end\n"
    "if KEYS[3] then\n"
    "  return {0, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3])}\n"
    "end\n"
    "return {0, redis.call('HGETALL', KEYS[1])}\n",
    ""};

/*
 * Commit: all of one event's member changes, its ledger lines and its stored
 * response, or nothing.
 *   KEYS: state, ledger, event
 *   ARGV: expected version, response, dedupe TTL (s), then ops:
 *         S field value | D field | L n k1 v1 ... kn vn
 *   -> {0, new version} | {1, stored response} (already applied)
 *    | {2, {field, value, ...}} (version moved: the current state, to decide again)
 * Ops are checked before the first write: Redis does not roll a script back.
 */
store_script store_script_commit = {
    "commit",
    "local stored = redis.call('GET', KEYS[3])\n"
    "if stored then return {1, stored} end\n"
    "local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')\n"
    "if v ~= tonumber(ARGV[1]) then return {2, redis.call('HGETALL', KEYS[1])} end\n"
    "local n, i = #ARGV, 4\n"
    "while i <= n do\n"
    "  local op = ARGV[i]\n"
    "  if op == 'S' then i = i + 3\n"
    "  elseif op == 'D' then i = i + 2\n"
    "  elseif op == 'L' then i = i + 2 + 2 * tonumber(ARGV[i + 1])\n"
    "  else return redis.error_reply('commit: bad op ' .. tostring(op)) end\n"
    "end\n"
    "if i ~= n + 1 then return redis.error_reply('commit: truncated ops') end\n"
    "local set = {'v', tostring(v + 1)}\n"
    "i = 4\n"
    "while i <= n do\n"
    "  local op = ARGV[i]\n"
    "  if op == 'S' then\n"
    "    set[#set + 1] = ARGV[i + 1]; set[#set + 1] = ARGV[i + 2]; i = i + 3\n"
    "  elseif op == 'D' then\n"
    "    redis.call('HDEL', KEYS[1], ARGV[i + 1]); i = i + 2\n"
    "  else\n"
    "    local k = tonumber(ARGV[i + 1])\n"
    "    redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 2, i + 1 + 2 * k))\n"
    "    i = i + 2 + 2 * k\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], unpack(set))\n"
    "redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])\n"
    "return {0, v + 1}\n",
    ""};
