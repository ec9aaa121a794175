-- tasks/util: small functions shared by the modules of the tasks plugin. Text and dates
-- are the core's (yimen.text.*, yimen.date.*): characters, not bytes; real dates.
local yimen = require "yimen"

local U = {}

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
