-- hello: one table, named after the plugin as every plugin table must be.
CREATE TABLE hello_items (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    unit_id    INTEGER NOT NULL,      -- the creator's unit: who may see and change it
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX hello_items_unit ON hello_items(unit_id, id);
