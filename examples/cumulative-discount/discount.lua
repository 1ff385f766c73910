-- Cumulative discount: 5% once a member has spent 10 000, 10% from 20 000.
-- The discount applies to the order on top of what was spent before it; the
-- backend takes it off the price.
mechanic "cumulative" {
  on = "order",
  run = function(ev, m)
    local before = m:counter("spent")
    m:incr("spent", ev.data.total or 0)
    if before >= 20000 then
      return discount(10)
    elseif before >= 10000 then
      return discount(5)
    end
  end,
}
