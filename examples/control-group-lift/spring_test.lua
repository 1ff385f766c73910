local function order(t, member, amount)
  return t:send{type = "order", member = member, data = {amount = amount}}
end

test("both spring rules hold out the very same members", function(t)
  local held = 0
  for i = 1, 100 do
    local r = order(t, "m" .. i, 100)
    local group = r.experiments.spring
    local double = t:outcome(r, {mechanic = "spring-double", kind = "control"})
    local back = t:outcome(r, {mechanic = "spring-back", kind = "control"})
    t:eq(double ~= nil, group == "control", "m" .. i)
    t:eq(back ~= nil, group == "control", "m" .. i)
    if group == "control" then held = held + 1 end
  end
  t:ok(held > 2 and held < 25, "about 10% held out, got " .. held)
end)

test("held-out members earn the everyday star only; every ledger entry says the group", function(t)
  for i = 1, 40 do
    local r = order(t, "m" .. i, 200)
    local stars = t:balance("m" .. i, "stars")
    t:eq(stars, r.experiments.spring == "control" and 20 or 40)
    t:eq(t:ledger("m" .. i)[1].experiments.spring, r.experiments.spring)
  end
end)

test("the lift: treatment members who spend twice as much show +100%", function(t)
  for i = 1, 200 do
    local id = "m" .. i
    local r = order(t, id, 100 + i % 3 * 10)
    if r.experiments.spring == "treatment" then order(t, id, 100 + i % 3 * 10) end
  end
  local x = t:experiment("spring")
  t:eq(x.groups.control.members + x.groups.treatment.members, 200)
  t:ok(x.lift > 0.95 and x.lift < 1.05, "lift " .. x.lift)
  t:ok(x.significant)
  t:ok(x.lift_ci95[1] < x.lift and x.lift < x.lift_ci95[2])
  t:eq(x.groups.treatment.issued.stars, x.groups.treatment.spend // 10 * 2)
end)
