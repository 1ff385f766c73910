-- Fitness app: a gold star for every completed workout.
mechanic "workout" {
  on = "workout",
  run = function(ev, m)
    m:earn("gold_stars", 1)
  end,
}
