-- A paid membership: the rail card. A yearly fee buys 50% off every ticket for a year from
-- the day it is paid (renewing early adds the year to the end). A month before the card ends
-- the member is reminded, even if they travel no more.
mechanic "buy-card" {
  on = "card_paid",
  run = function(ev, m)
    local from = math.max(ev.at, m:counter("card_until"))   -- the card's end, in seconds
    local ends = after(from, "1y")
    m:incr("card_until", ends - m:counter("card_until"))
    m:wake_at(ends - 30 * 86400)
    return message("Your rail card is valid until " .. period_id(ends, "day") .. ".")
  end,
}

mechanic "half-price" {
  on = "ticket",
  run = function(ev, m)
    if ev.at < m:counter("card_until") then return discount(50) end
    return reason("no valid rail card")
  end,
}

mechanic "renewal-reminder" {
  on = "tick",
  run = function(ev, m)
    local ends = m:counter("card_until")
    if ends > ev.at and ends - ev.at <= 30 * 86400 and m:once("reminder-" .. ends) then
      return message("Your rail card ends on " .. period_id(ends, "day") .. ": renew it?")
    end
  end,
}
