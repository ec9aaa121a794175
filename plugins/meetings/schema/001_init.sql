-- meetings (会议通知): notices, their recipients and dispatches, check-in codes and
-- check-ins, minutes, rooms. Times are ms since the epoch (api->now()).
CREATE TABLE meetings_rooms (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    capacity   INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL,          -- the unit that created it
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE meetings_meetings (
    id             INTEGER PRIMARY KEY,
    number         TEXT NOT NULL,
    title          TEXT NOT NULL,
    type           TEXT NOT NULL,         -- meeting | warning
    organiser_unit INTEGER NOT NULL,
    convener_user  INTEGER NOT NULL,
    start_at       INTEGER NOT NULL,
    duration_min   INTEGER NOT NULL,
    place          TEXT NOT NULL DEFAULT '',
    room_id        INTEGER,
    content        TEXT NOT NULL DEFAULT '',
    attendance     TEXT NOT NULL DEFAULT '',
    materials      TEXT NOT NULL DEFAULT '',
    reply_deadline INTEGER,
    sms            INTEGER NOT NULL DEFAULT 0,
    sms_text       TEXT,
    state          TEXT NOT NULL,         -- draft, sent, changed, cancelled, in_progress, finished
    dispatch_id    INTEGER,               -- the current dispatch
    change_note    TEXT,
    cancel_reason  TEXT,
    warned_dispatch INTEGER,              -- the dispatch whose deadline warning went out
    prereminded    INTEGER NOT NULL DEFAULT 0,
    created_by     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    sent_at        INTEGER,
    finished_at    INTEGER
);
CREATE INDEX meetings_meetings_unit ON meetings_meetings(organiser_unit, id);
CREATE INDEX meetings_meetings_room ON meetings_meetings(room_id, start_at);
CREATE INDEX meetings_meetings_state ON meetings_meetings(state, reply_deadline);

CREATE TABLE meetings_recipients (
    meeting_id INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL DEFAULT 0,   -- a unit, or 0
    user_id    INTEGER NOT NULL DEFAULT 0,   -- a person, or 0
    PRIMARY KEY (meeting_id, unit_id, user_id)
);
CREATE INDEX meetings_recipients_unit ON meetings_recipients(unit_id, meeting_id);
CREATE INDEX meetings_recipients_user ON meetings_recipients(user_id, meeting_id);

-- every dispatch a meeting went out with: send, change, cancel (the last is current)
CREATE TABLE meetings_dispatches (
    meeting_id  INTEGER NOT NULL,
    dispatch_id INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, dispatch_id)
);

-- the rotating check-in code: one random code per 30 s window
CREATE TABLE meetings_codes (
    meeting_id INTEGER NOT NULL,
    win        INTEGER NOT NULL,
    code       TEXT NOT NULL,
    PRIMARY KEY (meeting_id, win)
);

CREATE TABLE meetings_checkins (
    meeting_id INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    unit_id    INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    late       INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
);

CREATE TABLE meetings_minutes (
    meeting_id INTEGER PRIMARY KEY,
    text       TEXT NOT NULL,
    decisions  TEXT NOT NULL,             -- JSON [{text, lead_unit, deadline, item_id}]
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
