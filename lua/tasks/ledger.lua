-- tasks/ledger: the execution ledger (执行台账) — progress reports with the value achieved
-- against the target, text, attachments and funds used, the unit's self-assessment, and
-- the supervising office's comment and score. Each report is also the engine's report.
local yimen = require "yimen"
local check = require "yimen.check"
local U = require "util"
local model = require "model"

local L = {}

local REPORT = {
  value = { type = "number", min = 0 }, text = { type = "string", required = true, min = 1, max = 10000 },
  funds = { type = "number", min = 0 }, self_assessment = { type = "string", min = 1, max = 2000 },
  percent = { type = "integer", min = 0, max = 100 }, file_ids = { type = "array" },
  unit_id = { type = "integer", min = 1 },
}

local function shape(r)
  return {
    id = r.id, task_id = r.task_id, unit_id = r.unit_id, user_id = r.user_id, value = r.value, text = r.text,
    funds = r.funds, self_assessment = r.self_assessment,
    file_ids = yimen.json.decode(r.file_ids) or yimen.array(), item_report_id = r.item_report_id,
    comment = r.comment, score = r.score, reviewed_by = r.reviewed_by,
    reviewed_at = r.reviewed_at ~= yimen.null and yimen.time_format(r.reviewed_at) or yimen.null,
    created_at = yimen.time_format(r.created_at),
  }
end

local COLS = "id, task_id, unit_id, user_id, value, text, funds, self_assessment, file_ids, item_report_id, " ..
  "comment, score, reviewed_by, reviewed_at, created_at"

local function load(id)
  return yimen.db.query("SELECT " .. COLS .. " FROM tasks_reports WHERE id = ?", id)[1]
end

-- The unit the caller reports for: unit_id when given (lead or co-unit), else the lead unit
-- when they handle it, else the first co-unit they handle; 403 when none.
local function acting_unit(req, t, asked)
  local units = { t.lead_unit }
  for _, u in ipairs(U.ids_of(t.co_units)) do units[#units + 1] = u end
  for _, u in ipairs(units) do
    if (not asked or asked == u) and req:may("tasks.handle", u) then return u end
  end
  if asked then
    local part = false
    for _, u in ipairs(units) do part = part or u == asked end
    if not part then yimen.invalid("unit_id", "that unit has no part in this task") end
  end
  yimen.error(403, "forbidden", "you may not report for this task's units")
end

-- POST /api/tasks/tasks/:id/reports
function L.report(req)
  local t = model.visible(req, check.id(req:param("id")))
  if t.withdrawn_at ~= yimen.null then yimen.error(409, "wrong_state", "the task is withdrawn") end
  local b = check.body(req:json(), REPORT)
  local unit = acting_unit(req, t, b.unit_id)
  if t.target_kind == "number" and b.value == nil then
    yimen.invalid("value", ("the value achieved is required: the target is %s %s"):format(
      tostring(math.tointeger(t.target_value) or t.target_value), t.target_unit))
  end
  if t.target_kind ~= "number" and b.value ~= nil then
    yimen.invalid("value", "this task has a milestone, not a numeric target: give percent")
  end
  local files = yimen.array()
  for i, f in ipairs(b.file_ids or {}) do
    if math.type(f) ~= "integer" or f < 1 then yimen.invalid("file_ids", "file_ids must be upload ids") end
    files[i] = f
  end
  local percent = b.percent
  if t.target_kind == "number" then
    percent = math.min(100, math.floor(b.value / t.target_value * 100))
  end
  local id = yimen.db.write(function()
    local item = yimen.items.get(t.item_id)
    if item and item.state == "assigned" and unit == t.lead_unit then
      -- reporting is receipt: the lead unit signs for the task first (签收)
      local ok, reason, code, field = yimen.items.act(t.item_id, "accept", req.user_id, { unit_id = unit })
      if not ok then model.engine_refused(reason, code, field) end
    end
    local text = b.text
    if b.value then text = ("%s（完成值 %s%s）"):format(text, tostring(math.tointeger(b.value) or b.value), t.target_unit) end
    local rid, reason, code, field = yimen.items.act(t.item_id, "report", req.user_id,
      { text = text, file_ids = files, percent = percent, unit_id = unit })
    if not rid then model.engine_refused(reason, code, field) end
    local now = yimen.now()
    local _, id = yimen.db.exec("INSERT INTO tasks_reports (task_id, unit_id, user_id, value, text, funds, " ..
      "self_assessment, file_ids, item_report_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      t.id, unit, req.user_id, b.value or yimen.null, b.text, b.funds or yimen.null,
      b.self_assessment or yimen.null, yimen.json.encode(files), rid, now)
    if unit == t.lead_unit and b.value then
      yimen.db.exec("UPDATE tasks_tasks SET achieved = ? WHERE id = ?", b.value, t.id)
    end
    yimen.db.exec("UPDATE tasks_tasks SET reports = reports + 1, last_report_at = ?, updated_at = ? WHERE id = ?",
      now, now, t.id)
    yimen.audit(req, "tasks.report", "tasks_task:" .. t.id, "ok", { report_id = id, value = b.value, unit_id = unit })
    return id
  end)
  return 201, { report = shape(load(id)), task = model.shape(model.load(t.id)) }
end

-- GET /api/tasks/tasks/:id/reports: the ledger of one task, oldest first.
function L.list(req)
  local t = model.visible(req, check.id(req:param("id")))
  local items = yimen.array()
  for i, r in ipairs(yimen.db.query("SELECT " .. COLS .. " FROM tasks_reports WHERE task_id = ? ORDER BY id", t.id)) do
    items[i] = shape(r)
  end
  local funds = yimen.db.query("SELECT sum(funds) AS s FROM tasks_reports WHERE task_id = ?", t.id)[1].s
  return 200, { items = items, funds_total = funds }
end

-- POST /api/tasks/reports/:id/review {comment, score}: the supervising office's 点评 and score.
function L.review(req)
  local id = check.id(req:param("id"))
  local r = id and load(id)
  local t = r and model.load(r.task_id)
  if not t or not model.may_read(req, t) then yimen.error(404, "not_found", "no such report") end
  if not req:may("tasks.manage", model.supervisor(t)) then
    yimen.error(403, "forbidden", "only the supervising office comments on and scores reports")
  end
  local b = check.body(req:json(), { comment = { type = "string", required = true, min = 1, max = 2000 },
                                     score = { type = "number", min = 0, max = 100 } })
  yimen.db.write(function()
    yimen.db.exec("UPDATE tasks_reports SET comment = ?, score = ?, reviewed_by = ?, reviewed_at = ? WHERE id = ?",
      b.comment, b.score or yimen.null, req.user_id, yimen.now(), r.id)
    yimen.audit(req, "tasks.review", "tasks_report:" .. r.id, "ok", { score = b.score })
    yimen.notify(r.user_id, { severity = "info", title = yimen.text.truncate("任务报告已点评：" .. t.clause, 200),
                              link = "#/tasks/tasks/" .. t.id })
  end)
  return 200, shape(load(r.id))
end

return L
