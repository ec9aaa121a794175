/* todo: the to-do service (我的待办): the core and plugins put items that a person, or
 * whoever holds a role in a unit, must act on, and resolve them by their own key;
 * GET /api/me/todos and /api/me/todos/count answer the caller's open items across all
 * subsystems. Resolved items are kept YM_TODO_KEEP_MS, then deleted by core.todos_cleanup. */
#ifndef YM_TODO_H
#define YM_TODO_H
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "router.h"

#define YM_TODO_TITLE_MAX 200     /* characters (a Chinese character is one) */
#define YM_TODO_KEY_MAX 200       /* bytes */
#define YM_TODO_OWNER_MAX 64      /* bytes */
#define YM_TODO_LINK_MAX 1000     /* bytes */
#define YM_TODO_KIND_MAX 32       /* bytes: [a-z0-9_.-] */
#define YM_TODO_LIMIT_DEFAULT 100
#define YM_TODO_KEEP_MS (30LL * 24 * 3600 * 1000)

typedef struct ym_todo {
    int64_t user_id;       /* for one person, or 0 */
    int64_t unit_id;       /* for whoever holds role_key in this unit (with user_id 0) */
    const char *role_key;  /* e.g. "clerk", "unit_admin"; NULL with user_id */
    const char *title;     /* required, <= 200 bytes UTF-8 */
    const char *link;      /* "#/documents/17" or NULL; must start with "#/" or "/" */
    int64_t due_ms;        /* 0: no deadline */
    const char *kind;      /* short label, e.g. "sign", "reply", "review"; NULL ok */
} ym_todo;

/* Inside a write the caller holds. owner: "core" or the plugin; key: the plugin's own
 * id for the item (<= 200 bytes, e.g. "doc:17:unit:5"). Upsert by (owner, key): the
 * same key updates the item (and re-opens it if it was resolved). Returns the to-do id,
 * or -1 with the reason in err (missing title, both/neither target, unknown unit or
 * role or user, bad link, database error). */
int64_t ym_todo_put(ym_db *db, const char *owner, const char *key, const ym_todo *t, char *err, size_t errlen);
/* Inside a write: marks (owner, key) resolved by user by_user (0 = the system).
 * 1 resolved, 0 there was no open item, -1 error. */
int ym_todo_resolve(ym_db *db, const char *owner, const char *key, int64_t by_user);
/* Inside a write: resolves every open item of owner whose key starts with prefix
 * (non-empty, e.g. "doc:17:" when a document is withdrawn); returns how many, -1 error. */
int ym_todo_resolve_prefix(ym_db *db, const char *owner, const char *prefix, int64_t by_user);

/* The caller's open items: total and those due before now. 0, or -1 on a database error. */
int ym_todo_count(ym_db *db, int64_t user_id, int64_t now, int64_t *total, int64_t *overdue);
/* Deletes items resolved before cutoff_ms, in its own write. Rows deleted, or -1. */
int ym_todo_cleanup(ym_db *db, int64_t cutoff_ms);

/* GET /api/me/todos, GET /api/me/todos/count; with YIMEN_TEST_CLOCK=1 also
 * POST /api/test/todos and POST /api/test/todos/resolve (permission test.clock). */
int ym_todo_routes(ym_router *rt, char *err, size_t errlen);

#endif
