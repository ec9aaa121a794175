-- hello_lua: one table, named after the plugin as every plugin table must be.
CREATE TABLE hello_lua_greetings (
    id         INTEGER PRIMARY KEY,
    text       TEXT NOT NULL,
    unit_id    INTEGER NOT NULL,      -- the creator's unit: who may see and change it
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL       -- ms since the epoch (yimen.now())
);
CREATE INDEX hello_lua_greetings_unit ON hello_lua_greetings(unit_id, id);
