-- Fuel station: 1 bonus per 10 spent on fuel, 3 per 10 on shop goods and services,
-- rounded down per item. Bonuses last a year. 3 999 bonuses buy 20 litres of fuel.
currency "bonus" { expires_in = "12mo" }

local per_ten = { fuel = 1, shop = 3, services = 3 }

mechanic "earn-bonus" {
  on = "order",
  run = function(ev, m)
    for _, item in ipairs(ev.data.items or {}) do
      m:earn("bonus", item.amount // 10 * (per_ten[item.category] or 0))
    end
  end,
}

-- The top prize has a fixed price.
mechanic "fuel-prize" {
  on = "redeem",
  run = function(ev, m)
    if ev.data.reason == "20-litres" and ev.data.amount ~= 3999 then
      reject("20 litres of fuel cost 3 999 bonuses")
    end
  end,
}

-- Bonuses may pay at most 20% of an order.
mechanic "redeem-cap" {
  on = "redeem",
  run = function(ev, m)
    local total = ev.data.order_total
    if total and ev.data.amount > total * 20 // 100 then
      reject("bonuses may pay at most 20% of an order")
    end
  end,
}
