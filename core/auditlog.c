/* auditlog: GET /api/audit for the audit administrator (filters, keyset pages newest
 * first; nothing writes or deletes through the API), and audit rows of the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "auditlog.h"
#include "audit.h"
#include "auth.h"
#include "http.h"
#include "clock.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 200

int ym_audit_cli(ym_db *db, const ym_config *cfg, const char *action, const char *target, json_t *detail)
{
    const char *alg = cfg && cfg->auth.audit_hash && *cfg->auth.audit_hash ? cfg->auth.audit_hash : "sm3";
    ym_audit_entry e = {.actor_name = "cli", .ip = "local", .action = action, .target = target ? target : "",
                        .result = "ok", .detail = detail};
    return ym_audit_append(db, alg, &e);
}

/* ---------- query parameters ---------- */

enum { P_AFTER = 1, P_ACTOR, P_ACTION, P_PREFIX_LO, P_PREFIX_HI, P_RESULT, P_TARGET, P_FROM, P_TO, P_REQUEST, P_LIMIT };

typedef struct filters {
    int64_t after, actor, from, to;
    char *action, *result, *target, *request_id;
    char prefix_hi[128];
    bool prefix;
    int limit;
} filters;

static const char *const known_params[] = {"actor_id", "action", "result", "target", "from", "to", "request_id",
                                           "limit", "after"};

/* The first query parameter that is not a known filter, or NULL. */
static char *unknown_param(const ym_request *r)
{
    const char *q = r->query;
    while (q && *q) {
        size_t n = strcspn(q, "=&");
        bool known = n == 0;
        for (size_t i = 0; !known && i < sizeof known_params / sizeof *known_params; i++)
            known = strlen(known_params[i]) == n && strncmp(q, known_params[i], n) == 0;
        if (!known) {
            char *k = strndup(q, n);
            if (!k)
                abort();
            return k;
        }
        q += strcspn(q, "&");
        q += *q == '&';
    }
    return NULL;
}

static bool parse_id(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = s && *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : 0;
    if (!end || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

static int two(const char *s)
{
    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + s[1] - '0' : -1;
}

/* "YYYY-MM-DD" (local midnight; end = the next midnight) or RFC 3339 with offset or Z
 * (end = just after that instant), as ms. */
static bool parse_time(const char *s, bool end, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_isdst = -1};
    if (!s[10]) {
        tm.tm_mday += end;
        time_t t = mktime(&tm);
        *out = (int64_t)t * 1000;
        return t != (time_t)-1;
    }
    const char *p = s + 11;
    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || strlen(p) < 9 || p[2] != ':' || p[5] != ':')
        return false;
    h = two(p), mi = two(p + 3), sec = two(p + 6);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return false;
    p += 8;
    int ms = 0, digits = 0;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            ms = digits < 3 ? ms * 10 + (*p - '0') : ms;
    for (; digits > 0 && digits < 3; digits++)
        ms *= 10;
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && two(p + 1) >= 0 && p[3] == ':' && two(p + 4) >= 0) {
        off = (two(p + 1) * 60 + two(p + 4)) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - off * 60) * 1000 + ms + (end ? 1 : 0);
    return true;
}

static void filters_free(filters *f)
{
    free(f->action);
    free(f->result);
    free(f->target);
    free(f->request_id);
}

/* Reads one numeric/time parameter; false when present and bad (answered). */
static bool int_param(ym_request *r, const char *name, int64_t *out, int kind)
{
    char *v = ym_req_query(r, name);
    if (!v)
        return true;
    bool ok = kind == 0 ? parse_id(v, out) : parse_time(v, kind == 2, out);
    free(v);
    if (!ok)
        ym_resp_invalid(r, name, kind == 0 ? "%s must be a positive integer"
                                           : "%s must be a date (YYYY-MM-DD) or an RFC 3339 time", name);
    return ok;
}

static bool text_param(ym_request *r, const char *name, char **out, size_t max)
{
    *out = ym_req_query(r, name);
    if (*out && (!**out || strlen(*out) > max)) {
        ym_resp_invalid(r, name, "%s must be 1 to %zu bytes", name, max);
        return false;
    }
    return true;
}

/* "users." or "users.*" is a prefix: rows with lo <= action < hi (hi = lo with its last
 * byte raised), which the (action, id) index serves. */
static void action_prefix(filters *f)
{
    size_t n = strlen(f->action);
    if (n >= 2 && f->action[n - 1] == '*' && f->action[n - 2] == '.')
        f->action[--n] = 0;
    if (n && f->action[n - 1] == '.' && n < sizeof f->prefix_hi) {
        f->prefix = true;
        memcpy(f->prefix_hi, f->action, n + 1);
        f->prefix_hi[n - 1]++;
    }
}

static bool read_filters(ym_request *r, filters *f)
{
    char *bad = unknown_param(r);
    if (bad) {
        ym_resp_invalid(r, bad, "unknown parameter %s (filters: actor_id, action, result, target, from, to, "
                        "request_id; paging: limit, after)", bad);
        free(bad);
        return false;
    }
    int64_t limit = DEFAULT_LIMIT;
    if (!int_param(r, "after", &f->after, 0) || !int_param(r, "actor_id", &f->actor, 0) ||
        !int_param(r, "from", &f->from, 1) || !int_param(r, "to", &f->to, 2) || !int_param(r, "limit", &limit, 0) ||
        !text_param(r, "action", &f->action, 100) || !text_param(r, "result", &f->result, 32) ||
        !text_param(r, "target", &f->target, 200) || !text_param(r, "request_id", &f->request_id, 64))
        return false;
    if (limit > MAX_LIMIT) {
        ym_resp_invalid(r, "limit", "limit must be 1 to %d", MAX_LIMIT);
        return false;
    }
    f->limit = (int)limit;
    if (f->action)
        action_prefix(f);
    return true;
}

/* ---------- the query ---------- */

/* Fixed clauses chosen by which filters are present; every value is a bound parameter. */
static void build_sql(const filters *f, char *sql, size_t len)
{
    const char *clauses[] = {
        f->after ? " AND id < ?1" : "", f->actor ? " AND actor_id = ?2" : "",
        f->action && !f->prefix ? " AND action = ?3" : "", f->prefix ? " AND action >= ?4 AND action < ?5" : "",
        f->result ? " AND result = ?6" : "", f->target ? " AND target = ?7" : "",
        f->from ? " AND at >= ?8" : "", f->to ? " AND at < ?9" : "", f->request_id ? " AND request_id = ?10" : "",
    };
    size_t n = (size_t)snprintf(sql, len, "SELECT id, at, actor_id, actor_name, on_behalf_of, unit_id, ip, action, "
                                "target, result, request_id, detail FROM core_audit WHERE 1 = 1");
    for (size_t i = 0; i < sizeof clauses / sizeof *clauses && n < len; i++)
        n += (size_t)snprintf(sql + n, len - n, "%s", clauses[i]);
    if (n < len)
        snprintf(sql + n, len - n, " ORDER BY id DESC LIMIT ?11");
}

static void bind_filters(sqlite3_stmt *st, const filters *f)
{
    if (f->after)
        sqlite3_bind_int64(st, P_AFTER, f->after);
    if (f->actor)
        sqlite3_bind_int64(st, P_ACTOR, f->actor);
    if (f->action && !f->prefix)
        sqlite3_bind_text(st, P_ACTION, f->action, -1, SQLITE_TRANSIENT);
    if (f->prefix) {
        sqlite3_bind_text(st, P_PREFIX_LO, f->action, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, P_PREFIX_HI, f->prefix_hi, -1, SQLITE_TRANSIENT);
    }
    if (f->result)
        sqlite3_bind_text(st, P_RESULT, f->result, -1, SQLITE_TRANSIENT);
    if (f->target)
        sqlite3_bind_text(st, P_TARGET, f->target, -1, SQLITE_TRANSIENT);
    if (f->from)
        sqlite3_bind_int64(st, P_FROM, f->from);
    if (f->to)
        sqlite3_bind_int64(st, P_TO, f->to);
    if (f->request_id)
        sqlite3_bind_text(st, P_REQUEST, f->request_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, P_LIMIT, f->limit + 1);
}

static json_t *opt_id(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, c));
}

static json_t *col_str(sqlite3_stmt *st, int c)
{
    const char *s = (const char *)sqlite3_column_text(st, c);
    return json_string(s ? s : "");
}

static json_t *row_json(sqlite3_stmt *st)
{
    char at[48];
    ym_time_format(sqlite3_column_int64(st, 1), at, sizeof at);
    const char *dtext = (const char *)sqlite3_column_text(st, 11);
    json_t *detail = dtext ? json_loads(dtext, 0, NULL) : json_object();
    if (!json_is_object(detail)) { /* never written so, but show what is there */
        json_decref(detail);
        detail = json_pack("{s:s}", "unparsed", dtext ? dtext : "");
    }
    return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "at", at, "actor_id", opt_id(st, 2), "actor_name",
                     col_str(st, 3), "on_behalf_of", opt_id(st, 4), "unit_id", opt_id(st, 5), "ip", col_str(st, 6),
                     "action", col_str(st, 7), "target", col_str(st, 8), "result", col_str(st, 9), "request_id",
                     col_str(st, 10), "detail", detail);
}

static void audit_list(ym_request *r, void *ud)
{
    filters f = {0};
    if (!read_filters(r, &f)) {
        filters_free(&f);
        return;
    }
    char sql[1024];
    build_sql(&f, sql, sizeof sql);
    ym_db *db = ym_server_db(ym_req_server(r));
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st) {
        filters_free(&f);
        ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        return;
    }
    bind_filters(st, &f);
    json_t *items = json_array();
    int rc, n = 0;
    int64_t last = 0;
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == f.limit) {
            more = true;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        json_array_append_new(items, row_json(st));
        n++;
    }
    sqlite3_reset(st);
    filters_free(&f);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(items);
        ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        return;
    }
    char next[32];
    snprintf(next, sizeof next, "%lld", (long long)last);
    ym_resp_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", more ? json_string(next) : json_null()));
}

int ym_auditlog_routes(ym_router *rt, char *err, size_t errlen)
{
    return ym_router_add(rt, "GET", "/api/audit", "audit.read", "core", audit_list, NULL, err, errlen);
}
