local function order(t, total) return t:send{type = "order", data = {total = total}} end

test("5% from 10 000 spent, 10% from 20 000", function(t)
  order(t, 10000)
  t:has(order(t, 10000), {kind = "discount", percent = 5})
  t:has(order(t, 100), {kind = "discount", percent = 10})
end)

test("back after 90 days: one step less, then the full discount again", function(t)
  order(t, 20000)
  t:advance("90d")
  t:has(order(t, 100), {kind = "discount", percent = 5})
  t:has(order(t, 100), {kind = "discount", percent = 10})
end)

test("89 days is not long enough to lose a step", function(t)
  order(t, 20000)
  t:advance("89d")
  t:has(order(t, 100), {kind = "discount", percent = 10})
end)

test("a 5% member coming back after 90 days gets nothing that time", function(t)
  order(t, 15000)
  t:advance("3mo")
  t:hasnt(order(t, 100), {kind = "discount"})
  t:has(order(t, 100), {kind = "discount", percent = 5})
end)
