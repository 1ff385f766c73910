-- Mechanics the OpenAPI test needs beside scripts/: a draw that always wins (so its pool
-- exists), a leaderboard of orders and an experiment.
mechanic "lucky-mug" {
  on = "order",
  run = function(ev, m)
    local won = m:draw("lucky", {chance = 1, prizes = {"mug"}, pool = 100})
    if won then return message("a mug!") end
  end,
}

-- A budget: GET /v1/budgets/order-bonus has a period.
mechanic "order-bonus" {
  on = "order",
  run = function(ev, m)
    if m:budget("order-bonus", 5, {max = 1000, per = "day"}) then m:incr("bonus", 5) end
  end,
}

mechanic "order-board" {
  on = "order",
  run = function(ev, m)
    m:score("orders", 1, {per = "month"})
  end,
}

-- An experiment: every answer carries the member's group.
experiment "spring" { control = 10, spend = "total" }

mechanic "spring-bonus" {
  on = "order",
  experiment = "spring",
  run = function(ev, m) m:earn("stars", 1) end,
}

-- An offer: its code used in an order, then GET /v1/offers.
offer "fixture10" { code = "FIXTURE-10", discount = {percent = 10}, cap = 100,
                    from = "2026-01-01", once_per_member = true, renew_every = "2w" }

mechanic "fixture-code" {
  on = "order",
  run = function(ev, m)
    if ev.data.code then m:redeem_code(ev.data.code, ev.data.total) end
  end,
}

-- A script error: the event fails with 422 mechanic_error.
mechanic "boom" {
  on = "boom",
  run = function(ev, m)
    error("boom")
  end,
}

-- A personal offer: codes declared through POST /v1/offers/{name}/codes.
offer "fixture-vip" { personal = true, discount = {percent = 15} }
