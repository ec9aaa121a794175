/* db_owner: table ownership for plugins (DESIGN §3), enforced with SQLite's
 * authorizer when a statement is prepared, for whoever the current actor is. */
#include <string.h>
#include "db_private.h"

/* ---- ownership: SQLite's authorizer, consulted when a statement is prepared ---- */

static bool is_core(const char *actor) { return !actor || strcmp(actor, "core") == 0; }

static bool owns(ym_db *db, const char *table)
{
    if (!table)
        return false;
    const char *o = db->owner_of ? db->owner_of(db->owner_ud, table) : NULL;
    return o && strcmp(o, db->actor) == 0;
}

/* An index of the plugin's table: named after the plugin, or the one SQLite makes itself
 * for a UNIQUE or non-integer PRIMARY KEY column ("sqlite_autoindex_<table>_<n>"). */
static bool owns_index(ym_db *db, const char *index)
{
    static const char auto_prefix[] = "sqlite_autoindex_";
    if (index && strncmp(index, auto_prefix, sizeof auto_prefix - 1) == 0)
        return owns(db, index + sizeof auto_prefix - 1);
    return owns(db, index);
}

static bool schema_table(const char *t)
{
    return t && (strcmp(t, "sqlite_master") == 0 || strcmp(t, "sqlite_schema") == 0 ||
                 strcmp(t, "sqlite_sequence") == 0 || strcmp(t, "sqlite_temp_master") == 0);
}

/* A plugin may create, change and read only tables named after itself, and read the
 * core's views core_v_*; the core may do anything. A refusal fails the prepare. */
static int authorizer(void *ud, int action, const char *a3, const char *a4, const char *dbname, const char *inner)
{
    ym_db *db = ud;
    if (is_core(db->actor))
        return SQLITE_OK;
    bool ddl_ok = db->migrating; /* a plugin changes its schema only through migrations */
    switch (action) {
    case SQLITE_SELECT: case SQLITE_FUNCTION: case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_READ:
        if ((inner && strncmp(inner, "core_v_", 7) == 0) || (a3 && strncmp(a3, "core_v_", 7) == 0))
            return SQLITE_OK;
        /* count(*) through core_v_units reads core_units with no column and no view
         * named; a direct read was already refused by the text check */
        if (a3 && a4 && !*a4 && (strcmp(a3, "core_units") == 0 || strcmp(a3, "core_users") == 0))
            return SQLITE_OK;
        return owns(db, a3) || (schema_table(a3) && ddl_ok) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_INSERT: case SQLITE_UPDATE: case SQLITE_DELETE:
        /* schema tables change only through a migration's DDL, which is checked on its own */
        return owns(db, a3) || (schema_table(a3) && ddl_ok) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_TABLE: case SQLITE_DROP_TABLE: case SQLITE_CREATE_VIEW: case SQLITE_DROP_VIEW:
        return ddl_ok && owns(db, a3) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_INDEX: case SQLITE_DROP_INDEX:
        return ddl_ok && owns_index(db, a3) && owns(db, a4) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_CREATE_TRIGGER: case SQLITE_DROP_TRIGGER:
        return ddl_ok && owns(db, a3) && owns(db, a4) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_ALTER_TABLE:
        return ddl_ok && owns(db, a4) ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_REINDEX: /* also reported when CREATE INDEX builds the new index */
        return ddl_ok && owns_index(db, a3) ? SQLITE_OK : SQLITE_DENY;
    default: /* transactions (the core's group commit owns them), PRAGMA, ATTACH, DETACH,
              * virtual tables, temp objects, ANALYZE */
        return SQLITE_DENY;
    }
}

void ym_db_set_owner_resolver(ym_db *db, ym_db_owner_fn fn, void *ud)
{
    db->owner_of = fn;
    db->owner_ud = ud;
    sqlite3_set_authorizer(db->h, fn ? authorizer : NULL, fn ? db : NULL);
}

const char *ym_db_set_actor(ym_db *db, const char *owner)
{
    const char *prev = db->actor;
    db->actor = owner;
    return prev;
}
