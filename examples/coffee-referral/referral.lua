-- Coffee shop referral: bring a friend. When the friend places a first order,
-- the friend and the regular who brought them both get two stamps. Once per
-- friend: a retried, or reversed and re-sent, first order rewards nobody again,
-- and nobody can refer themselves.
--
-- The friend's backend records who brought them at sign-up:
--   PUT /v1/members/bo {"attributes": {"referred_by": "ann"}}

mechanic "stamp" {
  on = "order",
  run = function(ev, m)
    m:earn("stamps", 1)
  end,
}

mechanic "friend-first-order" {
  on = "order",
  run = function(ev, m)
    if m:count("orders") == 1 and m:referral(m:attr("referred_by")) then
      m:earn("stamps", 2)
      return message("Welcome! You and your friend both get two stamps.")
    end
  end,
}

-- m:referral sends the regular a "referral" event, once, after the friend's order.
mechanic "thank-the-regular" {
  on = "referral",
  run = function(ev, m)
    m:earn("stamps", 2)
    return message("Your friend " .. ev.data.friend .. " just had a first coffee: two stamps for you.")
  end,
}
