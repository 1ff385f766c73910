local function order(t, total) return t:send{type = "order", data = {total = total}} end

test("no discount below 10 000 spent", function(t)
  t:hasnt(order(t, 9999), {kind = "discount"})
end)

test("5% from 10 000, 10% from 20 000", function(t)
  order(t, 10000)
  t:has(order(t, 5000), {kind = "discount", percent = 5})
  t:has(order(t, 5000), {kind = "discount", percent = 5})   -- 15 000 before it
  t:has(order(t, 100), {kind = "discount", percent = 10})   -- 20 000 before it
end)
