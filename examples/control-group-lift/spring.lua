-- Does the spring promotion make members spend more? Hold out 10% of members from all of it,
-- and compare what the two groups spend per member.
--   * double stars on every order (1 star per 10 spent becomes 2)
--   * 50 stars for coming back after a month without an order
-- Members held out still earn the everyday star (the "everyday" rule names no experiment).
experiment "spring" { control = 10, spend = "amount" }

mechanic "everyday" {
  on = "order",
  run = function(ev, m) m:earn("stars", (ev.data.amount or 0) // 10) end,
}

mechanic "spring-double" {
  on = "order",
  experiment = "spring",
  run = function(ev, m) m:earn("stars", (ev.data.amount or 0) // 10) end,
}

mechanic "spring-back" {
  on = "order",
  experiment = "spring",
  run = function(ev, m)
    local last = m:last("order")
    if last and ev.at - last >= 30 * 86400 then
      m:earn("stars", 50)
      return message("Welcome back! 50 stars.")
    end
  end,
}
