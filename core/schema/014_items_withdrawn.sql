-- Withdrawn items (撤销): the supervising office withdraws an item that is not closed; it
-- keeps its history (timeline, reports, audit) and leaves the boards and to-do lists.
-- SQLite cannot change a CHECK constraint in place, so core_items is rebuilt with the
-- state 'withdrawn' and the column withdrawn_at, keeping its rows, ids, indexes and the
-- view core_v_items. The rows wait in core_items_copy while the table is dropped and
-- created again; foreign keys are checked at commit, and the rows of the other item
-- tables that name core_items(id) find their item again as it is copied back.
PRAGMA defer_foreign_keys = ON;

DROP VIEW core_v_items;
CREATE TABLE core_items_copy AS SELECT * FROM core_items;
DROP TABLE core_items;

CREATE TABLE core_items (
    id                INTEGER PRIMARY KEY,
    source            TEXT NOT NULL,
    source_kind       TEXT NOT NULL CHECK (source_kind IN
                          ('instruction', 'minutes', 'task_list', 'proposal', 'project', 'other')),
    record            TEXT,
    parent_id         INTEGER REFERENCES core_items(id),
    title             TEXT NOT NULL,
    content           TEXT NOT NULL DEFAULT '',
    supervisor_unit   INTEGER NOT NULL REFERENCES core_units(id),
    lead_unit         INTEGER NOT NULL REFERENCES core_units(id),
    leader            TEXT,
    deadline          TEXT,
    deadline_workdays INTEGER NOT NULL DEFAULT 0,
    report_cycle      TEXT,
    state             TEXT NOT NULL DEFAULT 'draft' CHECK (state IN
                          ('draft', 'assigned', 'returned', 'accepted', 'in_progress', 'completed',
                           'reviewed', 'closed', 'withdrawn')),
    colour            TEXT CHECK (colour IN ('green', 'blue', 'yellow', 'orange', 'red')),
    worst_colour      TEXT,
    escalated         INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1)),
    late_kind         INTEGER NOT NULL DEFAULT 0,
    late_since        INTEGER,
    urge_count        INTEGER NOT NULL DEFAULT 0,
    created_by        INTEGER,
    created_at        INTEGER NOT NULL,
    assigned_at       INTEGER,
    accepted_at       INTEGER,
    completed_at      INTEGER,
    closed_at         INTEGER,
    last_report_at    INTEGER,
    updated_at        INTEGER NOT NULL,
    restricted        INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
    withdrawn_at      INTEGER                      -- ms: when the supervising office withdrew it
);

INSERT INTO core_items (id, source, source_kind, record, parent_id, title, content, supervisor_unit,
    lead_unit, leader, deadline, deadline_workdays, report_cycle, state, colour, worst_colour, escalated,
    late_kind, late_since, urge_count, created_by, created_at, assigned_at, accepted_at, completed_at,
    closed_at, last_report_at, updated_at, restricted)
SELECT id, source, source_kind, record, parent_id, title, content, supervisor_unit, lead_unit, leader,
    deadline, deadline_workdays, report_cycle, state, colour, worst_colour, escalated, late_kind, late_since,
    urge_count, created_by, created_at, assigned_at, accepted_at, completed_at, closed_at, last_report_at,
    updated_at, restricted
FROM core_items_copy ORDER BY id;

DROP TABLE core_items_copy;

CREATE INDEX core_items_lead ON core_items(lead_unit, id);
CREATE INDEX core_items_open ON core_items(state, id) WHERE state IN ('assigned', 'accepted', 'in_progress');
CREATE INDEX core_items_parent ON core_items(parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX core_items_source_colour ON core_items(source, colour, id);   -- as in 013

-- As in 012: what plugins may read of tracked items (state now includes 'withdrawn').
CREATE VIEW core_v_items AS
    SELECT id, source, source_kind, record, parent_id, title, state, colour, worst_colour,
           late_kind, escalated, restricted, supervisor_unit, lead_unit, deadline,
           created_at, assigned_at, accepted_at, completed_at, closed_at, updated_at
    FROM core_items;
