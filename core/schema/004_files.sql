-- Files: attachments. The bytes live content-addressed on disk under
-- <data_dir>/files/ab/cd/<sha256 hex>; one row per upload (the same bytes uploaded
-- twice are one blob and two rows).
CREATE TABLE core_files (
    id            INTEGER PRIMARY KEY,
    sha256        TEXT NOT NULL,             -- hex, lower case: the blob's name
    size          INTEGER NOT NULL,          -- bytes
    name          TEXT NOT NULL,             -- file name as given (path stripped)
    declared_type TEXT,                      -- the client's Content-Type
    sniffed_type  TEXT NOT NULL,             -- what libmagic says the bytes are
    uploader_id   INTEGER NOT NULL,
    unit_id       INTEGER NOT NULL,          -- the uploader's primary unit
    owner         TEXT,                      -- the record it belongs to ('hello_item:5'), NULL until attached
    created_at    INTEGER NOT NULL           -- ms since epoch
);
CREATE INDEX core_files_sha256 ON core_files(sha256);
