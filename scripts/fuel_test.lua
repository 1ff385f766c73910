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

test("a refunded order gives back its stars, spent or not", function(t)
  t:send{id = "o1", type = "order", data = {items = {{category = "fuel", amount = 500}}}}  -- 50
  t:send{id = "o2", type = "order", data = {items = {{category = "shop", amount = 100}}}}  -- 30
  t:redeem{currency = "stars", amount = 60}                                                -- 20 left
  t:has(t:reverse("o1"), {kind = "reverse", currency = "stars", delta = -50, balance = -30})
  t:eq(t:reverse("o1").duplicate, true, "reversing twice")
  t:fails({type = "reverse", id = "again", data = {event = "o1"}}, "nothing_to_reverse")
  t:send{id = "o3", type = "order", data = {items = {{category = "fuel", amount = 1000}}}} -- 100
  t:eq(t:balance("ann", "stars"), 70, "the debt is repaid first")
end)

test("a partial refund takes back only its amount, once per refund id", function(t)
  t:send{id = "o1", type = "order", data = {items = {{category = "shop", amount = 1000}}}} -- 300
  t:reverse("o1", {id = "refund-1", currency = "stars", amount = 120})
  t:reverse("o1", {id = "refund-1", currency = "stars", amount = 120})
  t:eq(t:balance("ann", "stars"), 180)
  t:has(t:reverse("o1", {id = "refund-2"}), {kind = "reverse", delta = -180, balance = 0})
end)

test("refunding some items takes back what those items earned", function(t)
  t:send{id = "o1", type = "order", data = {items = {
    {category = "fuel", amount = 500}, {category = "shop", amount = 125}}}}            -- 50 + 36
  local r = t:reverse("o1", {id = "refund-shop", items = {{category = "shop", amount = 125}}})
  t:has(r, {kind = "reverse", currency = "stars", delta = -36, balance = 50})
  t:reverse("o1", {id = "refund-fuel", items = {{category = "fuel", amount = 500}}})
  t:eq(t:balance("ann", "stars"), 0)
  t:fails({type = "reverse", id = "refund-again", data = {event = "o1",
    items = {{category = "fuel", amount = 500}}}}, "nothing_to_reverse")
end)
