-- Promo codes, as the marketing team lists them:
--   SPRING30  30% off orders of 10 000 or more, 1 March to 15 May, once per member
--   LAUNCH50  50% off, the first 2 orders that use it, whoever places them
--   FRIENDS10 10% off any order, as often as members like: share it with friends
--   BIWEEKLY  500 off, once per member every two weeks, valid two and a half months
--   WELCOME   a personal code for each new member: 5% off their next order, valid 30 days
-- The backend sends the code the member typed as data.code and the order's total as
-- data.total; case does not matter. A refunded order gives its code back.
offer "spring30" {
  code = "SPRING30",
  discount = {percent = 30},
  min_order = 10000,
  from = "2026-03-01", to = "2026-05-16",
  once_per_member = true,
}

offer "launch50" { code = "LAUNCH50", discount = {percent = 50}, cap = 2 }

offer "friends10" { code = "FRIENDS10", discount = {percent = 10} }

offer "biweekly" {
  code = "BIWEEKLY",
  discount = {amount = 500},
  from = "2026-01-01", to = "2026-03-16",
  once_per_member = true, renew_every = "2w",
}

offer "welcome" { personal = true, prefix = "WELCOME", discount = {percent = 5}, valid_for = "30d" }

mechanic "promo-code" {
  on = "order",
  run = function(ev, m)
    if ev.data.code then m:redeem_code(ev.data.code, ev.data.total) end
  end,
}

mechanic "welcome-code" {
  on = "signup",
  run = function(ev, m)
    local code = m:issue_code("welcome")
    return message("Welcome! Your code " .. code .. " takes 5% off your next order.")
  end,
}
