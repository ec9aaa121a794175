/* me: what a signed-in user does for themself: who am I, my sessions, my password,
 * my second factor (TOTP enrolment with a QR code, recovery codes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "me.h"
#include "auth.h"
#include "api.h"
#include "http.h"
#include "json.h"
#include "password.h"
#include "totp.h"
#include "clock.h"
#include "log.h"
#include "cache.h"

#define RECOVERY_CODES 10

static ym_db *req_db(const ym_request *r) { return ym_server_db(ym_req_server(r)); }
static const ym_config *req_cfg(const ym_request *r) { return ym_server_config(ym_req_server(r)); }

static void busy(ym_request *r) { ym_resp_error(r, 503, "storage_busy", "the database is busy; try again"); }

static json_t *time_json(int64_t ms)
{
    char buf[48];
    ym_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

/* ---------- GET /api/me ---------- */

static json_t *my_roles(ym_db *db, int64_t uid, json_t *perms)
{
    json_t *roles = json_array();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT g.id, ro.key, ro.name, g.unit_id, g.include_descendants, ro.id FROM core_grants g "
        "JOIN core_roles ro ON ro.id = g.role_id WHERE g.user_id = ?1 ORDER BY g.id");
    if (!st)
        return roles;
    sqlite3_bind_int64(st, 1, uid);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(roles, json_pack("{s:I,s:s,s:s,s:I,s:b}", "grant_id", (json_int_t)sqlite3_column_int64(st, 0),
                                               "role", (const char *)sqlite3_column_text(st, 1), "name",
                                               (const char *)sqlite3_column_text(st, 2), "unit_id",
                                               (json_int_t)sqlite3_column_int64(st, 3), "include_descendants",
                                               sqlite3_column_int(st, 4)));
    sqlite3_reset(st);
    st = ym_db_prepare(db, "core",
        "SELECT DISTINCT rp.permission FROM core_grants g JOIN core_role_permissions rp ON rp.role_id = g.role_id "
        "WHERE g.user_id = ?1 ORDER BY 1");
    if (st) {
        sqlite3_bind_int64(st, 1, uid);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(perms, json_string((const char *)sqlite3_column_text(st, 0)));
        sqlite3_reset(st);
    }
    return roles;
}

static ym_cache *g_me; /* the answer per session or token, until the next commit */

static void me_get(ym_request *r, void *ud)
{
    ym_db *db = req_db(r);
    ym_principal *p = r->who;
    char key[64];
    snprintf(key, sizeof key, "me:%lld:%lld", (long long)p->session_id, (long long)p->token_id);
    if (!g_me)
        g_me = ym_cache_new(1024, 1000);
    size_t len;
    const char *hit = ym_cache_get(g_me, key, &len);
    if (hit) {
        ym_resp_send(r, 200, "application/json", hit, len, NULL);
        return;
    }
    json_t *user = ym_user_json(db, p->user_id);
    if (!user) {
        busy(r);
        return;
    }
    json_t *units = json_array();
    json_array_append_new(units, ym_unit_json(db, p->unit_id));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(user, "extra_unit_ids"), i, v) {
        json_t *u = ym_unit_json(db, json_integer_value(v));
        if (u)
            json_array_append_new(units, u);
    }
    json_t *perms = json_array();
    json_t *roles = my_roles(db, p->user_id, perms);
    if (p->token_perms) { /* an API token sees only what it may use */
        json_decref(perms);
        perms = json_incref(p->token_perms);
    }
    json_t *me = json_pack("{s:o,s:o,s:o,s:o,s:s}", "user", user, "units", units, "roles", roles, "permissions",
                           perms, "auth", p->token_id ? "api_token" : "session");
    /* the session's CSRF token: a page loaded with only the cookie (a new tab, the plain
     * HTML sign-in form) needs it for its writes; other sites cannot read this answer */
    sqlite3_stmt *cs = p->session_id ? ym_db_prepare(db, "core", "SELECT csrf FROM core_sessions WHERE id = ?1") : NULL;
    if (cs && sqlite3_bind_int64(cs, 1, p->session_id) == SQLITE_OK && sqlite3_step(cs) == SQLITE_ROW)
        json_object_set_new(me, "csrf", json_string((const char *)sqlite3_column_text(cs, 0)));
    if (cs)
        sqlite3_reset(cs);
    char *text = json_dumps(me, JSON_COMPACT);
    json_decref(me);
    if (!text) {
        ym_resp_error(r, 500, "internal", "the answer could not be encoded");
        return;
    }
    ym_cache_put(g_me, key, text, strlen(text));
    ym_resp_send(r, 200, "application/json", text, strlen(text), NULL);
    free(text);
}

/* ---------- sessions ---------- */

static void sessions_list(ym_request *r, void *ud)
{
    ym_db *db = req_db(r);
    ym_principal *p = r->who;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, created_at, last_seen, expires_at, ip, user_agent FROM core_sessions "
        "WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND last_seen > ?3 ORDER BY id DESC LIMIT 200");
    if (!st) {
        busy(r);
        return;
    }
    int64_t now = ym_now();
    sqlite3_bind_int64(st, 1, p->user_id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now - (int64_t)req_cfg(r)->auth.idle_timeout);
    json_t *items = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(items, json_pack("{s:I,s:o,s:o,s:o,s:s,s:s,s:b}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                                               "created_at", time_json(sqlite3_column_int64(st, 1)), "last_seen",
                                               time_json(sqlite3_column_int64(st, 2)), "expires_at",
                                               time_json(sqlite3_column_int64(st, 3)), "ip",
                                               (const char *)sqlite3_column_text(st, 4), "user_agent",
                                               (const char *)sqlite3_column_text(st, 5), "current",
                                               sqlite3_column_int64(st, 0) == p->session_id));
    sqlite3_reset(st);
    ym_resp_json(r, 200, json_pack("{s:o,s:n}", "items", items, "next"));
}

static bool parse_id(ym_request *r, const char *name, int64_t *out)
{
    const char *s = ym_req_param(r, name);
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || v <= 0) {
        ym_resp_error(r, 404, "not_found", "no such %s", name);
        return false;
    }
    *out = v;
    return true;
}

static void sessions_delete(ym_request *r, void *ud)
{
    int64_t id;
    if (!parse_id(r, "id", &id))
        return;
    ym_db *db = req_db(r);
    if (ym_db_write_begin(db) < 0) {
        busy(r);
        return;
    }
    int changed = ym_api_revoke(db, "UPDATE core_sessions SET revoked_at = ?1 WHERE id = ?2 AND user_id = ?3 "
                                    "AND revoked_at IS NULL", id, r->who->user_id);
    char target[32];
    snprintf(target, sizeof target, "session:%lld", (long long)id);
    if (changed == 1)
        ym_audit_req(r, "sessions.revoke", target, "ok", NULL);
    ym_db_write_end(db, changed >= 0);
    if (changed == 1)
        ym_resp_send(r, 204, NULL, NULL, 0, NULL);
    else
        ym_resp_error(r, 404, "not_found", "no such session of yours");
}

/* ---------- password ---------- */

typedef struct pwchange {
    ym_request *r;
    char *new_pw;
    int64_t user_id;
} pwchange;

static void pwchange_free(pwchange *c)
{
    OPENSSL_cleanse(c->new_pw, strlen(c->new_pw));
    free(c->new_pw);
    free(c);
}

static void pw_hashed(void *ud, int rc, const char *encoded)
{
    pwchange *c = ud;
    ym_request *r = c->r;
    ym_db *db = req_db(r);
    if (rc < 0 || ym_db_write_begin(db) < 0) {
        pwchange_free(c);
        busy(r);
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_users SET password_hash = ?1, must_change = 0, password_set_at = ?2, updated_at = ?2 WHERE id = ?3");
    bool ok = st != NULL;
    if (st) {
        sqlite3_bind_text(st, 1, encoded, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, ym_now());
        sqlite3_bind_int64(st, 3, c->user_id);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    /* other sessions may belong to whoever knew the old password */
    ok = ok && ym_auth_revoke_sessions(db, c->user_id, r->who->session_id) == 0;
    ok = ok && ym_audit_req(r, "me.password", "", "ok", NULL) == 0;
    ym_db_write_end(db, ok);
    pwchange_free(c);
    if (ok)
        ym_resp_send(r, 204, NULL, NULL, 0, NULL);
    else
        ym_resp_error(r, 500, "storage_error", "could not save the password");
}

static void pw_verified(void *ud, int rc, const char *encoded)
{
    pwchange *c = ud;
    ym_request *r = c->r;
    if (rc != 1) {
        ym_audit_req(r, "me.password", "", "failed", NULL);
        pwchange_free(c);
        ym_resp_invalid(r, "old_password", "the current password is wrong");
        return;
    }
    ym_argon2_params prm;
    ym_argon2_params_from(req_cfg(r), &prm);
    if (ym_password_hash_async(ym_server_loop(ym_req_server(r)), c->new_pw, &prm, pw_hashed, c) < 0) {
        pwchange_free(c);
        ym_resp_error(r, 500, "internal", "could not hash the password");
    }
}

static char *stored_hash(ym_db *db, int64_t uid)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT password_hash FROM core_users WHERE id = ?1");
    char *h = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, uid);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            h = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    return h;
}

static void password_post(ym_request *r, void *ud)
{
    json_t *body = ym_req_json(r);
    if (!body)
        return;
    json_t *oldv = json_object_get(body, "old_password"), *newv = json_object_get(body, "new_password");
    char why[160];
    if (!json_is_string(oldv)) {
        ym_resp_invalid(r, "old_password", "old_password must be a string");
    } else if (!json_is_string(newv)) {
        ym_resp_invalid(r, "new_password", "new_password must be a string");
    } else if (ym_password_policy(req_cfg(r), json_string_value(newv), r->who->username, why, sizeof why) < 0) {
        ym_resp_invalid(r, "new_password", "%s", why);
    } else if (strcmp(json_string_value(oldv), json_string_value(newv)) == 0) {
        ym_resp_invalid(r, "new_password", "the new password must differ from the current one");
    } else {
        pwchange *c = calloc(1, sizeof *c);
        if (!c || !(c->new_pw = strdup(json_string_value(newv))))
            abort();
        c->r = r;
        c->user_id = r->who->user_id;
        char *hash = stored_hash(req_db(r), c->user_id);
        ym_argon2_params prm;
        ym_argon2_params_from(req_cfg(r), &prm);
        if (ym_password_verify_async(ym_server_loop(ym_req_server(r)), hash, json_string_value(oldv), &prm,
                                     pw_verified, c) < 0) {
            pwchange_free(c);
            ym_resp_error(r, 500, "internal", "could not check the password");
        }
        free(hash);
    }
    json_decref(body);
}

/* ---------- second factor ---------- */

static int totp_state(ym_db *db, int64_t uid, char *secret, size_t len, int *enabled)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT totp_secret, totp_enabled FROM core_users WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, uid);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0) {
        snprintf(secret, len, "%s", sqlite3_column_type(st, 0) == SQLITE_NULL ? "" : (const char *)sqlite3_column_text(st, 0));
        *enabled = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    return rc;
}

static int set_totp(ym_db *db, int64_t uid, const char *secret, int enabled, int64_t last_step)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_users SET totp_secret = ?1, totp_enabled = ?2, totp_last_step = ?3, updated_at = ?4 WHERE id = ?5");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, secret, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, enabled);
    sqlite3_bind_int64(st, 3, last_step);
    sqlite3_bind_int64(st, 4, ym_now());
    sqlite3_bind_int64(st, 5, uid);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* POST /api/me/totp: a new secret, not active until confirmed with a code. */
static void totp_begin(ym_request *r, void *ud)
{
    ym_db *db = req_db(r);
    ym_principal *p = r->who;
    char secret[64];
    int enabled = 0;
    if (totp_state(db, p->user_id, secret, sizeof secret, &enabled) < 0) {
        busy(r);
        return;
    }
    if (enabled) {
        ym_resp_error(r, 409, "conflict", "a second factor is already active");
        return;
    }
    ym_totp_secret_new(secret, sizeof secret);
    if (ym_db_write_begin(db) < 0) {
        busy(r);
        return;
    }
    bool ok = set_totp(db, p->user_id, secret, 0, 0) == 0 && ym_audit_req(r, "me.totp.begin", "", "ok", NULL) == 0;
    ym_db_write_end(db, ok);
    if (!ok) {
        ym_resp_error(r, 500, "storage_error", "could not save the secret");
        return;
    }
    const char *issuer = req_cfg(r)->auth.issuer ? req_cfg(r)->auth.issuer : "yimen";
    char *uri = ym_totp_uri(issuer, p->username, secret);
    char *svg = uri ? ym_qr_svg(uri) : NULL;
    if (!svg) {
        free(uri);
        ym_resp_error(r, 500, "internal", "could not draw the QR code");
        return;
    }
    ym_resp_json(r, 200, json_pack("{s:s,s:s,s:s}", "secret", secret, "otpauth_uri", uri, "qr_svg", svg));
    OPENSSL_cleanse(secret, sizeof secret);
    free(uri);
    free(svg);
}

static int store_recovery_codes(ym_db *db, int64_t uid, char (*codes)[16], int n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "DELETE FROM core_recovery_codes WHERE user_id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, uid);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    for (int i = 0; rc == SQLITE_DONE && i < n; i++) {
        char hash[65];
        ym_sha256_hex(codes[i], strlen(codes[i]), hash);
        st = ym_db_prepare(db, "core", "INSERT INTO core_recovery_codes (user_id, code_hash) VALUES (?1, ?2)");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

/* POST /api/me/totp/confirm {"code"}: proves the app has the secret; answers the
 * recovery codes, shown this once. */
static void totp_confirm(ym_request *r, void *ud)
{
    json_t *body = ym_req_json(r);
    if (!body)
        return;
    ym_db *db = req_db(r);
    ym_principal *p = r->who;
    json_t *code = json_object_get(body, "code");
    char secret[64];
    int enabled = 0;
    int64_t step = 0;
    if (!json_is_string(code)) {
        ym_resp_invalid(r, "code", "code must be the 6 digits shown by the app");
    } else if (totp_state(db, p->user_id, secret, sizeof secret, &enabled) < 0) {
        busy(r);
    } else if (enabled || !secret[0]) {
        ym_resp_error(r, 409, "conflict", enabled ? "the second factor is already active" : "start with POST /api/me/totp");
    } else if (ym_totp_verify(secret, json_string_value(code), ym_now(), 0, &step) != 1) {
        ym_resp_invalid(r, "code", "the code does not match; check the device's clock and try again");
    } else if (ym_db_write_begin(db) < 0) {
        busy(r);
    } else {
        char codes[RECOVERY_CODES][16];
        ym_recovery_codes_new(codes, RECOVERY_CODES);
        bool ok = set_totp(db, p->user_id, secret, 1, step) == 0 &&
                  store_recovery_codes(db, p->user_id, codes, RECOVERY_CODES) == 0 &&
                  ym_audit_req(r, "me.totp.enable", "", "ok", NULL) == 0;
        ym_db_write_end(db, ok);
        json_t *list = json_array();
        for (int i = 0; ok && i < RECOVERY_CODES; i++)
            json_array_append_new(list, json_string(codes[i]));
        OPENSSL_cleanse(codes, sizeof codes);
        if (ok)
            ym_resp_json(r, 200, json_pack("{s:b,s:o}", "totp_enabled", 1, "recovery_codes", list));
        else {
            json_decref(list);
            ym_resp_error(r, 500, "storage_error", "could not enable the second factor");
        }
    }
    OPENSSL_cleanse(secret, sizeof secret);
    json_decref(body);
}

int ym_me_routes(ym_router *rt, char *err, size_t errlen)
{
    struct { const char *m, *path, *perm; ym_handler h; } routes[] = {
        {"GET", "/api/me", YM_PERM_SELF, me_get},
        {"GET", "/api/me/sessions", YM_PERM_SELF, sessions_list},
        {"DELETE", "/api/me/sessions/:id", YM_PERM_SELF, sessions_delete},
        {"POST", "/api/me/password", YM_PERM_SELF, password_post},
        {"POST", "/api/me/totp", YM_PERM_SELF, totp_begin},
        {"POST", "/api/me/totp/confirm", YM_PERM_SELF, totp_confirm},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (ym_router_add(rt, routes[i].m, routes[i].path, routes[i].perm, "core", routes[i].h, NULL, err, errlen) < 0)
            return -1;
    return 0;
}
