local function order(t, code, total, member, id)
  return t:send{type = "order", member = member, id = id, data = {code = code, total = total}}
end

test("SPRING30: 30% on orders of 10 000 or more in its window, once per member", function(t)
  t:clock("2026-04-01")
  t:hasnt(order(t, "SPRING30", 9999), {kind = "discount"})
  t:has(order(t, "spring30", 12000), {kind = "discount", percent = 30, offer = "spring30",
                                      code = "SPRING30", off = 3600})
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

test("LAUNCH50: a refunded order gives its use back to the next member", function(t)
  order(t, "LAUNCH50", 100, "ann", "o-1")
  order(t, "LAUNCH50", 100, "bo")
  t:hasnt(order(t, "LAUNCH50", 100, "cy"), {kind = "discount"})
  t:eq(t:offer("launch50").left, 0)
  t:has(t:reverse("o-1", {member = "ann"}), {kind = "code_returned", offer = "launch50"})
  t:eq(t:offer("launch50").left, 1)
  t:has(order(t, "LAUNCH50", 100, "cy"), {kind = "discount"})
  local o = t:offer("launch50")
  t:eq({o.uses, o.returned, o.discount}, {2, 1, 100})
end)

test("FRIENDS10: shared and reused freely; unknown codes give nothing", function(t)
  for _, who in ipairs({"ann", "ann", "bo"}) do
    t:has(order(t, "FRIENDS10", 100, who), {kind = "discount", percent = 10})
  end
  t:hasnt(order(t, "FREE100", 100), {kind = "discount"})
end)

test("BIWEEKLY: 500 off once every two weeks, until mid-March", function(t)
  t:clock("2026-01-05")
  t:has(order(t, "biweekly", 3000), {kind = "discount", amount = 500, off = 500})
  t:advance("13d")
  t:hasnt(order(t, "biweekly", 3000), {kind = "discount"})
  t:advance("1d")
  t:has(order(t, "biweekly", 3000), {kind = "discount"})
  t:clock("2026-03-16")
  t:hasnt(order(t, "biweekly", 3000), {kind = "discount"})
end)

test("WELCOME: a personal code, for its member only, once, within 30 days", function(t)
  local r = t:send{type = "signup", member = "ann"}
  local code = t:has(r, {kind = "code", offer = "welcome"}).code
  t:hasnt(order(t, code, 1000, "bo"), {kind = "discount"})         -- not Bo's
  t:has(order(t, code:lower(), 1000, "ann"), {kind = "discount", percent = 5, off = 50})
  t:hasnt(order(t, code, 1000, "ann"), {kind = "discount"})        -- used
  local late = t:has(t:send{type = "signup", member = "cy"}, {kind = "code"}).code
  t:advance("31d")
  t:hasnt(order(t, late, 1000, "cy"), {kind = "discount"})         -- expired
end)
