/* search: FTS5 (trigram) indexes over documents that the core and plugins feed from C
 * (core_search_fts: title and body; core_search_title: the title alone, for "title
 * matches first"), and GET /api/search?q= that answers only what the caller may see. */
#ifndef YM_SEARCH_H
#define YM_SEARCH_H
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "router.h"

#define YM_SEARCH_Q_MAX 200        /* code points of ?q= */
#define YM_SEARCH_SCAN_MAX 5000    /* rows examined per request */

/* Upserts a document: the same kind + ref replaces title, body, unit and permission.
 * Must run inside a write (ym_db_write_begin/end); -1 otherwise or on a database error
 * (or a NULL/empty kind, ref or permission), 0 ok. */
int ym_search_put(ym_db *db, const char *kind, const char *ref, const char *title, const char *body,
                  int64_t unit_id, const char *permission);
/* Removes a document. Inside a write; 1 removed, 0 there was none, -1 error. */
int ym_search_del(ym_db *db, const char *kind, const char *ref);

/* Indexes every active unit (kind "unit", ref "unit:<id>", permission "units.read" on the
 * unit) and every active user (kind "user", ref "user:<id>", permission "users.read" on the
 * user's unit), in one write, only when the index holds no "unit" document yet.
 * 1 indexed, 0 nothing to do, -1 error. */
int ym_search_reindex_directory(ym_db *db);

/* Number of code points of well-formed UTF-8 s, or -1 when s is not well-formed. */
long ym_search_utf8_len(const char *s);

/* GET /api/search; then ym_search_reindex_directory(db) (a failure is logged, not fatal). */
int ym_search_routes(ym_router *rt, ym_db *db, char *err, size_t errlen);

/* Re-read one unit or user and index it (active) or remove it; inside a write. */
int ym_search_sync_unit(ym_db *db, int64_t id);
int ym_search_sync_user(ym_db *db, int64_t id);

#endif
