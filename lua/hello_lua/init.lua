-- hello_lua: the teaching Lua plugin: one table, CRUD routes under /api/hello_lua/,
-- two permissions, a setting checked at init, and an audit row for every write.
local yimen = require "yimen"             -- the host's services (core/lua_api.c)
local check = require "yimen.check"       -- pure-Lua validation helpers (lua/yimen/check.lua)

local M = { name = "hello_lua", version = "1.0.0", core_min = "0.1", requires = {} }

local COLUMNS = "id, text, unit_id, created_by, created_at"
local FIELDS = { text = { type = "string", required = true, min = 1, max = 200 } }
local HOST_SETTINGS = { memory = true, instructions = true }   -- read by the host itself

local max_greetings                       -- setting hello_lua.max_greetings

-- A row as the API shows it: times in RFC 3339, like every core object.
local function shape(row)
  return {
    id = row.id, text = row.text, unit_id = row.unit_id, created_by = row.created_by,
    created_at = yimen.time_format(row.created_at),
  }
end

local function load(id)
  return yimen.db.query("SELECT " .. COLUMNS .. " FROM hello_lua_greetings WHERE id = ?", id)[1]
end

-- The greeting named by :id, if the caller holds perm on its unit (a greeting belongs
-- to its creator's unit); else a 404, not a 403: whether another unit's greeting
-- exists is not the caller's business.
local function visible(req, perm)
  local id = check.id(req:param("id"))
  local g = id and load(id)
  if not g or not req:may(perm, g.unit_id) then
    yimen.error(404, "not_found", "no such greeting")
  end
  return g
end

-- GET /api/hello_lua/greetings?limit=&after=  -> {items, next}: the caller's unit,
-- keyset-paged by id so a page never shifts under inserts.
local function list(req)
  local limit, after = check.page(req, 50, 100)
  local rows = yimen.db.query("SELECT " .. COLUMNS .. " FROM hello_lua_greetings " ..
    "WHERE unit_id = ? AND id > ? ORDER BY id LIMIT ?", req.unit_id, after, limit)
  local items = yimen.array()             -- so that no rows is [] and not {}
  for i, row in ipairs(rows) do items[i] = shape(row) end
  return 200, { items = items, next = #rows == limit and rows[#rows].id or yimen.null }
end

local function create(req)
  -- a greeting belongs to the creator's unit: writing there is what the permission means
  if not req:may("hello_lua.write", req.unit_id) then
    yimen.error(403, "forbidden", "you may not write greetings in your unit")
  end
  local body = check.body(req:json(), FIELDS)    -- 415 / 400 bad_json / 400 invalid
  local id = yimen.db.write(function()           -- one savepoint: row and audit together
    local n = yimen.db.query("SELECT count(*) AS n FROM hello_lua_greetings")[1].n
    if n >= max_greetings then
      yimen.error(409, "conflict", "hello_lua.max_greetings reached")
    end
    local _, id = yimen.db.exec("INSERT INTO hello_lua_greetings (text, unit_id, created_by, created_at) " ..
      "VALUES (?, ?, ?, ?)", body.text, req.unit_id, req.user_id, yimen.now())
    yimen.audit(req, "hello_lua.create", "greeting:" .. id, "ok", { text = body.text })
    return id
  end)
  return 201, shape(load(id))
end

local function get(req)
  return 200, shape(visible(req, "hello_lua.read"))
end

local function update(req)
  local g = visible(req, "hello_lua.write")
  local body = check.body(req:json(), FIELDS, true)   -- PATCH: every field optional
  if body.text ~= nil then
    yimen.db.write(function()
      yimen.db.exec("UPDATE hello_lua_greetings SET text = ? WHERE id = ?", body.text, g.id)
      yimen.audit(req, "hello_lua.update", "greeting:" .. g.id, "ok", { text = body.text })
    end)
  end
  return 200, shape(load(g.id))
end

local function delete(req)
  local g = visible(req, "hello_lua.write")
  yimen.db.write(function()
    yimen.db.exec("DELETE FROM hello_lua_greetings WHERE id = ?", g.id)
    yimen.audit(req, "hello_lua.delete", "greeting:" .. g.id, "ok")
  end)
  return 204
end

-- Settings are checked here: a bad value fails the plugin with the reason, which
-- GET /api/admin/plugins and the log show.
local function read_settings()
  for _, key in ipairs(yimen.setting_keys()) do
    if key ~= "max_greetings" and not HOST_SETTINGS[key] then
      yimen.fail("unknown setting hello_lua." .. key)
    end
  end
  max_greetings = yimen.setting("max_greetings", 1000)
  if math.type(max_greetings) ~= "integer" or max_greetings < 1 then
    yimen.fail("hello_lua.max_greetings must be a positive integer")
  end
end

function M.init()
  read_settings()
  yimen.permission("hello_lua.read", "查看问候", "read greetings")
  yimen.permission("hello_lua.write", "编辑问候", "edit greetings")
  yimen.route("GET", "/api/hello_lua/greetings", "hello_lua.read", list)
  yimen.route("POST", "/api/hello_lua/greetings", "hello_lua.write", create)
  yimen.route("GET", "/api/hello_lua/greetings/:id", "hello_lua.read", get)
  yimen.route("PATCH", "/api/hello_lua/greetings/:id", "hello_lua.write", update)
  yimen.route("DELETE", "/api/hello_lua/greetings/:id", "hello_lua.write", delete)
end

return M
