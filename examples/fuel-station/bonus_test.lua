local function fill_up(t, fuel, shop)
  return t:send{type = "order", data = {items = {
    {category = "fuel", amount = fuel}, {category = "shop", amount = shop or 0}}}}
end

test("1 bonus per 10 on fuel, 3 per 10 on shop goods", function(t)
  t:has(fill_up(t, 500, 125), {kind = "stars", currency = "bonus", delta = 86})
end)

test("3 999 bonuses buy 20 litres of fuel, and no other price does", function(t)
  for _ = 1, 50 do fill_up(t, 800) end            -- 50 x 80 = 4 000 bonuses
  t:eq(t:balance("ann", "bonus"), 4000)
  local e = t:fails({type = "redeem", data = {currency = "bonus", amount = 3000, reason = "20-litres"}},
                    "rejected")
  t:ok(e.message:find("3 999"), e.message)
  local r = t:redeem{currency = "bonus", amount = 3999, reason = "20-litres"}
  t:has(r, {kind = "redeem", currency = "bonus", delta = -3999, balance = 1, reason = "20-litres"})
end)

test("bonuses pay at most 20% of an order", function(t)
  fill_up(t, 10000)                                -- 1 000 bonuses
  t:fails({type = "redeem", data = {currency = "bonus", amount = 300, order_total = 1000}}, "rejected")
  t:redeem{currency = "bonus", amount = 200, order_total = 1000}
  t:eq(t:balance("ann", "bonus"), 800)
end)

test("a redemption never takes the balance below zero", function(t)
  fill_up(t, 100)
  t:fails({type = "redeem", data = {currency = "bonus", amount = 11}}, "insufficient_balance")
  t:eq(t:balance("ann", "bonus"), 10)
end)

test("bonuses expire after a year, with a ledger entry of their own", function(t)
  t:clock("2026-01-10T10:00:00Z")
  fill_up(t, 1000)                                 -- 100 bonuses, expiring 2027-01-10
  t:clock("2026-06-01T10:00:00Z")
  fill_up(t, 500)                                  -- 50 more, expiring 2027-06-01
  t:eq(t:member().expiring.bonus.next_expiry, {amount = 100, at = "2027-01-10T10:00:00.000Z"})
  t:clock("2027-01-10T10:00:00Z")
  local r = t:tick()
  t:has(r, {kind = "expire", currency = "bonus", delta = -100, balance = 50})
  t:eq(t:ledger()[1].kind, "expire")
end)
