-- Fitness app: a gold star for every completed workout.
test("each workout earns one gold star", function(t)
  for i = 1, 5 do
    t:has(t:send{type = "workout"}, {kind = "stars", currency = "gold_stars", delta = 1, balance = i})
  end
  t:eq(t:balance("ann", "gold_stars"), 5)
end)

test("orders earn no gold stars", function(t)
  t:send{type = "order"}
  t:eq(t:balance("ann", "gold_stars"), 0)
end)
