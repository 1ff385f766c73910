local function workout(t) return t:send{type = "workout"} end

test("the third workout of the week earns 50 gold stars, the fourth nothing more", function(t)
  t:clock("2026-01-05T18:00:00Z")                  -- a Monday
  workout(t)
  t:advance("2d")
  t:hasnt(workout(t), {kind = "stars"})
  t:advance("2d")
  t:has(workout(t), {kind = "stars", currency = "gold_stars", delta = 50})
  t:advance("1d")
  t:hasnt(workout(t), {kind = "stars"})
end)

test("weeks run Monday to Sunday in Paris", function(t)
  t:clock("2026-01-09T18:00:00Z")                  -- Friday
  workout(t)
  t:advance("1d")
  workout(t)                                       -- Saturday
  t:clock("2026-01-11T23:30:00Z")                  -- already Monday 00:30 in Paris
  t:hasnt(workout(t), {kind = "stars"})
  t:eq(t:member().counters["workouts-2026-w02"], 2)
  t:eq(t:member().counters["workouts-2026-w03"], 1)
end)

test("seven days in a row earn the streak badge", function(t)
  t:clock("2026-01-05T18:00:00Z")
  for day = 1, 6 do
    t:hasnt(workout(t), {kind = "badge"})
    t:advance("1d")
  end
  t:has(workout(t), {kind = "badge", badge = "7-day-streak"})
end)

local function workouts(t, member, n)
  for _ = 1, n do t:send{type = "workout", member = member} end
end

test("when the week ends, its three keenest get 100, 50 and 25 gold stars, once", function(t)
  t:clock("2026-01-05T18:00:00Z")                  -- Monday of 2026-W02
  workouts(t, "ann", 4); workouts(t, "bob", 2); workouts(t, "cat", 1); workouts(t, "dan", 3)
  t:eq(t:close(), 0, "nothing ended yet")
  t:advance("1w")                                  -- the next Monday: W02 ended
  t:eq(t:close(), 3)
  t:eq(t:balance("ann", "gold_stars"), 50 + 100)   -- the challenge, then first place
  t:eq(t:balance("dan", "gold_stars"), 50 + 50)
  t:eq(t:balance("bob", "gold_stars"), 25)
  t:eq(t:balance("cat", "gold_stars"), 0)
  t:eq(t:close(), 0, "a week is closed once")
end)

test("weeks missed while nothing ran are closed in order when it runs again", function(t)
  t:clock("2026-01-05T18:00:00Z")
  workouts(t, "ann", 1)
  t:advance("1w")
  t:eq(t:close(), 1)                               -- W02: ann alone
  workouts(t, "bob", 1)                            -- W03
  t:advance("1w")
  workouts(t, "ann", 2)                            -- W04
  t:advance("1w")                                  -- W03 and W04 ended, nothing closed them
  t:eq(t:close(), 2)
  t:eq(t:balance("bob", "gold_stars"), 100)
  t:eq(t:balance("ann", "gold_stars"), 200)
end)
