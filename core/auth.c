/* auth: sessions and API tokens to principals, the permission gate in front of
 * every handler, and login/logout with lockout, rate limits and the second factor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include "auth.h"
#include "http.h"
#include "json.h"
#include "audit.h"
#include "password.h"
#include "totp.h"
#include "shared.h"
#include "clock.h"
#include "log.h"
#include "cache.h"

#define COOKIE "yimen_session"
#define TOUCH_MS 60000 /* last_seen is written at most once a minute per session */

static ym_db *req_db(const ym_request *r) { return ym_server_db(ym_req_server(r)); }
static const ym_config *req_cfg(const ym_request *r) { return ym_server_config(ym_req_server(r)); }

const char *ym_audit_alg(const ym_request *r)
{
    const char *a = req_cfg(r)->auth.audit_hash;
    return a && *a ? a : "sm3";
}

void ym_principal_free(ym_principal *p)
{
    if (!p)
        return;
    json_decref(p->token_perms);
    free(p);
}

int ym_audit_req(ym_request *r, const char *action, const char *target, const char *result, json_t *detail)
{
    ym_db *db = req_db(r);
    bool own = !ym_db_in_write(db);
    if (own && ym_db_write_begin(db) < 0)
        return -1;
    ym_principal *p = r->who;
    ym_audit_entry e = {
        .actor_id = p ? p->user_id : 0, .actor_name = p ? p->username : "", .on_behalf_of = p ? p->acting_for : 0,
        .unit_id = p ? p->unit_id : 0, .ip = r->peer, .action = action, .target = target ? target : "",
        .result = result, .request_id = r->id, .detail = detail,
    };
    int rc = ym_audit_append(db, ym_audit_alg(r), &e);
    if (rc < 0)
        ym_log(YM_LOG_ERROR, "audit append failed", "action=%s error=%s", action, ym_db_errmsg(db));
    if (own)
        ym_db_write_end(db, rc == 0);
    return rc;
}

/* ---------- tokens to principals ---------- */

/* The bearer token, or the session cookie (sets *cookie). */
static const char *find_token(const ym_request *r, bool *cookie, char *buf, size_t len)
{
    const char *h = ym_req_header(r, "authorization");
    *cookie = false;
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return NULL;
        snprintf(buf, len, "%s", h + 7);
        return buf;
    }
    const char *c = ym_req_header(r, "cookie");
    for (const char *p = c; p && (p = strstr(p, COOKIE "=")); p += sizeof COOKIE) {
        if (p != c && p[-1] != ' ' && p[-1] != ';')
            continue;
        const char *v = p + sizeof COOKIE, *end = strchr(v, ';');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        if (n >= len)
            return NULL;
        memcpy(buf, v, n);
        buf[n] = 0;
        *cookie = true;
        return buf;
    }
    return NULL;
}

typedef enum { AUTH_OK, AUTH_NONE, AUTH_EXPIRED, AUTH_ERROR } auth_rc;

/* Records that a session or token was used: at most once a minute, so reads stay reads. */
static void touch(ym_db *db, const char *sql, int64_t id, int64_t now)
{
    bool own = !ym_db_in_write(db);
    if (own && ym_db_write_begin(db) < 0)
        return;
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    bool ok = st != NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, id);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    if (own)
        ym_db_write_end(db, ok);
}

/* What a session's or API token's row says, as read from the database. It is kept
 * per worker (cache.c) until anything is committed anywhere, or for a second: the
 * checks of time and state below still run on every request. */
typedef struct cred {
    ym_principal p;        /* without token_perms: kept as text in perms */
    bool active, is_token, must_change;
    int64_t last, exp, set_at;
    char csrf[48];
    char perms[2048];
} cred;

static ym_cache *g_creds;

/* The row by its hash (bound to ?1 of sql); account columns from col on
 * (u.username, u.display_name, u.unit_id, u.status). */
static auth_rc load_by_hash(ym_db *db, const char *sql, const char *hash, int col, cred *c, sqlite3_stmt **out)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return AUTH_ERROR;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return AUTH_NONE;
    }
    snprintf(c->p.username, sizeof c->p.username, "%s", (const char *)sqlite3_column_text(st, col));
    snprintf(c->p.display_name, sizeof c->p.display_name, "%s", (const char *)sqlite3_column_text(st, col + 1));
    c->p.unit_id = sqlite3_column_int64(st, col + 2);
    c->active = strcmp((const char *)sqlite3_column_text(st, col + 3), "active") == 0;
    *out = st;
    return AUTH_OK;
}

static auth_rc fetch_session(ym_db *db, const char *hash, cred *c)
{
    sqlite3_stmt *st;
    auth_rc rc = load_by_hash(db,
        "SELECT s.id, s.user_id, s.csrf, s.last_seen, s.expires_at, u.username, u.display_name, u.unit_id, u.status, "
        "u.must_change, u.password_set_at FROM core_sessions s JOIN core_users u ON u.id = s.user_id "
        "WHERE s.token_hash = ?1 AND s.revoked_at IS NULL", hash, 5, c, &st);
    if (rc != AUTH_OK)
        return rc;
    c->p.session_id = sqlite3_column_int64(st, 0);
    c->p.user_id = sqlite3_column_int64(st, 1);
    snprintf(c->csrf, sizeof c->csrf, "%s", (const char *)sqlite3_column_text(st, 2));
    c->last = sqlite3_column_int64(st, 3);
    c->exp = sqlite3_column_int64(st, 4);
    c->must_change = sqlite3_column_int(st, 9) != 0;
    c->set_at = sqlite3_column_int64(st, 10);
    sqlite3_reset(st);
    return AUTH_OK;
}

static auth_rc fetch_token(ym_db *db, const char *hash, cred *c)
{
    sqlite3_stmt *st;
    auth_rc rc = load_by_hash(db,
        "SELECT t.id, t.user_id, t.permissions, t.unit_id, t.include_descendants, t.expires_at, u.username, "
        "u.display_name, u.unit_id, u.status, t.last_used FROM core_api_tokens t JOIN core_users u ON u.id = t.user_id "
        "WHERE t.token_hash = ?1 AND t.revoked_at IS NULL", hash, 6, c, &st);
    if (rc != AUTH_OK)
        return rc;
    c->is_token = true;
    c->p.token_id = sqlite3_column_int64(st, 0);
    c->p.user_id = sqlite3_column_int64(st, 1);
    snprintf(c->perms, sizeof c->perms, "%s", (const char *)sqlite3_column_text(st, 2));
    c->p.token_unit = sqlite3_column_int64(st, 3);
    c->p.token_descendants = sqlite3_column_int(st, 4) != 0;
    c->exp = sqlite3_column_type(st, 5) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(st, 5);
    c->last = sqlite3_column_int64(st, 10);
    sqlite3_reset(st);
    return AUTH_OK;
}

static auth_rc fetch(ym_db *db, const char *hash, bool token, cred *c)
{
    if (!g_creds)
        g_creds = ym_cache_new(4096, 1000);
    size_t len;
    const cred *hit = ym_cache_get(g_creds, hash, &len);
    if (hit && len == sizeof *c) {
        *c = *hit;
        return AUTH_OK;
    }
    memset(c, 0, sizeof *c);
    auth_rc rc = token ? fetch_token(db, hash, c) : fetch_session(db, hash, c);
    if (rc == AUTH_OK)
        ym_cache_put(g_creds, hash, c, sizeof *c);
    return rc;
}

/* Time and state, on every request: a session ends when idle or old, a token when it
 * expires; both when the account is disabled. Use is recorded once a minute. */
static auth_rc load_cred(ym_request *r, const char *hash, bool token, ym_principal *p, char *csrf, size_t clen)
{
    ym_db *db = req_db(r);
    const ym_config *cfg = req_cfg(r);
    cred c;
    auth_rc rc = fetch(db, hash, token, &c);
    if (rc != AUTH_OK)
        return rc;
    bool cookie = p->via_cookie;
    *p = c.p;
    p->via_cookie = cookie;
    snprintf(csrf, clen, "%s", c.csrf);
    int64_t now = ym_now();
    if (token && !(p->token_perms = json_loads(c.perms, 0, NULL)))
        p->token_perms = json_array();
    p->must_change = c.must_change || (!token && cfg->auth.password.max_age &&
                                       c.set_at + (int64_t)cfg->auth.password.max_age < now);
    if (!c.active || now >= c.exp || (!token && now - c.last >= (int64_t)cfg->auth.idle_timeout))
        return AUTH_EXPIRED;
    if (now - c.last >= TOUCH_MS)
        touch(db, token ? "UPDATE core_api_tokens SET last_used = ?1 WHERE id = ?2"
                        : "UPDATE core_sessions SET last_seen = ?1 WHERE id = ?2",
              token ? p->token_id : p->session_id, now);
    return AUTH_OK;
}

static bool unsafe_method(const char *m)
{
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* Roles listed in auth.totp_roles require a second factor; has this user one of them
 * without having enrolled? */
static bool totp_setup_pending(ym_request *r, const ym_principal *p)
{
    const ym_config *cfg = req_cfg(r);
    if (!cfg->auth.totp_roles.n)
        return false;
    ym_db *db = req_db(r);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT ro.key, u.totp_enabled FROM core_grants g JOIN core_roles ro ON ro.id = g.role_id "
        "JOIN core_users u ON u.id = g.user_id WHERE g.user_id = ?1");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, p->user_id);
    bool pending = false;
    while (!pending && sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 1))
            break;
        for (size_t i = 0; i < cfg->auth.totp_roles.n; i++)
            if (strcmp(cfg->auth.totp_roles.v[i], (const char *)sqlite3_column_text(st, 0)) == 0)
                pending = true;
    }
    sqlite3_reset(st);
    return pending;
}

static int deny(ym_request *r, const char *perm)
{
    json_t *d = json_pack("{s:s,s:s}", "permission", perm, "route", r->route ? r->route : r->path);
    ym_audit_req(r, "access.denied", r->path, "denied", d);
    json_decref(d);
    ym_resp_error(r, 403, "forbidden", "you do not have the permission %s", perm);
    return -1;
}

int ym_auth_route(ym_request *r, const ym_route *rt)
{
    const char *perm = rt->permission;
    if (strcmp(perm, YM_PERM_PUBLIC) == 0)
        return 0;
    char tok[256], hash[65], csrf[128] = "";
    bool cookie;
    if (!find_token(r, &cookie, tok, sizeof tok)) {
        ym_resp_error(r, 401, "unauthenticated", "sign in first");
        return -1;
    }
    ym_principal *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    r->who = p;
    r->who_free = ym_principal_free;
    p->via_cookie = cookie;
    ym_sha256_hex(tok, strlen(tok), hash);
    auth_rc rc = load_cred(r, hash, strncmp(tok, "yt_", 3) == 0, p, csrf, sizeof csrf);
    if (rc != AUTH_OK) {
        r->who = NULL;
        ym_principal_free(p);
        if (rc == AUTH_ERROR)
            ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        else
            ym_resp_error(r, 401, rc == AUTH_EXPIRED ? "session_expired" : "unauthenticated",
                          rc == AUTH_EXPIRED ? "the session has ended; sign in again" : "sign in first");
        return -1;
    }
    if (cookie && unsafe_method(r->method_name)) {
        const char *h = ym_req_header(r, "x-csrf-token");
        if (!h || strlen(h) != strlen(csrf) || CRYPTO_memcmp(h, csrf, strlen(csrf)) != 0) {
            ym_resp_error(r, 403, "csrf", "missing or wrong X-CSRF-Token header");
            return -1;
        }
    }
    if (strcmp(perm, YM_PERM_SELF) == 0)
        return 0;
    if (p->must_change) {
        ym_resp_error(r, 403, "password_change_required", "change your password first (POST /api/me/password)");
        return -1;
    }
    if (totp_setup_pending(r, p)) {
        ym_resp_error(r, 403, "totp_setup_required", "your role requires a second factor: enrol at /api/me/totp");
        return -1;
    }
    if (strcmp(perm, YM_PERM_USER) == 0)
        return 0;
    int may = ym_may(req_db(r), p, perm, 0);
    if (may < 0) {
        ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        return -1;
    }
    return may ? 0 : deny(r, perm);
}

/* ---------- sessions ---------- */

int ym_auth_revoke_sessions(ym_db *db, int64_t user_id, int64_t keep)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_sessions SET revoked_at = ?1 WHERE user_id = ?2 AND id != ?3 AND revoked_at IS NULL");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, ym_now());
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, keep);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int64_t session_insert(ym_request *r, int64_t user_id, const char *hash, const char *csrf)
{
    ym_db *db = req_db(r);
    int64_t now = ym_now();
    const char *ua = ym_req_header(r, "user-agent");
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_sessions (user_id, token_hash, csrf, created_at, last_seen, expires_at, ip, user_agent) "
        "VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, csrf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now + (int64_t)req_cfg(r)->auth.absolute_timeout);
    sqlite3_bind_text(st, 6, r->peer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, ua ? ua : "", (int)(ua && strlen(ua) > 256 ? 256 : -1), SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(ym_db_handle(db)) : -1;
}

/* A login from the plain HTML form (application/x-www-form-urlencoded) is answered
 * with a redirect the browser follows: the shell reads the fragment. */
static void form_redirect(ym_request *r, const char *location, const char *extra)
{
    char hdr[512];
    snprintf(hdr, sizeof hdr, "Location: %s\r\nCache-Control: no-store\r\n%s", location, extra ? extra : "");
    ym_resp_send(r, 303, NULL, NULL, 0, hdr);
}

/* A refused login: the JSON error, or for a form the redirect to "/#<fragment>". */
static void login_refused(ym_request *r, bool form, int status, const char *code, const char *msg,
                          const char *fragment)
{
    if (form) {
        char loc[64];
        snprintf(loc, sizeof loc, "/#%s", fragment);
        form_redirect(r, loc, NULL);
    } else {
        ym_resp_error(r, status, code, "%s", msg);
    }
}

static void send_session(ym_request *r, int64_t user_id, bool form)
{
    ym_db *db = req_db(r);
    const ym_config *cfg = req_cfg(r);
    char tok[80] = "ys_", csrf[48], hash[65];
    ym_random_token(tok + 3, sizeof tok - 3, 32);
    ym_random_token(csrf, sizeof csrf, 24);
    ym_sha256_hex(tok, strlen(tok), hash);
    int64_t sid = session_insert(r, user_id, hash, csrf);
    json_t *user = ym_user_json(db, user_id);
    if (sid < 0 || !user) {
        json_decref(user);
        ym_resp_error(r, 500, "storage_error", "could not create the session");
        return;
    }
    ym_principal tmp = {.user_id = user_id};
    bool must = json_is_true(json_object_get(user, "must_change_password"));
    char cookie[256];
    snprintf(cookie, sizeof cookie, "Set-Cookie: " COOKIE "=%s; Path=/; Max-Age=%llu; HttpOnly; SameSite=Strict%s\r\n",
             tok, (unsigned long long)(cfg->auth.absolute_timeout / 1000),
             cfg->public_url && strncmp(cfg->public_url, "https:", 6) == 0 ? "; Secure" : "");
    if (form) {
        json_decref(user);
        form_redirect(r, "/", cookie);
        OPENSSL_cleanse(tok, sizeof tok);
        OPENSSL_cleanse(cookie, sizeof cookie);
        return;
    }
    json_t *body = json_pack("{s:s,s:s,s:o,s:b,s:b}", "token", tok, "csrf", csrf, "user", user,
                             "must_change_password", must, "totp_setup_required", totp_setup_pending(r, &tmp));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    ym_resp_send(r, 200, "application/json", text, strlen(text), cookie);
    free(text);
    OPENSSL_cleanse(tok, sizeof tok);
}

void ym_auth_send_session(ym_request *r, int64_t user_id) { send_session(r, user_id, false); }

/* ---------- login ---------- */

typedef struct login {
    ym_request *r;
    int64_t user_id;
    bool active, locked, totp_enabled;
    bool form;                  /* posted by the HTML form: answer with redirects */
    int64_t failed_count, failed_since, totp_last_step;
    char username[64];
    char totp_secret[64];
    char *totp;                 /* code from the body, or NULL */
    char *hash;                 /* stored password hash, or NULL */
} login;

static void login_free(login *l)
{
    if (l->totp)
        OPENSSL_cleanse(l->totp, strlen(l->totp));
    free(l->totp);
    free(l->hash);
    OPENSSL_cleanse(l->totp_secret, sizeof l->totp_secret);
    free(l);
}

static void audit_login(login *l, const char *result, const char *reason)
{
    json_t *d = json_pack("{s:s,s:s}", "username", l->username, "reason", reason);
    ym_request *r = l->r;
    ym_principal p = {.user_id = l->user_id};
    memcpy(p.username, l->username, sizeof p.username - 1);
    char target[32];
    snprintf(target, sizeof target, "user:%lld", (long long)l->user_id);
    r->who = l->user_id ? &p : NULL;
    ym_audit_req(r, "auth.login", l->user_id ? target : "", result, d);
    r->who = NULL;
    json_decref(d);
}

/* A wrong password or code: count it; at auth.lockout.attempts within the window, lock. */
static void count_failure(login *l)
{
    const ym_config *cfg = req_cfg(l->r);
    int64_t now = ym_now();
    bool fresh = !l->failed_since || now - l->failed_since > (int64_t)cfg->auth.lockout.window;
    int64_t count = fresh ? 1 : l->failed_count + 1;
    bool lock = count >= (int64_t)cfg->auth.lockout.attempts;
    sqlite3_stmt *st = ym_db_prepare(req_db(l->r), "core",
        "UPDATE core_users SET failed_count = ?1, failed_since = ?2, locked_until = ?3 WHERE id = ?4");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, lock ? 0 : count);
    if (!lock)
        sqlite3_bind_int64(st, 2, fresh ? now : l->failed_since);
    if (lock)
        sqlite3_bind_int64(st, 3, now + (int64_t)cfg->auth.lockout.duration);
    sqlite3_bind_int64(st, 4, l->user_id);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (lock)
        ym_log(YM_LOG_WARN, "account locked after failed logins", "user=%s", l->username);
}

static int use_recovery_code(ym_db *db, int64_t user_id, const char *code)
{
    char hash[65];
    ym_sha256_hex(code, strlen(code), hash);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_recovery_codes SET used_at = ?1 WHERE user_id = ?2 AND code_hash = ?3 AND used_at IS NULL");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, ym_now());
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE && sqlite3_changes(ym_db_handle(db)) == 1 ? 1 : 0;
}

/* 1 = second factor accepted (or not needed), 0 = refused and answered. */
static int check_totp(login *l)
{
    ym_request *r = l->r;
    ym_db *db = req_db(r);
    if (!l->totp_enabled)
        return 1;
    if (!l->totp || !*l->totp) {
        audit_login(l, "failed", "totp_required");
        login_refused(r, l->form, 401, "totp_required", "enter the code from your authenticator app", "totp-required");
        return 0;
    }
    int64_t step = 0;
    int ok = ym_totp_verify(l->totp_secret, l->totp, ym_now(), l->totp_last_step, &step);
    if (ok == 1) {
        sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_users SET totp_last_step = ?1 WHERE id = ?2");
        if (st) {
            sqlite3_bind_int64(st, 1, step);
            sqlite3_bind_int64(st, 2, l->user_id);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        return 1;
    }
    if (strlen(l->totp) == 14 && use_recovery_code(db, l->user_id, l->totp) == 1)
        return 1;
    count_failure(l);
    audit_login(l, "failed", "bad_totp");
    login_refused(r, l->form, 401, "totp_invalid", "the code is wrong or was already used", "login-failed");
    return 0;
}

static void login_verified(void *ud, int rc, const char *encoded)
{
    login *l = ud;
    ym_request *r = l->r;
    ym_db *db = req_db(r);
    if (ym_db_write_begin(db) < 0) {
        ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        login_free(l);
        return;
    }
    const char *reason = !l->user_id ? "unknown_user" : !l->active ? "disabled" : l->locked ? "locked"
                                                      : rc != 1 ? "bad_password" : NULL;
    if (reason) {
        if (rc != 1 && l->user_id && l->active && !l->locked)
            count_failure(l);
        audit_login(l, "failed", reason);
        ym_db_write_end(db, true);
        login_refused(r, l->form, 401, "bad_credentials", "wrong username or password", "login-failed");
    } else if (check_totp(l)) {
        sqlite3_stmt *st = ym_db_prepare(db, "core",
            "UPDATE core_users SET failed_count = 0, failed_since = NULL, locked_until = NULL WHERE id = ?1");
        if (st) {
            sqlite3_bind_int64(st, 1, l->user_id);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        audit_login(l, "ok", "password");
        send_session(r, l->user_id, l->form);
        ym_db_write_end(db, true);
    } else {
        ym_db_write_end(db, true);
    }
    login_free(l);
}

static bool rate_limited(ym_request *r, const char *username, bool form)
{
    const ym_config *cfg = req_cfg(r);
    char key[200];
    int retry = 60;
    snprintf(key, sizeof key, "ip:%s", r->peer);
    bool over = ym_rate_hit(key, ym_now(), &retry) > cfg->auth.rate_limit.per_ip;
    snprintf(key, sizeof key, "user:%s", username);
    over = (ym_rate_hit(key, ym_now(), &retry) > cfg->auth.rate_limit.per_account) || over;
    if (over && form) {
        form_redirect(r, "/#login-failed", NULL);
    } else if (over) {
        char hdr[48];
        snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", retry);
        static const char body[] = "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many sign-in attempts; wait a minute\"}}";
        ym_resp_send(r, 429, "application/json", body, sizeof body - 1, hdr);
    }
    return over;
}

static const char *body_string(ym_request *r, json_t *body, const char *key, size_t max, bool required)
{
    json_t *v = json_object_get(body, key);
    if (!v && !required)
        return "";
    if (!json_is_string(v) || (required && !*json_string_value(v)) || strlen(json_string_value(v)) > max) {
        ym_resp_invalid(r, key, "%s must be a non-empty string of at most %zu bytes", key, max);
        return NULL;
    }
    return json_string_value(v);
}

static void load_user(ym_db *db, login *l)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, status, locked_until, failed_count, failed_since, totp_enabled, totp_secret, totp_last_step, "
        "password_hash FROM core_users WHERE username = ?1");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, l->username, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        l->user_id = sqlite3_column_int64(st, 0);
        l->active = strcmp((const char *)sqlite3_column_text(st, 1), "active") == 0;
        l->locked = sqlite3_column_type(st, 2) != SQLITE_NULL && sqlite3_column_int64(st, 2) > ym_now();
        l->failed_count = sqlite3_column_int64(st, 3);
        l->failed_since = sqlite3_column_int64(st, 4);
        l->totp_enabled = sqlite3_column_int(st, 5) != 0;
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            snprintf(l->totp_secret, sizeof l->totp_secret, "%s", (const char *)sqlite3_column_text(st, 6));
        l->totp_last_step = sqlite3_column_int64(st, 7);
        if (sqlite3_column_type(st, 8) != SQLITE_NULL && !(l->hash = strdup((const char *)sqlite3_column_text(st, 8))))
            abort();
    }
    sqlite3_reset(st);
}

/* A form post must come from a page of this site: a cross-site form would sign the
 * victim's browser in to an account of the attacker's choosing (login CSRF). */
static bool same_origin(ym_request *r)
{
    const char *site = ym_req_header(r, "sec-fetch-site");
    if (site && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
        return false;
    const char *origin = ym_req_header(r, "origin");
    if (!origin)
        return true;
    const char *o = strstr(origin, "://");
    if (!o || strchr(o + 3, '/'))
        return false; /* "null" (a sandboxed or privacy-sensitive context) or a malformed origin */
    const char *host = ym_req_header(r, "host");
    if (host && strcasecmp(o + 3, host) == 0)
        return true;
    const char *pub = req_cfg(r)->public_url; /* behind a proxy that rewrites Host */
    if (pub && *pub) {
        const char *ps = strstr(pub, "://");
        size_t n = ps ? (size_t)((strchr(ps + 3, '/') ? strchr(ps + 3, '/') : ps + strlen(ps)) - pub) : 0;
        if (n && strlen(origin) == n && strncasecmp(origin, pub, n) == 0)
            return true;
    }
    return false;
}

static bool is_form(const ym_request *r)
{
    const char *ct = ym_req_header(r, "content-type");
    static const char form[] = "application/x-www-form-urlencoded";
    return ct && strncasecmp(ct, form, sizeof form - 1) == 0 &&
           (ct[sizeof form - 1] == 0 || ct[sizeof form - 1] == ';' || ct[sizeof form - 1] == ' ');
}

static void start_login(ym_request *r, const char *user, const char *pw, const char *code, bool form)
{
    if (rate_limited(r, user, form))
        return;
    login *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    l->r = r;
    l->form = form;
    snprintf(l->username, sizeof l->username, "%s", user);
    l->totp = *code ? strdup(code) : NULL;
    ym_db *db = req_db(r);
    load_user(db, l);
    ym_argon2_params prm;
    ym_argon2_params_from(req_cfg(r), &prm);
    /* an unknown user, or one without a password, costs what a wrong password costs */
    if (ym_password_verify_async(ym_server_loop(ym_req_server(r)), l->hash, pw, &prm, login_verified, l) < 0) {
        login_free(l);
        ym_resp_error(r, 500, "internal", "could not check the password");
    }
}

static void free_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* username, password, totp from the form body; refused fields go to /#login-failed. */
static void form_login(ym_request *r)
{
    if (!same_origin(r)) {
        ym_log(YM_LOG_WARN, "cross-site login form refused", "origin=%s sec_fetch_site=%s",
               ym_req_header(r, "origin") ? ym_req_header(r, "origin") : "",
               ym_req_header(r, "sec-fetch-site") ? ym_req_header(r, "sec-fetch-site") : "");
        ym_resp_error(r, 403, "cross_site", "a sign-in form must be posted from this site");
        return;
    }
    const char *body = r->body ? r->body : "";
    char *user = ym_form_value(body, r->body_len, "username"), *pw = ym_form_value(body, r->body_len, "password"),
         *code = ym_form_value(body, r->body_len, "totp");
    if (!user || !*user || strlen(user) > 64 || !pw || !*pw || strlen(pw) > 1024 || (code && strlen(code) > 32))
        form_redirect(r, "/#login-failed", NULL);
    else
        start_login(r, user, pw, code ? code : "", true);
    free(user);
    free_secret(pw);
    free_secret(code);
}

static void login_handler(ym_request *r, void *ud)
{
    if (is_form(r)) {
        form_login(r);
        return;
    }
    json_t *body = ym_req_json(r);
    if (!body)
        return;
    const char *user, *pw, *code;
    if (!json_is_object(body)) {
        json_decref(body);
        ym_resp_invalid(r, "", "the body must be a JSON object");
        return;
    }
    if (!(user = body_string(r, body, "username", 64, true)) || !(pw = body_string(r, body, "password", 1024, true)) ||
        !(code = body_string(r, body, "totp", 32, false))) {
        json_decref(body);
        return;
    }
    start_login(r, user, pw, code, false);
    json_decref(body);
}

static void logout_handler(ym_request *r, void *ud)
{
    ym_principal *p = r->who;
    ym_db *db = req_db(r);
    if (ym_db_write_begin(db) < 0) {
        ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_sessions SET revoked_at = ?1 WHERE id = ?2");
    bool ok = st != NULL;
    if (st && p->session_id) {
        sqlite3_bind_int64(st, 1, ym_now());
        sqlite3_bind_int64(st, 2, p->session_id);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    ok = ok && ym_audit_req(r, "auth.logout", "", "ok", NULL) == 0;
    ym_db_write_end(db, ok);
    if (!ok) {
        ym_resp_error(r, 500, "storage_error", "could not end the session");
        return;
    }
    ym_resp_send(r, 204, NULL, NULL, 0, "Set-Cookie: " COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict\r\n");
}

int ym_auth_routes(ym_router *rt, char *err, size_t errlen)
{
    if (ym_router_add(rt, "POST", "/api/auth/login", YM_PERM_PUBLIC, "core", login_handler, NULL, err, errlen) < 0 ||
        ym_router_add(rt, "POST", "/api/auth/logout", YM_PERM_SELF, "core", logout_handler, NULL, err, errlen) < 0)
        return -1;
    return 0;
}
