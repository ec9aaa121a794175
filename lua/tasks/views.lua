-- tasks/views: the lists of tasks people work from — my unit's, by leader, by list, by
-- colour — with progress against target and elapsed time, and the per-unit ranking.
local yimen = require "yimen"
local check = require "yimen.check"
local model = require "model"

local V = {}

-- GET /api/tasks/tasks?list=&unit=&mine=1&leader=&colour=&parent=&limit=&after=
-- Keyset-paged by id over the tasks the caller may read.
function V.tasks(req)
  local limit, after = check.page(req, 50, 500)
  local where, args = { "id > ?" }, { after }
  local withdrawn = req:query("withdrawn")
  if withdrawn ~= nil and withdrawn ~= "0" and withdrawn ~= "1" then
    yimen.invalid("withdrawn", "withdrawn must be 0 (tasks in force, the default) or 1 (withdrawn tasks)")
  end
  where[#where + 1] = withdrawn == "1" and "withdrawn_at IS NOT NULL" or "withdrawn_at IS NULL"
  local list = req:query("list")
  if list then
    local id = check.id(list)
    if not id then yimen.invalid("list", "list must be a list id") end
    where[#where + 1] = "list_id = ?"; args[#args + 1] = id
  end
  local unit = req:query("unit")
  if req:query("mine") == "1" then unit = tostring(req.unit_id) end
  if unit then
    local id = check.id(unit)
    if not id then yimen.invalid("unit", "unit must be a unit id") end
    where[#where + 1] = "(lead_unit = ? OR instr(',' || trim(co_units, '[]') || ',', ?) > 0)"
    args[#args + 1] = id; args[#args + 1] = "," .. id .. ","
  end
  local leader = req:query("leader")
  if leader then where[#where + 1] = "leader = ?"; args[#args + 1] = leader end
  local colour = req:query("colour")
  if colour then
    if not ({ green = 1, blue = 1, yellow = 1, orange = 1, red = 1 })[colour] then
      yimen.invalid("colour", "colour must be green, blue, yellow, orange or red")
    end
    where[#where + 1] = "colour = ?"; args[#args + 1] = colour
  end
  local parent = req:query("parent")
  if parent then
    local id = check.id(parent)
    if not id then yimen.invalid("parent", "parent must be a task id") end
    where[#where + 1] = "parent_id = ?"; args[#args + 1] = id
  end
  local items, lists, today = yimen.array(), {}, yimen.date.today()
  local last, nxt, done = after, yimen.null, false
  local sql = "SELECT " .. model.TASK_COLS .. " FROM tasks_tasks WHERE " .. table.concat(where, " AND ") ..
    " ORDER BY id LIMIT ?"
  local nargs = #args + 1
  args[nargs] = limit
  while not done do                              -- rows the caller may not read are skipped
    args[1] = last
    local rows = yimen.db.query(sql, table.unpack(args, 1, nargs))
    for _, t in ipairs(rows) do
      last = t.id
      lists[t.list_id] = lists[t.list_id] or model.load_list(t.list_id)
      if model.may_read(req, t, lists[t.list_id]) then
        items[#items + 1] = model.shape(t, today)
        if #items == limit then nxt, done = t.id, true; break end
      end
    end
    if #rows < limit then done = true end
  end
  return 200, { items = items, next = nxt }
end

-- GET /api/tasks/ranking?list=: per lead unit of the list, the tasks it leads (top-level and children):
-- count, completed (progress 1), red, mean progress of numeric targets, mean score of its
-- reviewed reports; ranked by mean progress, then mean score, then fewer red.
function V.ranking(req)
  local lid = check.id(req:query("list") or "")
  if not lid then yimen.invalid("list", "list must be a list id") end
  local list = model.load_list(lid)
  local mine = list and yimen.db.query("SELECT 1 AS x FROM tasks_tasks WHERE list_id = ? AND lead_unit = ? LIMIT 1",
    lid, req.unit_id)[1]
  if not list or not (req:may("tasks.read", list.owner_unit) or (mine and req:may("tasks.read", req.unit_id))) then
    yimen.error(404, "not_found", "no such list")
  end
  local rows = yimen.db.query("SELECT t.lead_unit AS unit, count(*) AS tasks, sum(t.colour = 'red') AS red, " ..
    "avg(CASE WHEN t.target_kind = 'number' THEN min(1.0, coalesce(t.achieved, 0) / t.target_value) END) AS progress, " ..
    "sum(t.target_kind = 'number' AND t.achieved >= t.target_value) AS completed, " ..
    "(SELECT avg(r.score) FROM tasks_reports r JOIN tasks_tasks t2 ON t2.id = r.task_id " ..
    " WHERE t2.lead_unit = t.lead_unit AND t2.list_id = t.list_id AND r.score IS NOT NULL " ..
    " AND t2.withdrawn_at IS NULL) AS score " ..
    "FROM tasks_tasks t WHERE t.list_id = ? AND t.withdrawn_at IS NULL GROUP BY t.lead_unit", lid)
  local out = {}
  for _, r in ipairs(rows) do
    local u = model.unit(r.unit)
    out[#out + 1] = { unit = { id = r.unit, name = u and u.name or yimen.null }, tasks = r.tasks,
                      red = r.red, completed = r.completed, progress = r.progress, score = r.score }
  end
  local function n(v) return v == yimen.null and -1 or v end
  table.sort(out, function(a, b)
    if n(a.progress) ~= n(b.progress) then return n(a.progress) > n(b.progress) end
    if n(a.score) ~= n(b.score) then return n(a.score) > n(b.score) end
    if a.red ~= b.red then return a.red < b.red end
    return a.unit.id < b.unit.id
  end)
  local items = yimen.array()
  for i, r in ipairs(out) do r.rank = i; items[i] = r end
  return 200, { list_id = lid, items = items }
end

return V
