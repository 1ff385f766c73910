test("points given to a cause add up across members", function(t)
  t:send{type = "order", member = "ann", data = {total = 1000}}
  t:send{type = "order", member = "bo", data = {total = 500}}
  t:redeem{member = "ann", currency = "points", amount = 60, reason = "donation:red-cross"}
  local r = t:redeem{member = "bo", currency = "points", amount = 50, reason = "donation:red-cross"}
  t:has(r, {kind = "message", text = "Thank you! Members have given 110 points to the Red Cross."})
  t:eq(t:balance("ann", "points"), 40)
  t:eq(t:ledger("bo")[1].reason, "donation:red-cross")
end)

test("an unknown cause is refused and takes nothing", function(t)
  t:send{type = "order", data = {total = 1000}}
  t:fails({type = "redeem", data = {currency = "points", amount = 10, reason = "donation:nowhere"}},
          "rejected")
  t:eq(t:balance("ann", "points"), 100)
end)

test("an ordinary redemption is no donation", function(t)
  t:send{type = "order", data = {total = 1000}}
  t:hasnt(t:redeem{currency = "points", amount = 10, reason = "coffee"}, {kind = "message"})
end)
