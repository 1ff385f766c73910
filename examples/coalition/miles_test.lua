local function buy(t, partner, amount)
  return t:send{type = "purchase", partner = partner, data = {amount = amount}}
end
local function pay_phone(t, miles)
  return t:send_raw{type = "redeem", partner = "phone", data = {currency = "miles", amount = miles}}
end

test("miles earned at one partner pay at another", function(t)
  t:has(buy(t, "car-rental", 500), {kind = "stars", currency = "miles", delta = 50})
  t:has(buy(t, "hotel", 500), {kind = "stars", currency = "miles", delta = 100})
  t:hasnt(buy(t, "bakery", 500), {kind = "stars"})
  local status = pay_phone(t, 100)
  t:eq(status, 200)
  t:eq(t:balance("ann", "miles"), 50)
  local ledger = t:ledger()
  t:eq(ledger[1].partner, "phone")
  t:eq(ledger[2].partner, "hotel")
  t:eq(ledger[3].partner, "car-rental")
end)

test("the phone bill takes miles in hundreds", function(t)
  buy(t, "hotel", 1000)
  local status, body = pay_phone(t, 150)
  t:eq(status, 422)
  t:eq(body.error.code, "rejected")
end)
