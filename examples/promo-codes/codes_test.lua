local function order(t, code, total, member)
  return t:send{type = "order", member = member, data = {code = code, total = total}}
end

test("SPRING30: 30% on orders of 10 000 or more in its window, once per member", function(t)
  t:clock("2026-04-01")
  t:hasnt(order(t, "SPRING30", 9999), {kind = "discount"})
  t:has(order(t, "spring30", 12000), {kind = "discount", percent = 30, code = "spring30"})
  t:hasnt(order(t, "SPRING30", 12000), {kind = "discount"})        -- once
  t:has(order(t, "SPRING30", 12000, "bo"), {kind = "discount"})    -- Bo has his own
  t:clock("2026-05-16")
  t:hasnt(order(t, "SPRING30", 12000, "cy"), {kind = "discount"})  -- over
end)

test("LAUNCH50: the first two orders that use it, across all members", function(t)
  t:has(order(t, "LAUNCH50", 100, "ann"), {kind = "discount", percent = 50})
  t:has(order(t, "LAUNCH50", 100, "bo"), {kind = "discount", percent = 50})
  t:hasnt(order(t, "LAUNCH50", 100, "cy"), {kind = "discount"})
end)

test("FRIENDS10: shared and reused freely; unknown codes give nothing", function(t)
  for _, who in ipairs({"ann", "ann", "bo"}) do
    t:has(order(t, "FRIENDS10", 100, who), {kind = "discount", percent = 10})
  end
  t:hasnt(order(t, "FREE100", 100), {kind = "discount"})
end)
