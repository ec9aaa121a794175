-- Dispatch (分发/签收): a thing sent to many units and persons; one receipt per
-- recipient walks delivered -> read -> signed -> replied (or returned); a unit may
-- forward down its own subtree, which makes a child dispatch (parent_id, root_id);
-- the escalation ladder is stored per dispatch and fired once per receipt.
CREATE TABLE core_dispatches (
    id                INTEGER PRIMARY KEY,
    parent_id         INTEGER REFERENCES core_dispatches(id),          -- forwarded from, or NULL
    parent_receipt_id INTEGER,                                         -- the receipt that forwarded it
    root_id           INTEGER NOT NULL,                                -- the original (self for an original)
    source            TEXT NOT NULL,                                   -- the owning plugin, "documents"
    record            TEXT NOT NULL DEFAULT '',                        -- its record, "documents_doc:17"
    sender_unit       INTEGER NOT NULL REFERENCES core_units(id),
    sender_user       INTEGER REFERENCES core_users(id),
    title             TEXT NOT NULL,
    urgency           TEXT NOT NULL CHECK (urgency IN ('normal', 'urgent', 'very_urgent')),
    link              TEXT,
    reply_form        TEXT,                                            -- JSON, NULL: no reply owed
    deadline_at       INTEGER,                                         -- ms, NULL: none
    ladder            TEXT,                                            -- JSON of the steps (children inherit it)
    state             TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'withdrawn')),
    sent_at           INTEGER NOT NULL,
    withdrawn_at      INTEGER,
    withdrawn_by      INTEGER
);
CREATE INDEX core_dispatches_sender ON core_dispatches(sender_unit, id);
CREATE INDEX core_dispatches_sender_user ON core_dispatches(sender_user, id);
CREATE INDEX core_dispatches_parent ON core_dispatches(parent_id);

CREATE TABLE core_dispatch_receipts (
    id            INTEGER PRIMARY KEY,
    dispatch_id   INTEGER NOT NULL REFERENCES core_dispatches(id),
    unit_id       INTEGER REFERENCES core_units(id),                  -- a unit recipient, or
    user_id       INTEGER REFERENCES core_users(id),                  -- a person recipient
    kind          TEXT NOT NULL CHECK (kind IN ('main', 'copy')),     -- 主送 / 抄送
    state         TEXT NOT NULL DEFAULT 'delivered'
                  CHECK (state IN ('delivered', 'read', 'signed', 'replied', 'returned', 'withdrawn')),
    reply_owed    INTEGER NOT NULL DEFAULT 0,
    delivered_at  INTEGER NOT NULL,
    read_at       INTEGER, read_by     INTEGER,
    signed_at     INTEGER, signed_by   INTEGER,
    replied_at    INTEGER, replied_by  INTEGER, reply TEXT,           -- the answers (JSON)
    returned_at   INTEGER, returned_by INTEGER, return_reason TEXT,
    forwarded_at  INTEGER, forwarded_by INTEGER,                      -- the last forward
    esc_next      INTEGER NOT NULL DEFAULT 0,                         -- the next ladder step to consider
    CHECK ((unit_id IS NULL) <> (user_id IS NULL)),
    UNIQUE (dispatch_id, unit_id),
    UNIQUE (dispatch_id, user_id)
);
CREATE INDEX core_dispatch_receipts_unit ON core_dispatch_receipts(unit_id, dispatch_id);
CREATE INDEX core_dispatch_receipts_user ON core_dispatch_receipts(user_id, dispatch_id);
CREATE INDEX core_dispatch_receipts_state ON core_dispatch_receipts(dispatch_id, state);

-- The ladder of one dispatch with each step's due time; fired_at once the job has run it.
CREATE TABLE core_dispatch_steps (
    dispatch_id     INTEGER NOT NULL REFERENCES core_dispatches(id),
    idx             INTEGER NOT NULL,
    offset_ms       INTEGER NOT NULL,
    before_deadline INTEGER NOT NULL DEFAULT 0,
    action          TEXT NOT NULL CHECK (action IN ('remind', 'channel', 'call')),
    channel         TEXT,
    due_at          INTEGER NOT NULL,
    fired_at        INTEGER,
    PRIMARY KEY (dispatch_id, idx)
);
CREATE INDEX core_dispatch_steps_due ON core_dispatch_steps(due_at) WHERE fired_at IS NULL;

-- What fired for which receipt: at most one row per (receipt, step).
CREATE TABLE core_dispatch_escalations (
    receipt_id INTEGER NOT NULL REFERENCES core_dispatch_receipts(id),
    idx        INTEGER NOT NULL,
    action     TEXT NOT NULL,
    fired_at   INTEGER NOT NULL,
    PRIMARY KEY (receipt_id, idx)
);

-- The clerks of one unit (notifications, escalations) are found by unit.
CREATE INDEX core_grants_unit_role ON core_grants(unit_id, role_id);
