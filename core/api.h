/* api: small request helpers of the JSON admin routes (directory, users, access): ids, paging,
 * typed body members, permission lists, LIKE patterns, link-table and revocation writes,
 * refusals that leave an audit row, and route tables. */
#ifndef YM_API_H
#define YM_API_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>
#include "request.h"
#include "router.h"
#include "identity.h"

ym_db *ym_api_db(const ym_request *r);
void ym_api_busy(ym_request *r);                 /* 503 storage_busy */
json_t *ym_api_time(int64_t ms);                 /* RFC 3339 string */

/* The :name path parameter as a positive id; answers 404 and returns false otherwise. */
bool ym_api_path_id(ym_request *r, const char *name, int64_t *out);
/* ?name= as a positive id: 0 absent, 1 set, -1 answered 400 invalid. */
int ym_api_query_id(ym_request *r, const char *name, int64_t *out);
/* ?name= as true/false/1/0: 0 absent, 1 set, -1 answered 400 invalid. */
int ym_api_query_bool(ym_request *r, const char *name, bool *out);
/* ?name= as a string of at most max bytes (malloc'ed into *out): 0 absent, 1 set, -1 answered. */
int ym_api_query_str(ym_request *r, const char *name, size_t max, char **out);
/* ?limit= (1..500, default 50) and ?after= (id, default 0): 0 ok, -1 answered 400. */
int ym_api_page(ym_request *r, int *limit, int64_t *after);
/* Answers {"items": items, "next": next or null}. */
void ym_api_send_page(ym_request *r, json_t *items, int64_t next);
/* Steps st, bound with LIMIT limit + 1 and the id in column 0, and answers the page of
 * row(st) of its first limit rows (503 on a database error); resets st. */
void ym_api_send_rows(ym_request *r, sqlite3_stmt *st, int limit, json_t *(*row)(sqlite3_stmt *st));
/* The same page as an object {"items", "next"} (to add members to), or NULL on a
 * database error. */
json_t *ym_api_rows_page(sqlite3_stmt *st, int limit, json_t *(*row)(sqlite3_stmt *st));
/* The same for a statement that selects ids only (LIMIT limit + 1, limit at most 500): all
 * are read first, then the page is of one(db, id). */
void ym_api_send_ids(ym_request *r, sqlite3_stmt *st, int limit, json_t *(*one)(ym_db *db, int64_t id));

/* The body as a JSON object (NULL when answered: 415, bad_json, or not an object). */
json_t *ym_api_body(ym_request *r);
/* The first key of body not in allowed (NULL-terminated), or NULL. */
const char *ym_api_unknown_key(json_t *body, const char *const *allowed);
/* true when every key of body is in allowed; else answers 400 "unknown field <key>". */
bool ym_api_keys(ym_request *r, json_t *body, const char *const *allowed);
/* Typed members: 0 absent, 1 set, -1 answered 400 invalid with the field. A string may be
 * null only when nullable (then *out is NULL); emptiness is the caller's to judge. */
int ym_api_str(ym_request *r, json_t *body, const char *key, size_t max, bool nullable, const char **out);
int ym_api_int(ym_request *r, json_t *body, const char *key, int64_t min, int64_t max, int64_t *out);
int ym_api_bool(ym_request *r, json_t *body, const char *key, bool *out);
/* An array of positive ids, at most max; duplicates dropped (a new array in *out). */
int ym_api_ids(ym_request *r, json_t *body, const char *key, size_t max, json_t **out);
/* A permission list for roles, tokens and delegations: strings that are a registered
 * permission, "area.*" (an area with registered permissions) or "*"; at most max;
 * duplicates dropped (a new array in *out). */
int ym_api_perms(ym_request *r, json_t *body, const char *key, size_t max, bool nonempty, json_t **out);

/* q -> "%q%" with \, % and _ escaped, for LIKE ... ESCAPE '\'. */
void ym_api_like(const char *q, char *out, size_t len);
/* Binds that pattern of q (at most 100 bytes, as ?q= is) to parameter i of st; nothing when q is NULL. */
void ym_api_bind_like(sqlite3_stmt *st, int i, const char *q);

/* Replaces the rows of one owner in a link table: del with ?1 = id, then ins with ?1 = id and
 * ?2 = v for each v of values (integers or strings). 0 ok, -1 error. */
int ym_api_set_rows(ym_db *db, const char *del, const char *ins, int64_t id, json_t *values);
/* Revokes one row of its owner: sql is an UPDATE ... SET revoked_at = ?1 WHERE id = ?2 AND
 * <owner column> = ?3 AND revoked_at IS NULL. The number of rows changed (0 or 1), -1 error. */
int ym_api_revoke(ym_db *db, const char *sql, int64_t id, int64_t owner);

/* May p do perm on unit (ym_may), keeping the first delegator it acted through in *acting
 * so the audit row names them (on_behalf_of). 1 yes, 0 no, -1 error. */
int ym_api_may(ym_db *db, ym_principal *p, const char *perm, int64_t unit, int64_t *acting);
/* Audits a refusal (result "denied", detail {permission, route}) and answers 403 forbidden
 * or 404 not_found ("no such <what>"). */
void ym_api_refuse(ym_request *r, int status, const char *action, const char *target, const char *perm,
                   const char *what);
/* ym_audit_req(..., "ok", detail) with p->acting_for set to acting first. 0 ok, -1 error. */
int ym_api_audit(ym_request *r, int64_t acting, const char *action, const char *target, json_t *detail);

/* A route table of the core (owner "core"); ud is handed to the handler. */
typedef struct ym_api_route {
    const char *method, *path, *perm;
    ym_handler handler;
    const void *ud;
} ym_api_route;
/* Registers the n routes: 0, or -1 with the reason in err. */
int ym_api_routes(ym_router *rt, const ym_api_route *routes, size_t n, char *err, size_t errlen);

#endif
