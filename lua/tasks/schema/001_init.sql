-- tasks (任务清单): lists, their tasks (each a tracked item of the core engine) and the
-- execution ledger (执行台账). Times are ms since the epoch (yimen.now()); dates "YYYY-MM-DD".
CREATE TABLE tasks_lists (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    source_doc  TEXT NOT NULL,           -- e.g. 2026年县政府工作报告
    year        INTEGER NOT NULL,
    owner_unit  INTEGER NOT NULL,        -- the owner office: supervises every task of the list
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX tasks_lists_owner ON tasks_lists(owner_unit, id);

CREATE TABLE tasks_tasks (
    id            INTEGER PRIMARY KEY,
    list_id       INTEGER NOT NULL,
    parent_id     INTEGER,               -- a child of decomposition (分解)
    clause        TEXT NOT NULL,         -- clause reference in the source document
    content       TEXT NOT NULL,
    target_kind   TEXT NOT NULL,         -- 'number' or 'milestone'
    target_value  REAL,                  -- for 'number'
    target_unit   TEXT,                  -- for 'number' (亿元, 公里, 个, %)
    milestone     TEXT,                  -- for 'milestone'
    lead_unit     INTEGER NOT NULL,
    co_units      TEXT NOT NULL DEFAULT '[]',   -- JSON array of unit ids
    leader        TEXT,
    node_plan     TEXT,                  -- 'quarterly', 'monthly' or NULL (explicit nodes)
    nodes         TEXT NOT NULL DEFAULT '[]',   -- JSON [{title, deadline}] as given to the engine
    deadline      TEXT NOT NULL,
    report_cycle  TEXT NOT NULL,
    item_id       INTEGER,               -- the core tracked item
    colour        TEXT,                  -- the item's colour as last heard (core.items.colour)
    red_since     INTEGER,               -- when it turned red, NULL when not red
    lagging_at    INTEGER,               -- when tasks.lagging was emitted (once)
    achieved      REAL,                  -- the latest value achieved (numeric targets)
    reports       INTEGER NOT NULL DEFAULT 0,
    last_report_at INTEGER,
    created_by    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX tasks_tasks_list ON tasks_tasks(list_id, id);
CREATE INDEX tasks_tasks_lead ON tasks_tasks(lead_unit, id);
CREATE INDEX tasks_tasks_parent ON tasks_tasks(parent_id);
CREATE INDEX tasks_tasks_item ON tasks_tasks(item_id);
CREATE INDEX tasks_tasks_red ON tasks_tasks(colour, red_since);

CREATE TABLE tasks_reports (
    id              INTEGER PRIMARY KEY,
    task_id         INTEGER NOT NULL,
    unit_id         INTEGER NOT NULL,    -- the reporting unit (lead or co-unit)
    user_id         INTEGER NOT NULL,
    value           REAL,                -- value achieved so far (numeric targets)
    text            TEXT NOT NULL,
    funds           REAL,                -- funds used, 万元
    self_assessment TEXT,                -- 自评
    file_ids        TEXT NOT NULL DEFAULT '[]',
    item_report_id  INTEGER,             -- the engine's report
    comment         TEXT,                -- the owner office's 点评
    score           REAL,                -- and score (0..100)
    reviewed_by     INTEGER,
    reviewed_at     INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX tasks_reports_task ON tasks_reports(task_id, id);
