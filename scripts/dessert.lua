-- Food delivery: every fourth order of a member wins a dessert.
mechanic "dessert" {
  on = "order",
  run = function(ev, m)
    if m:count("orders") % 4 == 0 then
      return prize("dessert")
    end
  end,
}
