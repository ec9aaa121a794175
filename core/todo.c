/* todo: the to-do service (我的待办). core_todos holds one row per (owner, key), either
 * for a user or for a role in one unit; ym_todo_put / _resolve / _resolve_prefix write it
 * in the caller's transaction, GET /api/me/todos and /api/me/todos/count read the
 * caller's open items (their own, plus those of every (unit, role) they hold a grant on,
 * exactly that unit), and with the test clock POST /api/test/todos[/resolve] let the API
 * tests create and resolve items before plugins can. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include "todo.h"
#include "search.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "identity.h"
#include "files.h"
#include "clock.h"
#include "log.h"

static int64_t fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int64_t fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "#/..." or "/..." (not "//host": that would leave the site), no control characters. */
static bool link_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > YM_TODO_LINK_MAX || !ym_files_utf8_ok(s, n))
        return false;
    if (!(s[0] == '#' && s[1] == '/') && !(s[0] == '/' && s[1] != '/' && s[1] != '\\'))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool kind_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > YM_TODO_KIND_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !ym_files_utf8_ok(s, n))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* 1 the row exists, 0 not, -1 error. */
static int exists(ym_db *db, const char *sql, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* ---------- the writes ---------- */

int64_t ym_todo_put(ym_db *db, const char *owner, const char *key, const ym_todo *t, char *err, size_t errlen)
{
    if (!ym_db_in_write(db))
        return fail(err, errlen, "ym_todo_put must run inside a write");
    if (!owner || !*owner || strlen(owner) > YM_TODO_OWNER_MAX)
        return fail(err, errlen, "owner is required (at most %d bytes)", YM_TODO_OWNER_MAX);
    if (!key || !text_ok(key, YM_TODO_KEY_MAX))
        return fail(err, errlen, "key is required: UTF-8 of at most %d bytes without control characters",
                    YM_TODO_KEY_MAX);
    if (!t)
        return fail(err, errlen, "no to-do given");
    if (!t->title || !*t->title)
        return fail(err, errlen, "title is required");
    if (!text_ok(t->title, 4 * YM_TODO_TITLE_MAX) || ym_search_utf8_len(t->title) > YM_TODO_TITLE_MAX)
        return fail(err, errlen, "title must be UTF-8 of at most %d characters without control characters",
                    YM_TODO_TITLE_MAX);
    const char *role = t->role_key && *t->role_key ? t->role_key : NULL;
    if (t->user_id < 0 || t->unit_id < 0)
        return fail(err, errlen, "user_id and unit_id must be positive ids");
    if (t->user_id > 0 && (t->unit_id > 0 || role))
        return fail(err, errlen, "a to-do is for a user or for a role in a unit, not both");
    if (t->user_id == 0 && t->unit_id == 0 && !role)
        return fail(err, errlen, "a to-do needs a user, or a unit and a role");
    if (t->user_id == 0 && (t->unit_id == 0 || !role))
        return fail(err, errlen, "a to-do for a role needs both the unit and the role");
    const char *link = t->link && *t->link ? t->link : NULL;
    if (link && !link_ok(link))
        return fail(err, errlen, "link must start with \"#/\" or \"/\" (at most %d bytes, no control characters)",
                    YM_TODO_LINK_MAX);
    const char *kind = t->kind && *t->kind ? t->kind : NULL;
    if (kind && !kind_ok(kind))
        return fail(err, errlen, "kind is at most %d characters of a-z, 0-9, _, . and -", YM_TODO_KIND_MAX);
    if (t->due_ms < 0)
        return fail(err, errlen, "due_ms must be 0 (no deadline) or a time");

    int64_t role_id = 0;
    if (t->user_id > 0) {
        int rc = exists(db, "SELECT 1 FROM core_users WHERE id = ?1", t->user_id);
        if (rc < 0)
            return fail(err, errlen, "database error: %s", ym_db_errmsg(db));
        if (rc == 0)
            return fail(err, errlen, "no such user %lld", (long long)t->user_id);
    } else {
        int rc = exists(db, "SELECT 1 FROM core_units WHERE id = ?1", t->unit_id);
        if (rc < 0)
            return fail(err, errlen, "database error: %s", ym_db_errmsg(db));
        if (rc == 0)
            return fail(err, errlen, "no such unit %lld", (long long)t->unit_id);
        role_id = ym_role_id(db, role);
        if (role_id < 0)
            return fail(err, errlen, "database error: %s", ym_db_errmsg(db));
        if (role_id == 0)
            return fail(err, errlen, "no such role %s", role);
    }

    /* a re-opened item counts as new: created_at is the time it was (re)opened */
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_todos (owner, key, user_id, unit_id, role_id, kind, title, link, due_at, created_at, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
        "ON CONFLICT (owner, key) DO UPDATE SET user_id = excluded.user_id, unit_id = excluded.unit_id, "
        "role_id = excluded.role_id, kind = excluded.kind, title = excluded.title, link = excluded.link, "
        "due_at = excluded.due_at, updated_at = excluded.updated_at, "
        "created_at = CASE WHEN resolved_at IS NULL THEN created_at ELSE excluded.created_at END, "
        "resolved_at = NULL, resolved_by = NULL RETURNING id");
    if (!st)
        return fail(err, errlen, "database error: %s", ym_db_errmsg(db));
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (t->user_id > 0) {
        sqlite3_bind_int64(st, 3, t->user_id);
    } else {
        sqlite3_bind_int64(st, 4, t->unit_id);
        sqlite3_bind_int64(st, 5, role_id);
    }
    if (kind)
        sqlite3_bind_text(st, 6, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, t->title, -1, SQLITE_STATIC);
    if (link)
        sqlite3_bind_text(st, 8, link, -1, SQLITE_STATIC);
    if (t->due_ms > 0)
        sqlite3_bind_int64(st, 9, t->due_ms);
    sqlite3_bind_int64(st, 10, ym_now());
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || id <= 0)
        return fail(err, errlen, "database error: %s", ym_db_errmsg(db));
    return id;
}

/* Runs an UPDATE ... RETURNING id with ?1 owner, ?2 key or prefix, ?3 now, ?4 by (NULL: the
 * system), ?5 hi (the bound above a prefix, or none); the number of rows, -1 error. */
static int resolve_rows(ym_db *db, const char *sql, const char *owner, const char *key, int64_t by_user,
                        const char *hi)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (hi)
        sqlite3_bind_text(st, 5, hi, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ym_now());
    if (by_user > 0)
        sqlite3_bind_int64(st, 4, by_user);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        n++;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int ym_todo_resolve(ym_db *db, const char *owner, const char *key, int64_t by_user)
{
    if (!ym_db_in_write(db) || !owner || !*owner || !key || !*key || by_user < 0)
        return -1;
    int n = resolve_rows(db,
        "UPDATE core_todos SET resolved_at = ?3, resolved_by = ?4, updated_at = ?3 "
        "WHERE owner = ?1 AND key = ?2 AND resolved_at IS NULL RETURNING id", owner, key, by_user, NULL);
    return n < 0 ? -1 : n > 0 ? 1 : 0;
}

int ym_todo_resolve_prefix(ym_db *db, const char *owner, const char *prefix, int64_t by_user)
{
    if (!ym_db_in_write(db) || !owner || !*owner || !prefix || !*prefix || by_user < 0)
        return -1;
    /* key >= prefix and key < prefix + 0xFF (a byte no UTF-8 key holds) bound the scan of
     * the (owner, key) index to the keys with that prefix; the substr compares bytes */
    size_t n = strlen(prefix);
    char *hi = malloc(n + 2);
    if (!hi)
        return -1;
    memcpy(hi, prefix, n);
    hi[n] = '\xff';
    hi[n + 1] = 0;
    int rc = resolve_rows(db,
        "UPDATE core_todos SET resolved_at = ?3, resolved_by = ?4, updated_at = ?3 "
        "WHERE owner = ?1 AND key >= ?2 AND key < ?5 "
        "AND substr(CAST(key AS BLOB), 1, length(CAST(?2 AS BLOB))) = CAST(?2 AS BLOB) "
        "AND resolved_at IS NULL RETURNING id", owner, prefix, by_user, hi);
    free(hi);
    return rc;
}

int ym_todo_cleanup(ym_db *db, int64_t cutoff_ms)
{
    if (ym_db_write_begin(db) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "DELETE FROM core_todos WHERE resolved_at IS NOT NULL AND resolved_at < ?1 RETURNING id");
    int n = 0, rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, cutoff_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            n++;
        sqlite3_reset(st);
    }
    bool ok = rc == SQLITE_DONE;
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    return ok ? n : -1;
}

/* ---------- the reads ---------- */

/* The caller's open items: their own, and those of each (unit, role) they hold a grant
 * on (exactly that unit). Both halves use a partial index of open items. */
#define OPEN_ITEMS                                                                                          \
    "SELECT t.id, t.owner, t.key, t.kind, t.title, t.link, t.due_at, t.created_at, t.unit_id, t.role_id "  \
    "FROM core_todos t WHERE t.user_id = ?1 AND t.resolved_at IS NULL "                                    \
    "UNION ALL "                                                                                            \
    "SELECT t.id, t.owner, t.key, t.kind, t.title, t.link, t.due_at, t.created_at, t.unit_id, t.role_id "  \
    "FROM core_grants g JOIN core_todos t ON t.unit_id = g.unit_id AND t.role_id = g.role_id "            \
    "WHERE g.user_id = ?1 AND t.unit_id IS NOT NULL AND t.resolved_at IS NULL"

int ym_todo_count(ym_db *db, int64_t user_id, int64_t now, int64_t *total, int64_t *overdue)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT count(*), coalesce(sum(due_at < ?2), 0) FROM (" OPEN_ITEMS ")");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *total = sqlite3_column_int64(st, 0);
        *overdue = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static void count_get(ym_request *r, void *ud)
{
    (void)ud;
    int64_t total = 0, overdue = 0;
    if (ym_todo_count(ym_api_db(r), r->who->user_id, ym_now(), &total, &overdue) < 0) {
        ym_api_busy(r);
        return;
    }
    ym_resp_json(r, 200, json_pack("{s:I,s:I}", "total", (json_int_t)total, "overdue", (json_int_t)overdue));
}

static json_t *opt_text(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? json_string(s) : json_null();
}

static void list_get(ym_request *r, void *ud)
{
    (void)ud;
    ym_db *db = ym_api_db(r);
    char *source = NULL;
    bool overdue_only = false;
    char *v = ym_req_query(r, "limit"), *end = NULL;
    long limit = v ? strtol(v, &end, 10) : YM_TODO_LIMIT_DEFAULT;
    bool bad = v && (!*v || *end || limit < 1 || limit > 500);
    free(v);
    if (bad) {
        ym_resp_invalid(r, "limit", "limit must be an integer from 1 to 500");
        return;
    }
    if (ym_api_query_bool(r, "overdue", &overdue_only) < 0 ||
        ym_api_query_str(r, "source", YM_TODO_OWNER_MAX, &source) < 0)
        return;
    if (source && !*source) {
        free(source);
        source = NULL;
    }
    int64_t now = ym_now(), total = 0, overdue = 0;
    if (ym_db_read_begin(db) < 0) {
        free(source);
        ym_api_busy(r);
        return;
    }
    sqlite3_stmt *st = NULL;
    bool failed = ym_todo_count(db, r->who->user_id, now, &total, &overdue) < 0;
    if (!failed)
        st = ym_db_prepare(db, "core",
            "SELECT o.id, o.owner, o.key, o.kind, o.title, o.link, o.due_at, o.created_at, o.unit_id, ro.key "
            "FROM (" OPEN_ITEMS ") o LEFT JOIN core_roles ro ON ro.id = o.role_id "
            "WHERE (?2 IS NULL OR o.owner = ?2) AND (?3 = 0 OR o.due_at < ?4) "
            "ORDER BY o.due_at IS NULL, o.due_at, o.created_at, o.id LIMIT ?5");
    json_t *items = json_array();
    if (st) {
        sqlite3_bind_int64(st, 1, r->who->user_id);
        if (source)
            sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, overdue_only ? 1 : 0);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int(st, 5, (int)limit);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            bool has_due = sqlite3_column_type(st, 6) != SQLITE_NULL;
            int64_t due = sqlite3_column_int64(st, 6);
            bool for_role = sqlite3_column_type(st, 8) != SQLITE_NULL;
            json_array_append_new(items, json_pack("{s:I,s:s,s:s,s:o,s:s,s:o,s:o,s:b,s:o,s:o,s:o}",
                "id", (json_int_t)sqlite3_column_int64(st, 0), "source", (const char *)sqlite3_column_text(st, 1),
                "key", (const char *)sqlite3_column_text(st, 2), "kind", opt_text(st, 3),
                "title", (const char *)sqlite3_column_text(st, 4), "link", opt_text(st, 5),
                "due_at", has_due ? ym_api_time(due) : json_null(), "overdue", has_due && due < now,
                "created_at", ym_api_time(sqlite3_column_int64(st, 7)),
                "unit_id", for_role ? json_integer(sqlite3_column_int64(st, 8)) : json_null(),
                "role", for_role ? opt_text(st, 9) : json_null()));
        }
        failed = rc != SQLITE_DONE;
        sqlite3_reset(st);
    } else {
        failed = true;
    }
    ym_db_read_end(db);
    free(source);
    if (failed) {
        json_decref(items);
        ym_api_busy(r);
        return;
    }
    ym_resp_json(r, 200, json_pack("{s:o,s:I,s:I}", "items", items, "total", (json_int_t)total, "overdue",
                                   (json_int_t)overdue));
}

/* ---------- the test routes (YIMEN_TEST_CLOCK=1 only) ---------- */

static bool test_peer(ym_request *r)
{
    if (!r->peer_loopback)
        ym_resp_error(r, 403, "forbidden", "the test routes are for loopback clients only");
    return r->peer_loopback;
}

static void test_put(ym_request *r, void *ud)
{
    (void)ud;
    if (!test_peer(r))
        return;
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    static const char *const allowed[] = {"owner", "key", "user_id", "unit_id", "role", "title", "link",
                                          "due_at", "kind", NULL};
    const char *owner = NULL, *key = NULL, *role = NULL, *title = NULL, *link = NULL, *kind = NULL;
    int64_t user_id = 0, unit_id = 0, due = 0;
    if (!ym_api_keys(r, body, allowed) || ym_api_str(r, body, "owner", 1000, false, &owner) < 0 ||
        ym_api_str(r, body, "key", 1000, false, &key) < 0 || ym_api_str(r, body, "role", 1000, true, &role) < 0 ||
        ym_api_str(r, body, "title", 10000, false, &title) < 0 || ym_api_str(r, body, "link", 10000, true, &link) < 0 ||
        ym_api_str(r, body, "kind", 1000, true, &kind) < 0 ||
        ym_api_int(r, body, "user_id", 0, INT64_MAX, &user_id) < 0 ||
        ym_api_int(r, body, "unit_id", 0, INT64_MAX, &unit_id) < 0 ||
        ym_api_int(r, body, "due_at", 0, INT64_MAX, &due) < 0) {
        json_decref(body);
        return;
    }
    ym_db *db = ym_api_db(r);
    if (ym_db_write_begin(db) < 0) {
        json_decref(body);
        ym_api_busy(r);
        return;
    }
    ym_todo t = {.user_id = user_id, .unit_id = unit_id, .role_key = role, .title = title, .link = link,
                 .due_ms = due, .kind = kind};
    char err[256] = "";
    int64_t id = ym_todo_put(db, owner, key, &t, err, sizeof err);
    ym_db_write_end(db, id > 0);
    json_decref(body);
    if (id < 0)
        ym_resp_invalid(r, "", "%s", err);
    else
        ym_resp_json(r, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

static void test_resolve(ym_request *r, void *ud)
{
    (void)ud;
    if (!test_peer(r))
        return;
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    static const char *const allowed[] = {"owner", "key", "prefix", "by_user", NULL};
    const char *owner = NULL, *key = NULL, *prefix = NULL;
    int64_t by = 0;
    if (!ym_api_keys(r, body, allowed) || ym_api_str(r, body, "owner", 1000, false, &owner) < 0 ||
        ym_api_str(r, body, "key", 1000, false, &key) < 0 || ym_api_str(r, body, "prefix", 1000, false, &prefix) < 0 ||
        ym_api_int(r, body, "by_user", 0, INT64_MAX, &by) < 0) {
        json_decref(body);
        return;
    }
    if (!owner || !*owner || (!key) == (!prefix)) {
        json_decref(body);
        ym_resp_invalid(r, "", "owner and one of key or prefix are required");
        return;
    }
    ym_db *db = ym_api_db(r);
    if (ym_db_write_begin(db) < 0) {
        json_decref(body);
        ym_api_busy(r);
        return;
    }
    int n = key ? ym_todo_resolve(db, owner, key, by) : ym_todo_resolve_prefix(db, owner, prefix, by);
    ym_db_write_end(db, n >= 0);
    json_decref(body);
    if (n < 0)
        ym_resp_invalid(r, "", "could not resolve");
    else
        ym_resp_json(r, 200, json_pack("{s:i}", "resolved", n));
}

int ym_todo_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/me/todos", YM_PERM_USER, list_get, NULL},
        {"GET", "/api/me/todos/count", YM_PERM_USER, count_get, NULL},
    };
    if (ym_api_routes(rt, routes, sizeof routes / sizeof routes[0], err, errlen) < 0)
        return -1;
    static const ym_api_route test_routes[] = {
        {"POST", "/api/test/todos", "test.clock", test_put, NULL},
        {"POST", "/api/test/todos/resolve", "test.clock", test_resolve, NULL},
    };
    if (ym_clock_test_enabled() &&
        ym_api_routes(rt, test_routes, sizeof test_routes / sizeof test_routes[0], err, errlen) < 0)
        return -1;
    return 0;
}
