-- Charity: a point per 10 spent, and points can go to a cause instead of a reward
-- (POST /v1/members/{m}/redeem with "reason": "donation:red-cross"). Every member sees what
-- all members have given to that cause.
local causes = { ["red-cross"] = "the Red Cross", ["trees"] = "planting trees" }

mechanic "points" {
  on = "order",
  run = function(ev, m) m:earn("points", (ev.data.total or 0) // 10) end,
}

mechanic "donate" {
  on = "redeem",
  run = function(ev, m)
    local cause = (ev.data.reason or ""):match("^donation:(.+)$")
    if not cause then return end
    if not causes[cause] then reject("there is no cause called " .. cause) end
    local all = global_add("donated-" .. cause, ev.data.amount)
    return message(string.format("Thank you! Members have given %d points to %s.", all, causes[cause]))
  end,
}
