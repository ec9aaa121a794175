-- Audit: one append-only, hash-chained log of every state change, login attempt,
-- permission denial and admin action.
CREATE TABLE core_audit (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,          -- ms since epoch
    actor_id     INTEGER,                   -- who acted (NULL: anonymous, system)
    actor_name   TEXT NOT NULL DEFAULT '',
    on_behalf_of INTEGER,                   -- delegation: actor acted for this user
    unit_id      INTEGER,
    ip           TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,             -- 'auth.login', 'users.create', ...
    target       TEXT NOT NULL DEFAULT '',  -- 'user:42'
    result       TEXT NOT NULL,             -- 'ok', 'denied', 'failed', 'error'
    request_id   TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '{}',-- JSON; never a secret
    alg          TEXT NOT NULL,             -- 'sm3' or 'sha256'
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX core_audit_at ON core_audit(at);
CREATE INDEX core_audit_actor ON core_audit(actor_id, id);
CREATE INDEX core_audit_action ON core_audit(action, id);
