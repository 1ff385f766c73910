-- B2B volume discount, per calendar year: the first 100 units at full price, units 101-200
-- at 5% off, 201-300 at 10% off, every unit above 300 at 20% off. An order that crosses a
-- band gets each of its units priced in the band it falls in.
local bands = {
  { from = 0,   to = 100,       off = 0 },
  { from = 100, to = 200,       off = 5 },
  { from = 200, to = 300,       off = 10 },
  { from = 300, to = math.huge, off = 20 },
}

mechanic "volume" {
  on = "order",
  run = function(ev, m)
    local units, price = ev.data.units or 0, ev.data.unit_price or 0
    local this_year = "units-" .. m:period("year")          -- "units-2026": starts at 0 each year
    local before = m:counter(this_year)
    m:incr(this_year, units)
    local off = 0
    for _, band in ipairs(bands) do
      local n = math.min(before + units, band.to) - math.max(before, band.from)
      if n > 0 then off = off + n * price * band.off // 100 end
    end
    if off == 0 then return reason("still within the first 100 units of the year") end
    return discount(off * 100 / (units * price), { amount = off })
  end,
}
