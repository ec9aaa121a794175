-- yimen.check: validation of request bodies, ids and paging for Lua plugins, in pure
-- Lua over yimen.invalid, so every plugin refuses bad input with the same DESIGN §5 400.
--
--   local check = require "yimen.check"
--   local body = check.body(req:json(), { text = { type = "string", required = true, min = 1, max = 200 } })
--   local limit, after = check.page(req, 50, 100)
--   local id = check.id(req:param("id"))          -- a positive integer, or nil
local yimen = require "yimen"

local check = {}

local function describe(rule)
  if rule.type == "string" then
    return ("a string of %d to %d characters"):format(rule.min or 0, rule.max or math.maxinteger)
  elseif rule.type == "integer" or rule.type == "number" then
    return ("a%s %s from %s to %s"):format(rule.type == "integer" and "n" or "", rule.type,
      rule.min or "any", rule.max or "any")
  end
  return "a " .. rule.type
end

-- Is v of the rule's type and within min..max (characters for strings)?
local function fits(v, rule)
  local t = rule.type
  local size
  if t == "string" then
    if type(v) ~= "string" then return false end
    size = utf8.len(v)
    if not size then return false end
  elseif t == "integer" then
    if math.type(v) ~= "integer" then return false end
    size = v
  elseif t == "number" then
    if type(v) ~= "number" then return false end
    size = v
  elseif t == "boolean" then
    return type(v) == "boolean"
  elseif t == "object" then
    return type(v) == "table" and not yimen.is_array(v)
  elseif t == "array" then
    return yimen.is_array(v)
  else
    error("yimen.check: unknown type " .. tostring(t), 3)
  end
  return (not rule.min or size >= rule.min) and (not rule.max or size <= rule.max)
end

-- The body must be a JSON object with only the fields of spec, each of its rule:
-- { type = "string"|"integer"|"number"|"boolean"|"object"|"array", required = bool,
--   nullable = bool, min = n, max = n }. partial (for PATCH) makes nothing required.
-- Raises yimen.invalid(field, message) on the first problem; returns body.
function check.body(body, spec, partial)
  if type(body) ~= "table" or yimen.is_array(body) then
    yimen.invalid("", "the body must be a JSON object")
  end
  for k in pairs(body) do
    if not spec[k] then yimen.invalid(tostring(k), "unknown field " .. tostring(k)) end
  end
  local names = {}
  for name in pairs(spec) do names[#names + 1] = name end
  table.sort(names) -- the same field is reported first every time
  for _, name in ipairs(names) do
    local rule, v = spec[name], body[name]
    if v == nil then
      if rule.required and not partial then yimen.invalid(name, name .. " is required") end
    elseif v == yimen.null then
      if not rule.nullable then yimen.invalid(name, name .. " must be " .. describe(rule)) end
    elseif not fits(v, rule) then
      yimen.invalid(name, name .. " must be " .. describe(rule))
    end
  end
  return body
end

-- A positive integer id from a path parameter or query string, or nil.
function check.id(s)
  if type(s) ~= "string" or not s:match("^[1-9]%d*$") or #s > 18 then return nil end
  return math.tointeger(tonumber(s))
end

-- ?limit= (1..max, default def) and ?after= (an id given as `next`, default 0):
-- keyset paging as DESIGN §5 describes. Raises 400 invalid on a bad value.
function check.page(req, def, max)
  local limit, after = req:query("limit"), req:query("after")
  local n = def
  if limit then
    n = limit:match("^%d+$") and #limit <= 6 and math.tointeger(tonumber(limit))
    if not n or n < 1 or n > max then
      yimen.invalid("limit", ("limit must be an integer from 1 to %d"):format(max))
    end
  end
  local a = 0
  if after and after ~= "" then
    a = check.id(after)
    if not a then yimen.invalid("after", "after must be the id given as next") end
  end
  return n, a
end

return check
