/* users: /api/users, the accounts of the directory: list, read, create (an initial password
 * shown once), edit and move, reset the password, disable/enable, unlock. Never deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "directory.h"
#include "api.h"
#include "search.h"
#include "auth.h"
#include "http.h"
#include "password.h"
#include "clock.h"

#define MAX_EXTRA_UNITS 50

/* Fields an account's owner or the security routes set, never the create/edit body: asking
 * for them is refused and audited (a unit admin's "roles": ["admin"] grants nothing). */
static const char *const privileged_keys[] = {"roles", "role", "grants", "status", "password", "password_hash", "must_change",
                                              "must_change_password", "failed_count", "locked_until",
                                              "totp_enabled", "totp_secret", NULL};

typedef struct user_row {
    int64_t id, unit_id;
    char username[65], display_name[129], title[129], phone[33];
    bool active;
} user_row;

static void user_target(char *buf, size_t len, int64_t id) { snprintf(buf, len, "user:%lld", (long long)id); }

static int user_load(ym_db *db, int64_t id, user_row *u)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT username, display_name, unit_id, title, phone, status FROM core_users WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        u->id = id;
        snprintf(u->username, sizeof u->username, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(u->display_name, sizeof u->display_name, "%s", (const char *)sqlite3_column_text(st, 1));
        u->unit_id = sqlite3_column_int64(st, 2);
        snprintf(u->title, sizeof u->title, "%s", (const char *)sqlite3_column_text(st, 3));
        snprintf(u->phone, sizeof u->phone, "%s", (const char *)sqlite3_column_text(st, 4));
        u->active = strcmp((const char *)sqlite3_column_text(st, 5), "active") == 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Loads a user the caller may use with perm (checked on the user's primary unit): 1 yes;
 * else answered: 404 when the caller cannot read the user, 403 when it can but lacks perm. */
static int user_access(ym_request *r, int64_t id, const char *perm, const char *action, user_row *u, int64_t *acting)
{
    ym_db *db = ym_api_db(r);
    int found = user_load(db, id, u);
    int may = found == 1 ? ym_api_may(db, r->who, perm, u->unit_id, acting) : found;
    if (may == 1)
        return 1;
    if (may < 0) {
        ym_api_busy(r);
        return -1;
    }
    if (!found) {
        ym_resp_error(r, 404, "not_found", "no such user");
        return 0;
    }
    char target[32];
    user_target(target, sizeof target, id);
    int readable = strcmp(perm, "users.read") != 0 ? ym_may(db, r->who, "users.read", u->unit_id) : 0;
    ym_api_refuse(r, readable == 1 ? 403 : 404, action, target, perm, "user");
    return 0;
}

/* No escalation through someone else's account: the caller must hold, on each unit where
 * the target holds a permission, that permission too (the audit area excepted, which
 * nobody but its own holders has). 1 yes, 0 refused and answered, -1 answered. */
static int user_dominated(ym_request *r, int64_t uid, const char *action)
{
    ym_db *db = ym_api_db(r);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT DISTINCT rp.permission, g.unit_id FROM core_grants g JOIN core_role_permissions rp "
        "ON rp.role_id = g.role_id WHERE g.user_id = ?1 ORDER BY 2, 1");
    if (!st) {
        ym_api_busy(r);
        return -1;
    }
    sqlite3_bind_int64(st, 1, uid);
    int rc, may = 1;
    char perm[80] = "";
    while (may == 1 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(perm, sizeof perm, "%s", (const char *)sqlite3_column_text(st, 0));
        if (strncmp(perm, "audit.", 6) != 0)
            may = ym_may(db, r->who, perm, sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    if (may < 0) {
        ym_api_busy(r);
        return -1;
    }
    if (may == 0) {
        char target[32];
        user_target(target, sizeof target, uid);
        json_t *d = json_pack("{s:s,s:s}", "reason", "the user holds a permission the caller does not", "permission", perm);
        r->who->acting_for = 0;
        ym_audit_req(r, action, target, "denied", d);
        json_decref(d);
        ym_resp_error(r, 403, "forbidden", "this user holds the permission %s where you do not", perm);
    }
    return may;
}

static bool phone_ok(const char *s)
{
    for (; s && *s; s++)
        if (!strchr("0123456789+-() ", *s))
            return false;
    return true;
}

static bool privileged(const char *key)
{
    for (size_t i = 0; privileged_keys[i]; i++)
        if (strcmp(privileged_keys[i], key) == 0)
            return true;
    return false;
}

/* The privileged or unknown key of a body, answered (privileged ones audited); else 0. */
static int body_keys(ym_request *r, json_t *body, const char *const *allowed, const char *action, const char *target)
{
    const char *k = ym_api_unknown_key(body, allowed);
    if (!k)
        return 0;
    if (privileged(k)) {
        json_t *d = json_pack("{s:s,s:s}", "field", k, "reason", "privileged field in the body");
        r->who->acting_for = 0;
        ym_audit_req(r, action, target, "denied", d);
        json_decref(d);
        ym_resp_invalid(r, k, "%s cannot be set here (roles through /api/grants, status and passwords through "
                        "their own routes)", k);
    } else if (strcmp(k, "username") == 0) {
        ym_resp_invalid(r, k, "username cannot be changed");
    } else {
        ym_resp_invalid(r, k, "unknown field %s", k);
    }
    return -1;
}

/* A unit a user may belong to: exists, active, managed by the caller. 1 ok, else answered. */
static int unit_usable(ym_request *r, int64_t unit, const char *field, const char *action, int64_t *acting)
{
    ym_db *db = ym_api_db(r);
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT active FROM core_units WHERE id = ?1");
    if (!st) {
        ym_api_busy(r);
        return -1;
    }
    sqlite3_bind_int64(st, 1, unit);
    int rc = sqlite3_step(st), active = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ym_api_busy(r);
        return -1;
    }
    if (rc == SQLITE_DONE || !active) {
        ym_resp_invalid(r, field, "%s: unit %lld %s", field, (long long)unit, rc == SQLITE_DONE ? "does not exist" : "is inactive");
        return 0;
    }
    int may = ym_api_may(db, r->who, "users.manage", unit, acting);
    if (may < 0)
        ym_api_busy(r);
    if (may == 0) {
        char target[32];
        snprintf(target, sizeof target, "unit:%lld", (long long)unit);
        ym_api_refuse(r, 403, action, target, "users.manage", "unit");
    }
    return may;
}

/* The primary unit is never an extra membership: drop it from a requested list. */
static void ids_drop(json_t *ids, int64_t primary)
{
    for (size_t i = json_array_size(ids); i-- > 0;)
        if (json_integer_value(json_array_get(ids, i)) == primary)
            json_array_remove(ids, i);
}

static json_t *user_extras(ym_db *db, int64_t uid)
{
    json_t *j = ym_user_json(db, uid), *e = j ? json_incref(json_object_get(j, "extra_unit_ids")) : NULL;
    json_decref(j);
    return e;
}

/* Replaces the extra memberships (the primary unit is never one of them). */
static int extras_write(ym_db *db, int64_t uid, int64_t primary, json_t *ids)
{
    json_t *extra = json_copy(ids);
    if (!extra)
        return -1;
    ids_drop(extra, primary);
    int rc = ym_api_set_rows(db, "DELETE FROM core_user_units WHERE user_id = ?1",
                             "INSERT OR IGNORE INTO core_user_units (user_id, unit_id) VALUES (?1, ?2)", uid, extra);
    json_decref(extra);
    return rc;
}

static void answer_user(ym_request *r, int status, bool ok, int64_t id, const char *initial_password)
{
    json_t *j = ok ? ym_user_json(ym_api_db(r), id) : NULL;
    if (!j) {
        ym_resp_error(r, 500, "storage_error", "the change could not be saved");
        return;
    }
    if (initial_password)
        json_object_set_new(j, "initial_password", json_string(initial_password));
    ym_resp_json(r, status, j);
}

/* ---------- GET /api/users, GET /api/users/:id ---------- */

static void users_list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int limit;
    int64_t after, unit = 0;
    char *q = NULL, *status = NULL;
    int hu = 0, hs = 0;
    if (ym_api_page(r, &limit, &after) < 0 || (hu = ym_api_query_id(r, "unit_id", &unit)) < 0 ||
        ym_api_query_str(r, "q", 100, &q) < 0 || (hs = ym_api_query_str(r, "status", 16, &status)) < 0)
        goto out;
    if (hs && strcmp(status, "active") && strcmp(status, "disabled") && strcmp(status, "locked")) {
        ym_resp_invalid(r, "status", "status must be active, disabled or locked");
        goto out;
    }
    sqlite3_stmt *st = ym_scope_prepare(db, r->who, "users.read",
        "SELECT u.id FROM core_users u JOIN core_units n ON n.id = u.unit_id WHERE u.id > ?1 "
        "AND (?2 IS NULL OR u.unit_id = ?2) AND (?3 IS NULL OR u.username LIKE ?3 ESCAPE '\\' "
        "OR u.display_name LIKE ?3 ESCAPE '\\' OR u.phone LIKE ?3 ESCAPE '\\') AND (?4 IS NULL OR CASE ?4 "
        "WHEN 'locked' THEN u.status = 'active' AND coalesce(u.locked_until, 0) > ?5 "
        "WHEN 'active' THEN u.status = 'active' AND coalesce(u.locked_until, 0) <= ?5 ELSE u.status = ?4 END) "
        "AND " ym_scope_sql("n.path") " ORDER BY u.id LIMIT ?6");
    if (!st) {
        ym_api_busy(r);
        goto out;
    }
    sqlite3_bind_int64(st, 1, after);
    if (hu)
        sqlite3_bind_int64(st, 2, unit);
    ym_api_bind_like(st, 3, q);
    if (hs)
        sqlite3_bind_text(st, 4, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, ym_now());
    sqlite3_bind_int(st, 6, limit + 1);
    ym_api_send_ids(r, st, limit, ym_user_json);
out:
    free(q);
    free(status);
}

static void users_get(ym_request *r, void *ud)
{
    int64_t id;
    user_row u;
    if (ym_api_path_id(r, "id", &id) && user_access(r, id, "users.read", "users.read", &u, NULL) == 1)
        answer_user(r, 200, true, id, NULL);
}

/* ---------- POST /api/users ---------- */

typedef struct user_new {
    ym_request *r;
    char username[65], display_name[129], title[129], phone[33];
    int64_t unit_id, acting;
    json_t *extra;
    char *password;
    bool generated;
} user_new;

static void user_new_free(user_new *c)
{
    if (c->password) {
        OPENSSL_cleanse(c->password, strlen(c->password));
        free(c->password);
    }
    json_decref(c->extra);
    free(c);
}

static void user_new_hashed(void *ud, int rc, const char *encoded)
{
    user_new *c = ud;
    ym_request *r = c->r;
    ym_db *db = ym_api_db(r);
    char field[32] = "", msg[160] = "", target[32];
    if (rc < 0 || ym_db_write_begin(db) < 0) {
        user_new_free(c);
        ym_api_busy(r);
        return;
    }
    int64_t id = ym_user_create(db, c->username, c->display_name, c->unit_id, c->title, c->phone, encoded, true,
                                field, sizeof field, msg, sizeof msg);
    bool ok = id > 0 && extras_write(db, id, c->unit_id, c->extra) == 0;
    if (ok) {
        user_target(target, sizeof target, id);
        json_t *d = json_pack("{s:s,s:I,s:O,s:s}", "username", c->username, "unit_id", (json_int_t)c->unit_id,
                              "extra_unit_ids", c->extra, "password_source", c->generated ? "generated" : "set");
        ok = ym_api_audit(r, c->acting, "users.create", target, d) == 0;
        json_decref(d);
    }
    ym_db_write_end(db, ok);
    if (id == -1 && strcmp(field, "username") == 0)
        ym_resp_error(r, 409, "conflict", "username %s is already taken", c->username);
    else if (id == -1)
        ym_resp_invalid(r, field, "%s", msg);
    else
        answer_user(r, 201, ok, id, c->generated ? c->password : NULL);
    user_new_free(c);
}

static const char *const user_create_keys[] = {"username", "display_name", "unit_id", "extra_unit_ids", "title",
                                               "phone", "password", NULL};

/* Reads and checks the body into c: 0 ok, -1 answered. */
static int user_new_parse(ym_request *r, json_t *body, user_new *c)
{
    const char *un = NULL, *dn = NULL, *title = "", *phone = "", *pw = NULL;
    if (body_keys(r, body, user_create_keys, "users.create", "") < 0 ||
        ym_api_str(r, body, "username", 64, false, &un) < 0 || ym_api_str(r, body, "display_name", 128, false, &dn) < 0 ||
        ym_api_str(r, body, "title", 128, false, &title) < 0 || ym_api_str(r, body, "phone", 32, false, &phone) < 0 ||
        ym_api_str(r, body, "password", 1024, false, &pw) < 0 ||
        ym_api_int(r, body, "unit_id", 1, INT64_MAX, &c->unit_id) < 0 ||
        ym_api_ids(r, body, "extra_unit_ids", MAX_EXTRA_UNITS, &c->extra) < 0)
        return -1;
    if (!ym_username_ok(un)) {
        ym_resp_invalid(r, "username", "username must be 2-64 characters of a-z, 0-9, '_', '.', '-'");
        return -1;
    }
    if (!dn || !*dn || !c->unit_id) {
        ym_resp_invalid(r, !c->unit_id ? "unit_id" : "display_name", "%s is required", !c->unit_id ? "unit_id" : "display_name");
        return -1;
    }
    if (!phone_ok(phone)) {
        ym_resp_invalid(r, "phone", "phone may hold only digits, spaces and + - ( )");
        return -1;
    }
    snprintf(c->username, sizeof c->username, "%s", un);
    snprintf(c->display_name, sizeof c->display_name, "%s", dn);
    snprintf(c->title, sizeof c->title, "%s", title);
    snprintf(c->phone, sizeof c->phone, "%s", phone);
    if (pw && !(c->password = strdup(pw)))
        abort();
    if (!c->extra)
        c->extra = json_array();
    return 0;
}

/* The caller manages the unit and every extra unit; the username is free; the password
 * passes the policy (or one is generated). 0 ok, -1 answered. */
static int user_new_check(ym_request *r, user_new *c)
{
    ym_db *db = ym_api_db(r);
    size_t i;
    json_t *v;
    if (unit_usable(r, c->unit_id, "unit_id", "users.create", &c->acting) != 1)
        return -1;
    ids_drop(c->extra, c->unit_id);
    json_array_foreach(c->extra, i, v) if (unit_usable(r, json_integer_value(v), "extra_unit_ids", "users.create", &c->acting) != 1)
        return -1;
    int taken = ym_username_taken(db, c->username);
    if (taken) {
        if (taken < 0)
            ym_api_busy(r);
        else
            ym_resp_error(r, 409, "conflict", "username %s is already taken", c->username);
        return -1;
    }
    char why[200];
    if (c->password && ym_password_policy(ym_server_config(ym_req_server(r)), c->password, c->username, why, sizeof why) < 0) {
        ym_resp_invalid(r, "password", "%s", why);
        return -1;
    }
    if (!c->password) {
        char tok[32];
        ym_random_token(tok, sizeof tok, 12);
        if (!(c->password = strdup(tok)))
            abort();
        OPENSSL_cleanse(tok, sizeof tok);
        c->generated = true;
    }
    return 0;
}

static void users_create(ym_request *r, void *ud)
{
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    user_new *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->r = r;
    int rc = user_new_parse(r, body, c) == 0 ? user_new_check(r, c) : -1;
    json_decref(body);
    if (rc < 0) {
        user_new_free(c);
        return;
    }
    ym_argon2_params prm;
    ym_argon2_params_from(ym_server_config(ym_req_server(r)), &prm);
    if (ym_password_hash_async(ym_server_loop(ym_req_server(r)), c->password, &prm, user_new_hashed, c) < 0) {
        user_new_free(c);
        ym_resp_error(r, 500, "internal", "could not hash the password");
    }
}

/* ---------- PATCH /api/users/:id ---------- */

static const char *const user_patch_keys[] = {"display_name", "unit_id", "extra_unit_ids", "title", "phone", NULL};

/* Each unit of a that is not in b must be one the caller manages. 0 ok, -1 answered. */
static int extras_only_in_ok(ym_request *r, json_t *a, json_t *b, int64_t *acting)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        bool in_b = false;
        size_t j;
        json_t *w;
        json_array_foreach(b, j, w) in_b = in_b || json_equal(v, w);
        if (!in_b && unit_usable(r, json_integer_value(v), "extra_unit_ids", "users.update", acting) != 1)
            return -1;
    }
    return 0;
}

/* Each extra unit added or removed must be one the caller manages. 0 ok, -1 answered. */
static int extras_change_ok(ym_request *r, json_t *old, json_t *neu, int64_t *acting)
{
    return extras_only_in_ok(r, neu, old, acting) < 0 || extras_only_in_ok(r, old, neu, acting) < 0 ? -1 : 0;
}

static void change_field(json_t *d, const char *key, const char *o, const char *n)
{
    if (strcmp(o, n) != 0)
        json_object_set_new(d, key, json_pack("{s:s,s:s}", "old", o, "new", n));
}

static int user_update_row(ym_db *db, const user_row *n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_users SET display_name = ?1, unit_id = ?2, title = ?3, phone = ?4, updated_at = ?5 WHERE id = ?6");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, n->display_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, n->unit_id);
    sqlite3_bind_text(st, 3, n->title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, n->phone, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, ym_now());
    sqlite3_bind_int64(st, 6, n->id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE && ym_search_sync_user(db, n->id) == 0 ? 0 : -1;
}

static void user_patch_apply(ym_request *r, const user_row *o, const user_row *n, json_t *old_x, json_t *new_x,
                             int64_t acting)
{
    ym_db *db = ym_api_db(r);
    json_t *ch = json_object();
    change_field(ch, "display_name", o->display_name, n->display_name);
    change_field(ch, "title", o->title, n->title);
    change_field(ch, "phone", o->phone, n->phone);
    if (o->unit_id != n->unit_id)
        json_object_set_new(ch, "unit_id", json_pack("{s:I,s:I}", "old", (json_int_t)o->unit_id, "new", (json_int_t)n->unit_id));
    if (new_x && !json_equal(old_x, new_x))
        json_object_set_new(ch, "extra_unit_ids", json_pack("{s:O,s:O}", "old", old_x, "new", new_x));
    if (!json_object_size(ch)) {
        json_decref(ch);
        answer_user(r, 200, true, o->id, NULL);
        return;
    }
    if (ym_db_write_begin(db) < 0) {
        json_decref(ch);
        ym_api_busy(r);
        return;
    }
    char target[32];
    user_target(target, sizeof target, o->id);
    bool ok = user_update_row(db, n) == 0 && extras_write(db, o->id, n->unit_id, new_x ? new_x : old_x) == 0;
    json_t *d = json_pack("{s:o}", "changes", ch);
    ok = ok && ym_api_audit(r, acting, o->unit_id != n->unit_id ? "users.move" : "users.update", target, d) == 0;
    json_decref(d);
    ym_db_write_end(db, ok);
    answer_user(r, 200, ok, o->id, NULL);
}

/* Reads the body over a copy of the row: 0 ok, -1 answered. */
static int user_patch_parse(ym_request *r, json_t *body, user_row *n, json_t **new_x, const char *target)
{
    const char *dn = NULL, *title = NULL, *phone = NULL;
    if (body_keys(r, body, user_patch_keys, "users.update", target) < 0 ||
        ym_api_str(r, body, "display_name", 128, false, &dn) < 0 || ym_api_str(r, body, "title", 128, false, &title) < 0 ||
        ym_api_str(r, body, "phone", 32, false, &phone) < 0 || ym_api_int(r, body, "unit_id", 1, INT64_MAX, &n->unit_id) < 0 ||
        ym_api_ids(r, body, "extra_unit_ids", MAX_EXTRA_UNITS, new_x) < 0)
        return -1;
    if ((dn && !*dn) || !phone_ok(phone)) {
        ym_resp_invalid(r, dn && !*dn ? "display_name" : "phone", "%s", dn && !*dn ? "display_name must not be empty"
                                                                                   : "phone may hold only digits, spaces and + - ( )");
        return -1;
    }
    if (dn)
        snprintf(n->display_name, sizeof n->display_name, "%s", dn);
    if (title)
        snprintf(n->title, sizeof n->title, "%s", title);
    if (phone)
        snprintf(n->phone, sizeof n->phone, "%s", phone);
    return 0;
}

static void users_patch(ym_request *r, void *ud)
{
    int64_t id, acting = 0;
    user_row o, n;
    if (!ym_api_path_id(r, "id", &id))
        return;
    json_t *body = ym_api_body(r), *old_x = NULL, *new_x = NULL;
    char target[32];
    user_target(target, sizeof target, id);
    if (!body || user_access(r, id, "users.manage", "users.update", &o, &acting) != 1 ||
        user_dominated(r, id, "users.update") != 1)
        goto out;
    n = o;
    if (user_patch_parse(r, body, &n, &new_x, target) < 0)
        goto out;
    if (n.unit_id != o.unit_id && unit_usable(r, n.unit_id, "unit_id", "users.move", &acting) != 1)
        goto out;
    if (!(old_x = user_extras(ym_api_db(r), id))) {
        ym_api_busy(r);
        goto out;
    }
    if (new_x)
        ids_drop(new_x, n.unit_id);
    if (new_x && extras_change_ok(r, old_x, new_x, &acting) < 0)
        goto out;
    user_patch_apply(r, &o, &n, old_x, new_x, acting);
out:
    json_decref(body);
    json_decref(old_x);
    json_decref(new_x);
}

/* ---------- POST /api/users/:id/password ---------- */

typedef struct pw_reset {
    ym_request *r;
    int64_t user_id, acting;
    char *password;
    bool generated;
} pw_reset;

static void pw_reset_free(pw_reset *c)
{
    OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->password);
    free(c);
}

static int password_store(ym_db *db, int64_t uid, const char *encoded)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_users SET password_hash = ?1, must_change = 1, password_set_at = ?2, updated_at = ?2 WHERE id = ?3");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, encoded, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, ym_now());
    sqlite3_bind_int64(st, 3, uid);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void pw_reset_hashed(void *ud, int rc, const char *encoded)
{
    pw_reset *c = ud;
    ym_request *r = c->r;
    ym_db *db = ym_api_db(r);
    if (rc < 0 || ym_db_write_begin(db) < 0) {
        pw_reset_free(c);
        ym_api_busy(r);
        return;
    }
    char target[32];
    user_target(target, sizeof target, c->user_id);
    json_t *d = json_pack("{s:b}", "generated", c->generated);
    bool ok = password_store(db, c->user_id, encoded) == 0 && ym_auth_revoke_sessions(db, c->user_id, 0) == 0 &&
              ym_api_audit(r, c->acting, "users.password", target, d) == 0;
    json_decref(d);
    ym_db_write_end(db, ok);
    if (!ok)
        ym_resp_error(r, 500, "storage_error", "could not save the password");
    else if (c->generated)
        ym_resp_json(r, 200, json_pack("{s:I,s:b,s:s}", "user_id", (json_int_t)c->user_id, "must_change_password", 1,
                                       "initial_password", c->password));
    else
        ym_resp_json(r, 200, json_pack("{s:I,s:b}", "user_id", (json_int_t)c->user_id, "must_change_password", 1));
    pw_reset_free(c);
}

/* The new password from an optional body {"password"}: strdup'ed, NULL when generated or answered. */
static char *pw_reset_body(ym_request *r, const char *username, bool *generated, bool *answered)
{
    static const char *const keys[] = {"password", NULL};
    const char *pw = NULL;
    char why[200], tok[32];
    *answered = *generated = false;
    json_t *body = r->body_len ? ym_api_body(r) : json_object();
    if (!body) {
        *answered = true;
        return NULL;
    }
    if (!ym_api_keys(r, body, keys) || ym_api_str(r, body, "password", 1024, false, &pw) < 0) {
        *answered = true;
    } else if (pw && ym_password_policy(ym_server_config(ym_req_server(r)), pw, username, why, sizeof why) < 0) {
        ym_resp_invalid(r, "password", "%s", why);
        *answered = true;
    }
    char *out = NULL;
    if (!*answered && !pw) {
        ym_random_token(tok, sizeof tok, 12);
        *generated = true;
        pw = tok;
    }
    if (!*answered && !(out = strdup(pw)))
        abort();
    OPENSSL_cleanse(tok, sizeof tok);
    json_decref(body);
    return out;
}

static void users_password(ym_request *r, void *ud)
{
    int64_t id, acting = 0;
    user_row u;
    bool generated, answered;
    if (!ym_api_path_id(r, "id", &id) || user_access(r, id, "users.password", "users.password", &u, &acting) != 1 ||
        user_dominated(r, id, "users.password") != 1)
        return;
    char *pw = pw_reset_body(r, u.username, &generated, &answered);
    if (answered)
        return;
    pw_reset *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    *c = (pw_reset){.r = r, .user_id = id, .acting = acting, .password = pw, .generated = generated};
    ym_argon2_params prm;
    ym_argon2_params_from(ym_server_config(ym_req_server(r)), &prm);
    if (ym_password_hash_async(ym_server_loop(ym_req_server(r)), pw, &prm, pw_reset_hashed, c) < 0) {
        pw_reset_free(c);
        ym_resp_error(r, 500, "internal", "could not hash the password");
    }
}

/* ---------- disable, enable, unlock ---------- */

typedef struct state_op {
    const char *action, *perm, *sql;
    bool revoke, dominate, not_self;
} state_op;

static const state_op op_disable = {"users.disable", "users.disable",
    "UPDATE core_users SET status = 'disabled', updated_at = ?2 WHERE id = ?1", true, true, true};
static const state_op op_enable = {"users.enable", "users.disable",
    "UPDATE core_users SET status = 'active', updated_at = ?2 WHERE id = ?1", false, true, false};
static const state_op op_unlock = {"users.unlock", "users.unlock",
    "UPDATE core_users SET failed_count = 0, failed_since = NULL, locked_until = NULL, updated_at = ?2 WHERE id = ?1",
    false, false, false};

static void users_state(ym_request *r, void *ud)
{
    const state_op *op = ud;
    int64_t id, acting = 0;
    user_row u;
    if (!ym_api_path_id(r, "id", &id) || user_access(r, id, op->perm, op->action, &u, &acting) != 1 ||
        (op->dominate && user_dominated(r, id, op->action) != 1))
        return;
    if (op->not_self && id == r->who->user_id) {
        ym_resp_error(r, 409, "conflict", "you cannot disable your own account");
        return;
    }
    ym_db *db = ym_api_db(r);
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", op->sql);
    bool ok = st != NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, ym_now());
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    char target[32];
    user_target(target, sizeof target, id);
    ok = ok && ym_search_sync_user(db, id) == 0 && (!op->revoke || ym_auth_revoke_sessions(db, id, 0) == 0) &&
         ym_api_audit(r, acting, op->action, target, NULL) == 0;
    ym_db_write_end(db, ok);
    answer_user(r, 200, ok, id, NULL);
}

int ym_users_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/users", "users.read", users_list, NULL},
        {"POST", "/api/users", "users.manage", users_create, NULL},
        {"GET", "/api/users/:id", "users.read", users_get, NULL},
        {"PATCH", "/api/users/:id", "users.manage", users_patch, NULL},
        {"POST", "/api/users/:id/password", "users.password", users_password, NULL},
        {"POST", "/api/users/:id/disable", "users.disable", users_state, &op_disable},
        {"POST", "/api/users/:id/enable", "users.disable", users_state, &op_enable},
        {"POST", "/api/users/:id/unlock", "users.unlock", users_state, &op_unlock},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen);
}
