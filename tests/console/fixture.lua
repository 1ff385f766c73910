-- Mechanics the console test needs beside scripts/: a draw whose every order wins a mug from
-- a pool of 50 (so the pool left is 50 minus the orders), a budget of 75 a day taken 10 an
-- order, a leaderboard of orders and an experiment with its spend field.
mechanic "lucky-mug" {
  on = "order",
  run = function(ev, m)
    local won = m:draw("lucky", {chance = 1, prizes = {"mug"}, pool = 50})
    if won then return message("a mug!") end
  end,
}

mechanic "order-bonus" {
  on = "order",
  run = function(ev, m)
    if m:budget("order-bonus", 10, {max = 75, per = "day"}) then m:earn("stars", 10) end
  end,
}

mechanic "order-board" {
  on = "order",
  run = function(ev, m)
    m:score("orders", 1, {per = "month"})
  end,
}

-- An offer whose code looks like markup: the console shows it as typed.
offer "save5" { code = "<i>save-5</i>", discount = {percent = 5}, cap = 10 }

mechanic "promo-code" {
  on = "order",
  run = function(ev, m)
    if ev.data.code then m:redeem_code(ev.data.code, ev.data.total) end
  end,
}

-- A personal code for each member who works out: the member's view lists it.
offer "welcome" { personal = true, prefix = "WELCOME", discount = {percent = 5}, valid_for = "30d" }

mechanic "welcome-code" {
  on = "workout",
  run = function(ev, m) m:issue_code("welcome") end,
}

experiment "spring" { control = 30, spend = "total" }

mechanic "spring-bonus" {
  on = "order",
  experiment = "spring",
  run = function(ev, m) m:earn("stars", 1) end,
}
