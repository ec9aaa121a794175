-- hello_lua 002: counters the shared-service examples write (init.lua):
--   delivered:<greeting id>  how often the hello_lua.greeting.created subscriber ran for it
--   digest:<ms>              the hello_lua.digest job: how many greetings there were then
CREATE TABLE hello_lua_stats (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL,
    value      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL      -- ms since the epoch (yimen.now())
);
-- a named index, not UNIQUE/PRIMARY KEY on the column: the automatic index SQLite
-- would make for those is named sqlite_autoindex_*, which a plugin may not create
CREATE UNIQUE INDEX hello_lua_stats_key ON hello_lua_stats(key);
