-- To-dos (我的待办): what a person, or whoever holds a role in a unit, must act on.
-- Subsystems (the core or a plugin, the owner) add and resolve items by their own key;
-- GET /api/me/todos lists the open items of the caller across all owners.
-- An item is either for one user (user_id) or for a role in one unit (unit_id, role_id):
-- the latter is shown to every user with a grant of that role on exactly that unit.
CREATE TABLE core_todos (
    id          INTEGER PRIMARY KEY,
    owner       TEXT NOT NULL,                          -- "core" or the plugin's name
    key         TEXT NOT NULL,                          -- the owner's id of the item, "doc:17:unit:5"
    user_id     INTEGER REFERENCES core_users(id),      -- for one person, or NULL
    unit_id     INTEGER REFERENCES core_units(id),      -- for a role in this unit, or NULL
    role_id     INTEGER REFERENCES core_roles(id),
    kind        TEXT,                                   -- "sign", "reply", "review", or NULL
    title       TEXT NOT NULL,
    link        TEXT,                                   -- "#/documents/17", or NULL
    due_at      INTEGER,                                -- ms since epoch, NULL: no deadline
    created_at  INTEGER NOT NULL,                       -- (re)opened at
    updated_at  INTEGER NOT NULL,
    resolved_at INTEGER,                                -- NULL while open
    resolved_by INTEGER,                                -- the user, NULL: the system
    UNIQUE (owner, key),
    CHECK ((user_id IS NOT NULL AND unit_id IS NULL AND role_id IS NULL)
        OR (user_id IS NULL AND unit_id IS NOT NULL AND role_id IS NOT NULL))
);
-- open items of one person, of one (unit, role); resolved ones for the daily cleanup
CREATE INDEX core_todos_user_open ON core_todos(user_id, due_at) WHERE resolved_at IS NULL AND user_id IS NOT NULL;
CREATE INDEX core_todos_role_open ON core_todos(unit_id, role_id, due_at) WHERE resolved_at IS NULL AND unit_id IS NOT NULL;
CREATE INDEX core_todos_resolved ON core_todos(resolved_at) WHERE resolved_at IS NOT NULL;
