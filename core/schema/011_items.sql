-- Tracked items (督办事项): one row per item that a supervising office assigns to a lead
-- unit (牵头) with co-units (配合), a deadline, an optional node plan and a reporting
-- cycle; its colour (灯色) is recomputed by core.items_recolour and on every change.
-- Owned by the plugin named in source (supervision, tasks, proposals, projects, ...).
CREATE TABLE core_items (
    id                INTEGER PRIMARY KEY,
    source            TEXT NOT NULL,               -- the owning plugin: permissions <source>.manage/.handle
    source_kind       TEXT NOT NULL CHECK (source_kind IN
                          ('instruction', 'minutes', 'task_list', 'proposal', 'project', 'other')),
    record            TEXT,                        -- the source record, "supervision_case:9"
    parent_id         INTEGER REFERENCES core_items(id),
    title             TEXT NOT NULL,
    content           TEXT NOT NULL DEFAULT '',
    supervisor_unit   INTEGER NOT NULL REFERENCES core_units(id),
    lead_unit         INTEGER NOT NULL REFERENCES core_units(id),
    leader            TEXT,                        -- the responsible leader's name
    deadline          TEXT,                        -- 'YYYY-MM-DD' (set at assignment when by working days)
    deadline_workdays INTEGER NOT NULL DEFAULT 0,  -- N working days from assignment, else 0
    report_cycle      TEXT,                        -- 'weekly', 'monthly 28', or NULL
    state             TEXT NOT NULL DEFAULT 'draft' CHECK (state IN
                          ('draft', 'assigned', 'returned', 'accepted', 'in_progress', 'completed',
                           'reviewed', 'closed')),
    colour            TEXT CHECK (colour IN ('green', 'blue', 'yellow', 'orange', 'red')),
    worst_colour      TEXT,                        -- the most severe colour it ever had
    escalated         INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1)),
    late_kind         INTEGER NOT NULL DEFAULT 0,  -- 0 on time, 1 a report or node late, 2 overdue
    late_since        INTEGER,                     -- ms: when the current lateness began
    urge_count        INTEGER NOT NULL DEFAULT 0,
    created_by        INTEGER,
    created_at        INTEGER NOT NULL,
    assigned_at       INTEGER,
    accepted_at       INTEGER,
    completed_at      INTEGER,                     -- the completion report that was accepted
    closed_at         INTEGER,
    last_report_at    INTEGER,                     -- the lead unit's latest report
    updated_at        INTEGER NOT NULL
);
CREATE INDEX core_items_lead ON core_items(lead_unit, id);
CREATE INDEX core_items_open ON core_items(state, id) WHERE state IN ('assigned', 'accepted', 'in_progress');
CREATE INDEX core_items_parent ON core_items(parent_id) WHERE parent_id IS NOT NULL;

-- The lead unit and each co-unit with its own part (each co-unit reports its part).
CREATE TABLE core_item_units (
    item_id        INTEGER NOT NULL REFERENCES core_items(id),
    unit_id        INTEGER NOT NULL REFERENCES core_units(id),
    role           TEXT NOT NULL CHECK (role IN ('lead', 'co')),
    percent        INTEGER,                        -- the unit's latest reported progress
    last_report_at INTEGER,
    reports        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, unit_id)
);
CREATE INDEX core_item_units_unit ON core_item_units(unit_id, item_id);

-- The node plan (节点计划): milestones with their own deadlines.
CREATE TABLE core_item_nodes (
    id        INTEGER PRIMARY KEY,
    item_id   INTEGER NOT NULL REFERENCES core_items(id),
    seq       INTEGER NOT NULL,
    title     TEXT NOT NULL,
    deadline  TEXT NOT NULL,                       -- 'YYYY-MM-DD'
    done_at   INTEGER,
    UNIQUE (item_id, seq)
);

-- Progress and completion reports (进展报告 / 办结报告), with attachments (core_files
-- owner "core_item_report:<id>").
CREATE TABLE core_item_reports (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES core_items(id),
    unit_id    INTEGER NOT NULL REFERENCES core_units(id),
    user_id    INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('progress', 'completion')),
    node_id    INTEGER REFERENCES core_item_nodes(id),
    percent    INTEGER,
    text       TEXT NOT NULL,
    files      TEXT NOT NULL DEFAULT '[]',         -- JSON array of file ids
    created_at INTEGER NOT NULL
);
CREATE INDEX core_item_reports_item ON core_item_reports(item_id, id);

-- Extension requests (延期申请) and their decisions.
CREATE TABLE core_item_extensions (
    id           INTEGER PRIMARY KEY,
    item_id      INTEGER NOT NULL REFERENCES core_items(id),
    unit_id      INTEGER NOT NULL,
    requested_by INTEGER NOT NULL,
    old_deadline TEXT NOT NULL,
    until        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'denied')),
    decided_by   INTEGER,
    comment      TEXT,
    created_at   INTEGER NOT NULL,
    decided_at   INTEGER
);
CREATE INDEX core_item_extensions_item ON core_item_extensions(item_id, id);

-- Lag reasons (滞后原因): readable by every signed-in user (全员督查).
CREATE TABLE core_item_reasons (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES core_items(id),
    unit_id    INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    category   TEXT NOT NULL,
    text       TEXT NOT NULL,
    late_kind  INTEGER NOT NULL,                   -- the lateness it explains (0: recorded on time)
    created_at INTEGER NOT NULL
);
CREATE INDEX core_item_reasons_item ON core_item_reasons(item_id, id);

-- The trace (交办/签收/报告/完成/销号 ... times): every transition, colour change and urge.
-- kind and the columns are public; detail holds what only the item's parties read.
CREATE TABLE core_item_timeline (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES core_items(id),
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,                      -- 'created', 'assigned', 'colour', 'urge', ...
    user_id    INTEGER,                            -- NULL: the system
    unit_id    INTEGER,
    state      TEXT,                               -- the state after it
    colour     TEXT,                               -- the colour after it (kind 'colour')
    detail     TEXT NOT NULL DEFAULT '{}'          -- JSON object: texts, comments, file ids
);
CREATE INDEX core_item_timeline_item ON core_item_timeline(item_id, id);

-- Links from an item to records of any plugin ("meetings_minutes:4").
CREATE TABLE core_item_links (
    item_id    INTEGER NOT NULL REFERENCES core_items(id),
    record     TEXT NOT NULL,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (item_id, record)
);
