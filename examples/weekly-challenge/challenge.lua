-- A fitness app's two habits:
--   * the streak: a workout every day; a badge at 7 days in a row (days from 4 a.m., one
--     missed day a month forgiven by a freeze)
--   * the weekly challenge: 3 workouts in a week (Monday to Sunday, in the member's time zone,
--     else the program's) earn 50 gold stars, once a week
--   * the weekly podium: every Monday, last week's three keenest (most workouts, Paris weeks)
--     get 100, 50 and 25 gold stars
timezone "Europe/Paris"

mechanic "daily-streak" {
  on = "workout",
  run = function(ev, m)
    local days = m:streak("daily", { per = "day", day_start = 4, freezes = 1 })
    if days >= 7 and m:badge("7-day-streak") then
      return message("Seven days in a row! Here is your streak badge.")
    end
  end,
}

mechanic "weekly-challenge" {
  on = "workout",
  run = function(ev, m)
    local done = m:count("workouts-" .. m:period("week"):lower())   -- "workouts-2026-w02"
    if done == 3 then
      m:earn("gold_stars", 50)
      return message("Weekly challenge done: 50 gold stars!")
    end
    if done < 3 then return reason(done .. " of 3 workouts this week") end
  end,
}

mechanic "podium-board" {
  on = "workout",
  run = function(ev, m) m:score("workouts", 1, { per = "week" }) end,
}

-- Runs once when a week ends (exactly once, whatever the number of punchd).
mechanic "weekly-podium" {
  on = "period_end:week",
  run = function(ev)
    for _, row in ipairs(board_top("workouts", 3, { period = ev.data.period })) do
      send(row.member, "podium", { rank = row.rank, week = ev.data.period })
    end
  end,
}

mechanic "podium-stars" {
  on = "podium",
  run = function(ev, m)
    m:earn("gold_stars", ({ 100, 50, 25 })[ev.data.rank])
    return message(("Number %d of week %s!"):format(ev.data.rank, ev.data.week))
  end,
}
