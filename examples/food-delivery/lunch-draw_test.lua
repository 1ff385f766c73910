-- Every fourth order takes part in the lunch draw; at most one win a week.
local function order(t, member) return t:send{type = "order", member = member} end

test("only every fourth order draws", function(t)
  for i = 1, 8 do
    local r = order(t)
    if i % 4 == 0 then
      t:has(r, {kind = "draw", draw = "lunch"}, "order " .. i)
    else
      t:hasnt(r, {kind = "draw"}, "order " .. i)
    end
  end
end)

test("a win is a dessert or a drink, with a message", function(t)
  -- the draw is a keyed hash of the event: with the development secret, these ids are known
  local wins = 0
  for i = 1, 40 do
    local r = order(t, "m" .. i)
    r = order(t, "m" .. i); r = order(t, "m" .. i); r = order(t, "m" .. i)
    local p = t:outcome(r, {kind = "prize"})
    if p then
      wins = wins + 1
      t:ok(p.prize == "dessert" or p.prize == "drink", "prize " .. p.prize)
      t:has(r, {kind = "message"})
      t:has(r, {kind = "draw", won = true, prize = p.prize})
    else
      t:has(r, {kind = "draw", won = false, reason = "chance"})
    end
  end
  t:ok(wins > 5 and wins < 35, "about half of 40 fourth orders win, got " .. wins)
end)

test("a retried order draws the same", function(t)
  for i = 1, 3 do t:send{id = "o" .. i, type = "order"} end
  local first = t:send{id = "o4", type = "order"}
  local again = t:send{id = "o4", type = "order"}
  t:eq(again.duplicate, true)
  t:eq(again.outcomes, first.outcomes)
end)

test("one win per member per week", function(t)
  t:clock("2026-01-05T09:00:00Z") -- a Monday
  local won_at
  for i = 1, 200 do
    local r = order(t)
    if t:outcome(r, {kind = "prize"}) then won_at = i break end
  end
  t:ok(won_at, "a win within 50 draws")
  for i = 1, 40 do
    local r = order(t)
    t:hasnt(r, {kind = "prize"}, "no second win this week")
    if i % 4 == 0 then t:has(r, {kind = "draw", won = false, reason = "limit"}) end
  end
  t:clock("2026-01-12T09:00:00Z") -- next Monday: may win again
  local again = false
  for _ = 1, 200 do
    if t:outcome(order(t), {kind = "prize"}) then again = true break end
  end
  t:ok(again, "a win again the next week")
end)

test("member shows prizes won", function(t)
  for _ = 1, 200 do
    if t:outcome(order(t), {kind = "prize"}) then break end
  end
  local p = t:member().prizes
  t:eq((p.dessert or 0) + (p.drink or 0), 1)
end)

test("a win takes from the day's pool; the next day it is full again", function(t)
  t:clock("2026-02-10T11:00:00Z")
  local prize
  for _ = 1, 200 do
    local r = order(t)
    local p = t:outcome(r, {kind = "prize"})
    if p then prize = p.prize break end
  end
  t:ok(prize, "a win within 50 draws")
  local function left()
    for _, p in ipairs(t:draw("lunch").prizes) do
      if p.prize == prize then return p.left end
    end
  end
  t:eq(left(), 99)
  t:advance("1d")
  t:eq(left(), 100)
end)
