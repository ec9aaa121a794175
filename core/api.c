/* api: small request helpers of the JSON admin routes (directory, users, access): ids, paging,
 * typed body members, permission lists, LIKE patterns, link-table and revocation writes,
 * refusals that leave an audit row, and route tables. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "auth.h"
#include "http.h"
#include "clock.h"

/* ---------- request helpers ---------- */

ym_db *ym_api_db(const ym_request *r) { return ym_server_db(ym_req_server(r)); }

void ym_api_busy(ym_request *r) { ym_resp_error(r, 503, "storage_busy", "the database is busy; try again"); }

json_t *ym_api_time(int64_t ms)
{
    char buf[48];
    ym_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

static bool parse_pos_id(const char *s, int64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end || v <= 0 || v == LLONG_MAX)
        return false;
    *out = v;
    return true;
}

bool ym_api_path_id(ym_request *r, const char *name, int64_t *out)
{
    if (parse_pos_id(ym_req_param(r, name), out))
        return true;
    ym_resp_error(r, 404, "not_found", "no such object");
    return false;
}

int ym_api_query_id(ym_request *r, const char *name, int64_t *out)
{
    char *v = ym_req_query(r, name);
    if (!v)
        return 0;
    bool ok = parse_pos_id(v, out);
    free(v);
    if (!ok)
        ym_resp_invalid(r, name, "%s must be a positive integer id", name);
    return ok ? 1 : -1;
}

int ym_api_query_bool(ym_request *r, const char *name, bool *out)
{
    char *v = ym_req_query(r, name);
    if (!v)
        return 0;
    int rc = 1;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else
        rc = -1;
    free(v);
    if (rc < 0)
        ym_resp_invalid(r, name, "%s must be true or false", name);
    return rc;
}

int ym_api_query_str(ym_request *r, const char *name, size_t max, char **out)
{
    char *v = ym_req_query(r, name);
    if (!v)
        return 0;
    if (strlen(v) > max) {
        free(v);
        ym_resp_invalid(r, name, "%s is at most %zu bytes", name, max);
        return -1;
    }
    *out = v;
    return 1;
}

int ym_api_page(ym_request *r, int *limit, int64_t *after)
{
    char *v = ym_req_query(r, "limit"), *end = NULL;
    long n = v ? strtol(v, &end, 10) : 50;
    bool bad = v && (!*v || *end || n < 1 || n > 500);
    free(v);
    if (bad) {
        ym_resp_invalid(r, "limit", "limit must be an integer from 1 to 500");
        return -1;
    }
    *limit = (int)n;
    *after = 0;
    v = ym_req_query(r, "after");
    bad = v && *v && !parse_pos_id(v, after);
    free(v);
    if (bad) {
        ym_resp_invalid(r, "after", "after must be the id given as next");
        return -1;
    }
    return 0;
}

void ym_api_send_page(ym_request *r, json_t *items, int64_t next)
{
    ym_resp_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next ? json_integer(next) : json_null()));
}

json_t *ym_api_rows_page(sqlite3_stmt *st, int limit, json_t *(*row)(sqlite3_stmt *st))
{
    json_t *items = json_array();
    int64_t last = 0;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n++ < limit) {
        json_array_append_new(items, row(st));
        last = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(items);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "items", items, "next", n > limit ? json_integer(last) : json_null());
}

void ym_api_send_rows(ym_request *r, sqlite3_stmt *st, int limit, json_t *(*row)(sqlite3_stmt *st))
{
    json_t *page = ym_api_rows_page(st, limit, row);
    if (page)
        ym_resp_json(r, 200, page);
    else
        ym_api_busy(r);
}

void ym_api_send_ids(ym_request *r, sqlite3_stmt *st, int limit, json_t *(*one)(ym_db *db, int64_t id))
{
    int64_t ids[501];
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        ym_api_busy(r);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(items, one(ym_api_db(r), ids[i]));
    ym_api_send_page(r, items, n > limit ? ids[limit - 1] : 0);
}

json_t *ym_api_body(ym_request *r)
{
    json_t *body = ym_req_json(r);
    if (body && !json_is_object(body)) {
        json_decref(body);
        ym_resp_invalid(r, "", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

const char *ym_api_unknown_key(json_t *body, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i])
            return key;
    }
    return NULL;
}

bool ym_api_keys(ym_request *r, json_t *body, const char *const *allowed)
{
    const char *unk = ym_api_unknown_key(body, allowed);
    if (unk)
        ym_resp_invalid(r, unk, "unknown field %s", unk);
    return !unk;
}

int ym_api_str(ym_request *r, json_t *body, const char *key, size_t max, bool nullable, const char **out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (nullable && json_is_null(v)) {
        *out = NULL;
        return 1;
    }
    if (!json_is_string(v)) {
        ym_resp_invalid(r, key, "%s must be a string", key);
        return -1;
    }
    if (json_string_length(v) > max) {
        ym_resp_invalid(r, key, "%s is at most %zu bytes", key, max);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

int ym_api_int(ym_request *r, json_t *body, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        ym_resp_invalid(r, key, "%s must be an integer from %lld to %lld", key, (long long)min, (long long)max);
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

int ym_api_bool(ym_request *r, json_t *body, const char *key, bool *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        ym_resp_invalid(r, key, "%s must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

static bool array_has_int(json_t *a, json_int_t x)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_integer_value(v) == x) return true;
    return false;
}

int ym_api_ids(ym_request *r, json_t *body, const char *key, size_t max, json_t **out)
{
    json_t *v = json_object_get(body, key), *e;
    size_t i;
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > max) {
        ym_resp_invalid(r, key, "%s must be an array of at most %zu unit ids", key, max);
        return -1;
    }
    json_t *ids = json_array();
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) <= 0) {
            json_decref(ids);
            ym_resp_invalid(r, key, "%s must hold positive integer ids", key);
            return -1;
        }
        if (!array_has_int(ids, json_integer_value(e)))
            json_array_append(ids, e);
    }
    *out = ids;
    return 1;
}

/* "*", a registered permission, or "area.*" where area has registered permissions. */
static bool perm_pattern_ok(const char *s)
{
    size_t n = strlen(s);
    if (strcmp(s, "*") == 0 || ym_perm_known(s))
        return true;
    if (n < 3 || n > 64 || strcmp(s + n - 2, ".*") != 0)
        return false;
    json_t *all = ym_perm_list(), *e;
    size_t i;
    bool ok = false;
    json_array_foreach(all, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name && strncmp(name, s, n - 1) == 0)
            ok = true;
    }
    json_decref(all);
    return ok;
}

int ym_api_perms(ym_request *r, json_t *body, const char *key, size_t max, bool nonempty, json_t **out)
{
    json_t *v = json_object_get(body, key), *e;
    size_t i;
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > max || (nonempty && !json_array_size(v))) {
        ym_resp_invalid(r, key, "%s must be an array of %s%zu permission names", key, nonempty ? "1 to " : "at most ", max);
        return -1;
    }
    json_t *perms = json_array(), *p;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !perm_pattern_ok(json_string_value(e))) {
            json_decref(perms);
            ym_resp_invalid(r, key, "%s: %s is not a known permission, \"area.*\" or \"*\"", key,
                            json_is_string(e) ? json_string_value(e) : "a non-string");
            return -1;
        }
        size_t j;
        bool dup = false;
        json_array_foreach(perms, j, p) dup = dup || json_equal(p, e);
        if (!dup)
            json_array_append(perms, e);
    }
    *out = perms;
    return 1;
}

void ym_api_like(const char *q, char *out, size_t len)
{
    size_t o = 0;
    if (len < 3) {
        if (len)
            out[0] = 0;
        return;
    }
    out[o++] = '%';
    for (const char *c = q; *c && o + 3 < len; c++) {
        if (*c == '\\' || *c == '%' || *c == '_')
            out[o++] = '\\';
        out[o++] = *c;
    }
    out[o++] = '%';
    out[o] = 0;
}

void ym_api_bind_like(sqlite3_stmt *st, int i, const char *q)
{
    char like[256];
    if (!q)
        return;
    ym_api_like(q, like, sizeof like);
    sqlite3_bind_text(st, i, like, -1, SQLITE_TRANSIENT);
}

/* ---------- small writes ---------- */

int ym_api_set_rows(ym_db *db, const char *del, const char *ins, int64_t id, json_t *values)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", del);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        if (rc != SQLITE_DONE || !(st = ym_db_prepare(db, "core", ins)))
            return -1;
        sqlite3_bind_int64(st, 1, id);
        if (json_is_integer(v))
            sqlite3_bind_int64(st, 2, json_integer_value(v));
        else
            sqlite3_bind_text(st, 2, json_string_value(v), -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

int ym_api_revoke(ym_db *db, const char *sql, int64_t id, int64_t owner)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, ym_now());
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, owner);
    int changed = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(ym_db_handle(db)) : -1;
    sqlite3_reset(st);
    return changed;
}

/* ---------- permission answers ---------- */

int ym_api_may(ym_db *db, ym_principal *p, const char *perm, int64_t unit, int64_t *acting)
{
    int rc = ym_may(db, p, perm, unit);
    if (rc == 1 && acting && !*acting)
        *acting = p->acting_for;
    return rc;
}

void ym_api_refuse(ym_request *r, int status, const char *action, const char *target, const char *perm,
                   const char *what)
{
    json_t *d = json_pack("{s:s,s:s}", "permission", perm, "route", r->route ? r->route : r->path);
    if (r->who)
        r->who->acting_for = 0;
    ym_audit_req(r, action, target, "denied", d);
    json_decref(d);
    if (status == 404)
        ym_resp_error(r, 404, "not_found", "no such %s", what);
    else
        ym_resp_error(r, 403, "forbidden", "you do not have the permission %s on this %s", perm, what);
}

int ym_api_audit(ym_request *r, int64_t acting, const char *action, const char *target, json_t *detail)
{
    if (r->who)
        r->who->acting_for = acting;
    return ym_audit_req(r, action, target, "ok", detail);
}

/* ---------- routes ---------- */

int ym_api_routes(ym_router *rt, const ym_api_route *routes, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (ym_router_add(rt, routes[i].method, routes[i].path, routes[i].perm, "core", routes[i].handler,
                          (void *)routes[i].ud, err, errlen) < 0)
            return -1;
    return 0;
}
