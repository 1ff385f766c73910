-- Coffee shop: a stamp per drink; 10 stamps make a free drink. Stamps expire
-- after 6 months. Two stamps to welcome a new member, five on their birthday.
currency "stamps" { expires_in = "6mo" }

mechanic "stamp" {
  on = "order",
  run = function(ev, m)
    local drinks = 0
    for _, item in ipairs(ev.data.items or {}) do
      if item.category == "drink" then drinks = drinks + (item.qty or 1) end
    end
    m:earn("stamps", drinks)
    if m:balance("stamps") >= 10 then
      m:spend("stamps", 10)
      return prize("free-drink")
    end
  end,
}

mechanic "welcome" {
  on = "profile",
  run = function(ev, m)
    if m:once("welcome") then
      m:earn("stamps", 2)
      return message("Welcome! Two stamps to start.")
    end
  end,
}

-- Once a year, on the birthday in the member's own time zone; a member who
-- sends nothing that day still gets it (they are woken at local midnight).
mechanic "birthday" {
  on = { "order", "profile", "tick" },
  run = function(ev, m)
    local next = m:next_birthday()
    if next then m:wake_at(next) end
    if m:is_birthday() and m:once_per_year("birthday") then
      m:earn("stamps", 5)
      return message("Happy birthday! Five stamps from us.")
    end
  end,
}
