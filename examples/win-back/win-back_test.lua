local function order(t, at) return t:send{type = "order", at = at} end

test("an order after 60 quiet days earns 200 points, one after 59 does not", function(t)
  t:clock("2026-01-01T10:00:00Z")
  order(t)
  t:advance("59d")
  t:hasnt(order(t), {kind = "message"})
  t:advance("60d")
  t:has(order(t), {kind = "stars", currency = "points", delta = 200})
end)

test("a late-sent older order does not move the member's last order back", function(t)
  order(t, "2026-01-01T10:00:00Z")
  order(t, "2026-03-01T10:00:00Z")
  order(t, "2025-06-01T10:00:00Z")                 -- arrives late
  t:eq(t:member().last_event_at, "2026-03-01T10:00:00.000Z")
  t:eq(t:member().joined_at, "2025-06-01T10:00:00.000Z")
end)

test("a free coffee a year after joining, even for a silent member", function(t)
  t:clock("2026-01-31T09:00:00Z")
  order(t)
  t:eq(t:member().next_wake_at, "2027-01-31T09:00:00.000Z")   -- asked for at joining
  t:advance("1y")                                  -- 2027-01-31T09:00: the wake is due
  t:has(t:tick(), {kind = "prize", prize = "anniversary-coffee", since = "2026-01-31"})
  t:hasnt(order(t), {kind = "prize"})              -- once
end)

test("orders are counted per ISO week in Paris", function(t)
  order(t, "2026-11-29T23:30:00Z")                 -- Sunday in UTC, Monday 30th in Paris: W49
  order(t, "2026-11-29T20:00:00Z")                 -- still Sunday in Paris: W48
  t:eq(t:member().counters["orders-2026-w49"], 1)
  t:eq(t:member().counters["orders-2026-w48"], 1)
end)
