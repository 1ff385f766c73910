test("50% off every ticket for a year from the day the card is paid", function(t)
  t:clock("2026-03-10T08:00:00Z")
  t:has(t:send{type = "card_paid"}, {kind = "message", text = "Your rail card is valid until 2027-03-10."})
  t:has(t:send{type = "ticket"}, {kind = "discount", percent = 50})
  t:advance("1y")
  t:hasnt(t:send{type = "ticket"}, {kind = "discount"})
end)

test("no card, no discount", function(t)
  t:hasnt(t:send{type = "ticket"}, {kind = "discount"})
end)

test("a month before the end, the member is reminded without travelling", function(t)
  t:clock("2026-03-10T08:00:00Z")
  t:send{type = "card_paid"}
  t:eq(t:member().next_wake_at, "2027-02-08T08:00:00.000Z")
  t:clock("2027-02-08T08:00:00Z")
  t:has(t:tick(), {kind = "message", text = "Your rail card ends on 2027-03-10: renew it?"})
end)

test("renewing early adds the year to the end", function(t)
  t:clock("2026-03-10T08:00:00Z")
  t:send{type = "card_paid"}
  t:advance("11mo")
  t:has(t:send{type = "card_paid"}, {kind = "message", text = "Your rail card is valid until 2028-03-10."})
end)
