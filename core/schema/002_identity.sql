-- Identity: the directory of units, one account per person, roles, grants with
-- unit scope, delegation, sessions and API tokens.
CREATE TABLE core_units (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER REFERENCES core_units(id),
    kind        TEXT NOT NULL CHECK (kind IN ('county', 'township', 'village', 'department', 'other')),
    name        TEXT NOT NULL,
    short_name  TEXT,
    credit_code TEXT UNIQUE,
    sort        INTEGER NOT NULL DEFAULT 0,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    path        TEXT NOT NULL,            -- '/1/5/23/': ancestors and self, for subtree checks
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX core_units_parent ON core_units(parent_id, sort, id);
CREATE INDEX core_units_path ON core_units(path);

CREATE TABLE core_users (
    id               INTEGER PRIMARY KEY,
    username         TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    unit_id          INTEGER NOT NULL REFERENCES core_units(id),
    title            TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash    TEXT,
    must_change      INTEGER NOT NULL DEFAULT 0,
    password_set_at  INTEGER,
    failed_count     INTEGER NOT NULL DEFAULT 0,
    failed_since     INTEGER,
    locked_until     INTEGER,
    totp_secret      TEXT,
    totp_enabled     INTEGER NOT NULL DEFAULT 0,
    totp_last_step   INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX core_users_unit ON core_users(unit_id);
CREATE INDEX core_users_phone ON core_users(phone);

CREATE TABLE core_user_units (              -- extra memberships (兼职)
    user_id INTEGER NOT NULL REFERENCES core_users(id),
    unit_id INTEGER NOT NULL REFERENCES core_units(id),
    PRIMARY KEY (user_id, unit_id)
);

CREATE TABLE core_recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES core_users(id),
    code_hash TEXT NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE core_roles (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,      -- 'system_admin', 'clerk', ...
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE core_role_permissions (
    role_id    INTEGER NOT NULL REFERENCES core_roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,              -- 'users.manage', 'documents.*', '*'
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE core_grants (
    id                  INTEGER PRIMARY KEY,
    user_id             INTEGER NOT NULL REFERENCES core_users(id),
    role_id             INTEGER NOT NULL REFERENCES core_roles(id),
    unit_id             INTEGER NOT NULL REFERENCES core_units(id),
    include_descendants INTEGER NOT NULL DEFAULT 1 CHECK (include_descendants IN (0, 1)),
    created_at          INTEGER NOT NULL,
    created_by          INTEGER,
    UNIQUE (user_id, role_id, unit_id)
);
CREATE INDEX core_grants_user ON core_grants(user_id);

CREATE TABLE core_delegations (            -- 代批: to_user acts for from_user
    id           INTEGER PRIMARY KEY,
    from_user_id INTEGER NOT NULL REFERENCES core_users(id),
    to_user_id   INTEGER NOT NULL REFERENCES core_users(id),
    permissions  TEXT NOT NULL,            -- JSON array of permission strings
    starts_at    INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX core_delegations_to ON core_delegations(to_user_id);
CREATE INDEX core_delegations_from ON core_delegations(from_user_id);

CREATE TABLE core_sessions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES core_users(id),
    token_hash  BLOB NOT NULL UNIQUE,      -- SHA-256 of the 256-bit token
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,          -- absolute timeout
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    revoked_at  INTEGER
);
CREATE INDEX core_sessions_user ON core_sessions(user_id);

CREATE TABLE core_api_tokens (
    id                  INTEGER PRIMARY KEY,
    user_id             INTEGER NOT NULL REFERENCES core_users(id),
    name                TEXT NOT NULL,
    token_hash          BLOB NOT NULL UNIQUE,
    permissions         TEXT NOT NULL,     -- JSON array
    unit_id             INTEGER NOT NULL REFERENCES core_units(id),
    include_descendants INTEGER NOT NULL DEFAULT 1,
    expires_at          INTEGER,
    created_at          INTEGER NOT NULL,
    last_used           INTEGER,
    revoked_at          INTEGER
);
CREATE INDEX core_api_tokens_user ON core_api_tokens(user_id);

-- What plugins may read of the directory: never hashes, secrets or counters.
CREATE VIEW core_v_units AS
    SELECT id, parent_id, kind, name, short_name, credit_code, sort, active, path FROM core_units;
CREATE VIEW core_v_users AS
    SELECT id, username, display_name, unit_id, title, phone, status FROM core_users;
