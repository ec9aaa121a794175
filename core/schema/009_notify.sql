-- Notifications (消息提醒) and the live stream. Every row is pushed to its user's open
-- streams (GET /api/events, "id:" = the row id); rows of type 'notification' are the
-- inbox, other types ('<plugin>.<what>') are live-board events, kept one day.
CREATE TABLE core_notifications (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES core_users(id),
    type        TEXT NOT NULL DEFAULT 'notification',
    source      TEXT NOT NULL,                 -- 'core' or the plugin that wrote it
    severity    TEXT NOT NULL DEFAULT 'info'
                CHECK (severity IN ('info', 'reminder', 'warning', 'urgent')),
    title       TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL DEFAULT '',
    link        TEXT,
    data        TEXT,                          -- JSON object of a live event
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
);
CREATE INDEX core_notifications_user ON core_notifications(user_id, id);
CREATE INDEX core_notifications_unread ON core_notifications(user_id, id)
    WHERE read_at IS NULL AND type = 'notification';
CREATE INDEX core_notifications_type ON core_notifications(type, created_at);

-- Outbound delivery of a notification through a configured channel (webhook, log).
CREATE TABLE core_notify_outbox (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES core_notifications(id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,             -- name in notify.channels
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,          -- ms: not before
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX core_notify_outbox_due ON core_notify_outbox(state, next_at);
CREATE INDEX core_notify_outbox_notification ON core_notify_outbox(notification_id);
