local function drinks(t, n)
  return t:send{type = "order", data = {items = {{category = "drink", qty = n}, {category = "cake"}}}}
end

test("a stamp per drink, a free drink for 10 stamps", function(t)
  t:has(drinks(t, 4), {kind = "stars", currency = "stamps", delta = 4})
  t:hasnt(drinks(t, 5), {kind = "prize"})
  local r = drinks(t, 2)                           -- 11 stamps: one free drink, 1 left
  t:has(r, {kind = "prize", prize = "free-drink"})
  t:eq(t:balance("ann", "stamps"), 1)
end)

test("stamps expire after 6 months, the oldest first", function(t)
  t:clock("2026-01-05T09:00:00Z")
  drinks(t, 3)
  t:clock("2026-04-05T09:00:00Z")
  drinks(t, 4)
  t:clock("2026-07-05T09:00:00Z")
  t:has(t:tick(), {kind = "expire", currency = "stamps", delta = -3, balance = 4})
  t:eq(t:member().expiring.stamps.next_expiry.at, "2026-10-05T09:00:00.000Z")
end)

test("spending takes the soonest-expiring stamps first", function(t)
  t:clock("2026-01-05T09:00:00Z")
  drinks(t, 6)
  t:clock("2026-05-05T09:00:00Z")
  drinks(t, 5)                                     -- 11: free drink takes 6 old + 4 new
  t:clock("2026-07-06T09:00:00Z")
  -- nothing left of January's lot: the next expiry is May's, in November
  t:eq(t:member().next_wake_at, "2026-11-05T09:00:00.000Z")
  t:eq(t:balance("ann", "stamps"), 1)
end)

test("two stamps to welcome a member, once", function(t)
  t:has(t:profile{attributes = {name = "Ann"}}, {kind = "message"})
  t:hasnt(t:profile{attributes = {name = "Ann B."}}, {kind = "message"})
  t:eq(t:balance("ann", "stamps"), 2)
end)

test("five stamps on the birthday in the member's time zone, once a year", function(t)
  t:clock("2026-03-09T20:00:00Z")                  -- already the 10th in Auckland (+13:00)
  local r = t:profile{attributes = {birthday = "1990-03-10", tz = "Pacific/Auckland"}}
  t:has(r, {kind = "message", text = "Happy birthday! Five stamps from us."})
  t:eq(t:balance("ann", "stamps"), 7, "two to welcome, five for the birthday")
  t:advance("1h")
  t:hasnt(drinks(t, 1), {kind = "message"}, "once a year")
end)

test("not yet the birthday where the member lives", function(t)
  t:clock("2026-03-10T06:00:00Z")                  -- still the 9th in Los Angeles
  t:profile{attributes = {birthday = "03-10", tz = "America/Los_Angeles"}}
  t:eq(t:balance("ann", "stamps"), 2)
  t:clock("2026-03-10T08:00:00Z")                  -- midnight there
  t:has(t:tick(), {kind = "message", text = "Happy birthday! Five stamps from us."})
end)

test("a silent member is woken on their birthday", function(t)
  t:clock("2026-03-01T12:00:00Z")
  t:profile{attributes = {birthday = "03-10", tz = "Europe/Paris"}}
  t:clock("2026-03-09T23:00:00Z")                  -- midnight in Paris (UTC+1)
  t:has(t:tick(), {kind = "message", text = "Happy birthday! Five stamps from us."})
  t:clock("2026-03-10T18:00:00Z")
  t:hasnt(drinks(t, 1), {kind = "message"}, "once a year")
  t:clock("2027-03-09T23:00:00Z")
  t:has(t:tick(), {kind = "message"}, "next year")
end)
