-- Every fourth order of a member wins a dessert: the 4th, 8th, 12th...
test("the 4th and 8th orders win a dessert, no other", function(t)
  for i = 1, 12 do
    local r = t:send{type = "order", member = "ann"}
    if i % 4 == 0 then
      t:has(r, {mechanic = "dessert", kind = "prize", prize = "dessert"}, "order " .. i)
    else
      t:hasnt(r, {kind = "prize"}, "order " .. i)
    end
  end
  t:eq(t:member("ann").prizes.dessert, 3)
end)

test("orders are counted per member", function(t)
  for _ = 1, 3 do t:send{type = "order", member = "ann"} end
  local r = t:send{type = "order", member = "bo"}
  t:hasnt(r, {kind = "prize"}, "Bo's first order")
  t:has(t:send{type = "order", member = "ann"}, {kind = "prize", prize = "dessert"}, "Ann's 4th")
end)

test("a retried order is not counted twice", function(t)
  for i = 1, 3 do t:send{id = "o" .. i, type = "order"} end
  local again = t:send{id = "o3", type = "order"}
  t:eq(again.duplicate, true)
  t:has(t:send{id = "o4", type = "order"}, {kind = "prize"}, "the 4th distinct order")
end)

test("other event types do not count as orders", function(t)
  for _ = 1, 4 do t:send{type = "workout"} end
  t:hasnt(t:send{type = "order"}, {kind = "prize"})
end)
