/* delegation: what a user hands on of their own permissions: API tokens for programs
 * (/api/me/tokens) and 代批 to a colleague for a while (/api/me/delegations), and its trace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "access.h"
#include "api.h"
#include "directory.h"
#include "auth.h"
#include "http.h"
#include "password.h"
#include "clock.h"

#define DAY_MS (86400LL * 1000)
#define MAX_DELEGATION_DAYS 90

/* Only what one holds oneself, through one's own grants (not what one was delegated), can
 * be handed on: 1 all held; else answered (403 audited, or 503). */
static int holds_own(ym_request *r, json_t *perms, int64_t unit, const char *action)
{
    ym_db *db = ym_api_db(r);
    size_t i;
    json_t *v;
    json_array_foreach(perms, i, v) {
        const char *perm = json_string_value(v);
        int rc = ym_may(db, r->who, perm, unit);
        if (rc < 0) {
            ym_api_busy(r);
            return -1;
        }
        if (rc == 0 || r->who->acting_for) {
            char target[32];
            snprintf(target, sizeof target, "unit:%lld", (long long)unit);
            ym_api_refuse(r, 403, action, unit ? target : "", perm, unit ? "unit" : "account");
            return 0;
        }
    }
    return 1;
}

/* A program with an API token acts only within it; handing on more needs a person. */
static bool from_token(ym_request *r, const char *action)
{
    if (!r->who->token_id)
        return false;
    json_t *d = json_pack("{s:s}", "reason", "an API token cannot hand on permissions");
    ym_audit_req(r, action, "", "denied", d);
    json_decref(d);
    ym_resp_error(r, 403, "forbidden", "sign in as a person to do this; an API token cannot");
    return true;
}

/* ---------- API tokens ---------- */

static json_t *token_row_json(sqlite3_stmt *st)
{
    json_t *perms = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    int64_t exp = sqlite3_column_int64(st, 5);
    return json_pack("{s:I,s:s,s:o,s:I,s:b,s:o,s:o,s:o,s:b}", "id", (json_int_t)sqlite3_column_int64(st, 0), "name",
                     (const char *)sqlite3_column_text(st, 1), "permissions", perms ? perms : json_array(), "unit_id",
                     (json_int_t)sqlite3_column_int64(st, 3), "include_descendants", sqlite3_column_int(st, 4),
                     "expires_at", ym_api_time(exp), "created_at", ym_api_time(sqlite3_column_int64(st, 6)), "last_used",
                     sqlite3_column_type(st, 7) == SQLITE_NULL ? json_null() : ym_api_time(sqlite3_column_int64(st, 7)),
                     "expired", exp <= ym_now());
}

/* A page of the caller's own rows: sql binds the caller to ?1, ?after to ?2 and LIMIT ?3. */
static void own_rows(ym_request *r, const char *sql, json_t *(*row)(sqlite3_stmt *st))
{
    int limit;
    int64_t after;
    if (ym_api_page(r, &limit, &after) < 0)
        return;
    sqlite3_stmt *st = ym_db_prepare(ym_api_db(r), "core", sql);
    if (!st) {
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, r->who->user_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, limit + 1);
    ym_api_send_rows(r, st, limit, row);
}

static void tokens_list(ym_request *r, void *ud)
{
    own_rows(r, "SELECT id, name, permissions, unit_id, include_descendants, expires_at, created_at, last_used "
                "FROM core_api_tokens WHERE user_id = ?1 AND revoked_at IS NULL AND id > ?2 ORDER BY id LIMIT ?3",
             token_row_json);
}

typedef struct token_req {
    const char *name;
    json_t *perms;
    int64_t unit_id, days, expires_at, id;
    bool subtree;
} token_req;

static int token_parse(ym_request *r, json_t *body, token_req *t)
{
    static const char *const keys[] = {"name", "permissions", "unit_id", "include_descendants", "expires_in_days", NULL};
    char path[512];
    t->unit_id = r->who->unit_id;
    t->subtree = true;
    t->days = 90;
    if (!ym_api_keys(r, body, keys) || ym_api_str(r, body, "name", 100, false, &t->name) < 0 ||
        ym_api_perms(r, body, "permissions", 50, true, &t->perms) < 0 ||
        ym_api_int(r, body, "unit_id", 1, INT64_MAX, &t->unit_id) < 0 || ym_api_bool(r, body, "include_descendants", &t->subtree) < 0 ||
        ym_api_int(r, body, "expires_in_days", 1, 365, &t->days) < 0)
        return -1;
    if (!t->name || !*t->name || !t->perms) {
        ym_resp_invalid(r, !t->perms ? "permissions" : "name", "%s is required", !t->perms ? "permissions" : "name");
        return -1;
    }
    int rc = ym_unit_path_get(ym_api_db(r), t->unit_id, path, sizeof path);
    if (rc < 0)
        ym_api_busy(r);
    else if (rc == 0)
        ym_resp_invalid(r, "unit_id", "no such unit");
    return rc == 1 ? 0 : -1;
}

static int token_insert(ym_db *db, int64_t uid, token_req *t, const char *hash)
{
    char *perms = json_dumps(t->perms, JSON_COMPACT);
    int64_t now = ym_now();
    t->expires_at = now + t->days * DAY_MS;
    sqlite3_stmt *st = perms ? ym_db_prepare(db, "core",
        "INSERT INTO core_api_tokens (user_id, name, token_hash, permissions, unit_id, include_descendants, expires_at, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)") : NULL;
    if (!st) {
        free(perms);
        return -1;
    }
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_text(st, 2, t->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, perms, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, t->unit_id);
    sqlite3_bind_int(st, 6, t->subtree);
    sqlite3_bind_int64(st, 7, t->expires_at);
    sqlite3_bind_int64(st, 8, now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(perms);
    t->id = sqlite3_last_insert_rowid(ym_db_handle(db));
    return rc == SQLITE_DONE ? 0 : -1;
}

static void token_write(ym_request *r, token_req *t)
{
    ym_db *db = ym_api_db(r);
    char tok[64] = "yt_", hash[65], target[32];
    ym_random_token(tok + 3, sizeof tok - 3, 32);
    ym_sha256_hex(tok, strlen(tok), hash);
    if (ym_db_write_begin(db) < 0) {
        OPENSSL_cleanse(tok, sizeof tok);
        ym_api_busy(r);
        return;
    }
    bool ok = token_insert(db, r->who->user_id, t, hash) == 0;
    if (ok) {
        snprintf(target, sizeof target, "token:%lld", (long long)t->id);
        json_t *d = json_pack("{s:s,s:O,s:I,s:b,s:o}", "name", t->name, "permissions", t->perms, "unit_id",
                              (json_int_t)t->unit_id, "include_descendants", t->subtree, "expires_at", ym_api_time(t->expires_at));
        ok = ym_api_audit(r, 0, "tokens.create", target, d) == 0;
        json_decref(d);
    }
    ym_db_write_end(db, ok);
    if (ok)
        ym_resp_json(r, 201, json_pack("{s:I,s:s,s:s,s:O,s:I,s:b,s:o}", "id", (json_int_t)t->id, "name", t->name, "token", tok,
                                       "permissions", t->perms, "unit_id", (json_int_t)t->unit_id, "include_descendants",
                                       t->subtree, "expires_at", ym_api_time(t->expires_at)));
    else
        ym_resp_error(r, 500, "storage_error", "the token could not be saved");
    OPENSSL_cleanse(tok, sizeof tok);
}

static void tokens_create(ym_request *r, void *ud)
{
    if (from_token(r, "tokens.create"))
        return;
    json_t *body = ym_api_body(r);
    token_req t = {0};
    if (body && token_parse(r, body, &t) == 0 && holds_own(r, t.perms, t.unit_id, "tokens.create") == 1)
        token_write(r, &t);
    json_decref(t.perms);
    json_decref(body);
}

/* DELETE /api/me/<kind>s/:id of one's own: sql (see ym_api_revoke) revokes it, audited as
 * action; 204, or 404 with none when there is no such row of the caller's. */
static void revoke_own(ym_request *r, const char *sql, const char *kind, const char *action, const char *none)
{
    int64_t id;
    ym_db *db = ym_api_db(r);
    if (!ym_api_path_id(r, "id", &id))
        return;
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int changed = ym_api_revoke(db, sql, id, r->who->user_id);
    char target[32];
    snprintf(target, sizeof target, "%s:%lld", kind, (long long)id);
    bool ok = changed >= 0 && (changed == 0 || ym_api_audit(r, 0, action, target, NULL) == 0);
    ym_db_write_end(db, ok);
    if (!ok)
        ym_resp_error(r, 500, "storage_error", "the %s could not be revoked", kind);
    else if (changed == 1)
        ym_resp_send(r, 204, NULL, NULL, 0, NULL);
    else
        ym_resp_error(r, 404, "not_found", "%s", none);
}

static void tokens_delete(ym_request *r, void *ud)
{
    revoke_own(r, "UPDATE core_api_tokens SET revoked_at = ?1 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
               "token", "tokens.revoke", "no such token of yours");
}

/* ---------- RFC 3339 times ---------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "2026-11-27T11:24:31(.123)?(Z|+08:00)" -> ms since the epoch; 0 ok, -1 malformed. */
static int parse_time(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2), mi = digits(s + 14, 2),
        sec = digits(s + 17, 2), frac = 0, off = 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))) ||
        h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        if (!n)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && p[3] == ':' && digits(p + 1, 2) >= 0 && digits(p + 1, 2) <= 23 &&
               digits(p + 4, 2) >= 0 && digits(p + 4, 2) <= 59) {
        off = (digits(p + 1, 2) * 60 + digits(p + 4, 2)) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off * 60) * 1000 + frac;
    return 0;
}

/* ---------- delegations (代批) ---------- */

#define DELEG_COLS \
    "SELECT d.id, d.from_user_id, fu.display_name, d.to_user_id, tu.display_name, d.permissions, d.starts_at, " \
    "d.ends_at, d.created_at, d.revoked_at FROM core_delegations d JOIN core_users fu ON fu.id = d.from_user_id " \
    "JOIN core_users tu ON tu.id = d.to_user_id "

/* The reason lives in the audit row of the delegation's creation (the table has no column for it). */
static json_t *deleg_reason(ym_db *db, int64_t id)
{
    char target[32];
    snprintf(target, sizeof target, "delegation:%lld", (long long)id);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT detail ->> 'reason' FROM core_audit WHERE action = 'delegations.create' AND target = ?1 "
        "AND result = 'ok' ORDER BY id LIMIT 1");
    if (!st)
        return json_string("");
    sqlite3_bind_text(st, 1, target, -1, SQLITE_TRANSIENT);
    json_t *j = json_string(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL
                            ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_reset(st);
    return j;
}

static json_t *deleg_row_json(sqlite3_stmt *st)
{
    json_t *perms = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
    int64_t now = ym_now(), starts = sqlite3_column_int64(st, 6), ends = sqlite3_column_int64(st, 7);
    bool revoked = sqlite3_column_type(st, 9) != SQLITE_NULL;
    return json_pack("{s:I,s:I,s:s,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:b}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "from_user_id", (json_int_t)sqlite3_column_int64(st, 1), "from_name", (const char *)sqlite3_column_text(st, 2),
                     "to_user_id", (json_int_t)sqlite3_column_int64(st, 3), "to_name", (const char *)sqlite3_column_text(st, 4),
                     "permissions", perms ? perms : json_array(), "starts_at", ym_api_time(starts), "ends_at",
                     ym_api_time(ends), "created_at", ym_api_time(sqlite3_column_int64(st, 8)), "revoked_at",
                     revoked ? ym_api_time(sqlite3_column_int64(st, 9)) : json_null(), "active",
                     !revoked && starts <= now && now < ends);
}

/* Up to 200 delegations of one side, newest first, with their reasons. */
static json_t *deleg_side(ym_db *db, const char *sql, int64_t uid)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, uid);
    json_t *items = json_array(), *v;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(items, deleg_row_json(st));
    sqlite3_reset(st);
    size_t i;
    json_array_foreach(items, i, v) json_object_set_new(v, "reason", deleg_reason(db, json_integer_value(json_object_get(v, "id"))));
    if (rc != SQLITE_DONE) {
        json_decref(items);
        return NULL;
    }
    return items;
}

static void delegations_list(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    json_t *given = deleg_side(db, DELEG_COLS "WHERE d.from_user_id = ?1 ORDER BY d.id DESC LIMIT 200", r->who->user_id);
    json_t *received = deleg_side(db, DELEG_COLS "WHERE d.to_user_id = ?1 ORDER BY d.id DESC LIMIT 200", r->who->user_id);
    if (given && received)
        ym_resp_json(r, 200, json_pack("{s:o,s:o}", "given", given, "received", received));
    else {
        json_decref(given);
        json_decref(received);
        ym_api_busy(r);
    }
}

typedef struct deleg_req {
    int64_t to_user_id, starts_at, ends_at, id;
    json_t *perms;
    const char *reason;
} deleg_req;

static int time_member(ym_request *r, json_t *body, const char *key, int64_t *out)
{
    const char *s = NULL;
    int rc = ym_api_str(r, body, key, 64, false, &s);
    if (rc == 1 && parse_time(s, out) < 0) {
        ym_resp_invalid(r, key, "%s must be an RFC 3339 time such as 2026-11-27T09:00:00+08:00", key);
        return -1;
    }
    return rc;
}

/* The colleague exists, is active and is not oneself. 1 yes, else answered. */
static int delegate_ok(ym_request *r, int64_t uid)
{
    sqlite3_stmt *st = ym_db_prepare(ym_api_db(r), "core", "SELECT status FROM core_users WHERE id = ?1");
    if (!st) {
        ym_api_busy(r);
        return -1;
    }
    sqlite3_bind_int64(st, 1, uid);
    int rc = sqlite3_step(st);
    bool active = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "active") == 0;
    sqlite3_reset(st);
    bool self = uid == r->who->user_id; /* read before answering: the answer frees r */
    if (!active || self)
        ym_resp_invalid(r, "to_user_id", "%s", self ? "you cannot delegate to yourself" : "to_user_id must be an active user");
    return active && !self;
}

static int deleg_parse(ym_request *r, json_t *body, deleg_req *d)
{
    static const char *const keys[] = {"to_user_id", "permissions", "starts_at", "ends_at", "reason", NULL};
    const char *field = NULL, *why = NULL;
    int64_t now = ym_now();
    int has_end;
    d->starts_at = now;
    d->reason = "";
    if (!ym_api_keys(r, body, keys) || ym_api_int(r, body, "to_user_id", 1, INT64_MAX, &d->to_user_id) < 0 ||
        ym_api_perms(r, body, "permissions", 50, true, &d->perms) < 0 || time_member(r, body, "starts_at", &d->starts_at) < 0 ||
        (has_end = time_member(r, body, "ends_at", &d->ends_at)) < 0 || ym_api_str(r, body, "reason", 500, false, &d->reason) < 0)
        return -1;
    if (!d->to_user_id || !d->perms || !has_end) {
        field = !d->to_user_id ? "to_user_id" : !d->perms ? "permissions" : "ends_at";
        why = "this field is required";
    } else if (d->ends_at <= d->starts_at || d->ends_at <= now) {
        field = "ends_at";
        why = "ends_at must be after starts_at and in the future";
    } else if (d->ends_at - d->starts_at > MAX_DELEGATION_DAYS * DAY_MS) {
        field = "ends_at";
        why = "a delegation lasts at most 90 days";
    }
    if (field) {
        ym_resp_invalid(r, field, "%s", why);
        return -1;
    }
    return delegate_ok(r, d->to_user_id) == 1 ? 0 : -1;
}

static int deleg_insert(ym_db *db, int64_t from, deleg_req *d)
{
    char *perms = json_dumps(d->perms, JSON_COMPACT);
    sqlite3_stmt *st = perms ? ym_db_prepare(db, "core",
        "INSERT INTO core_delegations (from_user_id, to_user_id, permissions, starts_at, ends_at, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)") : NULL;
    if (!st) {
        free(perms);
        return -1;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, d->to_user_id);
    sqlite3_bind_text(st, 3, perms, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, d->starts_at);
    sqlite3_bind_int64(st, 5, d->ends_at);
    sqlite3_bind_int64(st, 6, ym_now());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(perms);
    d->id = sqlite3_last_insert_rowid(ym_db_handle(db));
    return rc == SQLITE_DONE ? 0 : -1;
}

static void deleg_write(ym_request *r, deleg_req *d)
{
    ym_db *db = ym_api_db(r);
    char target[32];
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    bool ok = deleg_insert(db, r->who->user_id, d) == 0;
    if (ok) {
        snprintf(target, sizeof target, "delegation:%lld", (long long)d->id);
        json_t *a = json_pack("{s:I,s:O,s:o,s:o,s:s}", "to_user_id", (json_int_t)d->to_user_id, "permissions", d->perms,
                              "starts_at", ym_api_time(d->starts_at), "ends_at", ym_api_time(d->ends_at), "reason", d->reason);
        ok = ym_api_audit(r, 0, "delegations.create", target, a) == 0;
        json_decref(a);
    }
    sqlite3_stmt *st = ok ? ym_db_prepare(db, "core", DELEG_COLS "WHERE d.id = ?1") : NULL;
    json_t *j = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, d->id);
        j = sqlite3_step(st) == SQLITE_ROW ? deleg_row_json(st) : NULL;
        sqlite3_reset(st);
    }
    ym_db_write_end(db, ok && j);
    if (ok && j) {
        json_object_set_new(j, "reason", json_string(d->reason));
        ym_resp_json(r, 201, j);
    } else {
        json_decref(j);
        ym_resp_error(r, 500, "storage_error", "the delegation could not be saved");
    }
}

static void delegations_create(ym_request *r, void *ud)
{
    if (from_token(r, "delegations.create"))
        return;
    json_t *body = ym_api_body(r);
    deleg_req d = {0};
    if (body && deleg_parse(r, body, &d) == 0 && holds_own(r, d.perms, 0, "delegations.create") == 1)
        deleg_write(r, &d);
    json_decref(d.perms);
    json_decref(body);
}

static void delegations_delete(ym_request *r, void *ud)
{
    revoke_own(r, "UPDATE core_delegations SET revoked_at = ?1 WHERE id = ?2 AND from_user_id = ?3 AND revoked_at IS NULL",
               "delegation", "delegations.revoke", "no such delegation given by you");
}

static json_t *action_row_json(sqlite3_stmt *st)
{
    json_t *detail = json_loads((const char *)sqlite3_column_text(st, 7), 0, NULL);
    return json_pack("{s:I,s:o,s:I,s:s,s:s,s:s,s:s,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "at",
                     ym_api_time(sqlite3_column_int64(st, 1)), "actor_id", (json_int_t)sqlite3_column_int64(st, 2),
                     "actor_name", (const char *)sqlite3_column_text(st, 3), "action",
                     (const char *)sqlite3_column_text(st, 4), "target", (const char *)sqlite3_column_text(st, 5),
                     "result", (const char *)sqlite3_column_text(st, 6), "detail", detail ? detail : json_object());
}

/* GET /api/me/delegated-actions: what others did for me, newest first (after = older than). */
static void delegated_actions(ym_request *r, void *ud)
{
    own_rows(r, "SELECT id, at, actor_id, actor_name, action, target, result, detail FROM core_audit "
                "WHERE on_behalf_of = ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3",
             action_row_json);
}

int ym_delegation_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/me/tokens", YM_PERM_USER, tokens_list, NULL},
        {"POST", "/api/me/tokens", YM_PERM_USER, tokens_create, NULL},
        {"DELETE", "/api/me/tokens/:id", YM_PERM_USER, tokens_delete, NULL},
        {"GET", "/api/me/delegations", YM_PERM_USER, delegations_list, NULL},
        {"POST", "/api/me/delegations", YM_PERM_USER, delegations_create, NULL},
        {"DELETE", "/api/me/delegations/:id", YM_PERM_USER, delegations_delete, NULL},
        {"GET", "/api/me/delegated-actions", YM_PERM_USER, delegated_actions, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen);
}
