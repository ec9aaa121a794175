-- tasks/lagging: a task red for longer than red_days is proposed to the supervision office.
-- The colour comes from the engine (core.items.colour, heard by subscription); the job
-- tasks.lagging_check emits "tasks.lagging" once per task. Nothing subscribes to it unless
-- the supervision plugin is enabled, and nothing breaks when it is not.
local yimen = require "yimen"

local G = {}

local DAY = 86400000

-- core.items.colour {item_id, from, to}: remember our task's colour and since when it is red.
function G.on_colour(name, ev)
  local id = math.tointeger(ev.item_id)
  if not id then return end
  local t = yimen.db.query("SELECT id, colour, red_since FROM tasks_tasks WHERE item_id = ?", id)[1]
  if not t then return end                    -- another plugin's item
  local since = yimen.null
  if ev.to == "red" then
    since = (t.colour == "red" and t.red_since ~= yimen.null) and t.red_since or yimen.now()
  end
  yimen.db.exec("UPDATE tasks_tasks SET colour = ?, red_since = ? WHERE id = ?", ev.to or yimen.null, since, t.id)
end

-- The job: every task red since more than red_days ago, not yet proposed.
function G.check(red_days)
  local cutoff = yimen.now() - red_days * DAY
  local due = yimen.db.query("SELECT t.id, t.list_id, t.clause, t.content, t.lead_unit, t.deadline, t.item_id, " ..
    "t.red_since FROM tasks_tasks t WHERE t.colour = 'red' AND t.lagging_at IS NULL AND t.red_since <= ? " ..
    "AND t.withdrawn_at IS NULL " ..
    "ORDER BY t.id LIMIT 500", cutoff)
  for _, t in ipairs(due) do
    yimen.db.write(function()
      local item = yimen.items.get(t.item_id)
      if not item or item.colour ~= "red" then     -- no longer red: the subscription lags behind
        yimen.db.exec("UPDATE tasks_tasks SET colour = ?, red_since = NULL WHERE id = ?",
          item and item.colour or yimen.null, t.id)
        return
      end
      yimen.emit("tasks.lagging", {
        task_id = t.id, list_id = t.list_id, title = item.title, lead_unit = t.lead_unit,
        deadline = t.deadline, colour = item.colour, since = yimen.time_format(t.red_since),
        record = "tasks_tasks:" .. t.id, item_id = t.item_id })
      yimen.db.exec("UPDATE tasks_tasks SET lagging_at = ? WHERE id = ?", yimen.now(), t.id)
    end)
  end
end

return G
