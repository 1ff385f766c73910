-- A coalition: one currency across partners. A mile per 10 spent at the car rental, two at the
-- hotel; miles pay the phone bill, in hundreds. Every ledger entry names its partner, and
-- GET /v1/partners/{p}/summary sums what was issued and redeemed there.
local per_ten = { ["car-rental"] = 1, hotel = 2 }

mechanic "earn-at-partners" {
  on = "purchase",
  run = function(ev, m)
    local rate = per_ten[ev.partner or ""]
    if not rate then return reason("miles are not earned at " .. (ev.partner or "no partner")) end
    m:earn("miles", (ev.data.amount or 0) // 10 * rate)
  end,
}

mechanic "pay-the-phone-bill" {
  on = "redeem",
  run = function(ev, m)
    if ev.partner == "phone" and ev.data.amount % 100 ~= 0 then
      reject("miles pay the phone bill in hundreds")
    end
  end,
}
