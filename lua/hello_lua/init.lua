-- hello_lua: the teaching Lua plugin: one table, CRUD routes under /api/hello_lua/,
-- two permissions, settings checked at init, and an audit row for every write — and
-- every shared service of the platform used once (core/lua_services.c):
--   yimen.search.*   the greeting is found by GET /api/search
--   yimen.emit       "hello_lua.greeting.created", and yimen.subscribe to it and to
--                    the C hello plugin's "hello.item.created"
--   yimen.todo.*     a review to-do for the unit's unit_admin, due in 3 working days
--   yimen.notify     the author hears that the greeting was reviewed; yimen.push
--                    sends a live event to their open pages
--   yimen.job        a digest on a schedule (setting digest_schedule)
--   yimen.files.*    attachments; yimen.sheets.*: .xlsx export and import
-- Writers join the open yimen.db.write, so a greeting, its audit row, search
-- document, event and to-do commit together — or, on any error, not at all.
local yimen = require "yimen"             -- the host's services (core/lua_api.c)
local check = require "yimen.check"       -- pure-Lua validation helpers (lua/yimen/check.lua)

local M = { name = "hello_lua", version = "1.0.0", core_min = "0.1", requires = {} }

local COLUMNS = "id, text, unit_id, created_by, created_at"
local FIELDS = { text = { type = "string", required = true, min = 1, max = 200 } }
local SETTINGS = { max_greetings = true, digest_schedule = true }
local HOST_SETTINGS = { memory = true, instructions = true }   -- read by the host itself

local max_greetings                       -- setting hello_lua.max_greetings
local digest_schedule                     -- setting hello_lua.digest_schedule

-- One greeting has one name in every service: the search ref, the to-do key and the
-- audit target are "greeting:<id>"; its attachments belong to "hello_lua_greetings:<id>".
local function ref(id) return "greeting:" .. id end
local function owner(id) return "hello_lua_greetings:" .. id end
local function link(id) return "#/hello_lua/greetings/" .. id end

-- s cut to at most n bytes on a character boundary (titles are limited in bytes).
-- At most n characters (to-do and item titles count characters, not bytes).
local clip = yimen.text.truncate

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

local function may_write_here(req)
  -- a greeting belongs to the creator's unit: writing there is what the permission means
  if not req:may("hello_lua.write", req.unit_id) then
    yimen.error(403, "forbidden", "you may not write greetings in your unit")
  end
end

-- The search document: readers need hello_lua.read on the greeting's unit to find it.
local function index(id, text, unit_id)
  yimen.search.put{ kind = "hello_lua", ref = ref(id), title = text, body = text,
                    unit_id = unit_id, permission = "hello_lua.read" }
end

-- The end of the 3rd working day from today (holidays and 调休 from config/calendar).
local function review_due()
  local today = yimen.time_format(yimen.now()):sub(1, 10)   -- "YYYY-MM-DD", local time
  return yimen.calendar.end_ms(yimen.calendar.add_working_days(today, 3))
end

-- Adds one greeting of the caller's unit. Runs inside the caller's yimen.db.write.
local function add(req, text)
  local _, id = yimen.db.exec("INSERT INTO hello_lua_greetings (text, unit_id, created_by, created_at) " ..
    "VALUES (?, ?, ?, ?)", text, req.unit_id, req.user_id, yimen.now())
  -- counted after the insert: a greeting past the limit is rolled back with everything
  -- written for it (and, in an import, for the rows before it)
  if yimen.db.query("SELECT count(*) AS n FROM hello_lua_greetings")[1].n > max_greetings then
    yimen.error(409, "conflict", "hello_lua.max_greetings reached")
  end
  yimen.audit(req, "hello_lua.create", ref(id), "ok", { text = text })
  index(id, text, req.unit_id)
  -- delivered to subscribers after the commit; a rollback takes it back
  yimen.emit("hello_lua.greeting.created", { id = id, text = text, unit_id = req.unit_id,
                                             created_by = req.user_id })
  -- a role to-do: every unit_admin of exactly this unit sees it in GET /api/me/todos
  yimen.todo.put(ref(id), { unit_id = req.unit_id, role = "unit_admin", kind = "review",
                            title = clip("审核问候：" .. text, 200), link = link(id), due = review_due() })
  return id
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
  may_write_here(req)
  local body = check.body(req:json(), FIELDS)    -- 415 / 400 bad_json / 400 invalid
  local id = yimen.db.write(function() return add(req, body.text) end)   -- one savepoint
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
      yimen.audit(req, "hello_lua.update", ref(g.id), "ok", { text = body.text })
      index(g.id, body.text, g.unit_id)              -- the same ref replaces the document
    end)
  end
  return 200, shape(load(g.id))
end

local function delete(req)
  local g = visible(req, "hello_lua.write")
  yimen.db.write(function()
    yimen.db.exec("DELETE FROM hello_lua_greetings WHERE id = ?", g.id)
    yimen.audit(req, "hello_lua.delete", ref(g.id), "ok")
    yimen.search.remove("hello_lua", ref(g.id))
    yimen.todo.resolve(ref(g.id), req.user_id)     -- nothing left to review
    yimen.files.detach(owner(g.id))                -- the core's cleanup reaps them
  end)
  return 204
end

-- POST /api/hello_lua/greetings/:id/review: closes the to-do and tells the author.
local function review(req)
  local g = visible(req, "hello_lua.write")
  yimen.db.write(function()
    if yimen.todo.resolve(ref(g.id), req.user_id) == 0 then
      yimen.error(409, "conflict", "no review of this greeting is pending")
    end
    yimen.audit(req, "hello_lua.review", ref(g.id), "ok")
    -- an inbox row (GET /api/notifications, "event: notification" on the stream) ...
    yimen.notify(g.created_by, { severity = "info", title = "你的问候已审核", link = link(g.id) })
    -- ... and a live event only (not in the inbox), for a page that shows the greeting
    yimen.push(g.created_by, "hello_lua.reviewed", { id = g.id })
  end)
  return 200, shape(g)
end

-- GET /api/hello_lua/greetings.xlsx: the caller's unit as a spreadsheet.
local function export(req)
  local rows = yimen.array()
  local found = yimen.db.query("SELECT id, text, created_at FROM hello_lua_greetings " ..
    "WHERE unit_id = ? ORDER BY id", req.unit_id)
  for i, g in ipairs(found) do rows[i] = { g.id, g.text, yimen.time_format(g.created_at) } end
  -- answers the request itself: the handler returns nothing after it
  yimen.sheets.xlsx(req, "问候.xlsx", { name = "问候", header = { "编号", "内容", "创建时间" }, rows = rows })
end

-- A cell as greeting text, or nil when it is empty (numbers count as text).
local function cell_text(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return tostring(math.tointeger(v) or v) end
  if type(v) == "string" and v:find("%S") then return v end
  return nil
end

-- POST /api/hello_lua/greetings/import, the body an .xlsx: one greeting per row after
-- the header, from the column headed 内容 (as exported) or else the first. All or none.
local function import(req)
  may_write_here(req)
  local rows, why = yimen.sheets.rows(req:body() or "")
  if not rows then yimen.invalid("file", why) end   -- "not an .xlsx file", ...
  local col = 1
  for i, title in ipairs(rows[1] or {}) do
    if title == "内容" then col = i end
  end
  local texts = {}
  for r = 2, #rows do                             -- sheet row r (row 1 is the header)
    local text = cell_text(rows[r][col])
    if not text then yimen.invalid("file", ("row %d: the text is empty"):format(r)) end
    if utf8.len(text) > 200 then yimen.invalid("file", ("row %d: over 200 characters"):format(r)) end
    texts[#texts + 1] = text
  end
  if #texts == 0 then yimen.invalid("file", "no rows after the header") end
  local ids = yimen.db.write(function()           -- every row in one write
    local ids = {}
    for i, text in ipairs(texts) do ids[i] = add(req, text) end
    return ids
  end)
  local items = yimen.array()
  for i, id in ipairs(ids) do items[i] = shape(load(id)) end
  return 201, { items = items }
end

-- POST /api/hello_lua/greetings/:id/files {"file_id"}: claims an upload of the caller's.
local function attach(req)
  local g = visible(req, "hello_lua.write")
  local body = check.body(req:json(), { file_id = { type = "integer", required = true, min = 1 } })
  yimen.db.write(function()
    local ok, why = yimen.files.attach(req, body.file_id, owner(g.id))
    if not ok then yimen.invalid("file_id", why) end   -- not theirs, taken, unknown
    yimen.audit(req, "hello_lua.attach", ref(g.id), "ok", { file_id = body.file_id })
  end)
  return 200, { id = g.id, file_id = body.file_id, owner = owner(g.id) }
end

-- Subscribers run after the emitter's commit, inside a write of the delivery: what they
-- write commits with the mark "delivered", so a delivery that committed never runs again.
local function on_greeting_created(name, ev)
  yimen.db.exec("INSERT INTO hello_lua_stats (key, value, updated_at) VALUES (?, 1, ?) " ..
    "ON CONFLICT(key) DO UPDATE SET value = value + 1, updated_at = excluded.updated_at",
    "delivered:" .. ev.id, yimen.now())
end

-- Another plugin's event, in another language: the C hello plugin's new items.
local function on_hello_item(name, ev)
  yimen.notify(ev.created_by, { title = clip("hello_lua 收到：" .. tostring(ev.name), 200),
                                link = "#/hello/items/" .. ev.id })
end

-- The job: fn(name) at each due time; an error (or returning false) counts as a failure.
local function digest(name)
  yimen.db.write(function()
    local now = yimen.now()
    local n = yimen.db.query("SELECT count(*) AS n FROM hello_lua_greetings")[1].n
    yimen.db.exec("INSERT INTO hello_lua_stats (key, value, updated_at) VALUES (?, ?, ?) " ..
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", "digest:" .. now, n, now)
  end)
end

-- Tracked items (督办): the engine refuses with nil, a reason and a code; the code is
-- the HTTP answer.
local STATUS = { invalid = 400, not_found = 404, wrong_state = 409, lag_reason_required = 409,
                 storage_busy = 503, forbidden = 403 }
local function engine_refused(reason, code, field)
  if code == "invalid" then yimen.invalid(field or "", reason) end
  yimen.error(STATUS[code] or 400, code or "invalid", reason)
end

-- POST /api/hello_lua/greetings/:id/track {lead_unit, co_units, deadline | deadline_workdays}:
-- the caller's unit supervises the greeting as a tracked item, assigned at once; its
-- parties then act through /api/items/:id/... with hello_lua.manage / hello_lua.handle.
local TRACK_FIELDS = { lead_unit = true, co_units = true, deadline = true, deadline_workdays = true }
local function track(req)
  local g = visible(req, "hello_lua.write")
  if not req:may("hello_lua.manage", req.unit_id) then
    yimen.error(403, "forbidden", "you may not supervise from your unit")
  end
  local body = req:json()
  if type(body) ~= "table" or yimen.is_array(body) then yimen.invalid("", "the body must be a JSON object") end
  for k in pairs(body) do
    if not TRACK_FIELDS[k] then yimen.invalid(k, "unknown field") end
  end
  local spec = { source_kind = "other", record = "hello_lua_greetings:" .. g.id, title = clip(g.text, 200),
                 supervisor_unit = req.unit_id, lead_unit = body.lead_unit, co_units = body.co_units,
                 deadline = body.deadline, deadline_workdays = body.deadline_workdays, assign = true }
  local item = yimen.db.write(function()
    local id, reason, code, field = yimen.items.create(req.user_id, spec)
    if not id then engine_refused(reason, code, field) end
    yimen.audit(req, "hello_lua.track", "item:" .. id, "ok")
    return yimen.items.get(id)
  end)
  return 201, item
end

-- POST /api/hello_lua/tracked/:id/urge {message}: 催办 through the plugin API; likewise
-- .../update {title, content, deadline, co_units, leader} and .../withdraw {reason} (撤销).
local function tracked_action(action)
  return function(req)
    if not req:may("hello_lua.manage", req.unit_id) then
      yimen.error(403, "forbidden", "you may not " .. action .. " from your unit")
    end
    local id = check.id(req:param("id"))
    if not id then yimen.error(404, "not_found", "no such tracked item") end
    local body = req:json()
    if type(body) ~= "table" then yimen.invalid("", "the body must be a JSON object") end
    local item = yimen.db.write(function()
      local ok, reason, code, field = yimen.items.act(id, action, req.user_id, body)
      if not ok then engine_refused(reason, code, field) end
      yimen.audit(req, "hello_lua." .. action, "item:" .. id, "ok")
      return yimen.items.get(id)
    end)
    return 200, item
  end
end
local urge = tracked_action("urge")

-- POST /api/hello_lua/text_and_dates {text, max, seps, date, days, months, list}: what the
-- functions yimen.text.*, yimen.date.* and yimen.is_array make of the values given.
local function text_and_dates(req)
  local b = req:json()
  if type(b) ~= "table" or yimen.is_array(b) then yimen.invalid("", "the body must be a JSON object") end
  local out = { is_array = { sequence = yimen.is_array({ "a", "b" }), empty = yimen.is_array({}),
                             map = yimen.is_array({ a = 1 }), holes = yimen.is_array({ [1] = 1, [3] = 3 }),
                             marked_empty = yimen.is_array(yimen.array()), body_list = yimen.null } }
  if b.list ~= nil then out.is_array.body_list = yimen.is_array(b.list) end
  if type(b.text) == "string" then
    out.len = yimen.text.len(b.text) or yimen.null
    if yimen.text.len(b.text) then
      out.trim = yimen.text.trim(b.text)
      out.split = b.seps and yimen.text.split(b.text, b.seps) or yimen.text.split(b.text)
      if math.type(b.max) == "integer" and b.max >= 0 then out.truncate = yimen.text.truncate(b.text, b.max) end
    end
  end
  if b.date ~= nil then
    out.read = yimen.date.read(b.date) or yimen.null
    local d = yimen.date.valid(b.date)
    out.valid = d or yimen.null
    out.parse = yimen.date.parse(b.date) or yimen.null
    if d then
      out.format = yimen.date.format(yimen.date.parse(d))
      out.add_days = yimen.date.add_days(d, math.tointeger(b.days) or 0)
      out.add_months = yimen.date.add_months(d, math.tointeger(b.months) or 0)
      out.add_working_days = yimen.date.add_working_days(d, math.tointeger(b.days) or 0)
      out.is_working_day = yimen.date.is_working_day(d)
      out.days_in_month = yimen.date.days_in_month(tonumber(d:sub(1, 4)), tonumber(d:sub(6, 7)))
      out.diff_from_today = yimen.date.diff(yimen.date.today(), d)
    end
  end
  out.today = yimen.date.today()
  return 200, out
end

-- POST /api/hello_lua/greetings/:id/dispatch {unit_ids, deadline_in}: send the greeting to
-- units to sign for (签收); they act through /api/dispatches/:id/... with hello_lua.receive.
local function dispatch(req)
  local g = visible(req, "hello_lua.read")
  if not req:may("hello_lua.send", req.unit_id) then
    yimen.error(403, "forbidden", "you may not send from your unit")
  end
  local body = req:json()
  if type(body) ~= "table" or type(body.unit_ids) ~= "table" then
    yimen.invalid("unit_ids", "the body is {unit_ids: [ids], deadline_in: seconds}")
  end
  local recipients = yimen.array()
  for i, u in ipairs(body.unit_ids) do recipients[i] = { unit_id = u, kind = "main" } end
  local board = yimen.db.write(function()
    local id, reason, code = yimen.dispatch.create({
      title = clip(g.text, 200), record = "hello_lua_greetings:" .. g.id, link = "#/hello_lua/greetings/" .. g.id,
      sender_unit = req.unit_id, sender_user = req.user_id, recipients = recipients,
      deadline_in = body.deadline_in })
    if not id then engine_refused(reason, code) end
    yimen.audit(req, "hello_lua.dispatch", "dispatch:" .. id, "ok")
    return yimen.dispatch.board(id)
  end)
  return 201, board
end

-- POST /api/hello_lua/dispatches/:id/sign: sign for the caller's unit through the plugin API.
local function sign(req)
  local id = check.id(req:param("id"))
  if not id then yimen.error(404, "not_found", "no such dispatch") end
  local ok, reason, code = yimen.dispatch.act(id, "sign", req.user_id, 0)
  if not ok then engine_refused(reason, code) end
  return 200, { signed = true }
end

-- Settings are checked here: a bad value fails the plugin with the reason, which
-- GET /api/admin/plugins and the log show.
local function read_settings()
  for _, key in ipairs(yimen.setting_keys()) do
    if not SETTINGS[key] and not HOST_SETTINGS[key] then
      yimen.fail("unknown setting hello_lua." .. key)
    end
  end
  max_greetings = yimen.setting("max_greetings", 1000)
  if math.type(max_greetings) ~= "integer" or max_greetings < 1 then
    yimen.fail("hello_lua.max_greetings must be a positive integer")
  end
  digest_schedule = yimen.setting("digest_schedule", "daily 08:30")
  if type(digest_schedule) ~= "string" then
    yimen.fail("hello_lua.digest_schedule must be a schedule such as \"daily 08:30\"")
  end
end

function M.init()
  read_settings()
  yimen.permission("hello_lua.read", "查看问候", "read greetings")
  yimen.permission("hello_lua.write", "编辑问候", "edit greetings")
  yimen.permission("hello_lua.manage", "督办问候", "supervise greetings as tracked items")
  yimen.permission("hello_lua.handle", "办理问候督办", "handle tracked greetings")
  yimen.permission("hello_lua.send", "分发问候", "send greetings to units")
  yimen.permission("hello_lua.receive", "签收问候", "sign for greetings")
  yimen.route("GET", "/api/hello_lua/greetings", "hello_lua.read", list)
  yimen.route("POST", "/api/hello_lua/greetings", "hello_lua.write", create)
  yimen.route("GET", "/api/hello_lua/greetings.xlsx", "hello_lua.read", export)
  yimen.route("POST", "/api/hello_lua/greetings/import", "hello_lua.write", import)
  yimen.route("GET", "/api/hello_lua/greetings/:id", "hello_lua.read", get)
  yimen.route("PATCH", "/api/hello_lua/greetings/:id", "hello_lua.write", update)
  yimen.route("DELETE", "/api/hello_lua/greetings/:id", "hello_lua.write", delete)
  yimen.route("POST", "/api/hello_lua/greetings/:id/review", "hello_lua.write", review)
  yimen.route("POST", "/api/hello_lua/greetings/:id/files", "hello_lua.write", attach)
  yimen.route("POST", "/api/hello_lua/greetings/:id/track", "hello_lua.manage", track)
  yimen.route("POST", "/api/hello_lua/tracked/:id/urge", "hello_lua.manage", urge)
  yimen.route("POST", "/api/hello_lua/tracked/:id/update", "hello_lua.manage", tracked_action("update"))
  yimen.route("POST", "/api/hello_lua/tracked/:id/withdraw", "hello_lua.manage", tracked_action("withdraw"))
  yimen.route("POST", "/api/hello_lua/text_and_dates", "hello_lua.read", text_and_dates)
  yimen.route("POST", "/api/hello_lua/greetings/:id/dispatch", "hello_lua.send", dispatch)
  yimen.route("POST", "/api/hello_lua/dispatches/:id/sign", "hello_lua.receive", sign)
  -- subscriptions and jobs are made only here, in init
  yimen.subscribe("hello_lua.greeting.created", on_greeting_created)
  yimen.subscribe("hello.item.created", on_hello_item)   -- never fires without hello
  yimen.job("hello_lua.digest", digest_schedule, digest)  -- a bad schedule fails the plugin
end

return M
