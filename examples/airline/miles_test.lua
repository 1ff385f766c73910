local function fly(t, miles, member)
  return t:send{type = "flight", member = member, data = {miles = miles}}
end

test("members start Blue and earn 1 mile per mile", function(t)
  t:has(fly(t, 1000), {kind = "stars", currency = "miles", delta = 1000})
  t:eq(t:member().tier, "blue")
end)

test("Silver from 25 000 miles in 12 months earns 1.5x, Gold from 50 000 earns 2x", function(t)
  t:has(fly(t, 25000), {kind = "tier", tier = "silver"})
  t:has(fly(t, 1000), {kind = "stars", currency = "miles", delta = 1500})
  t:has(fly(t, 24000), {kind = "tier", tier = "gold", from = "silver"})
  t:has(fly(t, 1000), {kind = "stars", currency = "miles", delta = 2000})
end)

test("the tier drops when flights leave the 12-month window, at the start of a month", function(t)
  t:clock("2026-01-15T10:00:00Z")
  fly(t, 30000)                                   -- silver
  t:eq(t:member().tier, "silver")
  t:clock("2026-12-20T10:00:00Z")
  fly(t, 1000)                                    -- January still counts: silver
  t:eq(t:member().tier, "silver")
  t:clock("2027-01-01T00:00:00Z")                 -- the window moves on without a flight
  t:has(t:tick(), {kind = "tier", tier = "blue", from = "silver"})
end)

test("a tier floor set by a person is never undercut", function(t)
  t:clock("2026-01-15T10:00:00Z")
  t:has(t:profile{tier_floor = "gold"}, {kind = "tier", tier = "gold"})
  fly(t, 100)
  t:eq(t:member().tier, "gold")
  t:clock("2026-03-01T00:00:00Z")
  t:hasnt(t:tick(), {kind = "tier"})
  t:eq(t:member().tier, "gold")
end)

test("miles expire after 24 months", function(t)
  t:clock("2026-02-01T08:00:00Z")
  fly(t, 5000)
  t:clock("2028-02-01T08:00:00Z")
  t:has(t:tick(), {kind = "expire", currency = "miles", delta = -5000, balance = 0})
end)
