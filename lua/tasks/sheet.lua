-- tasks/sheet: a task list to and from Excel. Columns (row 1 is the header):
--   A 条款  B 任务内容  C 目标（数值或里程碑）  D 计量单位  E 牵头单位  F 责任单位（、分隔）
--   G 责任领导  H 节点（季度/月度）  I 完成时限  J 报告周期（每月28日）
-- An import is all or nothing: the first problem answers 400 with field "file" and the
-- message "row 90, column E: …"; nothing is written.
local yimen = require "yimen"
local U = require "util"
local model = require "model"

local S = {}

S.HEADER = { "条款", "任务内容", "目标", "计量单位", "牵头单位", "责任单位", "责任领导", "节点", "完成时限",
             "报告周期" }
local MAX_ROWS = 2000
local COL = { clause = "A", content = "B", target_value = "C", milestone = "C", target_unit = "D",
              lead_unit = "E", co_units = "F", leader = "G", nodes = "H", deadline = "I", report_cycle = "J" }

local function text(v)
  if v == nil or v == yimen.null then return nil end
  if type(v) == "number" then v = tostring(math.tointeger(v) or v) end
  if type(v) ~= "string" or not yimen.text.len(v) then return nil end
  v = yimen.text.trim(v)                               -- also the full-width space
  if v == "" then return nil end
  return v
end

-- A date cell: an Excel serial day number, "2026-12-31", "2026/12/31" or "2026年12月31日".
local function date_cell(v)
  if type(v) == "number" then
    local n = (math.tointeger(v) or math.floor(v)) - 25569     -- 25569: 1970-01-01 as an Excel serial
    if n < 0 or n > yimen.date.parse("2100-12-31") then return nil end
    return model.real_date(yimen.date.format(n))
  end
  return model.real_date(yimen.date.read(v))
end

local function cycle_cell(v)
  local s = text(v)
  if not s then return "monthly 28" end
  if s == "每周" or s == "weekly" then return "weekly" end
  local n = s:gsub("日$", ""):match("^每月(%d%d?)$") or s:match("^monthly (%d%d?)$")
  return n and model.cycle("monthly " .. n) or nil
end

local PLANS = { ["季度"] = "quarterly", ["按季度"] = "quarterly", ["quarterly"] = "quarterly",
                ["月度"] = "monthly", ["按月"] = "monthly", ["monthly"] = "monthly" }

-- Rows of the sheet as validated tasks, or raises 400 naming the row and column.
function S.parse(bytes)
  local rows, why = yimen.sheets.rows(bytes or "")
  if not rows then yimen.invalid("file", why) end
  if #rows - 1 > MAX_ROWS then yimen.invalid("file", ("at most %d tasks in one import"):format(MAX_ROWS)) end
  local tasks = {}
  for r = 2, #rows do
    local row = rows[r]
    local function bad(col, msg) yimen.invalid("file", ("row %d, column %s: %s"):format(r, col, msg)) end
    local empty = true
    for c = 1, 10 do if text(row[c]) then empty = false end end
    if not empty then
      local t = { clause = text(row[1]), content = text(row[2]), target_unit = text(row[4]),
                  leader = text(row[7]) }
      local target = row[3]
      if type(target) == "number" then
        t.target_value = target
      else
        local s = text(target)
        local num = s and s:match("^[%d.]+$") and tonumber(s)
        if num then t.target_value = num else t.milestone = s end
      end
      local lead = text(row[5])
      if not lead then bad("E", "the lead unit (牵头单位) is empty") end
      local id, err = model.unit_by_name(lead)
      if not id then bad("E", err) end
      t.lead_unit = id
      t.co_units = yimen.array()
      -- 、，,；; and white space between the names (whole characters, never bytes)
      for _, name in ipairs(yimen.text.split(text(row[6]) or "", "、，,；; \t\r\n　")) do
        local cid, cerr = model.unit_by_name(name)
        if not cid then bad("F", cerr) end
        t.co_units[#t.co_units + 1] = cid
      end
      local plan = text(row[8])
      if plan then
        t.nodes = PLANS[plan]
        if not t.nodes then bad("H", "nodes must be 季度 or 月度 (or empty)") end
      end
      t.deadline = date_cell(row[9])
      if not t.deadline then bad("I", "the deadline (完成时限) must be a date such as 2026-12-31") end
      t.report_cycle = cycle_cell(row[10])
      if not t.report_cycle then bad("J", "the reporting cycle must be 每月N日 or 每周") end
      local v, field, msg = model.validate(t)
      if not v then bad(COL[field] or "A", msg) end
      v.row = r
      tasks[#tasks + 1] = v
    end
  end
  if #tasks == 0 then yimen.invalid("file", "no tasks after the header row") end
  return tasks
end

local PLAN_NAMES = { quarterly = "季度", monthly = "月度" }

-- The list as an .xlsx in the import's columns (and 编号, 进度, 灯色 after them).
function S.export(req, list, tasks)
  local rows = yimen.array()
  for i, t in ipairs(tasks) do
    local co = {}
    for _, u in ipairs(U.ids_of(t.co_units)) do
      local unit = model.unit(u)
      co[#co + 1] = unit and unit.name or tostring(u)
    end
    local lead = model.unit(t.lead_unit)
    local n = t.report_cycle:match("^monthly (%d+)$")
    rows[i] = {
      t.clause, t.content,
      t.target_kind == "number" and t.target_value or t.milestone,
      t.target_kind == "number" and t.target_unit or yimen.null,
      lead and lead.name or tostring(t.lead_unit), table.concat(co, "、"), t.leader,
      PLAN_NAMES[t.node_plan] or yimen.null, { date = t.deadline },
      n and ("每月" .. n .. "日") or "每周",
      t.id, t.achieved, t.colour,
    }
  end
  local header = { table.unpack(S.HEADER) }
  header[#header + 1], header[#header + 2], header[#header + 3] = "编号", "完成值", "灯色"
  yimen.sheets.xlsx(req, yimen.text.truncate(list.title, 120) .. ".xlsx", { name = "任务清单", header = header, rows = rows })
end

return S
