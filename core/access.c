/* access: /api/roles (sets of permissions) and /api/grants (a role for a user on a unit,
 * optionally its subtree), with the no-escalation rule: nobody hands on what they don't hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "directory.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "clock.h"

/* ---------- roles ---------- */

static json_t *role_perms(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT permission FROM core_role_permissions WHERE role_id = ?1 ORDER BY permission");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *a = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* {id, key, name, description, builtin, permissions}; NULL when unknown or on error. */
static json_t *role_json(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT key, name, description, builtin FROM core_roles WHERE id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *j = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        j = json_pack("{s:I,s:s,s:s,s:s,s:b}", "id", (json_int_t)id, "key", (const char *)sqlite3_column_text(st, 0),
                      "name", (const char *)sqlite3_column_text(st, 1), "description",
                      (const char *)sqlite3_column_text(st, 2), "builtin", sqlite3_column_int(st, 3));
    sqlite3_reset(st);
    json_t *perms = j ? role_perms(db, id) : NULL;
    if (!perms) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "permissions", perms);
    return j;
}

static void roles_list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int limit;
    int64_t after;
    if (ym_api_page(r, &limit, &after) < 0)
        return;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id FROM core_roles WHERE id > ?1 ORDER BY id LIMIT ?2");
    if (!st) {
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, limit + 1);
    ym_api_send_ids(r, st, limit, role_json);
}

static void roles_get(ym_request *r, void *ud)
{
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    json_t *j = role_json(ym_api_db(r), id);
    if (j)
        ym_resp_json(r, 200, j);
    else
        ym_resp_error(r, 404, "not_found", "no such role");
}

/* GET /api/permissions: every registered permission (core and enabled plugins) with its
 * labels, sorted by name, for the role editor. */
static int perm_by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x ? x : "", y ? y : "");
}

static void permissions_list(ym_request *r, void *ud)
{
    (void)ud;
    json_t *all = ym_perm_list(), *e;
    size_t n = json_array_size(all), i;
    json_t **v = n ? malloc(n * sizeof *v) : NULL;
    if (n && !v) {
        json_decref(all);
        ym_resp_error(r, 500, "internal", "out of memory");
        return;
    }
    json_array_foreach(all, i, e) v[i] = e;
    if (n)
        qsort(v, n, sizeof *v, perm_by_name);
    json_t *items = json_array();
    for (i = 0; i < n; i++)
        json_array_append(items, v[i]);
    free(v);
    json_decref(all);
    ym_resp_json(r, 200, json_pack("{s:o}", "items", items));
}

static bool role_key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 2 || n > 64 || k[0] < 'a' || k[0] > 'z')
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
            return false;
    return true;
}

/* The caller holds every permission of perms on some unit (a role is not tied to one):
 * 1 yes; else answered 403 (audited) or 503. */
static int holds_all(ym_request *r, json_t *perms, const char *action, const char *target)
{
    size_t i;
    json_t *v;
    json_array_foreach(perms, i, v) {
        int rc = ym_may(ym_api_db(r), r->who, json_string_value(v), 0);
        if (rc < 0) {
            ym_api_busy(r);
            return -1;
        }
        if (rc == 0) {
            ym_api_refuse(r, 403, action, target, json_string_value(v), "role");
            return 0;
        }
    }
    return 1;
}

static int role_perms_write(ym_db *db, int64_t id, json_t *perms)
{
    return ym_api_set_rows(db, "DELETE FROM core_role_permissions WHERE role_id = ?1",
                           "INSERT INTO core_role_permissions (role_id, permission) VALUES (?1, ?2)", id, perms);
}

/* 1 when a role with this key exists, 0 not, -1 error. */
static int role_key_taken(ym_db *db, const char *key)
{
    int64_t id = ym_role_id(db, key);
    return id < 0 ? -1 : id > 0;
}

static int64_t role_insert(ym_db *db, const char *key, const char *name, const char *desc)
{
    int64_t now = ym_now();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_roles (key, name, description, builtin, created_at, updated_at) VALUES (?1, ?2, ?3, 0, ?4, ?4)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, desc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(ym_db_handle(db)) : -1;
}

static void answer_role(ym_request *r, int status, bool ok, int64_t id)
{
    json_t *j = ok ? role_json(ym_api_db(r), id) : NULL;
    if (j)
        ym_resp_json(r, status, j);
    else
        ym_resp_error(r, 500, "storage_error", "the change could not be saved");
}

static void role_create_write(ym_request *r, const char *key, const char *name, const char *desc, json_t *perms)
{
    ym_db *db = ym_api_db(r);
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int64_t id = role_insert(db, key, name, desc);
    bool ok = id > 0 && role_perms_write(db, id, perms) == 0;
    if (ok) {
        char target[32];
        snprintf(target, sizeof target, "role:%lld", (long long)id);
        json_t *d = json_pack("{s:s,s:s,s:O}", "key", key, "name", name, "permissions", perms);
        ok = ym_api_audit(r, 0, "roles.create", target, d) == 0;
        json_decref(d);
    }
    ym_db_write_end(db, ok);
    answer_role(r, 201, ok, id);
}

static void roles_create(ym_request *r, void *ud)
{
    static const char *const keys[] = {"key", "name", "description", "permissions", NULL};
    json_t *body = ym_api_body(r), *perms = NULL;
    if (!body)
        return;
    const char *key = NULL, *name = NULL, *desc = "";
    int taken = 0;
    if (!ym_api_keys(r, body, keys) || ym_api_str(r, body, "key", 64, false, &key) < 0 ||
        ym_api_str(r, body, "name", 100, false, &name) < 0 || ym_api_str(r, body, "description", 500, false, &desc) < 0 ||
        ym_api_perms(r, body, "permissions", 100, false, &perms) < 0)
        ;
    else if (!role_key_ok(key))
        ym_resp_invalid(r, "key", "key must be 2-64 characters of a-z, 0-9, '_', starting with a letter");
    else if (!name || !*name)
        ym_resp_invalid(r, "name", "name is required");
    else if ((taken = role_key_taken(ym_api_db(r), key)) < 0)
        ym_api_busy(r);
    else if (taken)
        ym_resp_error(r, 409, "conflict", "a role with key %s exists", key);
    else {
        if (!perms)
            perms = json_array();
        if (holds_all(r, perms, "roles.create", "") == 1)
            role_create_write(r, key, name, desc, perms);
    }
    json_decref(perms);
    json_decref(body);
}

typedef struct role_row {
    int64_t id;
    bool builtin;
    char key[80], name[128], description[512];
} role_row;

static int role_load(ym_db *db, int64_t id, role_row *ro)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT key, name, description, builtin FROM core_roles WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ro->id = id;
        snprintf(ro->key, sizeof ro->key, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(ro->name, sizeof ro->name, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(ro->description, sizeof ro->description, "%s", (const char *)sqlite3_column_text(st, 2));
        ro->builtin = sqlite3_column_int(st, 3) != 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* 1 found, else answered (404 or 503). */
static int role_found(ym_request *r, int64_t id, role_row *ro)
{
    int rc = role_load(ym_api_db(r), id, ro);
    if (rc < 0)
        ym_api_busy(r);
    else if (rc == 0)
        ym_resp_error(r, 404, "not_found", "no such role");
    return rc;
}

static int role_update_row(ym_db *db, int64_t id, const char *name, const char *desc)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_roles SET name = ?1, description = ?2, updated_at = ?3 WHERE id = ?4");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, desc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, ym_now());
    sqlite3_bind_int64(st, 4, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void role_patch_write(ym_request *r, const role_row *ro, const char *name, const char *desc, json_t *old,
                             json_t *perms)
{
    ym_db *db = ym_api_db(r);
    json_t *ch = json_object();
    if (strcmp(name, ro->name) != 0)
        json_object_set_new(ch, "name", json_pack("{s:s,s:s}", "old", ro->name, "new", name));
    if (strcmp(desc, ro->description) != 0)
        json_object_set_new(ch, "description", json_pack("{s:s,s:s}", "old", ro->description, "new", desc));
    if (perms)
        json_object_set_new(ch, "permissions", json_pack("{s:O,s:O}", "old", old, "new", perms));
    if (!json_object_size(ch)) {
        json_decref(ch);
        answer_role(r, 200, true, ro->id);
        return;
    }
    if (ym_db_write_begin(db) < 0) {
        json_decref(ch);
        ym_api_busy(r);
        return;
    }
    char target[32];
    snprintf(target, sizeof target, "role:%lld", (long long)ro->id);
    json_t *d = json_pack("{s:s,s:o}", "key", ro->key, "changes", ch);
    bool ok = role_update_row(db, ro->id, name, desc) == 0 && (!perms || role_perms_write(db, ro->id, perms) == 0) &&
              ym_api_audit(r, 0, "roles.update", target, d) == 0;
    json_decref(d);
    ym_db_write_end(db, ok);
    answer_role(r, 200, ok, ro->id);
}

/* old ∪ new, for the rule that one may neither add nor remove what one does not hold. */
static json_t *perm_union(json_t *a, json_t *b)
{
    json_t *u = json_copy(a), *v, *w;
    size_t i, j;
    json_array_foreach(b, i, v) {
        bool have = false;
        json_array_foreach(u, j, w) have = have || json_equal(v, w);
        if (!have)
            json_array_append(u, v);
    }
    return u;
}

static void roles_patch(ym_request *r, void *ud)
{
    static const char *const keys[] = {"name", "description", "permissions", NULL};
    int64_t id;
    role_row ro;
    if (!ym_api_path_id(r, "id", &id))
        return;
    json_t *body = ym_api_body(r), *perms = NULL, *old = NULL, *all = NULL;
    if (!body || role_found(r, id, &ro) != 1)
        goto out;
    const char *name = ro.name, *desc = ro.description;
    char target[32];
    snprintf(target, sizeof target, "role:%lld", (long long)id);
    if (!ym_api_keys(r, body, keys) || ym_api_str(r, body, "name", 100, false, &name) < 0 ||
        ym_api_str(r, body, "description", 500, false, &desc) < 0 || ym_api_perms(r, body, "permissions", 100, false, &perms) < 0) {
    } else if (!*name) {
        ym_resp_invalid(r, "name", "name must not be empty");
    } else if (!(old = role_perms(ym_api_db(r), id))) {
        ym_api_busy(r);
    } else if (perms && json_equal(perms, old)) {
        role_patch_write(r, &ro, name, desc, old, NULL);
    } else if (perms && ro.builtin) {
        ym_resp_error(r, 409, "conflict", "the permissions of the built-in role %s cannot change", ro.key);
    } else if (!perms || holds_all(r, (all = perm_union(old, perms)), "roles.update", target) == 1) {
        role_patch_write(r, &ro, name, desc, old, perms);
    }
out:
    json_decref(all);
    json_decref(old);
    json_decref(perms);
    json_decref(body);
}

/* Runs sql (a DELETE ... WHERE id = ?1) for id: true when it ran to the end. */
static bool exec_id(ym_db *db, const char *sql, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, id);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    return ok;
}

static int role_grant_count(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT count(*) FROM core_grants WHERE role_id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

static void roles_delete(ym_request *r, void *ud)
{
    int64_t id;
    role_row ro;
    ym_db *db = ym_api_db(r);
    if (!ym_api_path_id(r, "id", &id) || role_found(r, id, &ro) != 1)
        return;
    int granted = role_grant_count(db, id);
    if (granted < 0 || (!ro.builtin && !granted && ym_db_write_begin(db) < 0)) {
        ym_api_busy(r);
        return;
    }
    if (ro.builtin || granted) {
        ym_resp_error(r, 409, "conflict", ro.builtin ? "the built-in role %s cannot be deleted"
                                                     : "the role %s is still granted; delete its grants first", ro.key);
        return;
    }
    bool ok = exec_id(db, "DELETE FROM core_roles WHERE id = ?1", id);
    char target[32];
    snprintf(target, sizeof target, "role:%lld", (long long)id);
    json_t *d = json_pack("{s:s}", "key", ro.key);
    ok = ok && ym_api_audit(r, 0, "roles.delete", target, d) == 0;
    json_decref(d);
    ym_db_write_end(db, ok);
    if (ok)
        ym_resp_send(r, 204, NULL, NULL, 0, NULL);
    else
        ym_resp_error(r, 500, "storage_error", "the role could not be deleted");
}

/* ---------- grants ---------- */

#define GRANT_COLS \
    "SELECT g.id, g.user_id, us.username, us.display_name, g.role_id, ro.key, ro.name, g.unit_id, un.name, " \
    "g.include_descendants, g.created_at, g.created_by FROM core_grants g JOIN core_users us ON us.id = g.user_id " \
    "JOIN core_roles ro ON ro.id = g.role_id JOIN core_units un ON un.id = g.unit_id "

static json_t *grant_row_json(sqlite3_stmt *st)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:I,s:s,s:s,s:I,s:s,s:b,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "user_id", (json_int_t)sqlite3_column_int64(st, 1), "username", (const char *)sqlite3_column_text(st, 2),
                     "display_name", (const char *)sqlite3_column_text(st, 3), "role_id",
                     (json_int_t)sqlite3_column_int64(st, 4), "role", (const char *)sqlite3_column_text(st, 5),
                     "role_name", (const char *)sqlite3_column_text(st, 6), "unit_id",
                     (json_int_t)sqlite3_column_int64(st, 7), "unit_name", (const char *)sqlite3_column_text(st, 8),
                     "include_descendants", sqlite3_column_int(st, 9), "created_at",
                     ym_api_time(sqlite3_column_int64(st, 10)), "created_by",
                     sqlite3_column_type(st, 11) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 11)));
}

static json_t *grant_json(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", GRANT_COLS "WHERE g.id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *j = sqlite3_step(st) == SQLITE_ROW ? grant_row_json(st) : NULL;
    sqlite3_reset(st);
    return j;
}

static void grants_list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int limit;
    int64_t after, user = 0, unit = 0;
    int hu = 0, hn = 0;
    if (ym_api_page(r, &limit, &after) < 0 || (hu = ym_api_query_id(r, "user_id", &user)) < 0 ||
        (hn = ym_api_query_id(r, "unit_id", &unit)) < 0)
        return;
    sqlite3_stmt *st = ym_scope_prepare(db, r->who, "grants.read", GRANT_COLS "WHERE g.id > ?1 AND (?2 IS NULL OR "
        "g.user_id = ?2) AND (?3 IS NULL OR g.unit_id = ?3) AND " ym_scope_sql("un.path") " ORDER BY g.id LIMIT ?4");
    if (!st) {
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, after);
    if (hu)
        sqlite3_bind_int64(st, 2, user);
    if (hn)
        sqlite3_bind_int64(st, 3, unit);
    sqlite3_bind_int(st, 4, limit + 1);
    ym_api_send_rows(r, st, limit, grant_row_json);
}

/* No escalation: the caller holds every permission of the role on the unit, and on its
 * whole subtree when the grant reaches it. 1 yes, 0 refused and answered, -1 answered. */
static int grant_within_reach(ym_request *r, int64_t role_id, int64_t unit, bool subtree, const char *action,
                              const char *target)
{
    ym_db *db = ym_api_db(r);
    char path[512];
    json_t *perms = role_perms(db, role_id), *v;
    size_t i;
    int ok = perms && ym_unit_path_get(db, unit, path, sizeof path) == 1 ? 1 : -1;
    json_array_foreach(perms, i, v) {
        const char *perm = json_string_value(v);
        json_t *scope = ok == 1 && subtree ? ym_scope_get(db, r->who, perm) : NULL;
        ok = ok != 1 ? ok : subtree ? (scope ? ym_scope_covers(scope, path, true) : -1) : ym_may(db, r->who, perm, unit);
        json_decref(scope);
        if (ok == 0) {
            ym_api_refuse(r, 403, action, target, perm, "unit");
            break;
        }
    }
    json_decref(perms);
    if (ok < 0)
        ym_api_busy(r);
    return ok;
}

typedef struct grant_req {
    int64_t user_id, role_id, unit_id, acting;
    bool subtree;
} grant_req;

static int user_exists(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_users WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Reads and checks the body: user, role and unit exist. 0 ok, -1 answered. */
static int grant_parse(ym_request *r, json_t *body, grant_req *g)
{
    static const char *const keys[] = {"user_id", "role", "role_id", "unit_id", "include_descendants", NULL};
    const char *role = NULL;
    ym_db *db = ym_api_db(r);
    g->subtree = true;
    if (!ym_api_keys(r, body, keys) || ym_api_int(r, body, "user_id", 1, INT64_MAX, &g->user_id) < 0 ||
        ym_api_str(r, body, "role", 64, false, &role) < 0 || ym_api_int(r, body, "role_id", 1, INT64_MAX, &g->role_id) < 0 ||
        ym_api_int(r, body, "unit_id", 1, INT64_MAX, &g->unit_id) < 0 ||
        ym_api_bool(r, body, "include_descendants", &g->subtree) < 0)
        return -1;
    role_row ro;
    char path[512];
    if (!g->user_id || user_exists(db, g->user_id) != 1) {
        ym_resp_invalid(r, "user_id", "no such user");
        return -1;
    }
    if (role && !g->role_id)
        g->role_id = ym_role_id(db, role);
    if ((role && json_object_get(body, "role_id")) || g->role_id <= 0 || role_load(db, g->role_id, &ro) != 1) {
        ym_resp_invalid(r, role ? "role" : "role_id", "give one existing role, by key (role) or by id (role_id)");
        return -1;
    }
    if (!g->unit_id || ym_unit_path_get(db, g->unit_id, path, sizeof path) != 1) {
        ym_resp_invalid(r, "unit_id", "no such unit");
        return -1;
    }
    return 0;
}

static int grant_insert(ym_db *db, const grant_req *g, int64_t by, int64_t *id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_grants (user_id, role_id, unit_id, include_descendants, created_at, created_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, g->user_id);
    sqlite3_bind_int64(st, 2, g->role_id);
    sqlite3_bind_int64(st, 3, g->unit_id);
    sqlite3_bind_int(st, 4, g->subtree);
    sqlite3_bind_int64(st, 5, ym_now());
    sqlite3_bind_int64(st, 6, by);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    *id = sqlite3_last_insert_rowid(ym_db_handle(db));
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void grant_write(ym_request *r, const grant_req *g)
{
    ym_db *db = ym_api_db(r);
    int64_t id = 0;
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int rc = grant_insert(db, g, r->who->user_id, &id);
    bool ok = rc == SQLITE_OK;
    json_t *j = ok ? grant_json(db, id) : NULL;
    if (j) {
        char target[32];
        snprintf(target, sizeof target, "grant:%lld", (long long)id);
        json_t *d = json_pack("{s:I,s:O,s:I,s:O}", "user_id", (json_int_t)g->user_id, "role", json_object_get(j, "role"),
                              "unit_id", (json_int_t)g->unit_id, "include_descendants", json_object_get(j, "include_descendants"));
        ok = ym_api_audit(r, g->acting, "grants.create", target, d) == 0;
        json_decref(d);
    }
    ym_db_write_end(db, ok && j);
    if (ok && j) {
        ym_resp_json(r, 201, j);
        return;
    }
    json_decref(j);
    if (rc == SQLITE_CONSTRAINT)
        ym_resp_error(r, 409, "conflict", "the user already has this role on this unit");
    else
        ym_resp_error(r, 500, "storage_error", "the grant could not be saved");
}

static void grants_create(ym_request *r, void *ud)
{
    json_t *body = ym_api_body(r);
    grant_req g = {0};
    if (!body)
        return;
    int rc = grant_parse(r, body, &g);
    json_decref(body);
    if (rc < 0)
        return;
    char target[32];
    snprintf(target, sizeof target, "unit:%lld", (long long)g.unit_id);
    rc = ym_api_may(ym_api_db(r), r->who, "grants.manage", g.unit_id, &g.acting);
    if (rc < 0)
        ym_api_busy(r);
    else if (rc == 0)
        ym_api_refuse(r, 403, "grants.create", target, "grants.manage", "unit");
    else if (grant_within_reach(r, g.role_id, g.unit_id, g.subtree, "grants.create", target) == 1)
        grant_write(r, &g);
}

/* Would deleting this grant leave no system administrator over the whole tree? */
static int last_system_admin(ym_db *db, int64_t grant_id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT count(*) FROM core_grants g JOIN core_roles ro ON ro.id = g.role_id JOIN core_units un ON un.id = g.unit_id "
        "JOIN core_users us ON us.id = g.user_id WHERE ro.key = 'system_admin' AND un.parent_id IS NULL "
        "AND g.include_descendants = 1 AND us.status = 'active' AND g.id != ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, grant_id);
    int others = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    return others < 0 ? -1 : others == 0;
}

static void grants_delete(ym_request *r, void *ud)
{
    int64_t id, acting = 0;
    ym_db *db = ym_api_db(r);
    if (!ym_api_path_id(r, "id", &id))
        return;
    json_t *j = grant_json(db, id);
    if (!j) {
        ym_resp_error(r, 404, "not_found", "no such grant");
        return;
    }
    char target[32];
    snprintf(target, sizeof target, "grant:%lld", (long long)id);
    int64_t unit = json_integer_value(json_object_get(j, "unit_id")), role = json_integer_value(json_object_get(j, "role_id"));
    bool subtree = json_is_true(json_object_get(j, "include_descendants"));
    bool root_admin = strcmp(json_string_value(json_object_get(j, "role")), YM_ROLE_SYSTEM_ADMIN) == 0;
    int may = ym_api_may(db, r->who, "grants.manage", unit, &acting), last = 0;
    if (may == 0)
        ym_api_refuse(r, ym_may(db, r->who, "grants.read", unit) == 1 ? 403 : 404, "grants.delete", target, "grants.manage", "grant");
    else if (may < 0 || (root_admin && (last = last_system_admin(db, id)) < 0))
        ym_api_busy(r);
    else if (last)
        ym_resp_error(r, 409, "conflict", "this is the last active system administrator over the whole county");
    else if (grant_within_reach(r, role, unit, subtree, "grants.delete", target) == 1) {
        if (ym_db_write_begin(db) < 0) {
            json_decref(j);
            ym_api_busy(r);
            return;
        }
        bool ok = exec_id(db, "DELETE FROM core_grants WHERE id = ?1", id);
        json_object_del(j, "created_at");
        ok = ok && ym_api_audit(r, acting, "grants.delete", target, j) == 0;
        ym_db_write_end(db, ok);
        if (ok)
            ym_resp_send(r, 204, NULL, NULL, 0, NULL);
        else
            ym_resp_error(r, 500, "storage_error", "the grant could not be deleted");
    }
    json_decref(j);
}

int ym_access_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/roles", "roles.read", roles_list, NULL},
        {"POST", "/api/roles", "roles.manage", roles_create, NULL},
        {"GET", "/api/roles/:id", "roles.read", roles_get, NULL},
        {"PATCH", "/api/roles/:id", "roles.manage", roles_patch, NULL},
        {"DELETE", "/api/roles/:id", "roles.manage", roles_delete, NULL},
        {"GET", "/api/permissions", "roles.manage", permissions_list, NULL},
        {"GET", "/api/grants", "grants.read", grants_list, NULL},
        {"POST", "/api/grants", "grants.manage", grants_create, NULL},
        {"DELETE", "/api/grants/:id", "grants.manage", grants_delete, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen) < 0 ? -1 : ym_delegation_routes(rt, err, errlen);
}

long ym_perm_holders(ym_db *db, int64_t unit, const char *perm, int64_t *out, size_t max)
{
    char all[96];
    const char *dot = strchr(perm, '.');
    snprintf(all, sizeof all, "%.*s.*", dot ? (int)(dot - perm) : (int)strlen(perm), perm);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT DISTINCT g.user_id FROM core_grants g JOIN core_role_permissions p ON p.role_id = g.role_id "
        "JOIN core_users u ON u.id = g.user_id WHERE g.unit_id = ?1 AND u.status = 'active' "
        "AND p.permission IN (?2, ?3) ORDER BY g.user_id LIMIT ?4");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, unit);
    sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, all, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        out[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}
