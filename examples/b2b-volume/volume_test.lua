local function order(t, units) return t:send{type = "order", data = {units = units, unit_price = 100}} end

test("the first 100 units of the year are full price", function(t)
  t:hasnt(order(t, 100), {kind = "discount"})
end)

test("each unit is priced in its band", function(t)
  order(t, 60)
  t:has(order(t, 90), {kind = "discount", amount = 250})   -- 50 units at 5%
  -- 150 so far: 50 more at 5%, 100 at 10%, 50 at 20% = 250 + 1000 + 1000
  t:has(order(t, 200), {kind = "discount", amount = 2250})
  t:has(order(t, 10), {kind = "discount", percent = 20, amount = 200})
end)

test("a new year starts again at full price", function(t)
  t:clock("2026-12-20")
  order(t, 400)
  t:clock("2027-01-04")
  t:hasnt(order(t, 50), {kind = "discount"})
end)
