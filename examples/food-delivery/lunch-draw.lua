-- Food delivery: every fourth order has a real chance to win a dessert or a
-- drink. 100 desserts and 100 drinks a day; one win per member per week.
mechanic "lunch-draw" {
  on = "order",
  run = function(ev, m)
    if m:count("orders") % 4 ~= 0 then return end
    local won = m:draw("lunch", {
      chance = 0.5,                        -- half of the fourth orders win
      prizes = {"dessert", "drink"},
      pool = 100, refill = "day",          -- 100 of each per day
      limit = 1, limit_per = "week",       -- one win per member per week
      tz = "Europe/Paris",
    })
    if won then
      return message("You won a free " .. won .. " with this order!")
    end
  end,
}
