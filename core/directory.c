/* directory: /api/units (the tree: list, read, create, rename, move, deactivate), /api/contacts
 * (通讯录), and permission scopes: where a principal may use a permission, for list filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "directory.h"
#include "search.h"
#include "access.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "clock.h"

#define UNIT_PATH_MAX 480 /* identity.c reads paths into 512 bytes */

/* ---------- permission scope ---------- */

int ym_unit_path_get(ym_db *db, int64_t id, char *out, size_t len)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT path FROM core_units WHERE id = ?1 LIMIT 1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static bool path_within(const char *path, const char *root) { return strncmp(path, root, strlen(root)) == 0; }

static bool perms_cover(json_t *perms, const char *perm)
{
    size_t i;
    json_t *v;
    json_array_foreach(perms, i, v) if (json_is_string(v) && ym_perm_covers(json_string_value(v), perm)) return true;
    return false;
}

static void scope_push(json_t *scope, const char *path, bool subtree)
{
    json_array_append_new(scope, json_pack("{s:s,s:i}", "p", path, "d", subtree ? 1 : 0));
}

static int scope_add_grants(ym_db *db, int64_t user_id, const char *perm, json_t *scope)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT rp.permission, u.path, g.include_descendants FROM core_grants g "
        "JOIN core_role_permissions rp ON rp.role_id = g.role_id JOIN core_units u ON u.id = g.unit_id "
        "WHERE g.user_id = ?1 ORDER BY g.id");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, user_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (ym_perm_covers((const char *)sqlite3_column_text(st, 0), perm))
            scope_push(scope, (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2) != 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The delegators whose active delegation to user covers perm (at most 16, as ym_may). */
static int scope_delegators(ym_db *db, int64_t user_id, const char *perm, int64_t *from, size_t *n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT from_user_id, permissions FROM core_delegations WHERE to_user_id = ?1 AND revoked_at IS NULL "
        "AND starts_at <= ?2 AND ends_at > ?2 ORDER BY id LIMIT 64");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, ym_now());
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < 16) {
        json_t *perms = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        if (perms && perms_cover(perms, perm))
            from[(*n)++] = sqlite3_column_int64(st, 0);
        json_decref(perms);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* An API token reaches only its own unit (or subtree): intersect each entry with it. */
static json_t *scope_cut(json_t *scope, const char *tpath, bool tsub)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(scope, i, e) {
        const char *p = json_string_value(json_object_get(e, "p"));
        bool sub = json_integer_value(json_object_get(e, "d")) != 0;
        if (sub && tsub && path_within(p, tpath))
            scope_push(out, p, true);
        else if (sub && path_within(tpath, p))
            scope_push(out, tpath, tsub);
        else if (!sub && (tsub ? path_within(p, tpath) : strcmp(p, tpath) == 0))
            scope_push(out, p, false);
    }
    json_decref(scope);
    return out;
}

json_t *ym_scope_get(ym_db *db, ym_principal *p, const char *perm)
{
    json_t *scope = json_array();
    if (p->token_perms && !perms_cover(p->token_perms, perm))
        return scope;
    if (scope_add_grants(db, p->user_id, perm, scope) < 0) {
        json_decref(scope);
        return NULL;
    }
    if (!p->token_perms) {
        int64_t from[16];
        size_t n = 0;
        int rc = scope_delegators(db, p->user_id, perm, from, &n);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = scope_add_grants(db, from[i], perm, scope);
        if (rc < 0) {
            json_decref(scope);
            return NULL;
        }
        return scope;
    }
    char tpath[512];
    if (ym_unit_path_get(db, p->token_unit, tpath, sizeof tpath) != 1) {
        json_array_clear(scope);
        return scope;
    }
    return scope_cut(scope, tpath, p->token_descendants);
}

sqlite3_stmt *ym_scope_prepare(ym_db *db, ym_principal *p, const char *perm, const char *sql)
{
    json_t *scope = ym_scope_get(db, p, perm);
    char *sj = scope ? json_dumps(scope, JSON_COMPACT) : NULL;
    json_decref(scope);
    sqlite3_stmt *st = sj ? ym_db_prepare(db, "core", sql) : NULL;
    if (st)
        sqlite3_bind_text(st, 9, sj, -1, SQLITE_TRANSIENT);
    free(sj);
    return st;
}

bool ym_scope_covers(json_t *scope, const char *unit_path, bool subtree)
{
    json_t *e;
    size_t i;
    json_array_foreach(scope, i, e) {
        const char *p = json_string_value(json_object_get(e, "p"));
        if (json_integer_value(json_object_get(e, "d")) ? path_within(unit_path, p) : !subtree && strcmp(unit_path, p) == 0)
            return true;
    }
    return false;
}

/* ---------- units ---------- */

typedef struct unit_row {
    int64_t id, parent_id, sort;
    bool active;
    char name[256], short_name[80], credit_code[32], path[512];
    bool has_short, has_credit;
} unit_row;

static int unit_load(ym_db *db, int64_t id, unit_row *u)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT parent_id, name, short_name, credit_code, sort, active, path FROM core_units WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(u, 0, sizeof *u);
        u->id = id;
        u->parent_id = sqlite3_column_int64(st, 0);
        snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(st, 1));
        if ((u->has_short = sqlite3_column_type(st, 2) != SQLITE_NULL))
            snprintf(u->short_name, sizeof u->short_name, "%s", (const char *)sqlite3_column_text(st, 2));
        if ((u->has_credit = sqlite3_column_type(st, 3) != SQLITE_NULL))
            snprintf(u->credit_code, sizeof u->credit_code, "%s", (const char *)sqlite3_column_text(st, 3));
        u->sort = sqlite3_column_int64(st, 4);
        u->active = sqlite3_column_int(st, 5) != 0;
        snprintf(u->path, sizeof u->path, "%s", (const char *)sqlite3_column_text(st, 6));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Loads a unit the caller may use with perm: 1 yes; else answered (404 when the caller
 * cannot even read it or it does not exist, 403 when readable but perm is missing). */
static int unit_access(ym_request *r, int64_t id, const char *perm, const char *action, unit_row *u, int64_t *acting)
{
    ym_db *db = ym_api_db(r);
    int found = unit_load(db, id, u);
    int may = found == 1 ? ym_api_may(db, r->who, perm, id, acting) : found;
    if (may == 1)
        return 1;
    if (may < 0) {
        ym_api_busy(r);
        return -1;
    }
    char target[32];
    snprintf(target, sizeof target, "unit:%lld", (long long)id);
    if (!found) {
        ym_resp_error(r, 404, "not_found", "no such unit");
        return 0;
    }
    int readable = strcmp(perm, "units.read") != 0 ? ym_may(db, r->who, "units.read", id) : 0;
    ym_api_refuse(r, readable == 1 ? 403 : 404, action, target, perm, "unit");
    return 0;
}

static void units_list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int limit;
    int64_t after, parent = 0;
    bool active = false;
    char *kind = NULL, *q = NULL;
    int hp = 0, hk = 0, ha = 0;
    if (ym_api_page(r, &limit, &after) < 0 || (hp = ym_api_query_id(r, "parent_id", &parent)) < 0 ||
        (hk = ym_api_query_str(r, "kind", 16, &kind)) < 0 || ym_api_query_str(r, "q", 100, &q) < 0 ||
        (ha = ym_api_query_bool(r, "active", &active)) < 0)
        goto out;
    if (hk && !ym_unit_kind_ok(kind)) {
        ym_resp_invalid(r, "kind", "kind must be county, township, village, department or other");
        goto out;
    }
    sqlite3_stmt *st = ym_scope_prepare(db, r->who, "units.read",
        "SELECT u.id FROM core_units u WHERE u.id > ?1 AND (?2 IS NULL OR u.parent_id = ?2) "
        "AND (?3 IS NULL OR u.kind = ?3) AND (?4 IS NULL OR u.name LIKE ?4 ESCAPE '\\' "
        "OR u.short_name LIKE ?4 ESCAPE '\\') AND (?5 IS NULL OR u.active = ?5) AND " ym_scope_sql("u.path")
        " ORDER BY u.id LIMIT ?6");
    if (!st) {
        ym_api_busy(r);
        goto out;
    }
    sqlite3_bind_int64(st, 1, after);
    if (hp)
        sqlite3_bind_int64(st, 2, parent);
    if (hk)
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
    ym_api_bind_like(st, 4, q);
    if (ha)
        sqlite3_bind_int(st, 5, active);
    sqlite3_bind_int(st, 6, limit + 1);
    ym_api_send_ids(r, st, limit, ym_unit_json);
out:
    free(kind);
    free(q);
}

static void units_get(ym_request *r, void *ud)
{
    int64_t id;
    unit_row u;
    if (!ym_api_path_id(r, "id", &id) || unit_access(r, id, "units.read", "units.read", &u, NULL) != 1)
        return;
    json_t *j = ym_unit_json(ym_api_db(r), id);
    if (j)
        ym_resp_json(r, 200, j);
    else
        ym_api_busy(r);
}

static void answer_unit(ym_request *r, int status, bool ok, int64_t id)
{
    json_t *j = ok ? ym_unit_json(ym_api_db(r), id) : NULL;
    if (j)
        ym_resp_json(r, status, j);
    else
        ym_resp_error(r, 500, "storage_error", "the change could not be saved");
}

static const char *const unit_create_keys[] = {"parent_id", "kind", "name", "short_name", "credit_code", "sort", NULL};

/* After validation: the parent exists, is active, not too deep, and the caller manages it. */
static int parent_ok(ym_request *r, int64_t parent, unit_row *pu, int64_t *acting)
{
    ym_db *db = ym_api_db(r);
    int rc = unit_load(db, parent, pu);
    if (rc < 0) {
        ym_api_busy(r);
        return 0;
    }
    if (rc == 0 || !pu->active || strlen(pu->path) + 21 > UNIT_PATH_MAX) {
        ym_resp_invalid(r, "parent_id", "%s", !rc ? "no such unit" : !pu->active ? "the parent unit is inactive"
                                                               : "the unit tree would be too deep");
        return 0;
    }
    rc = ym_api_may(db, r->who, "units.manage", parent, acting);
    if (rc < 0)
        ym_api_busy(r);
    if (rc == 0) {
        char target[32];
        snprintf(target, sizeof target, "unit:%lld", (long long)parent);
        ym_api_refuse(r, 403, "units.create", target, "units.manage", "unit");
    }
    return rc == 1;
}

static void unit_insert(ym_request *r, int64_t parent, const char *kind, const char *name, const char *short_name,
                        const char *credit, int64_t sort, int64_t acting)
{
    ym_db *db = ym_api_db(r);
    char field[32] = "", msg[160] = "", target[32];
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int64_t id = ym_unit_create(db, parent, kind ? kind : "", name ? name : "", short_name, credit, (int)sort, field,
                                sizeof field, msg, sizeof msg);
    bool ok = id > 0;
    if (ok) {
        snprintf(target, sizeof target, "unit:%lld", (long long)id);
        json_t *d = json_pack("{s:I,s:s,s:s}", "parent_id", (json_int_t)parent, "kind", kind, "name", name);
        ok = ym_api_audit(r, acting, "units.create", target, d) == 0;
        json_decref(d);
    }
    ym_db_write_end(db, ok);
    if (id == -1)
        ym_resp_invalid(r, field, "%s", msg);
    else
        answer_unit(r, 201, ok, id);
}

static void units_create(ym_request *r, void *ud)
{
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    const char *kind = NULL, *name = NULL, *short_name = NULL, *credit = NULL;
    int64_t parent = 0, sort = 0, acting = 0;
    unit_row pu;
    if (ym_api_keys(r, body, unit_create_keys) && ym_api_int(r, body, "parent_id", 1, INT64_MAX, &parent) >= 0 &&
        ym_api_str(r, body, "kind", 32, false, &kind) >= 0 && ym_api_str(r, body, "name", 200, false, &name) >= 0 &&
        ym_api_str(r, body, "short_name", 64, true, &short_name) >= 0 &&
        ym_api_str(r, body, "credit_code", 64, true, &credit) >= 0 &&
        ym_api_int(r, body, "sort", -1000000, 1000000, &sort) >= 0) {
        if (!ym_unit_kind_ok(kind))
            ym_resp_invalid(r, "kind", "kind must be county, township, village, department or other");
        else if (!name || !*name)
            ym_resp_invalid(r, "name", "name is required");
        else if (!parent && (parent = ym_root_unit(ym_api_db(r))) <= 0)
            ym_api_busy(r);
        else if (parent_ok(r, parent, &pu, &acting))
            unit_insert(r, parent, kind, name, short_name, credit, sort, acting);
    }
    json_decref(body);
}

/* ---------- PATCH /api/units/:id ---------- */

typedef struct unit_patch {
    unit_row old, neu;
    bool move;
    int64_t acting;
} unit_patch;

static const char *const unit_patch_keys[] = {"name", "short_name", "credit_code", "sort", "active", "parent_id", NULL};

static int copy_opt(ym_request *r, json_t *body, const char *key, size_t max, char *dst, size_t dlen, bool *has)
{
    const char *v = NULL;
    int rc = ym_api_str(r, body, key, max, true, &v);
    if (rc == 1) {
        *has = v && *v;
        snprintf(dst, dlen, "%s", v ? v : "");
    }
    return rc;
}

/* Reads the body into pt->neu: 0 ok, -1 answered. */
static int unit_patch_parse(ym_request *r, json_t *body, unit_patch *pt)
{
    unit_row *n = &pt->neu;
    const char *name = NULL;
    int64_t parent = n->parent_id;
    int rc;
    if (!ym_api_keys(r, body, unit_patch_keys) || (rc = ym_api_str(r, body, "name", 200, false, &name)) < 0 ||
        copy_opt(r, body, "short_name", 64, n->short_name, sizeof n->short_name, &n->has_short) < 0 ||
        copy_opt(r, body, "credit_code", 18, n->credit_code, sizeof n->credit_code, &n->has_credit) < 0 ||
        ym_api_int(r, body, "sort", -1000000, 1000000, &n->sort) < 0 || ym_api_bool(r, body, "active", &n->active) < 0 ||
        ym_api_int(r, body, "parent_id", 1, INT64_MAX, &parent) < 0)
        return -1;
    if (rc == 1 && !*name) {
        ym_resp_invalid(r, "name", "name must not be empty");
        return -1;
    }
    if (rc == 1)
        snprintf(n->name, sizeof n->name, "%s", name);
    if (n->has_credit && strlen(n->credit_code) != 18) {
        ym_resp_invalid(r, "credit_code", "credit_code must be 18 characters (统一社会信用代码)");
        return -1;
    }
    if (parent != pt->old.parent_id && !pt->old.parent_id) {
        ym_resp_invalid(r, "parent_id", "the root unit cannot be moved");
        return -1;
    }
    pt->move = parent != pt->old.parent_id;
    n->parent_id = parent;
    return 0;
}

/* The new parent: exists, active, not the unit or below it, managed by the caller. */
static int unit_move_check(ym_request *r, unit_patch *pt)
{
    ym_db *db = ym_api_db(r);
    unit_row np;
    int rc = unit_load(db, pt->neu.parent_id, &np);
    if (rc < 0) {
        ym_api_busy(r);
        return -1;
    }
    const char *why = !rc ? "no such unit" : path_within(np.path, pt->old.path) ? "a unit cannot move under itself or its descendants"
                    : !np.active ? "the new parent unit is inactive" : NULL;
    sqlite3_stmt *st = NULL;
    if (!why && !(st = ym_db_prepare(db, "core", "SELECT max(length(path)) FROM core_units WHERE substr(path, 1, length(?1)) = ?1"))) {
        ym_api_busy(r);
        return -1;
    }
    if (st) {
        sqlite3_bind_text(st, 1, pt->old.path, -1, SQLITE_TRANSIENT);
        int64_t deepest = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (deepest - (int64_t)strlen(pt->old.path) + (int64_t)strlen(np.path) + 24 > UNIT_PATH_MAX)
            why = "the unit tree would be too deep";
    }
    if (why) {
        ym_resp_invalid(r, "parent_id", "%s", why);
        return -1;
    }
    rc = ym_api_may(db, r->who, "units.manage", np.id, &pt->acting);
    if (rc < 0)
        ym_api_busy(r);
    if (rc == 0) {
        char target[32];
        snprintf(target, sizeof target, "unit:%lld", (long long)np.id);
        ym_api_refuse(r, 403, "units.move", target, "units.manage", "unit");
    }
    return rc == 1 ? 0 : -1;
}

/* 1 when the unit has an active child (deactivation) or its parent is inactive (activation). */
static int unit_active_conflict(ym_db *db, const unit_patch *pt)
{
    bool deact = pt->old.active && !pt->neu.active;
    sqlite3_stmt *st = ym_db_prepare(db, "core", deact
        ? "SELECT count(*) FROM core_units WHERE parent_id = ?1 AND active = 1"
        : "SELECT count(*) FROM core_units WHERE id = ?1 AND active = 0");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, deact ? pt->old.id : pt->neu.parent_id);
    int rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) > 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static void change_str(json_t *d, const char *key, bool ohas, const char *o, bool nhas, const char *n)
{
    if (ohas != nhas || (ohas && strcmp(o, n) != 0))
        json_object_set_new(d, key, json_pack("{s:o,s:o}", "old", ohas ? json_string(o) : json_null(), "new",
                                              nhas ? json_string(n) : json_null()));
}

static json_t *unit_changes(const unit_patch *pt)
{
    const unit_row *o = &pt->old, *n = &pt->neu;
    json_t *d = json_object();
    change_str(d, "name", true, o->name, true, n->name);
    change_str(d, "short_name", o->has_short, o->short_name, n->has_short, n->short_name);
    change_str(d, "credit_code", o->has_credit, o->credit_code, n->has_credit, n->credit_code);
    if (o->sort != n->sort)
        json_object_set_new(d, "sort", json_pack("{s:I,s:I}", "old", (json_int_t)o->sort, "new", (json_int_t)n->sort));
    if (o->active != n->active)
        json_object_set_new(d, "active", json_pack("{s:b,s:b}", "old", o->active, "new", n->active));
    return d;
}

static int unit_update_row(ym_db *db, const unit_row *n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_units SET name = ?1, short_name = ?2, credit_code = ?3, sort = ?4, active = ?5, updated_at = ?6 "
        "WHERE id = ?7");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, n->name, -1, SQLITE_TRANSIENT);
    if (n->has_short)
        sqlite3_bind_text(st, 2, n->short_name, -1, SQLITE_TRANSIENT);
    if (n->has_credit)
        sqlite3_bind_text(st, 3, n->credit_code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, n->sort);
    sqlite3_bind_int(st, 5, n->active);
    sqlite3_bind_int64(st, 6, ym_now());
    sqlite3_bind_int64(st, 7, n->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE && ym_search_sync_unit(db, n->id) < 0)
        return SQLITE_ERROR;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Re-parents the unit and rewrites the path of it and every descendant: -1 error, else the
 * number of units whose path changed. */
static int unit_move_rows(ym_db *db, unit_patch *pt)
{
    char ppath[UNIT_PATH_MAX + 1];
    if (ym_unit_path_get(db, pt->neu.parent_id, ppath, sizeof ppath) != 1)
        return -1;
    snprintf(pt->neu.path, sizeof pt->neu.path, "%s%lld/", ppath, (long long)pt->old.id);
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_units SET parent_id = ?1 WHERE id = ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, pt->neu.parent_id);
    sqlite3_bind_int64(st, 2, pt->old.id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE ||
        !(st = ym_db_prepare(db, "core",
                             "UPDATE core_units SET path = ?1 || substr(path, length(?2) + 1), updated_at = ?3 "
                             "WHERE substr(path, 1, length(?2)) = ?2")))
        return -1;
    sqlite3_bind_text(st, 1, pt->neu.path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, pt->old.path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, ym_now());
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(ym_db_handle(db)) : -1;
}

/* Writes and audits the patch in one savepoint; answers. */
static void unit_patch_apply(ym_request *r, unit_patch *pt)
{
    ym_db *db = ym_api_db(r);
    char target[32];
    snprintf(target, sizeof target, "unit:%lld", (long long)pt->old.id);
    json_t *changes = unit_changes(pt);
    if (!json_object_size(changes) && !pt->move) {
        json_decref(changes);
        answer_unit(r, 200, true, pt->old.id);
        return;
    }
    if (ym_db_write_begin(db) < 0) {
        json_decref(changes);
        ym_api_busy(r);
        return;
    }
    int rc = json_object_size(changes) ? unit_update_row(db, &pt->neu) : SQLITE_OK;
    bool ok = rc == SQLITE_OK, dup = rc == SQLITE_CONSTRAINT;
    json_t *d = json_pack("{s:o}", "changes", changes);
    if (ok && json_object_size(changes))
        ok = ym_api_audit(r, pt->acting, "units.update", target, d) == 0;
    json_decref(d);
    int moved = ok && pt->move ? unit_move_rows(db, pt) : 0;
    ok = ok && moved >= 0;
    if (ok && pt->move) {
        d = json_pack("{s:I,s:I,s:s,s:s,s:i}", "old_parent_id", (json_int_t)pt->old.parent_id, "new_parent_id",
                      (json_int_t)pt->neu.parent_id, "old_path", pt->old.path, "new_path", pt->neu.path, "units", moved);
        ok = ym_api_audit(r, pt->acting, "units.move", target, d) == 0;
        json_decref(d);
    }
    ym_db_write_end(db, ok);
    if (dup)
        ym_resp_invalid(r, "credit_code", "credit_code is already used by another unit");
    else
        answer_unit(r, 200, ok, pt->old.id);
}

static void units_patch(ym_request *r, void *ud)
{
    int64_t id;
    unit_patch pt = {0};
    if (!ym_api_path_id(r, "id", &id))
        return;
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    int rc = unit_access(r, id, "units.manage", "units.update", &pt.old, &pt.acting) == 1 ? 0 : -1;
    pt.neu = pt.old;
    if (rc == 0)
        rc = unit_patch_parse(r, body, &pt);
    if (rc == 0 && pt.move)
        rc = unit_move_check(r, &pt);
    json_decref(body);
    if (rc < 0)
        return;
    int conflict = pt.old.active != pt.neu.active || pt.move ? unit_active_conflict(ym_api_db(r), &pt) : 0;
    if (!pt.old.parent_id && !pt.neu.active)
        ym_resp_invalid(r, "active", "the root unit cannot be deactivated");
    else if (conflict < 0)
        ym_api_busy(r);
    else if (conflict && pt.neu.active)
        ym_resp_error(r, 409, "conflict", "the parent unit is inactive; activate it first");
    else if (conflict)
        ym_resp_error(r, 409, "conflict", "the unit has active sub-units; deactivate them first");
    else
        unit_patch_apply(r, &pt);
}

/* ---------- GET /api/contacts ---------- */

static json_t *contact_row(sqlite3_stmt *st)
{
    return json_pack("{s:I,s:s,s:I,s:s,s:s,s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0), "display_name",
                     (const char *)sqlite3_column_text(st, 1), "unit_id", (json_int_t)sqlite3_column_int64(st, 2),
                     "unit_name", (const char *)sqlite3_column_text(st, 3), "title",
                     (const char *)sqlite3_column_text(st, 4), "phone", (const char *)sqlite3_column_text(st, 5));
}

static void contacts_list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int limit;
    int64_t after, unit = 0;
    char *q = NULL;
    int hu = 0;
    if (ym_api_page(r, &limit, &after) < 0 || (hu = ym_api_query_id(r, "unit_id", &unit)) < 0 ||
        ym_api_query_str(r, "q", 100, &q) < 0)
        return;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT u.id, u.display_name, u.unit_id, n.name, u.title, u.phone FROM core_users u "
        "JOIN core_units n ON n.id = u.unit_id WHERE u.status = 'active' AND u.id > ?1 AND (?2 IS NULL OR "
        "u.unit_id = ?2 OR EXISTS (SELECT 1 FROM core_user_units x WHERE x.user_id = u.id AND x.unit_id = ?2)) "
        "AND (?3 IS NULL OR u.display_name LIKE ?3 ESCAPE '\\' OR u.phone LIKE ?3 ESCAPE '\\' "
        "OR u.title LIKE ?3 ESCAPE '\\' OR n.name LIKE ?3 ESCAPE '\\') ORDER BY u.id LIMIT ?4");
    if (!st) {
        free(q);
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, after);
    if (hu)
        sqlite3_bind_int64(st, 2, unit);
    ym_api_bind_like(st, 3, q);
    free(q);
    sqlite3_bind_int(st, 4, limit + 1);
    ym_api_send_rows(r, st, limit, contact_row);
}

int ym_directory_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/units", "units.read", units_list, NULL},
        {"POST", "/api/units", "units.manage", units_create, NULL},
        {"GET", "/api/units/:id", "units.read", units_get, NULL},
        {"PATCH", "/api/units/:id", "units.manage", units_patch, NULL},
        {"GET", "/api/contacts", "contacts.read", contacts_list, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen) < 0 || ym_users_routes(rt, err, errlen) < 0 ||
           ym_access_routes(rt, err, errlen) < 0 ? -1 : 0;
}
