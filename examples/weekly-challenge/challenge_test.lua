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
