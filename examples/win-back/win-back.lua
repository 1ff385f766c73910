-- Win back lapsed members, and thank them a year on.
--   * An order after 60 days or more without one earns 200 bonus points: "we missed you".
--   * A year after joining, a member gets a free coffee — woken on the day even if silent.
--   * The weekly newsletter counts a member's orders per ISO week of the program's time zone.
timezone "Europe/Paris"

mechanic "we-missed-you" {
  on = "order",
  run = function(ev, m)
    local last = m:last("order")
    if last and ev.at - last >= 60 * 86400 then
      m:earn("points", 200)
      return message("We missed you! 200 points to welcome you back.")
    end
  end,
}

mechanic "anniversary" {
  on = { "order", "tick" },
  run = function(ev, m)
    local day = after(m.joined_at, "1y")
    if ev.at < day then
      m:wake_at(day)
    elseif m:once("anniversary-1") then
      return prize("anniversary-coffee", {since = period_id(m.joined_at, "day")})
    end
  end,
}

mechanic "orders-this-week" {
  on = "order",
  run = function(ev, m)
    -- counter names are lower case: "orders-2026-w48"
    m:count("orders-" .. m:period("week"):lower())
  end,
}
