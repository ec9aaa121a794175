-- Events: the persistent outbox. An emit inserts the event and one pending delivery
-- per subscriber whose pattern matches, in the emitter's transaction; a worker marks
-- a delivery done in the same transaction as the subscriber's own writes.
CREATE TABLE core_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: subscribers may key on it
    source     TEXT NOT NULL,                -- "core" or the emitting plugin's name
    name       TEXT NOT NULL,                -- "<source>.<something>"
    payload    TEXT NOT NULL DEFAULT '{}',   -- a JSON object
    created_at INTEGER NOT NULL              -- ms since epoch
);
CREATE INDEX core_events_created ON core_events(created_at);

CREATE TABLE core_event_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        INTEGER NOT NULL REFERENCES core_events(id),
    subscriber      TEXT NOT NULL,           -- "<owner>:<pattern>"
    source          TEXT NOT NULL,           -- the event's source: order is kept per source
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    attempts        INTEGER NOT NULL DEFAULT 0,  -- failed attempts so far
    created_at      INTEGER NOT NULL,        -- ms, when the event was emitted
    next_at         INTEGER NOT NULL,        -- ms, not delivered before this (backoff)
    last_error      TEXT,
    last_attempt_at INTEGER,
    done_at         INTEGER,
    UNIQUE (event_id, subscriber)
);
-- the next due pending delivery of a subscriber, per source
CREATE INDEX core_event_deliveries_head ON core_event_deliveries(subscriber, source, event_id)
    WHERE state = 'pending';
CREATE INDEX core_event_deliveries_done ON core_event_deliveries(done_at) WHERE state = 'done';
