/* directory: the unit tree and the county address book over HTTP (/api/units, /api/contacts),
 * the entry that registers every directory and access route, and permission scopes for lists. */
#ifndef YM_DIRECTORY_H
#define YM_DIRECTORY_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>
#include "router.h"
#include "identity.h"

/* Registers /api/units, /api/contacts (directory.c), then /api/users (users.c) and the
 * access routes (access.h): the one call worker_setup makes for all of them. */
int ym_directory_routes(ym_router *rt, char *err, size_t errlen);
int ym_users_routes(ym_router *rt, char *err, size_t errlen);

/* Where may p use perm? [{"p": unit path, "d": 0|1 (subtree)}], mirroring ym_may: grants,
 * then active delegations to p (not for API tokens), cut to an API token's own scope.
 * NULL on a database error. A list query binds the scope (as JSON text) to ?9 and filters
 * a path column with ym_scope_sql("col"). */
json_t *ym_scope_get(ym_db *db, ym_principal *p, const char *perm);
/* Prepares a list query with p's scope for perm bound to ?9; NULL on a database error. */
sqlite3_stmt *ym_scope_prepare(ym_db *db, ym_principal *p, const char *perm, const char *sql);
#define ym_scope_sql(col) \
    "EXISTS (SELECT 1 FROM json_each(?9) s WHERE CASE WHEN s.value->>'d' THEN substr(" col ", 1, " \
    "length(s.value->>'p')) = s.value->>'p' ELSE " col " = s.value->>'p' END)"
/* Does the scope reach unit_path (and, when subtree, every descendant of it)? */
bool ym_scope_covers(json_t *scope, const char *unit_path, bool subtree);
/* The materialised path of a unit: 1 found, 0 unknown, -1 error. */
int ym_unit_path_get(ym_db *db, int64_t id, char *out, size_t len);

#endif
