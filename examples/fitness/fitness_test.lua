-- Fitness app: gold stars, a 7-day streak badge with a monthly freeze,
-- levelled workout badges.
local function workout(t, member) return t:send{type = "workout", member = member} end

test("a gold star per workout", function(t)
  for i = 1, 3 do
    t:has(workout(t), {kind = "stars", currency = "gold_stars", delta = 1, balance = i})
  end
end)

test("seven days in a row win the streak badge", function(t)
  t:clock("2026-03-02T18:00:00Z")
  for day = 1, 6 do
    t:hasnt(workout(t), {kind = "badge", badge = "7-day-streak"}, "day " .. day)
    workout(t) -- a second workout the same day does not lengthen the streak
    t:advance("1d")
  end
  local r = workout(t)
  t:has(r, {kind = "streak", streak = "daily", length = 7})
  t:has(r, {kind = "badge", badge = "7-day-streak"})
  t:has(r, {kind = "message"})
  t:eq(t:member().streaks.daily.best, 7)
end)

test("one missed day a month is frozen, the second breaks the streak", function(t)
  t:clock("2026-03-02T18:00:00Z")
  workout(t)
  t:advance("2d") -- missed the 3rd
  t:has(workout(t), {kind = "streak", length = 2, frozen = 1})
  t:advance("2d") -- missed the 5th: no freeze left in March
  t:has(workout(t), {kind = "streak", length = 1, broken = 2})
  t:eq(t:member().streaks.daily.freezes, 0)
end)

test("a late workout counts for the day before, in the member's time zone", function(t)
  t:profile{attributes = {tz = "America/New_York"}}
  t:clock("2026-03-02T23:00:00Z") -- 18:00 in New York, Monday
  workout(t)
  t:clock("2026-03-04T07:30:00Z") -- 02:30 on Wednesday in New York: still Tuesday's workout
  t:has(workout(t), {kind = "streak", length = 2})
end)

test("workout badges at 10, 50 and 100", function(t)
  for i = 1, 50 do
    local r = workout(t)
    if i == 10 then t:has(r, {kind = "badge", badge = "workouts", level = 1}) end
    if i == 50 then t:has(r, {kind = "badge", badge = "workouts", level = 2}) end
    if i ~= 10 and i ~= 50 then t:hasnt(r, {kind = "badge", badge = "workouts"}) end
  end
  local b = t:member().badges.workouts
  t:eq(b.level, 2)
  t:eq(b.progress, 50)
  t:eq(b.next, 100)
end)

test("a stable 20% of members are held out of the nudge, and told so", function(t)
  local held = 0
  for i = 1, 100 do
    local who = "member" .. i
    workout(t, who); workout(t, who)
    local r = workout(t, who)
    if t:outcome(r, {kind = "control", mechanic = "third-workout-nudge"}) then
      held = held + 1
      t:hasnt(r, {kind = "message"})
      t:has(workout(t, who), {kind = "control"}, "still held out on the next workout")
    else
      t:has(r, {kind = "message", text = "Three workouts done: the habit is forming!"})
    end
  end
  t:ok(held >= 10 and held <= 30, "about 20 of 100 held out, got " .. held)
end)

test("the monthly leaderboard counts this month's workouts", function(t)
  t:clock("2026-03-30T10:00:00Z")
  for _ = 1, 3 do workout(t, "ann") end
  for _ = 1, 5 do workout(t, "bo") end
  workout(t, "cy")
  local board = t:leaderboard("workouts", {member = "ann"})
  t:eq(board.period, "2026-03")
  t:eq(board.top[1], {rank = 1, member = "bo", score = 5})
  t:eq(board.member.rank, 2)
  t:clock("2026-04-01T10:00:00Z")                     -- a new month starts empty
  workout(t, "cy")
  board = t:leaderboard("workouts")
  t:eq(board.period, "2026-04")
  t:eq(#board.top, 1)
  t:eq(t:leaderboard("workouts", {period = "2026-03"}).top[3].member, "cy")
end)
