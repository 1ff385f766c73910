-- Points last 12 months from the day they are earned. A month before some expire, the member
-- is reminded — woken for it even if they buy nothing. What expires unspent is breakage:
-- GET /v1/stats?per=month shows issued, redeemed, expired, the outstanding liability and the
-- breakage rate (expired / (redeemed + expired)) per month.
currency "points" { expires_in = "12mo" }

local function remind_before_expiry(ev, m)
  local amount, at = m:expiring("points")
  if not amount then return end
  local remind = at - 30 * 86400
  if remind > ev.at then
    m:wake_at(remind)
  elseif m:once("reminder-" .. at) then
    return message(amount .. " points expire on " .. period_id(at, "day") .. ": use them!")
  end
end

mechanic "points" {
  on = "order",
  run = function(ev, m)
    m:earn("points", (ev.data.total or 0) // 10)
    return remind_before_expiry(ev, m)
  end,
}

mechanic "expiry-reminder" {
  on = "tick",
  run = function(ev, m) return remind_before_expiry(ev, m) end,
}
