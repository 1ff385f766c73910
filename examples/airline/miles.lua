-- Airline: Blue, Silver and Gold on the miles flown in the last 12 months.
-- Silver from 25 000, Gold from 50 000. Silver earns 1.5x, Gold 2x. Miles expire
-- after 24 months. The tier is recomputed at every flight and at the start of
-- every month, so it drops as old flights leave the window; a tier floor set by
-- a person (PUT /v1/members/{m} {"tier_floor": "gold"}) is never undercut.
currency "miles" { expires_in = "24mo" }
tiers { "blue", "silver", "gold" }

local thresholds = { { "gold", 50000 }, { "silver", 25000 }, { "blue", 0 } }
local percent = { blue = 100, silver = 150, gold = 200 }

local function requalify(m)
  local flown = m:rolling("flown", 12)
  for _, t in ipairs(thresholds) do
    if flown >= t[2] then m:set_tier(t[1]) break end
  end
  -- look again when the window moves: the 1st of next month
  local d = m:local_date()
  local y, mo = d.year, d.month + 1
  if mo == 13 then y, mo = y + 1, 1 end
  m:wake_at(utc(y, mo, 1))
end

mechanic "fly" {
  on = "flight",
  run = function(ev, m)
    local miles = ev.data.miles or 0
    m:earn("miles", miles * percent[m:tier() or "blue"] // 100)
    m:track("flown", miles)
    requalify(m)
  end,
}

mechanic "requalify" {
  on = { "tick", "profile" },
  run = function(ev, m) requalify(m) end,
}
