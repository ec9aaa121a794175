/* notify: the inbox (core_notifications rows of type 'notification'), live events (rows
 * of other types), their routes, and the hand-off after commit to the live stream and
 * the outbound channels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "notify.h"
#include "live.h"
#include "channels.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "identity.h"
#include "files.h"
#include "clock.h"
#include "jobs.h"
#include "log.h"

#define DAY_MS 86400000LL
#define LIVE_KEEP_MS DAY_MS

static const char *const severities[] = {"info", "reminder", "warning", "urgent"};

int ym_notify_severity_rank(const char *severity)
{
    if (!severity)
        return 0;
    for (int i = 0; i < 4; i++)
        if (strcmp(severity, severities[i]) == 0)
            return i;
    return -1;
}

/* Well-formed UTF-8 of at most max characters, without control characters (line
 * breaks and tabs allowed when lines). */
static bool text_ok(const char *s, size_t max, bool lines)
{
    size_t n = strlen(s), chars = 0;
    if (n > 4 * max || !ym_files_utf8_ok(s, n))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && !(lines && (*p == '\n' || *p == '\t'))) || *p == 0x7f)
            return false;
        chars += (*p & 0xc0) != 0x80;
    }
    return chars <= max;
}

const char *ym_notify_check(const ym_notice *n, char *err, size_t errlen)
{
    if (ym_notify_severity_rank(n->severity) < 0) {
        snprintf(err, errlen, "severity must be info, reminder, warning or urgent");
        return "severity";
    }
    if (!n->title || !n->title[0] || !text_ok(n->title, YM_NOTIFY_TITLE_MAX, false)) {
        snprintf(err, errlen, "title must be 1 to %d characters of UTF-8 on one line", YM_NOTIFY_TITLE_MAX);
        return "title";
    }
    if (n->body && !text_ok(n->body, YM_NOTIFY_BODY_MAX, true)) {
        snprintf(err, errlen, "body must be at most %d characters of UTF-8", YM_NOTIFY_BODY_MAX);
        return "body";
    }
    if (n->link && (strlen(n->link) > YM_NOTIFY_LINK_MAX || !text_ok(n->link, YM_NOTIFY_LINK_MAX, false) || (n->link[0] != '/' && strncmp(n->link, "#/", 2)) ||
                    strncmp(n->link, "//", 2) == 0)) {
        snprintf(err, errlen, "link must start with \"#/\" or \"/\" (a path in this server), at most %d bytes",
                 YM_NOTIFY_LINK_MAX);
        return "link";
    }
    for (size_t i = 0; n->channels && n->channels[i]; i++)
        if (!ym_channels_known(n->channels[i])) {
            snprintf(err, errlen, "no channel \"%.64s\" in notify.channels", n->channels[i]);
            return "channels";
        }
    return NULL;
}

int64_t ym_notify_max_id(ym_db *db)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT coalesce(max(id), 0) FROM core_notifications");
    if (!st)
        return -1;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return v;
}

/* The rows after `before` were just written by one statement: queue them to their
 * channels and to the live stream. */
static int64_t written(ym_db *db, int64_t before, const ym_notice *n, char *err, size_t errlen)
{
    int64_t last = ym_notify_max_id(db);
    if (last < 0) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    if (last == before)
        return 0;
    if (n && ym_channels_queue(db, before, last, ym_notify_severity_rank(n->severity), n->channels, err, errlen) < 0)
        return -1;
    ym_live_written(db, last);
    return last - before;
}

/* INSERT ... SELECT for the users the selection names (?8, ?9 are its parameters). */
static int64_t insert_for(ym_db *db, const char *source, const ym_notice *n, const char *select_users,
                          int64_t p8, int64_t p9, char *err, size_t errlen)
{
    if (!ym_db_in_write(db)) {
        snprintf(err, errlen, "a notification is written inside a write transaction");
        return -1;
    }
    const char *field = ym_notify_check(n, err, errlen);
    if (field)
        return -1;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO core_notifications (user_id, type, source, severity, title, body, link, created_at) "
             "SELECT id, 'notification', ?1, ?2, ?3, ?4, ?5, ?6 FROM (%s) ORDER BY id", select_users);
    int64_t before = ym_notify_max_id(db);
    sqlite3_stmt *st = before < 0 ? NULL : ym_db_prepare(db, "core", sql);
    if (!st) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, n->severity ? n->severity : "info", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, n->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, n->body ? n->body : "", -1, SQLITE_STATIC);
    if (n->link)
        sqlite3_bind_text(st, 5, n->link, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, ym_now());
    sqlite3_bind_int64(st, 8, p8);
    sqlite3_bind_int64(st, 9, p9);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    return written(db, before, n, err, errlen);
}

int64_t ym_notify_user(ym_db *db, const char *source, int64_t user_id, const ym_notice *n, char *err,
                       size_t errlen)
{
    int64_t got = insert_for(db, source, n, "SELECT id FROM core_users WHERE id = ?8 AND ?9 = 0", user_id, 0, err,
                             errlen);
    if (got == 0)
        snprintf(err, errlen, "no user %lld", (long long)user_id);
    return got <= 0 ? -1 : ym_notify_max_id(db);
}

int64_t ym_notify_unit(ym_db *db, const char *source, int64_t unit_id, bool subtree, const ym_notice *n,
                       char *err, size_t errlen)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_units WHERE id = ?1");
    int found = st && sqlite3_bind_int64(st, 1, unit_id) == SQLITE_OK ? sqlite3_step(st) : SQLITE_ERROR;
    if (st)
        sqlite3_reset(st);
    if (found != SQLITE_ROW) {
        snprintf(err, errlen, found == SQLITE_DONE ? "no unit %lld" : "database error", (long long)unit_id);
        return -1;
    }
    /* the subtree by the materialised path ('/1/5/': digits and '/', nothing LIKE-special) */
    return insert_for(db, source, n,
                      "SELECT u.id FROM core_users u JOIN core_units x ON x.id = u.unit_id "
                      "WHERE u.status = 'active' AND (x.id = ?8 OR (?9 AND x.path LIKE "
                      "(SELECT path FROM core_units WHERE id = ?8) || '%'))",
                      unit_id, subtree, err, errlen);
}

int64_t ym_notify_admins(ym_db *db, const char *source, const ym_notice *n)
{
    char err[256];
    int64_t got = insert_for(db, source, n,
                             "SELECT DISTINCT u.id FROM core_users u JOIN core_grants g ON g.user_id = u.id "
                             "JOIN core_roles ro ON ro.id = g.role_id WHERE ro.key = '" YM_ROLE_SYSTEM_ADMIN "' "
                             "AND u.status = 'active' AND ?8 = ?9", 0, 0, err, sizeof err);
    if (got < 0)
        ym_log(YM_LOG_ERROR, "admins not notified", "error=%s", err);
    return got;
}

/* "<source>.<what>": lower-case letters, digits, '_' and '.' */
static bool type_ok(const char *source, const char *type)
{
    size_t sl = strlen(source), n = strlen(type);
    return n > sl + 1 && n <= 100 && strncmp(type, source, sl) == 0 && type[sl] == '.' &&
           strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n && type[n - 1] != '.';
}

int64_t ym_notify_push(ym_db *db, const char *source, int64_t user_id, const char *type, const char *data_json,
                       char *err, size_t errlen)
{
    if (!ym_db_in_write(db)) {
        snprintf(err, errlen, "a live event is written inside a write transaction");
        return -1;
    }
    if (!type || !type_ok(source, type)) {
        snprintf(err, errlen, "the type must be \"%s.<what>\" (a-z, 0-9, _ and .)", source);
        return -1;
    }
    json_error_t je;
    json_t *data = json_loads(data_json ? data_json : "{}", JSON_REJECT_DUPLICATES, &je);
    bool ok = json_is_object(data);
    char *compact = ok ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!compact || strlen(compact) > YM_NOTIFY_DATA_MAX) {
        snprintf(err, errlen, "data must be a JSON object of at most %d bytes", YM_NOTIFY_DATA_MAX);
        free(compact);
        return -1;
    }
    int64_t before = ym_notify_max_id(db);
    sqlite3_stmt *st = before < 0 ? NULL : ym_db_prepare(db, "core",
        "INSERT INTO core_notifications (user_id, type, source, data, created_at) "
        "SELECT id, ?2, ?3, ?4, ?5 FROM core_users WHERE id = ?1");
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, compact, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, ym_now());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    free(compact);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    int64_t got = written(db, before, NULL, err, errlen);
    if (got == 0)
        snprintf(err, errlen, "no user %lld", (long long)user_id);
    return got <= 0 ? -1 : before + got;
}

/* ---------- the API ---------- */

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? json_string(s) : json_null();
}

json_t *ym_notify_row_json(sqlite3_stmt *st)
{
    const char *type = (const char *)sqlite3_column_text(st, 2);
    json_t *o = json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "type", type, "source",
                          (const char *)sqlite3_column_text(st, 3), "created_at",
                          ym_api_time(sqlite3_column_int64(st, 9)));
    if (strcmp(type, "notification") == 0) {
        json_object_set_new(o, "severity", json_string((const char *)sqlite3_column_text(st, 4)));
        json_object_set_new(o, "title", json_string((const char *)sqlite3_column_text(st, 5)));
        json_object_set_new(o, "body", json_string((const char *)sqlite3_column_text(st, 6)));
        json_object_set_new(o, "link", text_or_null(st, 7));
        json_object_set_new(o, "read", json_boolean(sqlite3_column_type(st, 10) != SQLITE_NULL));
        json_object_set_new(o, "read_at", sqlite3_column_type(st, 10) == SQLITE_NULL
                                              ? json_null() : ym_api_time(sqlite3_column_int64(st, 10)));
    } else {
        const char *d = (const char *)sqlite3_column_text(st, 8);
        json_t *data = d ? json_loads(d, 0, NULL) : NULL;
        json_object_set_new(o, "data", data ? data : json_object());
    }
    return o;
}

static int64_t unread_count(ym_db *db, int64_t uid)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT count(*) FROM core_notifications WHERE user_id = ?1 AND read_at IS NULL AND type = 'notification'");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, uid);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

/* GET /api/notifications?unread=true&limit=&after=: newest first. */
static void list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int limit;
    int64_t after;
    bool unread = false;
    if (ym_api_page(r, &limit, &after) < 0 || ym_api_query_bool(r, "unread", &unread) < 0)
        return;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT " YM_NOTIFY_COLS " FROM core_notifications WHERE user_id = ?1 AND type = 'notification' "
        "AND (?2 = 0 OR id < ?2) AND (?3 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT ?4");
    int64_t count = unread_count(db, r->who->user_id);
    if (!st || count < 0) {
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, r->who->user_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, unread);
    sqlite3_bind_int(st, 4, limit + 1);
    json_t *page = ym_api_rows_page(st, limit, ym_notify_row_json);
    if (!page) {
        ym_api_busy(r);
        return;
    }
    json_object_set_new(page, "unread", json_integer(count));
    ym_resp_json(r, 200, page);
}

static void unread(ym_request *r, void *ud)
{
    int64_t n = unread_count(ym_api_db(r), r->who->user_id);
    if (n < 0)
        ym_api_busy(r);
    else
        ym_resp_json(r, 200, json_pack("{s:I}", "unread", (json_int_t)n));
}

static json_t *one(ym_db *db, int64_t id, int64_t uid)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT " YM_NOTIFY_COLS " FROM core_notifications "
                                                 "WHERE id = ?1 AND user_id = ?2 AND type = 'notification'");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, uid);
    json_t *o = sqlite3_step(st) == SQLITE_ROW ? ym_notify_row_json(st) : NULL;
    sqlite3_reset(st);
    return o;
}

/* Marks read (again: no change) one of the caller's own; another's is 404 like an unknown id. */
static void mark_read(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_notifications SET read_at = ?3 WHERE id = ?1 AND user_id = ?2 AND type = 'notification' "
        "AND read_at IS NULL");
    bool ok = st && sqlite3_bind_int64(st, 1, id) == SQLITE_OK && sqlite3_bind_int64(st, 2, r->who->user_id) == SQLITE_OK &&
              sqlite3_bind_int64(st, 3, ym_now()) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    if (st)
        sqlite3_reset(st);
    json_t *o = ok ? one(db, id, r->who->user_id) : NULL;
    ym_db_write_end(db, ok);
    if (!ok)
        ym_api_busy(r);
    else if (!o)
        ym_resp_error(r, 404, "not_found", "no notification %lld", (long long)id);
    else
        ym_resp_json(r, 200, o);
}

static void read_all(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_notifications SET read_at = ?2 WHERE user_id = ?1 AND type = 'notification' AND read_at IS NULL");
    bool ok = st && sqlite3_bind_int64(st, 1, r->who->user_id) == SQLITE_OK &&
              sqlite3_bind_int64(st, 2, ym_now()) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    int n = ok ? sqlite3_changes(ym_db_handle(db)) : 0;
    if (st)
        sqlite3_reset(st);
    ym_db_write_end(db, ok);
    if (ok)
        ym_resp_json(r, 200, json_pack("{s:i}", "updated", n));
    else
        ym_api_busy(r);
}

/* The channel names of a request body: absent -> by severity; else a list of strings. */
static int body_channels(ym_request *r, json_t *body, const char **names, size_t max)
{
    json_t *a = json_object_get(body, "channels");
    if (!a || json_is_null(a))
        return 0;
    size_t i;
    json_t *v;
    if (!json_is_array(a) || json_array_size(a) >= max) {
        ym_resp_invalid(r, "channels", "channels must be a list of at most %zu channel names", max - 1);
        return -1;
    }
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            ym_resp_invalid(r, "channels", "channels must be a list of channel names");
            return -1;
        }
        names[i] = json_string_value(v);
    }
    names[json_array_size(a)] = NULL;
    return 1;
}

/* POST /api/admin/notify: an announcement to the users of a unit (and its subtree). */
static void broadcast(ym_request *r, void *ud)
{
    static const char *const keys[] = {"title", "body", "severity", "link", "unit_id", "subtree", "channels", NULL};
    ym_db *db = ym_api_db(r);
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    ym_notice n = {0};
    const char *names[17];
    int64_t unit = ym_root_unit(db);
    bool subtree = true;
    int has;
    if (!ym_api_keys(r, body, keys) || ym_api_str(r, body, "title", 1000, false, &n.title) < 0 ||
        ym_api_str(r, body, "body", 100000, true, &n.body) < 0 ||
        ym_api_str(r, body, "severity", 100, false, &n.severity) < 0 ||
        ym_api_str(r, body, "link", 1000, true, &n.link) < 0 ||
        ym_api_int(r, body, "unit_id", 1, INT64_MAX, &unit) < 0 || ym_api_bool(r, body, "subtree", &subtree) < 0 ||
        (has = body_channels(r, body, names, 17)) < 0)
        goto out;
    n.channels = has ? names : NULL;
    if (!n.title) {
        ym_resp_invalid(r, "title", "title is required");
        goto out;
    }
    char err[256];
    const char *field = ym_notify_check(&n, err, sizeof err);
    if (field) {
        ym_resp_invalid(r, field, "%s", err);
        goto out;
    }
    json_t *u = ym_unit_json(db, unit);
    json_decref(u);
    if (!u) {
        ym_resp_invalid(r, "unit_id", "no unit %lld", (long long)unit);
        goto out;
    }
    int may = ym_may(db, r->who, "notify.broadcast", unit);
    if (may <= 0) {
        if (may < 0)
            ym_api_busy(r);
        else
            ym_resp_error(r, 403, "forbidden", "you may not notify unit %lld", (long long)unit);
        goto out;
    }
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        goto out;
    }
    int64_t sent = ym_notify_unit(db, "core", unit, subtree, &n, err, sizeof err);
    json_t *detail = json_pack("{s:s,s:I,s:b,s:I}", "title", n.title, "unit_id", (json_int_t)unit, "subtree", subtree,
                               "sent", (json_int_t)(sent < 0 ? 0 : sent));
    if (sent >= 0 && ym_audit_req(r, "notify.broadcast", "", "ok", detail) < 0)
        sent = -1;
    json_decref(detail);
    ym_db_write_end(db, sent >= 0);
    if (sent < 0 && strncmp(err, "no unit", 7) == 0)
        ym_resp_invalid(r, "unit_id", "%s", err);
    else if (sent < 0)
        ym_api_busy(r);
    else
        ym_resp_json(r, 201, json_pack("{s:I}", "sent", (json_int_t)sent));
out:
    json_decref(body);
}

int ym_notify_routes(ym_router *rt, char *err, size_t errlen)
{
    ym_perm_register("notify.broadcast", "core", "发布通知公告", "Send announcements to units");
    static const ym_api_route routes[] = {
        {"GET", "/api/notifications", YM_PERM_USER, list, NULL},
        {"GET", "/api/notifications/unread-count", YM_PERM_USER, unread, NULL},
        {"POST", "/api/notifications/read-all", YM_PERM_USER, read_all, NULL},
        {"POST", "/api/notifications/:id/read", YM_PERM_USER, mark_read, NULL},
        {"POST", "/api/admin/notify", "notify.broadcast", broadcast, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen);
}

/* ---------- cleanup ---------- */

typedef struct cleanup_ctx {
    ym_db *db;
    uint64_t keep_ms;
} cleanup_ctx;

/* Live events after a day (a stream that was away longer reloads); read inbox rows after
 * notify.keep. Unread ones stay: nobody has seen them yet. Idempotent. */
static int cleanup(void *ud, char *err, size_t errlen)
{
    cleanup_ctx *c = ud;
    int64_t now = ym_now();
    if (ym_db_write_begin(c->db) < 0) {
        snprintf(err, errlen, "%s", ym_db_errmsg(c->db));
        return -1;
    }
    sqlite3_stmt *st = ym_db_prepare(c->db, "core",
        "DELETE FROM core_notifications WHERE (type != 'notification' AND created_at < ?1) "
        "OR (type = 'notification' AND read_at IS NOT NULL AND read_at < ?2)");
    bool ok = st && sqlite3_bind_int64(st, 1, now - LIVE_KEEP_MS) == SQLITE_OK &&
              sqlite3_bind_int64(st, 2, now - (int64_t)c->keep_ms) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    if (st)
        sqlite3_reset(st);
    if (!ok)
        snprintf(err, errlen, "%s", ym_db_errmsg(c->db));
    ym_db_write_end(c->db, ok);
    return ok ? 0 : -1;
}

int ym_notify_add_jobs(struct ym_jobs *j, ym_db *db, uint64_t keep_ms)
{
    char err[256];
    cleanup_ctx *c = malloc(sizeof *c);
    if (!c)
        return -1;
    c->db = db;
    c->keep_ms = keep_ms;
    if (ym_jobs_add(j, "core.notify_cleanup", "core", "daily 04:10", cleanup, c, free, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "core job not registered", "error=%s", err);
        return -1;
    }
    return 0;
}
