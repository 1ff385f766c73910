-- Mechanics the console test needs beside scripts/: a draw whose every order wins a mug from
-- a pool of 50 (so the pool left is 50 minus the orders), a leaderboard of orders and an
-- experiment with its spend field.
mechanic "lucky-mug" {
  on = "order",
  run = function(ev, m)
    local won = m:draw("lucky", {chance = 1, prizes = {"mug"}, pool = 50})
    if won then return message("a mug!") end
  end,
}

mechanic "order-board" {
  on = "order",
  run = function(ev, m)
    m:score("orders", 1, {per = "month"})
  end,
}

experiment "spring" { control = 30, spend = "total" }

mechanic "spring-bonus" {
  on = "order",
  experiment = "spring",
  run = function(ev, m) m:earn("stars", 1) end,
}
