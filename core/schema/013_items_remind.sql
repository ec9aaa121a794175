-- Reminders before a due date (core.items_remind): one row per item, due date and
-- offset already sent, so that each reminder goes out once. what is "deadline",
-- "node:<node id>" or "report"; due_date the date reminded of, so that a new deadline
-- (an approved extension) or the next reporting period is reminded of again.
CREATE TABLE core_item_reminders (
    item_id     INTEGER NOT NULL REFERENCES core_items(id),
    what        TEXT NOT NULL,
    due_date    TEXT NOT NULL,                   -- 'YYYY-MM-DD'
    offset_days INTEGER NOT NULL,                -- working days before due_date
    sent_at     INTEGER NOT NULL,                -- ms
    PRIMARY KEY (item_id, what, due_date, offset_days)
) WITHOUT ROWID;

-- Lists of one plugin's items by colour, newest first (the supervision board's colour
-- filter), without walking every item.
CREATE INDEX core_items_source_colour ON core_items(source, colour, id);
