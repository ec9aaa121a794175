-- supervision (督查督办): cases over the core's tracked items. The item (core_items) holds
-- the state, colour, reports and lag reasons; a case holds what the items engine does not:
-- where it came from (and the key that keeps event intake idempotent), the original text,
-- the leader as a user, the restricted flag and whether it was escalated.
CREATE TABLE supervision_cases (
    id              INTEGER PRIMARY KEY,
    item_id         INTEGER,                 -- the tracked item (item_create), set in the same write
    origin          TEXT NOT NULL,           -- hand | documents | meetings | tasks
    source_kind     TEXT NOT NULL,           -- instruction | minutes | task_list | proposal | project | other
    source_ref      TEXT,                    -- event intake: one case per source ("documents_incoming:5", "meetings_meetings:3#2", "tasks:7")
    source_record   TEXT,                    -- the source record, also linked on the item
    title           TEXT NOT NULL,
    original_text   TEXT,                    -- the 批示 wording, the decision, the task
    leader          TEXT,                    -- the responsible leader's name
    leader_user     INTEGER,                 -- ... and the user, when known (escalation and notices go there)
    supervisor_unit INTEGER NOT NULL,
    lead_unit       INTEGER NOT NULL,
    restricted      INTEGER NOT NULL DEFAULT 0,
    escalated_at    INTEGER,
    created_by      INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX supervision_cases_source ON supervision_cases(source_ref);
CREATE INDEX supervision_cases_item ON supervision_cases(item_id);
CREATE INDEX supervision_cases_open ON supervision_cases(escalated_at, id);

CREATE TABLE supervision_case_units (
    case_id INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    role    TEXT NOT NULL                    -- lead | co
);
CREATE UNIQUE INDEX supervision_case_units_pk ON supervision_case_units(case_id, unit_id);
CREATE INDEX supervision_case_units_unit ON supervision_case_units(unit_id, case_id);

-- 通报: one row per generated notice, its league rows beside it
CREATE TABLE supervision_notices (
    id          INTEGER PRIMARY KEY,
    period_from TEXT NOT NULL,
    period_to   TEXT NOT NULL,
    summary     TEXT NOT NULL,
    totals      TEXT NOT NULL,               -- JSON object, as the league's totals
    notified    INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE TABLE supervision_notice_rows (
    notice_id          INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    unit_id            INTEGER NOT NULL,
    unit_name          TEXT NOT NULL,
    items              INTEGER NOT NULL,
    completed_on_time  INTEGER NOT NULL,
    overdue            INTEGER NOT NULL,
    red                INTEGER NOT NULL,
    closed             INTEGER NOT NULL,
    on_time_rate       REAL,
    mean_days_to_close REAL
);
CREATE UNIQUE INDEX supervision_notice_rows_pk ON supervision_notice_rows(notice_id, seq);
