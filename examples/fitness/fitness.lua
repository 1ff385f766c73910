-- Fitness app: a gold star per completed workout (stars buy products or a
-- discount on the subscription), a badge for a 7-day streak with one freeze a
-- month, workout badges at 10, 50 and 100, and a monthly leaderboard.

mechanic "gold-star" {
  on = "workout",
  run = function(ev, m)
    m:earn("gold_stars", 1)
  end,
}

-- Days are counted in the member's time zone (attribute "tz"), from 4 in the
-- morning, so a late-night workout still counts for the day before.
mechanic "week-streak" {
  on = "workout",
  run = function(ev, m)
    local days = m:streak("daily", {per = "day", day_start = 4, freezes = 1})
    if days >= 7 and m:badge("7-day-streak") then
      return message("Seven days in a row! Here is your streak badge.")
    end
  end,
}

mechanic "workout-badges" {
  on = "workout",
  run = function(ev, m)
    m:badge_level("workouts", m:count("workouts"), {10, 50, 100})
  end,
}

mechanic "monthly-board" {
  on = "workout",
  run = function(ev, m)
    m:score("workouts", 1, {per = "month", tz = "Europe/Paris"})
  end,
}

-- Does a nudge after the third workout bring members back? 20% of members
-- never get it (a stable control group); compare the two groups.
mechanic "third-workout-nudge" {
  on = "workout",
  control = 20,
  run = function(ev, m)
    if m:counter("workouts") == 3 then
      return message("Three workouts done: the habit is forming!")
    end
  end,
}
