-- Fuel station: 1 star per 10 on fuel, 3 per 10 on shop goods, rounded down per item.
test("500 of fuel and 125 of shop goods earn 50 + 36 = 86 stars", function(t)
  local r = t:send{type = "order", data = {items = {
    {category = "fuel", amount = 500}, {category = "shop", amount = 125}}}}
  t:has(r, {mechanic = "fuel", kind = "stars", currency = "stars", delta = 86, balance = 86})
  t:eq(t:balance("ann", "stars"), 86)
end)

test("rounding is per item, down", function(t)
  local r = t:send{type = "order", data = {items = {
    {category = "fuel", amount = 19}, {category = "fuel", amount = 19}, {category = "shop", amount = 9}}}}
  t:has(r, {kind = "stars", delta = 2}, "1 + 1 + 0 stars")
  t:eq(t:balance("ann", "stars"), 2)
end)

test("unknown categories and orders without items earn nothing", function(t)
  t:hasnt(t:send{type = "order", data = {items = {{category = "car-wash", amount = 1000}}}}, {kind = "stars"})
  t:hasnt(t:send{type = "order"}, {kind = "stars"})
  t:eq(t:balance("ann", "stars"), 0)
end)

test("the balance adds up across orders and equals the ledger", function(t)
  for _ = 1, 3 do
    t:send{type = "order", data = {items = {{category = "shop", amount = 100}}}}
  end
  t:eq(t:balance("ann", "stars"), 90)
  local sum = 0
  for _, e in ipairs(t:ledger("ann")) do sum = sum + e.delta end
  t:eq(sum, 90, "ledger sum")
end)
