-- Jobs: the persistent scheduler's state, one row per registered job. A worker
-- claims a due job by setting lease_until; the lease expiring re-runs it after a crash.
CREATE TABLE core_jobs (
    name        TEXT PRIMARY KEY,            -- "core.sessions_cleanup", "<plugin>.<word>"
    owner       TEXT NOT NULL,               -- "core" or the plugin's name
    schedule    TEXT NOT NULL,               -- "every 1h", "daily 09:00", ...
    next_run    INTEGER NOT NULL,            -- ms since epoch; 9223372036854775807 = never
    lease_until INTEGER NOT NULL DEFAULT 0,  -- ms; a claim holds while lease_until >= now
    lease_by    TEXT NOT NULL DEFAULT '',    -- pid of the claiming worker
    last_run    INTEGER,                     -- ms, end of the last finished run
    last_error  TEXT,
    failures    INTEGER NOT NULL DEFAULT 0,  -- consecutive
    paused      INTEGER NOT NULL DEFAULT 0,
    runs        INTEGER NOT NULL DEFAULT 0
);
