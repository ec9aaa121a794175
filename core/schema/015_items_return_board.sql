-- The return window (退回时限) and the public rows of a board.
--
-- An item may carry a return window: return_workdays (N working days, 0 = none) given at
-- creation; at each assignment return_until is set to the N-th working day after the day
-- of assignment (the core calendar), and a return after that day is refused by the
-- engine, whichever route or plugin asks.
ALTER TABLE core_items ADD COLUMN return_workdays INTEGER NOT NULL DEFAULT 0;
ALTER TABLE core_items ADD COLUMN return_until TEXT;           -- 'YYYY-MM-DD', or NULL: no window

-- As in 014, with the return window (columns added at the end).
DROP VIEW core_v_items;
CREATE VIEW core_v_items AS
    SELECT id, source, source_kind, record, parent_id, title, state, colour, worst_colour,
           late_kind, escalated, restricted, supervisor_unit, lead_unit, deadline,
           created_at, assigned_at, accepted_at, completed_at, closed_at, updated_at,
           return_workdays, return_until
    FROM core_items;

-- What a public board row shows besides core_v_items, readable by plugins (each filters
-- by its own items): the units of an item with their role, the lag reasons (public to
-- every signed-in user: 全员督查), whether a lag reason is missing, and the latest report
-- (its time, unit, kind, share done and text; no files). Join them by item id.
CREATE VIEW core_v_item_units AS
    SELECT u.item_id, u.unit_id, u.role, n.name AS unit_name
    FROM core_item_units u JOIN core_units n ON n.id = u.unit_id;

CREATE VIEW core_v_item_reasons AS
    SELECT r.id, r.item_id, r.unit_id, n.name AS unit_name, r.user_id, r.category, r.text, r.late_kind,
           r.created_at
    FROM core_item_reasons r LEFT JOIN core_units n ON n.id = r.unit_id;

-- lag_reason_required: late, and no reason recorded since the lateness began
CREATE VIEW core_v_item_lag AS
    SELECT i.id AS item_id, i.late_kind, i.late_since,
           (i.late_kind > 0 AND NOT EXISTS (SELECT 1 FROM core_item_reasons r WHERE r.item_id = i.id
                                            AND r.created_at >= i.late_since)) AS lag_reason_required
    FROM core_items i;

CREATE VIEW core_v_item_latest_report AS
    SELECT r.item_id, r.id, r.unit_id, r.kind, r.percent, r.text, r.created_at
    FROM core_item_reports r
    WHERE r.id = (SELECT max(l.id) FROM core_item_reports l WHERE l.item_id = r.item_id);
