-- Withdrawn tasks (撤销): the supervising office withdraws a task (and with it the engine's
-- item); the task, its ledger and the item's history stay, it leaves the lists and ranking.
ALTER TABLE tasks_tasks ADD COLUMN withdrawn_at INTEGER;      -- ms, NULL while in force
ALTER TABLE tasks_tasks ADD COLUMN withdrawn_reason TEXT;
