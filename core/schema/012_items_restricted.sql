-- Restricted items (限阅): seen only by their parties (the supervising side, the lead
-- and co-units); everyone else gets 404 and does not find them in lists.
ALTER TABLE core_items ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1));

-- What plugins may read of tracked items (each filters by its own source): no content,
-- leader, reports or texts. Times are ms since 1970; late_kind is 0 on time, 1 a
-- report or node late, 2 overdue.
CREATE VIEW core_v_items AS
    SELECT id, source, source_kind, record, parent_id, title, state, colour, worst_colour,
           late_kind, escalated, restricted, supervisor_unit, lead_unit, deadline,
           created_at, assigned_at, accepted_at, completed_at, closed_at, updated_at
    FROM core_items;
