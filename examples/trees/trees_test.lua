-- A tree per item: the member's forest, the shop's forest, milestones.
local function buy(t, member, qty)
  return t:send{type = "order", member = member, data = {items = {{sku = "tee", qty = qty}}}}
end

test("a tree per item, and forest badges at 1, 10 and 100 trees", function(t)
  t:has(buy(t, "ann", 1), {kind = "badge", badge = "forest", level = 1})
  t:hasnt(buy(t, "ann", 8), {kind = "badge", badge = "forest"})
  t:has(buy(t, "ann", 1), {kind = "badge", badge = "forest", level = 2})
  local m = t:member("ann")
  t:eq(m.counters.trees, 10)
  t:eq(m.badges.forest.next, 100)
end)

test("orders without items plant nothing", function(t)
  t:hasnt(t:send{type = "order", member = "ann"}, {kind = "badge"})
  t:eq(t:member("ann").counters.trees, nil)
end)

test("the member who plants the 1000th tree of all members is thanked", function(t)
  for i = 1, 9 do buy(t, "m" .. i, 100) end            -- 900 trees by nine members
  t:hasnt(buy(t, "bo", 99), {kind = "message"})         -- 999
  local r = buy(t, "cy", 5)                             -- 1000..1004
  t:has(r, {kind = "message", text = "You planted tree number 1000!", trees = 1004})
  t:has(r, {kind = "badge", badge = "milestone-planter"})
  t:hasnt(buy(t, "cy", 5), {kind = "message"})
end)

test("a retried order plants its trees once", function(t)
  t:send{type = "order", id = "o1", data = {items = {{qty = 3}}}}
  t:eq(t:send{type = "order", id = "o1", data = {items = {{qty = 3}}}}.duplicate, true)
  t:hasnt(buy(t, "bo", 996), {kind = "message"})        -- 999 in all, not 1002
  t:has(buy(t, "bo", 1), {kind = "message", trees = 1000})
end)

test("the shop's 100th order, whoever places it, plants a grove", function(t)
  for i = 1, 99 do t:hasnt(buy(t, "m" .. (i % 7), 1), {kind = "badge", badge = "grove"}) end
  t:has(buy(t, "dee", 1), {kind = "badge", badge = "grove"})
end)

test("on Earth Day, Paris time, each item plants a second tree", function(t)
  t:clock("2026-04-21T21:59:00Z")                      -- 23:59 on the 21st in Paris
  t:hasnt(buy(t, "ann", 2), {kind = "message"})
  t:clock("2026-04-21T22:00:00Z")                      -- midnight: Earth Day begins
  t:has(buy(t, "ann", 2), {kind = "message", text = "Happy Earth Day: we plant 2 more trees for you."})
  t:clock("2026-04-22T22:00:00Z")                      -- over
  t:hasnt(buy(t, "ann", 2), {kind = "message"})
  t:eq(t:member("ann").counters.earth_day_trees, 2)
end)
