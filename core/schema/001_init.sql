-- Core state: small key/value facts the kernel keeps (the test clock offset, ...).
CREATE TABLE core_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
