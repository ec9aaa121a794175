/* api: small request helpers of the JSON admin routes (directory, users, access): ids, paging,
 * typed body members, permission lists, LIKE patterns, and refusals that leave an audit row. */
#ifndef YM_API_H
#define YM_API_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>
#include "request.h"
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

/* The body as a JSON object (NULL when answered: 415, bad_json, or not an object). */
json_t *ym_api_body(ym_request *r);
/* The first key of body not in allowed (NULL-terminated), or NULL. */
const char *ym_api_unknown_key(json_t *body, const char *const *allowed);
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

/* May p do perm on unit (ym_may), keeping the first delegator it acted through in *acting
 * so the audit row names them (on_behalf_of). 1 yes, 0 no, -1 error. */
int ym_api_may(ym_db *db, ym_principal *p, const char *perm, int64_t unit, int64_t *acting);
/* Audits a refusal (result "denied", detail {permission, route}) and answers 403 forbidden
 * or 404 not_found ("no such <what>"). */
void ym_api_refuse(ym_request *r, int status, const char *action, const char *target, const char *perm,
                   const char *what);
/* ym_audit_req(..., "ok", detail) with p->acting_for set to acting first. 0 ok, -1 error. */
int ym_api_audit(ym_request *r, int64_t acting, const char *action, const char *target, json_t *detail);

#endif
