-- tasks (任务清单): the annual work plan broken into owned, measurable tasks. A list comes
-- from a source document (the government work report, a plan), has a year and an owner
-- office; each task has a clause, content, a measurable target (a number and its unit, or a
-- milestone), a lead unit and co-units, a leader, nodes, a deadline and a reporting cycle,
-- and is a tracked item of the core engine (record "tasks_tasks:<id>", supervised by the
-- owner office) — so colours, urges, lag reasons and extensions are the engine's, at
-- /api/items/:id/... with tasks.manage / tasks.handle.
-- Modules: model (records, validation, scope), sheet (Excel import/export), ledger
-- (执行台账), lagging (red too long → "tasks.lagging"), views (lists, ranking).
local yimen = require "yimen"
local check = require "yimen.check"
local U = require "util"
local model = require "model"
local sheet = require "sheet"
local ledger = require "ledger"
local lagging = require "lagging"
local views = require "views"

local M = { name = "tasks", version = "1.0.0", core_min = "0.1", requires = {} }

local SETTINGS = { red_days = true, lagging_schedule = true }
local HOST_SETTINGS = { memory = true, instructions = true }
local red_days, lagging_schedule

---------------------------------------------------------------- lists

local LIST_FIELDS = {
  title = { type = "string", required = true, min = 1, max = 200 },
  source_doc = { type = "string", required = true, min = 1, max = 200 },
  year = { type = "integer", required = true, min = 2000, max = 2100 },
  owner_unit = { type = "integer", min = 1 },
}

-- May the caller see the list: tasks.read on its owner office, or their unit has a task in it.
local function list_readable(req, l)
  if req:may("tasks.read", l.owner_unit) then return true end
  if not req:may("tasks.read", req.unit_id) then return false end
  return yimen.db.query("SELECT 1 AS x FROM tasks_tasks WHERE list_id = ? AND (lead_unit = ? OR " ..
    "instr(',' || trim(co_units, '[]') || ',', ?) > 0) LIMIT 1", l.id, req.unit_id, "," .. req.unit_id .. ",")[1] ~= nil
end

local function visible_list(req, id)
  local l = model.load_list(id)
  if not l or not list_readable(req, l) then yimen.error(404, "not_found", "no such list") end
  return l
end

local function manage_list(req, l)
  if not req:may("tasks.manage", l.owner_unit) then
    yimen.error(403, "forbidden", "only the owner office manages this list")
  end
end

local function lists_index(req)
  local limit, after = check.page(req, 50, 200)
  local items = yimen.array()
  local nxt = yimen.null
  local year = req:query("year")
  if year and not year:match("^%d%d%d%d$") then yimen.invalid("year", "year must be YYYY") end
  for _, l in ipairs(yimen.db.query("SELECT id, title, source_doc, year, owner_unit, created_by, created_at, " ..
      "updated_at FROM tasks_lists WHERE id > ? AND (? IS NULL OR year = ?) ORDER BY id", after,
      year and tonumber(year) or yimen.null, year and tonumber(year) or yimen.null)) do
    if list_readable(req, l) then
      items[#items + 1] = model.shape_list(l, true)
      if #items == limit then nxt = l.id; break end
    end
  end
  return 200, { items = items, next = nxt }
end

local function list_create(req)
  local b = check.body(req:json(), LIST_FIELDS)
  local owner = b.owner_unit or req.unit_id
  if not model.unit(owner) then yimen.invalid("owner_unit", "no such unit") end
  if not req:may("tasks.manage", owner) then
    yimen.error(403, "forbidden", "you may not manage task lists of that unit")
  end
  local id = yimen.db.write(function()
    local now = yimen.now()
    local _, id = yimen.db.exec("INSERT INTO tasks_lists (title, source_doc, year, owner_unit, created_by, " ..
      "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", b.title, b.source_doc, b.year, owner, req.user_id,
      now, now)
    yimen.audit(req, "tasks.list_create", "tasks_list:" .. id, "ok", { title = b.title, year = b.year })
    return id
  end)
  return 201, model.shape_list(model.load_list(id), true)
end

-- GET /api/tasks/lists/:id.xlsx: the list as an .xlsx in the import's columns.
local function list_export(req)
  local l = visible_list(req, check.id(req:param("id")))
  local tasks = {}
  for _, t in ipairs(yimen.db.query("SELECT " .. model.TASK_COLS .. " FROM tasks_tasks WHERE list_id = ? " ..
      "ORDER BY id", l.id)) do
    if model.may_read(req, t, l) then tasks[#tasks + 1] = t end
  end
  sheet.export(req, l, tasks)
end

local function list_get(req)
  return 200, model.shape_list(visible_list(req, check.id(req:param("id"))), true)
end

local function list_update(req)
  local l = visible_list(req, check.id(req:param("id")))
  manage_list(req, l)
  local b = check.body(req:json(), { title = LIST_FIELDS.title, source_doc = LIST_FIELDS.source_doc,
                                     year = LIST_FIELDS.year }, true)
  yimen.db.write(function()
    yimen.db.exec("UPDATE tasks_lists SET title = coalesce(?, title), source_doc = coalesce(?, source_doc), " ..
      "year = coalesce(?, year), updated_at = ? WHERE id = ?", b.title or yimen.null, b.source_doc or yimen.null,
      b.year or yimen.null, yimen.now(), l.id)
    yimen.audit(req, "tasks.list_update", "tasks_list:" .. l.id, "ok", b)
  end)
  return 200, model.shape_list(model.load_list(l.id), true)
end

local function list_delete(req)
  local l = visible_list(req, check.id(req:param("id")))
  manage_list(req, l)
  yimen.db.write(function()
    if yimen.db.query("SELECT count(*) AS n FROM tasks_tasks WHERE list_id = ?", l.id)[1].n > 0 then
      -- its tasks are tracked items, and the engine keeps items for the record
      yimen.error(409, "conflict", "the list has tasks: only an empty list can be deleted")
    end
    yimen.db.exec("DELETE FROM tasks_lists WHERE id = ?", l.id)
    yimen.audit(req, "tasks.list_delete", "tasks_list:" .. l.id, "ok")
  end)
  return 204
end

-- POST /api/tasks/lists/:id/import, the body an .xlsx: every row a task, all or none.
local function list_import(req)
  local l = visible_list(req, check.id(req:param("id")))
  manage_list(req, l)
  local tasks = sheet.parse(req:body())
  local ids = yimen.db.write(function()
    local ids = {}
    for i, v in ipairs(tasks) do ids[i] = model.add(req, l, v, nil, v.row) end
    yimen.audit(req, "tasks.import", "tasks_list:" .. l.id, "ok", { tasks = #ids })
    return ids
  end)
  return 201, { list_id = l.id, imported = #ids, ids = yimen.array(ids) }
end

---------------------------------------------------------------- tasks

local TASK_KEYS = { clause = 1, content = 1, target_value = 1, target_unit = 1, milestone = 1, lead_unit = 1,
                    co_units = 1, leader = 1, nodes = 1, deadline = 1, report_cycle = 1 }

local function task_body(req, keys)
  local b = req:json()
  if type(b) ~= "table" or yimen.is_array(b) then yimen.invalid("", "the body must be a JSON object") end
  for k in pairs(b) do
    if not keys[k] then yimen.invalid(tostring(k), "unknown field " .. tostring(k)) end
  end
  return b
end

local function task_create(req)
  local l = visible_list(req, check.id(req:param("id")))
  manage_list(req, l)
  local v, field, msg = model.validate(task_body(req, TASK_KEYS))
  if not v then yimen.invalid(field, msg) end
  local id = yimen.db.write(function() return model.add(req, l, v) end)
  return 201, model.shape(model.load(id))
end

local function task_get(req)
  local t = model.visible(req, check.id(req:param("id")))
  local o = model.shape(t)
  o.item = yimen.items.get(t.item_id) or yimen.null
  o.children = yimen.array()
  for i, c in ipairs(yimen.db.query("SELECT " .. model.TASK_COLS .. " FROM tasks_tasks WHERE parent_id = ? " ..
      "ORDER BY id", t.id)) do
    o.children[i] = model.shape(c)
  end
  return 200, o
end

-- The task's title and content as the engine's item shows them.
local function item_title(clause, content)
  return yimen.text.truncate(clause .. " " .. content:match("^[^\r\n]*"), 200)
end

local function supervising(req, t, what)
  if not req:may("tasks.manage", model.supervisor(t)) then
    yimen.error(403, "forbidden", "only the supervising office " .. what .. " this task")
  end
  if t.withdrawn_at ~= yimen.null then yimen.error(409, "wrong_state", "the task is withdrawn") end
end

-- PATCH /api/tasks/tasks/:id: clause, content, target, leader, deadline and co-units; the
-- tracked item follows (yimen.items.act "update"): its title, content, deadline, co-units
-- and leader. A child's deadline stays within its parent's; a parent's deadline is never
-- earlier than a child's. The lead unit is fixed: withdraw the task and add another.
local PATCH_KEYS = { clause = 1, content = 1, target_value = 1, target_unit = 1, milestone = 1, leader = 1,
                     deadline = 1, co_units = 1 }

local function deadline_rules(t, deadline)
  if t.parent_id ~= yimen.null then
    local p = model.load(t.parent_id)
    if deadline > p.deadline then
      yimen.invalid("deadline", ("a child task may tighten the deadline, never loosen it: the parent is due %s")
        :format(p.deadline))
    end
  end
  local late = yimen.db.query("SELECT max(deadline) AS d FROM tasks_tasks WHERE parent_id = ? AND " ..
    "withdrawn_at IS NULL", t.id)[1].d
  if late ~= yimen.null and late > deadline then
    yimen.invalid("deadline", ("a child task is due %s, after that deadline"):format(late))
  end
end

local function task_update(req)
  local t = model.visible(req, check.id(req:param("id")))
  supervising(req, t, "edits")
  local b = task_body(req, PATCH_KEYS)
  if (b.target_value ~= nil or b.target_unit ~= nil) and b.milestone == nil and t.target_kind == "milestone" then
    b.milestone = yimen.null
  end
  if b.milestone ~= nil and b.milestone ~= yimen.null and b.target_value == nil then b.target_value = yimen.null end
  if b.target_value ~= nil and b.target_value ~= yimen.null and b.target_unit == nil then
    b.target_unit = t.target_unit ~= yimen.null and t.target_unit or nil
  end
  local v, field, msg = model.validate(b, true, t)
  if not v then yimen.invalid(field, msg) end
  if b.leader == yimen.null then v.leader = yimen.null end
  if v.deadline and v.deadline ~= t.deadline then deadline_rules(t, v.deadline) end
  yimen.db.write(function()
    local sets, args = {}, {}
    for _, k in ipairs({ "clause", "content", "target_kind", "target_value", "target_unit", "milestone", "leader",
                         "deadline" }) do
      if v[k] ~= nil then sets[#sets + 1] = k .. " = ?"; args[#args + 1] = v[k] end
    end
    if v.co_units then sets[#sets + 1] = "co_units = ?"; args[#args + 1] = U.ids_json(v.co_units) end
    if v.deadline and v.deadline ~= t.deadline then    -- the nodes on the deadline move with it
      local nodes = yimen.json.decode(t.nodes) or yimen.array()
      for _, n in ipairs(nodes) do
        if n.deadline == t.deadline then n.deadline = v.deadline end
      end
      sets[#sets + 1] = "nodes = ?"; args[#args + 1] = yimen.json.encode(nodes)
    end
    sets[#sets + 1] = "updated_at = ?"; args[#args + 1] = yimen.now()
    args[#args + 1] = t.id
    yimen.db.exec("UPDATE tasks_tasks SET " .. table.concat(sets, ", ") .. " WHERE id = ?", table.unpack(args))
    local n = model.load(t.id)
    local change = {}
    if v.clause or v.content then change.title = item_title(n.clause, n.content) end
    if v.content or v.target_kind then change.content = n.content .. "\n" .. model.target_text(n) end
    if v.deadline then change.deadline = v.deadline end
    if v.co_units then change.co_units = yimen.array(U.ids_of(n.co_units)) end
    if v.leader then change.leader = v.leader end
    if next(change) then
      local ok, reason, code, efield = yimen.items.act(t.item_id, "update", req.user_id, change)
      if not ok then model.engine_refused(reason, code, efield) end
    end
    yimen.audit(req, "tasks.task_update", "tasks_task:" .. t.id, "ok", b)
    yimen.search.put{ kind = "tasks", ref = "task:" .. t.id, title = item_title(n.clause, n.content),
                      body = n.content, unit_id = n.lead_unit, permission = "tasks.read" }
  end)
  return 200, model.shape(model.load(t.id))
end

-- POST /api/tasks/tasks/:id/withdraw {reason}: the supervising office withdraws (撤销) a
-- task and its tracked item (yimen.items.act "withdraw"): the item's to-dos go, the task
-- leaves the lists, ranking and lagging check; its ledger and history stay. A task with
-- child tasks in force is withdrawn after them.
local function task_withdraw(req)
  local t = model.visible(req, check.id(req:param("id")))
  supervising(req, t, "withdraws")
  local b = check.body(req:json(), { reason = { type = "string", required = true, min = 1, max = 2000 } })
  if yimen.db.query("SELECT 1 AS x FROM tasks_tasks WHERE parent_id = ? AND withdrawn_at IS NULL LIMIT 1",
      t.id)[1] then
    yimen.error(409, "conflict", "the task has child tasks in force: withdraw them first")
  end
  yimen.db.write(function()
    local ok, reason, code, field = yimen.items.act(t.item_id, "withdraw", req.user_id, { reason = b.reason })
    if not ok then model.engine_refused(reason, code, field) end
    local now = yimen.now()
    yimen.db.exec("UPDATE tasks_tasks SET withdrawn_at = ?, withdrawn_reason = ?, updated_at = ? WHERE id = ?",
      now, b.reason, now, t.id)
    yimen.audit(req, "tasks.task_withdraw", "tasks_task:" .. t.id, "ok", { reason = b.reason, item_id = t.item_id })
  end)
  return 200, model.shape(model.load(t.id))
end

-- POST /api/tasks/tasks/:id/children: the lead unit splits its task for a department or
-- township below it. The child inherits what it does not give; its deadline may be
-- earlier than the parent's, never later.
local function task_split(req)
  local p = model.visible(req, check.id(req:param("id")))
  if not req:may("tasks.handle", p.lead_unit) then
    yimen.error(403, "forbidden", "only the lead unit decomposes its task")
  end
  if p.withdrawn_at ~= yimen.null then yimen.error(409, "wrong_state", "the task is withdrawn") end
  local b = task_body(req, TASK_KEYS)
  if b.lead_unit ~= nil and math.type(b.lead_unit) == "integer" and not model.below(b.lead_unit, p.lead_unit) then
    yimen.invalid("lead_unit", "a child task goes to a department or township of the lead unit")
  end
  if b.deadline ~= nil and model.real_date(b.deadline) and b.deadline > p.deadline then
    yimen.invalid("deadline", ("a child task may tighten the deadline, never loosen it: the parent is due %s")
      :format(p.deadline))
  end
  b.clause = b.clause or p.clause
  b.content = b.content or p.content
  if b.target_value == nil and b.milestone == nil then
    if p.target_kind == "number" then
      b.target_value, b.target_unit = p.target_value, b.target_unit or p.target_unit
    else
      b.milestone = p.milestone
    end
  end
  if b.target_value ~= nil and b.target_unit == nil and p.target_kind == "number" then
    b.target_unit = p.target_unit                 -- 40 of the parent's 公里
  end
  b.deadline = b.deadline or p.deadline
  b.report_cycle = b.report_cycle or p.report_cycle
  if b.nodes == nil then
    if p.node_plan ~= yimen.null then
      b.nodes = p.node_plan
    else
      local kept = yimen.array()
      for _, n in ipairs(yimen.json.decode(p.nodes) or {}) do
        if n.deadline < b.deadline then kept[#kept + 1] = n end
      end
      kept[#kept + 1] = { title = "完成", deadline = b.deadline }
      b.nodes = kept
    end
  end
  local v, field, msg = model.validate(b)
  if not v then yimen.invalid(field, msg) end
  local l = model.load_list(p.list_id)
  local id = yimen.db.write(function()
    local id = model.add(req, l, v, p)
    yimen.audit(req, "tasks.split", "tasks_task:" .. p.id, "ok", { child_id = id, lead_unit = v.lead_unit })
    return id
  end)
  return 201, model.shape(model.load(id))
end

---------------------------------------------------------------- settings and registration

local function read_settings()
  for _, key in ipairs(yimen.setting_keys()) do
    if not SETTINGS[key] and not HOST_SETTINGS[key] then yimen.fail("unknown setting tasks." .. key) end
  end
  red_days = yimen.setting("red_days", 5)
  if type(red_days) ~= "number" or red_days < 0 or red_days > 365 then
    yimen.fail("tasks.red_days must be a number of days from 0 to 365")
  end
  lagging_schedule = yimen.setting("lagging_schedule", "every 10m")
  if type(lagging_schedule) ~= "string" then
    yimen.fail("tasks.lagging_schedule must be a schedule such as \"every 10m\"")
  end
end

function M.init()
  read_settings()
  yimen.permission("tasks.read", "查看任务清单", "read task lists, tasks and their ledgers")
  yimen.permission("tasks.manage", "管理任务清单", "own task lists: edit, import, supervise, comment and score")
  yimen.permission("tasks.handle", "办理任务", "lead or co-handle tasks: report progress, decompose")
  yimen.route("GET", "/api/tasks/lists", "tasks.read", lists_index)
  yimen.route("POST", "/api/tasks/lists", "tasks.manage", list_create)
  yimen.route("GET", "/api/tasks/lists/:id", "tasks.read", list_get)
  yimen.route("GET", "/api/tasks/lists/:id.xlsx", "tasks.read", list_export)
  yimen.route("PATCH", "/api/tasks/lists/:id", "tasks.manage", list_update)
  yimen.route("DELETE", "/api/tasks/lists/:id", "tasks.manage", list_delete)
  yimen.route("POST", "/api/tasks/lists/:id/import", "tasks.manage", list_import)
  yimen.route("POST", "/api/tasks/lists/:id/tasks", "tasks.manage", task_create)
  yimen.route("GET", "/api/tasks/tasks", "tasks.read", views.tasks)
  yimen.route("GET", "/api/tasks/tasks/:id", "tasks.read", task_get)
  yimen.route("PATCH", "/api/tasks/tasks/:id", "tasks.manage", task_update)
  yimen.route("POST", "/api/tasks/tasks/:id/withdraw", "tasks.manage", task_withdraw)
  yimen.route("POST", "/api/tasks/tasks/:id/children", "tasks.handle", task_split)
  yimen.route("POST", "/api/tasks/tasks/:id/reports", "tasks.handle", ledger.report)
  yimen.route("GET", "/api/tasks/tasks/:id/reports", "tasks.read", ledger.list)
  yimen.route("POST", "/api/tasks/reports/:id/review", "tasks.manage", ledger.review)
  yimen.route("GET", "/api/tasks/ranking", "tasks.read", views.ranking)
  yimen.subscribe("core.items.colour", lagging.on_colour)
  yimen.job("tasks.lagging_check", lagging_schedule, function() lagging.check(red_days) end)
end

return M
