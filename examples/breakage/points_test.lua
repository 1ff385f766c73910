test("points last 12 months; a month before, the member is reminded; then they expire", function(t)
  t:clock("2026-01-15T10:00:00Z")
  t:send{type = "order", data = {total = 1000}}
  t:eq(t:member().next_wake_at, "2026-12-16T10:00:00.000Z")     -- 30 days before 15 January
  t:clock("2026-12-16T10:00:00Z")
  t:has(t:tick(), {kind = "message", text = "100 points expire on 2027-01-15: use them!"})
  t:clock("2027-01-15T10:00:00Z")
  t:has(t:tick(), {kind = "expire", currency = "points", delta = -100, balance = 0})
end)

test("spent points are no breakage: only what is left expires", function(t)
  t:clock("2026-01-15T10:00:00Z")
  t:send{type = "order", data = {total = 1000}}
  t:redeem{currency = "points", amount = 70}
  t:clock("2027-01-15T10:00:00Z")
  t:has(t:tick(), {kind = "expire", currency = "points", delta = -30})
end)
