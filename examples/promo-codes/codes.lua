-- Promo codes, as the marketing team lists them:
--   SPRING30  30% off orders of 10 000 or more, 1 March to 15 May, once per member
--   LAUNCH50  50% off, the first 2 orders that use it, whoever places them
--   FRIENDS10 10% off, any order, as often as members like: share it with friends
-- The backend sends the code the member typed as data.code; case does not matter.
local codes = {
  spring30  = { percent = 30, min_order = 10000, from = utc(2026, 3, 1), to = utc(2026, 5, 16),
                once_per_member = true },
  launch50  = { percent = 50, uses = 2 },
  friends10 = { percent = 10 },
}

mechanic "promo-code" {
  on = "order",
  run = function(ev, m)
    if not ev.data.code then return end
    local name = string.lower(ev.data.code)
    local code = codes[name]
    if not code then return reason("unknown code " .. ev.data.code) end
    if code.from and (ev.at < code.from or ev.at >= code.to) then
      return reason(ev.data.code .. " is not valid today")
    end
    if (ev.data.total or 0) < (code.min_order or 0) then
      return reason(ev.data.code .. " needs an order of " .. code.min_order .. " or more")
    end
    if code.once_per_member and m:counter("used-" .. name) > 0 then
      return reason("this member already used " .. ev.data.code)
    end
    if code.uses and not m:budget("code-" .. name, 1, { max = code.uses, per = "never" }) then
      return reason(ev.data.code .. " has been used up")
    end
    m:incr("used-" .. name)
    return discount(code.percent, { code = name })
  end,
}
