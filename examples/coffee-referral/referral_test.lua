-- Bring a friend: two stamps each on the friend's first order, once.
local function order(t, member, id) return t:send{type = "order", member = member, id = id} end

-- The regular's reward is an event of their own, applied just after the
-- friend's order; their next event comes after it.
local function stamps_after_next_order(t, member)
  order(t, member)
  return t:balance(member, "stamps")
end

test("the friend's first order rewards both", function(t)
  order(t, "ann")                                   -- Ann is a regular: 1 stamp
  t:profile{member = "bo", attributes = {referred_by = "ann"}}
  local r = order(t, "bo", "bo-1")
  t:has(r, {kind = "referral", referrer = "ann"})
  t:has(r, {kind = "message"})
  t:eq(t:balance("bo", "stamps"), 3)                -- 1 for the order + 2
  t:eq(stamps_after_next_order(t, "ann"), 1 + 2 + 1)
end)

test("a second order, a retry, or a reversed and re-sent first order reward nobody", function(t)
  t:profile{member = "bo", attributes = {referred_by = "ann"}}
  order(t, "bo", "bo-1")
  t:eq(order(t, "bo", "bo-1").duplicate, true)      -- the retry
  t:hasnt(order(t, "bo", "bo-2"), {kind = "referral"})
  t:reverse("bo-1", {member = "bo"})
  t:hasnt(order(t, "bo", "bo-1-again"), {kind = "referral"})
  t:eq(stamps_after_next_order(t, "ann"), 2 + 1)    -- one reward, one order of her own
end)

test("nobody refers themselves, and members without a referrer get nothing extra", function(t)
  t:profile{member = "cy", attributes = {referred_by = "cy"}}
  t:hasnt(order(t, "cy"), {kind = "referral"})
  t:hasnt(order(t, "dee"), {kind = "referral"})
  t:eq(t:balance("cy", "stamps"), 1)
end)

test("each friend rewards the regular once", function(t)
  for _, friend in ipairs({"bo", "cy", "dee"}) do
    t:profile{member = friend, attributes = {referred_by = "ann"}}
    order(t, friend)
  end
  t:eq(stamps_after_next_order(t, "ann"), 3 * 2 + 1)
end)
