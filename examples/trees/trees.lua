-- Value-based: we plant a tree for each item bought. Every member sees their
-- own forest grow (badges at 1, 10 and 100 trees); everyone together grows
-- the shop's forest, and whoever plants the 1000th, 2000th... tree is thanked.

mechanic "plant" {
  on = "order",
  run = function(ev, m)
    local items = 0
    for _, item in ipairs(ev.data.items or {}) do items = items + (item.qty or 1) end
    if items == 0 then return end

    m:incr("trees", items)
    m:badge_level("forest", m:counter("trees"), {1, 10, 100})

    local total = global_add("trees", items)        -- all members together
    if total // 1000 > (total - items) // 1000 then
      m:badge("milestone-planter")
      return message("You planted tree number " .. (total // 1000 * 1000) .. "!",
                     {trees = total})
    end
  end,
}

-- Every 100th order of the shop, whoever places it, plants a whole grove.
mechanic "grove" {
  on = "order",
  run = function(ev, m)
    if global_count("orders") % 100 == 0 then
      m:badge("grove")
      return message("Your order is our 100th: we plant a grove in your name.")
    end
  end,
}

-- Earth Day: each item plants a second tree, all day on 22 April, Paris time.
mechanic "earth-day" {
  on = "order",
  active = {from = "2026-04-22", to = "2026-04-23", tz = "Europe/Paris"},
  run = function(ev, m)
    local items = 0
    for _, item in ipairs(ev.data.items or {}) do items = items + (item.qty or 1) end
    if items > 0 then
      m:incr("earth_day_trees", items)
      return message("Happy Earth Day: we plant " .. items .. " more trees for you.")
    end
  end,
}
