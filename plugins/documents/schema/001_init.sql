-- documents (文件阅办): outgoing documents (发文) with their versions, countersigns and
-- numbers; incoming records (收文) per recipient unit with their circulation; the flow log.
CREATE TABLE documents_docs (
    id          INTEGER PRIMARY KEY,
    unit_id     INTEGER NOT NULL,          -- the drafting unit: scope of every check
    state       TEXT NOT NULL,             -- draft, reviewing, countersigning, signing, signed, dispatched, archived
    doc_type    TEXT NOT NULL,             -- one of the 15 legal types
    title       TEXT NOT NULL,
    urgency     TEXT NOT NULL DEFAULT '',  -- '', 加急, 特急
    secrecy     TEXT NOT NULL DEFAULT '非密',
    org_code    TEXT NOT NULL,             -- 机关代字
    doc_date    TEXT,                      -- 成文日期 YYYY-MM-DD
    elements    TEXT NOT NULL,             -- the GB/T 9704 elements as a JSON object (current version)
    version     INTEGER NOT NULL DEFAULT 1,
    year        INTEGER,                   -- of the number, once signed
    serial      INTEGER,
    number      TEXT,                      -- 发文字号: 机关代字〔year〕serial号
    signer      TEXT,                      -- 签发人 (display name)
    signer_id   INTEGER,
    dispatch_id INTEGER,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER
);
CREATE INDEX documents_docs_state ON documents_docs(state, id);
CREATE INDEX documents_docs_creator ON documents_docs(created_by, state, id);
CREATE INDEX documents_docs_dispatch ON documents_docs(dispatch_id);

CREATE TABLE documents_versions (
    doc_id   INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    elements TEXT NOT NULL,
    saved_by INTEGER NOT NULL,
    saved_at INTEGER NOT NULL,
    PRIMARY KEY (doc_id, version)
);

CREATE TABLE documents_countersigns (
    doc_id  INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    state   TEXT NOT NULL,                 -- pending, agreed
    user_id INTEGER,
    comment TEXT,
    at      INTEGER,
    PRIMARY KEY (doc_id, unit_id)
);
CREATE INDEX documents_countersigns_unit ON documents_countersigns(unit_id, state, doc_id);

-- gap-free counters: key "out:<机关代字>" or "in:<unit id>", per year
CREATE TABLE documents_counters (
    key  TEXT NOT NULL,
    year INTEGER NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (key, year)
);

-- every number ever given out; a voided one keeps its row
CREATE TABLE documents_numbers (
    id        INTEGER PRIMARY KEY,
    org_code  TEXT NOT NULL,
    year      INTEGER NOT NULL,
    serial    INTEGER NOT NULL,
    number    TEXT NOT NULL,
    doc_id    INTEGER NOT NULL,
    state     TEXT NOT NULL,               -- used, void
    given_by  INTEGER NOT NULL,
    given_at  INTEGER NOT NULL,
    voided_by INTEGER,
    voided_at INTEGER,
    reason    TEXT,
    UNIQUE (org_code, year, serial)
);

CREATE TABLE documents_recipients (
    doc_id  INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    kind    TEXT NOT NULL,                 -- main, copy
    PRIMARY KEY (doc_id, unit_id)
);
CREATE INDEX documents_recipients_unit ON documents_recipients(unit_id, doc_id);

CREATE TABLE documents_incoming (
    id            INTEGER PRIMARY KEY,
    doc_id        INTEGER NOT NULL,
    unit_id       INTEGER NOT NULL,        -- the recipient unit
    dispatch_id   INTEGER NOT NULL,
    state         TEXT NOT NULL,           -- registered, proposed, instructed, handling, completed, archived
    year          INTEGER NOT NULL,
    serial        INTEGER NOT NULL,        -- the unit's incoming serial (收文号)
    proposal      TEXT,                    -- 拟办意见
    instruction   TEXT,                    -- 领导批示
    leader_id     INTEGER,
    item_id       INTEGER,                 -- the tracked item made of the 批示
    handler_unit  INTEGER,                 -- 承办部门
    deadline      TEXT,                    -- YYYY-MM-DD
    result        TEXT,                    -- 办结意见
    registered_by INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (doc_id, unit_id),
    UNIQUE (unit_id, year, serial)
);
CREATE INDEX documents_incoming_state ON documents_incoming(state, id);

CREATE TABLE documents_circulation (
    id          INTEGER PRIMARY KEY,
    incoming_id INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    mode        TEXT NOT NULL,             -- sequence, parallel
    state       TEXT NOT NULL,             -- waiting, pending, read
    comment     TEXT,
    read_at     INTEGER,
    UNIQUE (incoming_id, user_id)
);
CREATE INDEX documents_circulation_user ON documents_circulation(user_id, state, incoming_id);

-- the flow log (流转): one row per step of every document
CREATE TABLE documents_flow (
    id          INTEGER PRIMARY KEY,
    doc_id      INTEGER NOT NULL,
    incoming_id INTEGER,
    user_id     INTEGER NOT NULL,
    unit_id     INTEGER NOT NULL,
    action      TEXT NOT NULL,
    comment     TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX documents_flow_doc ON documents_flow(doc_id, id);
CREATE INDEX documents_flow_incoming ON documents_flow(incoming_id, id);
