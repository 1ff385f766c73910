-- A cumulative discount that decays: 5% once a member has spent 10 000, 10% from 20 000.
-- A member who has not ordered for 90 days gets one step less on the order that brings them
-- back (10% becomes 5%, 5% becomes nothing); the next order has the full discount again.
local steps = { { spent = 20000, percent = 10 }, { spent = 10000, percent = 5 } }

mechanic "cumulative-with-decay" {
  on = "order",
  run = function(ev, m)
    local before = m:counter("spent")
    m:incr("spent", ev.data.total or 0)
    local step
    for i, s in ipairs(steps) do
      if before >= s.spent then step = i break end
    end
    if not step then return reason("spent " .. before .. ", less than 10 000") end
    local last = m:last("order")
    if last and ev.at - last >= 90 * 86400 then
      step = step + 1
      if not steps[step] then return reason("back after 90 days: one step less, none left") end
    end
    return discount(steps[step].percent)
  end,
}
