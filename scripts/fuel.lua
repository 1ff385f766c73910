-- Fuel station: 1 star per 10 spent on fuel, 3 stars per 10 on shop goods,
-- rounded down per item.
local stars_per_ten = { fuel = 1, shop = 3 }

mechanic "fuel" {
  on = "order",
  run = function(ev, m)
    for _, item in ipairs(ev.data.items or {}) do
      local rate = stars_per_ten[item.category] or 0
      m:earn("stars", item.amount // 10 * rate)
    end
  end,
}
