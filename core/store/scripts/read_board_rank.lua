-- read_board_rank: one member's place on one period of a leaderboard, in one
-- round trip, so rank and score come from the same moment.
--   KEYS: the board's period (a zset, member -> score)
--   ARGV: member
--   -> {rank (0 = the best) or nil, score or nil}; both nil when the member
--      did not score in that period
return {redis.call('ZREVRANK', KEYS[1], ARGV[1]), redis.call('ZSCORE', KEYS[1], ARGV[1])}
