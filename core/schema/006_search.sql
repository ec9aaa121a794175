-- Search: one document per searchable thing (kind + ref), with the permission and unit
-- a reader needs (checked with ym_may), and the FTS5 trigram index over title and body.
-- The index's rowid is core_search_docs.id. With trusted_schema=OFF an FTS5 table cannot
-- sit behind a trigger or view, so core/search.c writes both tables in the caller's
-- transaction (ym_search_put / ym_search_del).
CREATE TABLE core_search_docs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,               -- "unit", "user", "<plugin>.<word>"
    ref         TEXT NOT NULL,               -- "unit:12": what the client opens
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    unit_id     INTEGER NOT NULL,            -- the unit the permission is checked on
    permission  TEXT NOT NULL,               -- "units.read", ...
    updated_at  INTEGER NOT NULL,            -- ms since epoch
    UNIQUE (kind, ref)
);

CREATE VIRTUAL TABLE core_search_fts USING fts5(title, body, tokenize='trigram');
