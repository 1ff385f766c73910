-- Mechanics the OpenAPI test needs beside scripts/: a draw that always wins (so its pool
-- exists), a leaderboard of orders and an experiment.
mechanic "lucky-mug" {
  on = "order",
  run = function(ev, m)
    local won = m:draw("lucky", {chance = 1, prizes = {"mug"}, pool = 100})
    if won then return message("a mug!") end
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

-- A script error: the event fails with 422 mechanic_error.
mechanic "boom" {
  on = "boom",
  run = function(ev, m)
    error("boom")
  end,
}
