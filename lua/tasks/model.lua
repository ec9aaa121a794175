-- tasks/model: the task and list records — validation, the tracked item behind each
-- task, loading with scope (404 for what the caller may not see) and the API shape.
local yimen = require "yimen"
local U = require "util"

local M = {}

M.TASK_COLS = "id, list_id, parent_id, clause, content, target_kind, target_value, target_unit, milestone, " ..
  "lead_unit, co_units, leader, node_plan, nodes, deadline, report_cycle, item_id, colour, red_since, " ..
  "lagging_at, achieved, reports, last_report_at, created_by, created_at, updated_at, withdrawn_at, withdrawn_reason"

local LIST_COLS = "id, title, source_doc, year, owner_unit, created_by, created_at, updated_at"

-- The engine's refusal codes as HTTP answers.
local STATUS = { invalid = 400, not_found = 404, wrong_state = 409, lag_reason_required = 409,
                 storage_busy = 503, forbidden = 403 }

function M.engine_refused(reason, code, field)
  if code == "invalid" or code == nil then yimen.invalid(field or "", reason) end
  yimen.error(STATUS[code] or 400, code, reason)
end

---------------------------------------------------------------- units

-- A unit row {id, name, parent_id, path} by id, or nil.
function M.unit(id)
  if math.type(id) ~= "integer" then return nil end
  return yimen.db.query("SELECT id, name, parent_id, path FROM core_v_units WHERE id = ?", id)[1]
end

-- The unit named name (full or short name, active first); nil, why when none or several.
function M.unit_by_name(name)
  local rows = yimen.db.query("SELECT id FROM core_v_units WHERE (name = ? OR short_name = ?) AND active = 1",
    name, name)
  if #rows == 1 then return rows[1].id end
  if #rows == 0 then return nil, ("no unit named %s"):format(name) end
  return nil, ("%d units are named %s"):format(#rows, name)
end

local function unit_ref(id)
  local u = M.unit(id)
  return { id = id, name = u and u.name or yimen.null }
end

-- Is unit a strictly below ancestor (a department or township of it)?
function M.below(unit, ancestor)
  local u, a = M.unit(unit), M.unit(ancestor)
  return u and a and u.id ~= a.id and u.path:sub(1, #a.path) == a.path
end

---------------------------------------------------------------- validation

local CYCLES = { weekly = true }

-- "monthly N" / "weekly", or nil.
function M.cycle(s)
  if type(s) ~= "string" then return nil end
  if CYCLES[s] then return s end
  local n = s:match("^monthly (%d%d?)$")
  n = n and tonumber(n)
  if n and n >= 1 and n <= 31 then return ("monthly %d"):format(n) end
  return nil
end

local function chars(s) return type(s) == "string" and yimen.text.len(s) end

-- A real date "YYYY-MM-DD" of the years a work plan spans (2000 to 2100), else nil.
local function real_date(s)
  local d = yimen.date.valid(s)
  return d and d >= "2000-01-01" and d <= "2100-12-31" and d or nil
end
M.real_date = real_date

local function text_ok(s, min, max)
  local n = chars(s)
  return n and n >= min and n <= max and s:find("%S") ~= nil
end

-- The task's nodes for the engine: a plan "quarterly"/"monthly" gives period ends before
-- the deadline plus the deadline itself; an array is taken as given ({title, deadline}).
function M.plan_nodes(plan, deadline)
  local y = tonumber(deadline:sub(1, 4))
  local nodes = yimen.array()
  local ends = {}
  if plan == "quarterly" then
    for q = 1, 4 do
      local m = q * 3
      ends[#ends + 1] = { ("第%s季度"):format(({ "一", "二", "三", "四" })[q]),
                          ("%04d-%02d-%02d"):format(y, m, yimen.date.days_in_month(y, m)) }
    end
  elseif plan == "monthly" then
    for m = 1, 12 do
      ends[#ends + 1] = { ("%d月"):format(m), ("%04d-%02d-%02d"):format(y, m, yimen.date.days_in_month(y, m)) }
    end
  end
  for _, e in ipairs(ends) do
    if e[2] < deadline then nodes[#nodes + 1] = { title = e[1], deadline = e[2] } end
  end
  nodes[#nodes + 1] = { title = "完成", deadline = deadline }
  return nodes
end

-- Checks a task's fields t (JSON body or an imported row, units already ids).
-- partial: PATCH (nothing required). Returns the normalised task, or nil, field, message.
function M.validate(t, partial, cur)
  local out = {}
  local function need(f) return not partial and t[f] == nil end
  if need("clause") then return nil, "clause", "clause is required" end
  if t.clause ~= nil then
    if not text_ok(t.clause, 1, 50) then return nil, "clause", "clause must be 1 to 50 characters" end
    out.clause = t.clause
  end
  if need("content") then return nil, "content", "content is required" end
  if t.content ~= nil then
    if not text_ok(t.content, 1, 2000) then return nil, "content", "content must be 1 to 2000 characters" end
    out.content = t.content
  end
  -- the measurable target: a number and its unit, or a milestone; never a bare verb
  local v, unit, ms = t.target_value, t.target_unit, t.milestone
  if v == yimen.null then v = nil end
  if unit == yimen.null then unit = nil end
  if ms == yimen.null then ms = nil end
  if v ~= nil or unit ~= nil or ms ~= nil or not partial then
    if v ~= nil and ms ~= nil then
      return nil, "milestone", "give a numeric target (target_value, target_unit) or a milestone, not both"
    end
    if v ~= nil then
      if type(v) ~= "number" or v ~= v or v <= 0 or v > 1e15 then
        return nil, "target_value", "target_value must be a positive number"
      end
      if not text_ok(unit, 1, 20) then return nil, "target_unit", "target_unit (e.g. 亿元, 公里) is required" end
      out.target_kind, out.target_value, out.target_unit, out.milestone = "number", v, unit, yimen.null
    elseif ms ~= nil then
      if not text_ok(ms, 2, 200) then return nil, "milestone", "milestone must be 2 to 200 characters" end
      if unit ~= nil then return nil, "target_unit", "target_unit goes with target_value" end
      out.target_kind, out.target_value, out.target_unit, out.milestone = "milestone", yimen.null, yimen.null, ms
    else
      return nil, "target_value", "a measurable target is required: target_value and target_unit, or milestone"
    end
  end
  if need("lead_unit") then return nil, "lead_unit", "lead_unit is required" end
  if t.lead_unit ~= nil then
    if not M.unit(t.lead_unit) then return nil, "lead_unit", "no such unit" end
    out.lead_unit = t.lead_unit
  end
  if t.co_units ~= nil and t.co_units ~= yimen.null then
    if type(t.co_units) ~= "table" or not yimen.is_array(t.co_units) or #t.co_units > 50 then
      return nil, "co_units", "co_units must be a list of at most 50 unit ids"
    end
    local seen = {}
    for _, u in ipairs(t.co_units) do
      if not M.unit(u) then return nil, "co_units", ("no such unit %s"):format(tostring(u)) end
      if u == (out.lead_unit or (cur and cur.lead_unit)) or seen[u] then
        return nil, "co_units", ("unit %d is the lead unit or listed twice"):format(u)
      end
      seen[u] = true
    end
    out.co_units = t.co_units
  elseif not partial then
    out.co_units = {}
  end
  if t.leader ~= nil and t.leader ~= yimen.null then
    if not text_ok(t.leader, 1, 64) or t.leader:find("\n") then
      return nil, "leader", "leader must be 1 to 64 characters on one line"
    end
    out.leader = t.leader
  end
  if need("deadline") then return nil, "deadline", "deadline is required" end
  if t.deadline ~= nil then
    if not real_date(t.deadline) then return nil, "deadline", "deadline must be a date YYYY-MM-DD" end
    out.deadline = t.deadline
  end
  if t.report_cycle ~= nil then
    out.report_cycle = M.cycle(t.report_cycle)
    if not out.report_cycle then
      return nil, "report_cycle", "report_cycle must be \"monthly N\" (1 to 31) or \"weekly\""
    end
  elseif not partial then
    out.report_cycle = "monthly 28"
  end
  if t.nodes ~= nil and t.nodes ~= yimen.null then
    if t.nodes == "quarterly" or t.nodes == "monthly" then
      out.node_plan = t.nodes
    elseif type(t.nodes) == "table" and yimen.is_array(t.nodes) and #t.nodes <= 49 then
      local dl = out.deadline or (cur and cur.deadline)
      for i, n in ipairs(t.nodes) do
        if type(n) ~= "table" or not text_ok(n.title, 1, 100) or not real_date(n.deadline) then
          return nil, "nodes", ("node %d must be {title, deadline: YYYY-MM-DD}"):format(i)
        end
        if dl and n.deadline > dl then
          return nil, "nodes", ("node %d is due after the task's deadline"):format(i)
        end
      end
      out.node_list = t.nodes
    else
      return nil, "nodes", "nodes must be \"quarterly\", \"monthly\" or a list of {title, deadline}"
    end
  end
  return out
end

---------------------------------------------------------------- lists

function M.load_list(id)
  return id and yimen.db.query("SELECT " .. LIST_COLS .. " FROM tasks_lists WHERE id = ?", id)[1]
end

function M.shape_list(l, counts)
  local o = {
    id = l.id, title = l.title, source_doc = l.source_doc, year = l.year, owner_unit = unit_ref(l.owner_unit),
    created_by = l.created_by, created_at = yimen.time_format(l.created_at),
    updated_at = yimen.time_format(l.updated_at),
  }
  if counts then
    local c = yimen.db.query("SELECT count(*) AS n, sum(colour = 'red') AS red, " ..
      "sum(parent_id IS NULL) AS top, sum(withdrawn_at IS NOT NULL) AS withdrawn FROM tasks_tasks " ..
      "WHERE list_id = ?", l.id)[1]
    local function n(v) return v == yimen.null and 0 or v end
    o.tasks = c.n
    o.top_tasks = n(c.top)
    o.red = n(c.red)
    o.withdrawn = n(c.withdrawn)
  end
  return o
end

---------------------------------------------------------------- tasks

function M.load(id)
  return id and yimen.db.query("SELECT " .. M.TASK_COLS .. " FROM tasks_tasks WHERE id = ?", id)[1]
end

-- The unit that supervises a task: the list's owner office for a top-level task, the
-- parent's lead unit for a child of decomposition.
function M.supervisor(t, list)
  if t.parent_id ~= yimen.null then
    local p = M.load(t.parent_id)
    return p.lead_unit
  end
  list = list or M.load_list(t.list_id)
  return list.owner_unit
end

-- Every unit with a part in the task: owner office, supervisor, lead and co-units.
function M.parties(t, list)
  list = list or M.load_list(t.list_id)
  local units = { list.owner_unit, M.supervisor(t, list), t.lead_unit }
  for _, u in ipairs(U.ids_of(t.co_units)) do units[#units + 1] = u end
  return units
end

function M.may_read(req, t, list)
  return U.may_any(req, "tasks.read", M.parties(t, list))
end

-- The task named by :id, if the caller may read it; else 404.
function M.visible(req, id)
  local t = M.load(id)
  if not t or not M.may_read(req, t) then yimen.error(404, "not_found", "no such task") end
  return t
end

-- Progress against the target and the time elapsed, both 0..1 (null when unknown).
function M.progress(t, today)
  local p = yimen.null
  if t.target_kind == "number" and t.achieved ~= yimen.null then
    p = math.min(1, t.achieved / t.target_value)
  end
  today = today or yimen.date.today()
  local year = tonumber(t.deadline:sub(1, 4))
  local start = yimen.date.parse(("%04d-01-01"):format(year))
  local created = yimen.date.parse(yimen.time_format(t.created_at):sub(1, 10))
  if created < start then start = created end
  local total = yimen.date.parse(t.deadline) - start + 1
  local e = (yimen.date.parse(today) - start + 1) / total
  return p, math.max(0, math.min(1, e))
end

function M.shape(t, today)
  local p, e = M.progress(t, today)
  return {
    id = t.id, list_id = t.list_id, parent_id = t.parent_id, clause = t.clause, content = t.content,
    target = t.target_kind == "number"
      and { kind = "number", value = t.target_value, unit = t.target_unit }
      or { kind = "milestone", milestone = t.milestone },
    lead_unit = unit_ref(t.lead_unit),
    co_units = (function()
      local a = yimen.array()
      for i, u in ipairs(U.ids_of(t.co_units)) do a[i] = unit_ref(u) end
      return a
    end)(),
    leader = t.leader, node_plan = t.node_plan, nodes = yimen.json.decode(t.nodes) or yimen.array(),
    deadline = t.deadline, report_cycle = t.report_cycle, item_id = t.item_id,
    colour = t.colour, red_since = t.red_since ~= yimen.null and yimen.time_format(t.red_since) or yimen.null,
    lagging_at = t.lagging_at ~= yimen.null and yimen.time_format(t.lagging_at) or yimen.null,
    achieved = t.achieved, progress = p, elapsed = e, reports = t.reports,
    last_report_at = t.last_report_at ~= yimen.null and yimen.time_format(t.last_report_at) or yimen.null,
    created_by = t.created_by, created_at = yimen.time_format(t.created_at),
    updated_at = yimen.time_format(t.updated_at),
    withdrawn_at = t.withdrawn_at ~= yimen.null and yimen.time_format(t.withdrawn_at) or yimen.null,
    withdrawn_reason = t.withdrawn_reason,
  }
end

-- "目标：40公里" or "目标：<milestone>", the last line of the item's content.
function M.target_text(v)
  if v.target_kind == "number" then
    return ("目标：%s%s"):format(tostring(math.tointeger(v.target_value) or v.target_value), v.target_unit)
  end
  return "目标：" .. v.milestone
end

-- Adds a validated task v to list (inside the caller's write) and its tracked item:
-- supervised by the owner office (or, for a child, the parent's lead unit), assigned at
-- once. row: the import row number for messages, or nil. Returns the new id.
function M.add(req, list, v, parent, row)
  local now = yimen.now()
  local nodes = v.node_list or M.plan_nodes(v.node_plan, v.deadline)
  local _, id = yimen.db.exec("INSERT INTO tasks_tasks (list_id, parent_id, clause, content, target_kind, " ..
    "target_value, target_unit, milestone, lead_unit, co_units, leader, node_plan, nodes, deadline, report_cycle, " ..
    "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    list.id, parent and parent.id or yimen.null, v.clause, v.content, v.target_kind, v.target_value,
    v.target_unit, v.milestone, v.lead_unit, U.ids_json(v.co_units), v.leader or yimen.null,
    v.node_plan or yimen.null, yimen.json.encode(nodes), v.deadline, v.report_cycle, req.user_id, now, now)
  local first_line = v.content:match("^[^\r\n]*")
  local item, reason, code, field = yimen.items.create(req.user_id, {
    source_kind = "task_list", record = "tasks_tasks:" .. id,
    title = yimen.text.truncate(v.clause .. " " .. first_line, 200),
    content = v.content .. "\n" .. M.target_text(v),
    supervisor_unit = parent and parent.lead_unit or list.owner_unit,
    parent_id = parent and parent.item_id or nil,
    lead_unit = v.lead_unit, co_units = yimen.array(v.co_units), leader = v.leader,
    deadline = v.deadline, nodes = nodes, report_cycle = v.report_cycle, assign = true })
  if not item then
    if row then yimen.invalid("file", ("row %d: %s"):format(row, reason)) end
    M.engine_refused(reason, code, field)
  end
  local colour = (yimen.items.get(item) or {}).colour or yimen.null
  yimen.db.exec("UPDATE tasks_tasks SET item_id = ?, colour = ?, red_since = ? WHERE id = ?", item, colour,
    colour == "red" and now or yimen.null, id)
  yimen.audit(req, "tasks.task_create", "tasks_task:" .. id, "ok",
    { list_id = list.id, item_id = item, parent_id = parent and parent.id or nil, row = row })
  yimen.search.put{ kind = "tasks", ref = "task:" .. id, title = yimen.text.truncate(v.clause .. " " .. first_line, 200),
                    body = v.content, unit_id = v.lead_unit, permission = "tasks.read" }
  return id
end

return M
