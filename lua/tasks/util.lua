-- tasks/util: small pure helpers shared by the modules of the tasks plugin.
local yimen = require "yimen"

local U = {}

-- s cut to at most n bytes on a character boundary (engine titles are limited).
function U.clip(s, n)
  if #s <= n then return s end
  local cut = n - 3                       -- room for "…" (3 bytes)
  while cut > 0 and (s:byte(cut + 1) & 0xC0) == 0x80 do cut = cut - 1 end
  return s:sub(1, cut) .. "…"
end

local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function leap(y) return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 end

function U.days_in_month(y, m)
  if m == 2 and leap(y) then return 29 end
  return MDAYS[m]
end

-- "YYYY-MM-DD" when s is a real calendar date, else nil.
function U.date(s)
  if type(s) ~= "string" then return nil end
  local y, m, d = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if not y or y < 2000 or y > 2100 or m < 1 or m > 12 or d < 1 or d > U.days_in_month(y, m) then
    return nil
  end
  return s
end

-- Days from 1970-01-01 to a valid "YYYY-MM-DD" (proleptic Gregorian, no time zone).
function U.day_number(s)
  local y, m, d = s:match("^(%d+)-(%d+)-(%d+)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- The date of a day number (inverse of day_number).
function U.from_day_number(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp + (mp < 10 and 3 or -9)
  if m <= 2 then y = y + 1 end
  return ("%04d-%02d-%02d"):format(y, m, d)
end

-- Today in the server's zone, "YYYY-MM-DD" (the test clock moves it).
function U.today()
  return yimen.time_format(yimen.now()):sub(1, 10)
end

-- A compact JSON array of integer ids, "[3,5]", searchable with instr(",3,5,", ",5,").
function U.ids_json(ids)
  local parts = {}
  for i, v in ipairs(ids or {}) do parts[i] = tostring(v) end
  return "[" .. table.concat(parts, ",") .. "]"
end

function U.ids_of(text)
  local out = yimen.array()
  for n in tostring(text or ""):gmatch("%d+") do out[#out + 1] = math.tointeger(tonumber(n)) end
  return out
end

-- Does the caller hold perm on any of the units?
function U.may_any(req, perm, units)
  for _, u in ipairs(units) do
    if u and req:may(perm, u) then return true end
  end
  return false
end

function U.nn(v)
  if v == nil or v == yimen.null then return yimen.null end
  return v
end

return U
