/* audit: appends rows to core_audit, each hashed over its contents and the previous
 * row's hash (SM3 or SHA-256), and walks the chain to find tampering. */
#include "audit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#include "clock.h"
#include "log.h"

/*
 * The canonical row encoding (what a row's hash is computed over)
 * ---------------------------------------------------------------
 * Thirteen fields, always in this order:
 *
 *   alg, prev_hash, at, actor_id, actor_name, on_behalf_of, unit_id, ip,
 *   action, target, result, request_id, detail
 *
 * Each field is written as its length in bytes, an unsigned 64-bit big-endian
 * integer (8 bytes), followed by exactly that many bytes. Length prefixes make the
 * encoding unambiguous: no choice of field contents can shift a byte from one field
 * into another. Values:
 *   - text fields: their bytes as stored (a NULL string is the empty string);
 *   - at: decimal text of the milliseconds ("1767225600000", "-5");
 *   - actor_id, on_behalf_of, unit_id: decimal text; 0 means "none", is stored as SQL
 *     NULL and encoded as the empty string (a stored 0 therefore does not verify);
 *   - detail: json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS), or "{}" when the
 *     entry has none; stored byte for byte as hashed;
 *   - prev_hash: the previous row's hash as lowercase hex; the first row's is 64 '0'.
 * hash = lowercase hex of H(encoding), H = SM3 ("sm3") or SHA-256 ("sha256"); both
 * give 64 hex characters.
 *
 * The newest row's id and hash are also kept in core_state 'audit_head' as
 * "<id>:<hash>", so rows removed from the end of the chain are noticed too.
 */

#define NFIELDS 13
#define HASH_HEX 64
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define HEAD_KEY "audit_head"
#define SECRET_SCAN_DEPTH 512

typedef struct field {
    const char *p;
    size_t n;
} field;

enum { F_ALG, F_PREV, F_AT, F_ACTOR, F_ACTOR_NAME, F_BEHALF, F_UNIT, F_IP, F_ACTION,
       F_TARGET, F_RESULT, F_REQUEST, F_DETAIL };

static const EVP_MD *md_for(const char *alg)
{
    if (!alg) return NULL;
    if (!strcmp(alg, "sm3")) return EVP_sm3();
    if (!strcmp(alg, "sha256")) return EVP_sha256();
    return NULL;
}

static field text_field(const char *s)
{
    return (field){s ? s : "", s ? strlen(s) : 0};
}

static void put_be64(unsigned char b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (unsigned char)(v & 0xff);
}

static void to_hex(const unsigned char *d, unsigned n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* H over the length-prefixed fields; out gets HASH_HEX + 1 bytes. 0 ok, -1 error. */
static int hash_fields(const EVP_MD *md, const field f[NFIELDS], char out[HASH_HEX + 1])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
    for (int i = 0; ok && i < NFIELDS; i++) {
        unsigned char len[8];
        put_be64(len, (uint64_t)f[i].n);
        ok = EVP_DigestUpdate(ctx, len, sizeof len) && EVP_DigestUpdate(ctx, f[i].p, f[i].n);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, dig, &dlen) && dlen * 2 == HASH_HEX;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    to_hex(dig, dlen, out);
    return 0;
}

/* Decimal text of v into buf; "" for an absent (0) nullable id. */
static field int_field(char *buf, size_t len, int64_t v, bool nullable)
{
    if (nullable && v == 0) buf[0] = '\0';
    else snprintf(buf, len, "%lld", (long long)v);
    return (field){buf, strlen(buf)};
}

/* The hash of an entry; at is hashed as given (append fills in ym_now() first). */
int ym_audit_row_hash(const char *alg, const char *prev_hash, const ym_audit_entry *e,
                      const char *detail_json, char *out, size_t outlen)
{
    const EVP_MD *md = md_for(alg);
    if (!md || !e || !out || outlen < HASH_HEX + 1) return -1;
    char at[24], actor[24], behalf[24], unit[24];
    char *owned = NULL;
    if (!detail_json && e->detail)
        detail_json = owned = json_dumps(e->detail, JSON_COMPACT | JSON_SORT_KEYS);
    if (!detail_json && e->detail) return -1;
    field f[NFIELDS] = {
        [F_ALG] = text_field(alg),
        [F_PREV] = text_field(prev_hash ? prev_hash : ZERO_HASH),
        [F_AT] = int_field(at, sizeof at, e->at, false),
        [F_ACTOR] = int_field(actor, sizeof actor, e->actor_id, true),
        [F_ACTOR_NAME] = text_field(e->actor_name),
        [F_BEHALF] = int_field(behalf, sizeof behalf, e->on_behalf_of, true),
        [F_UNIT] = int_field(unit, sizeof unit, e->unit_id, true),
        [F_IP] = text_field(e->ip),
        [F_ACTION] = text_field(e->action),
        [F_TARGET] = text_field(e->target),
        [F_RESULT] = text_field(e->result),
        [F_REQUEST] = text_field(e->request_id),
        [F_DETAIL] = text_field(detail_json ? detail_json : "{}"),
    };
    int rc = hash_fields(md, f, out);
    free(owned);
    return rc;
}

/* ---- secrets guard ---- */

/* A safety net, not the policy: callers must never put secrets in an audit row, but
 * a detail object carrying a key that names one (password, token, secret, totp, code;
 * any case, any depth) is refused outright rather than written to an append-only log
 * that can never be cleaned. Returns the offending key, or NULL. Too deep to scan is
 * treated as offending. */
static const char *secret_key(const json_t *j, int depth)
{
    static const char *const banned[] = {"password", "token", "secret", "totp", "code"};
    if (depth > SECRET_SCAN_DEPTH) return "(nested too deeply to check)";
    const char *key, *hit;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, key, v) {
            for (size_t b = 0; b < sizeof banned / sizeof *banned; b++)
                if (!strcasecmp(key, banned[b])) return key;
            if ((hit = secret_key(v, depth + 1))) return hit;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            if ((hit = secret_key(v, depth + 1))) return hit;
    }
    return NULL;
}

/* ---- append ---- */

static bool nonempty(const char *s)
{
    return s && *s;
}

static int refuse(const char *why, const ym_audit_entry *e)
{
    ym_log_warn("audit append refused", "reason=%s action=%s", why, e && e->action ? e->action : "");
    return -1;
}

static int check_entry(const char *alg, const ym_audit_entry *e)
{
    if (!e) return refuse("no entry", e);
    if (!md_for(alg)) return refuse("unknown hash algorithm", e);
    if (!nonempty(e->action) || !nonempty(e->result)) return refuse("action and result are required", e);
    const char *key = e->detail ? secret_key(e->detail, 0) : NULL;
    if (key) {
        ym_log_warn("audit append refused", "reason=%s key=%s action=%s",
                    "detail carries a secret-named key", key, e->action);
        return -1;
    }
    return 0;
}

/* The newest row's hash into out (zeros when the table is empty). */
static int last_hash(ym_db *db, char *out, size_t len)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT hash FROM core_audit ORDER BY id DESC LIMIT 1");
    if (!st) return -1;
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, len, "%s", h ? h : "");
    } else if (rc == SQLITE_DONE) {
        snprintf(out, len, "%s", ZERO_HASH);
    } else {
        ret = -1;
    }
    sqlite3_reset(st);
    return ret;
}

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
    if (v) sqlite3_bind_int64(st, i, v);
    else sqlite3_bind_null(st, i);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* INSERTs the row; *id gets its id. */
static int insert_row(ym_db *db, const char *alg, const ym_audit_entry *e, const char *detail,
                      const char *prev, const char *hash, long long *id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_audit (at, actor_id, actor_name, on_behalf_of, unit_id, ip, action, target,"
        " result, request_id, detail, alg, prev_hash, hash)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, e->at);
    bind_opt_int(st, 2, e->actor_id);
    bind_str(st, 3, e->actor_name);
    bind_opt_int(st, 4, e->on_behalf_of);
    bind_opt_int(st, 5, e->unit_id);
    bind_str(st, 6, e->ip);
    bind_str(st, 7, e->action);
    bind_str(st, 8, e->target);
    bind_str(st, 9, e->result);
    bind_str(st, 10, e->request_id);
    bind_str(st, 11, detail);
    bind_str(st, 12, alg);
    bind_str(st, 13, prev);
    bind_str(st, 14, hash);
    int ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) *id = sqlite3_column_int64(st, 0);
    ok = ok && sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    return ok ? 0 : -1;
}

static int set_head(ym_db *db, long long id, const char *hash)
{
    char v[32 + HASH_HEX];
    snprintf(v, sizeof v, "%lld:%s", id, hash);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_state (key, value) VALUES ('" HEAD_KEY "', ?1)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Reads the chain's end, hashes, inserts, moves the head: the caller's savepoint. */
static int append_locked(ym_db *db, const char *alg, const ym_audit_entry *e, const char *detail)
{
    char prev[HASH_HEX + 1], hash[HASH_HEX + 1];
    long long id = 0;
    if (last_hash(db, prev, sizeof prev)) return -1;
    if (ym_audit_row_hash(alg, prev, e, detail, hash, sizeof hash)) return -1;
    if (insert_row(db, alg, e, detail, prev, hash, &id)) return -1;
    return set_head(db, id, hash);
}

int ym_audit_append(ym_db *db, const char *alg, const ym_audit_entry *e)
{
    if (!db || check_entry(alg, e)) return -1;
    if (!ym_db_in_write(db)) return refuse("not inside a write (ym_db_write_begin)", e);
    ym_audit_entry row = *e;
    if (row.at == 0) row.at = ym_now();
    char *detail = row.detail ? json_dumps(row.detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (row.detail && !detail) return refuse("detail cannot be serialised", e);
    /* a savepoint of its own: the row and the head move together or not at all */
    int rc = ym_db_write_begin(db);
    if (rc) ym_log_error("audit append failed", "error=%s action=%s", ym_db_errmsg(db), row.action);
    if (rc == 0) {
        rc = append_locked(db, alg, &row, detail ? detail : "{}");
        if (rc)
            ym_log_error("audit append failed", "error=%s db=%s action=%s",
                         sqlite3_errmsg(ym_db_handle(db)), ym_db_errmsg(db), row.action);
        if (ym_db_write_end(db, rc == 0)) rc = -1;
    }
    free(detail);
    return rc;
}

/* ---- verify ---- */

enum { C_ID, C_AT, C_ACTOR, C_ACTOR_NAME, C_BEHALF, C_UNIT, C_IP, C_ACTION, C_TARGET,
       C_RESULT, C_REQUEST, C_DETAIL, C_ALG, C_PREV, C_HASH };

typedef struct walk {
    long long rows, last_id;
    char prev[HASH_HEX + 1]; /* the previous row's stored hash (zeros before the first) */
    long long *bad_id;
    char *err;
    size_t errlen;
} walk;

static field col_field(sqlite3_stmt *st, int c)
{
    const char *p = (const char *)sqlite3_column_text(st, c);
    return (field){p ? p : "", p ? (size_t)sqlite3_column_bytes(st, c) : 0};
}

static int broken(walk *w, long long id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int broken(walk *w, long long id, const char *fmt, ...)
{
    if (w->bad_id) *w->bad_id = id;
    if (w->err && w->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return 1;
}

static int fail(walk *w, const char *msg)
{
    if (w->err && w->errlen) snprintf(w->err, w->errlen, "audit verify: %s", msg);
    return -1;
}

static bool field_is(field f, const char *s)
{
    return f.n == strlen(s) && !memcmp(f.p, s, f.n);
}

/* Checks one row against the chain so far; 0 ok, 1 broken. */
static int check_row(walk *w, sqlite3_stmt *st)
{
    long long id = sqlite3_column_int64(st, C_ID);
    field f[NFIELDS] = {
        [F_ALG] = col_field(st, C_ALG), [F_PREV] = col_field(st, C_PREV),
        [F_AT] = col_field(st, C_AT), [F_ACTOR] = col_field(st, C_ACTOR),
        [F_ACTOR_NAME] = col_field(st, C_ACTOR_NAME), [F_BEHALF] = col_field(st, C_BEHALF),
        [F_UNIT] = col_field(st, C_UNIT), [F_IP] = col_field(st, C_IP),
        [F_ACTION] = col_field(st, C_ACTION), [F_TARGET] = col_field(st, C_TARGET),
        [F_RESULT] = col_field(st, C_RESULT), [F_REQUEST] = col_field(st, C_REQUEST),
        [F_DETAIL] = col_field(st, C_DETAIL),
    };
    field stored = col_field(st, C_HASH);
    if (!field_is(f[F_PREV], w->prev)) {
        if (w->rows == 0) return broken(w, id, "row %lld: prev_hash does not match the start of the chain", id);
        return broken(w, id, "row %lld: prev_hash does not match row %lld", id, w->last_id);
    }
    const EVP_MD *md = field_is(f[F_ALG], "sm3") ? EVP_sm3()
                     : field_is(f[F_ALG], "sha256") ? EVP_sha256() : NULL;
    if (!md) return broken(w, id, "row %lld: unknown hash algorithm", id);
    char hash[HASH_HEX + 1];
    if (hash_fields(md, f, hash)) return fail(w, "hashing failed (OpenSSL)");
    if (!field_is(stored, hash)) return broken(w, id, "row %lld: hash does not match its contents", id);
    memcpy(w->prev, hash, sizeof hash);
    w->last_id = id;
    w->rows++;
    return 0;
}

/* Compares the chain's end with core_state 'audit_head'; 0 ok, 1 broken, -1 error. */
static int check_head(ym_db *db, walk *w)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT value FROM core_state WHERE key = '" HEAD_KEY "'");
    if (!st) return fail(w, ym_db_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(w, sqlite3_errmsg(ym_db_handle(db)));
        sqlite3_reset(st);
        return -1;
    }
    char head[64 + HASH_HEX] = "";
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    snprintf(head, sizeof head, "%s", v ? v : "");
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return w->rows ? broken(w, w->last_id, "the last row (id %lld) has no recorded head", w->last_id) : 0;
    char *end = NULL;
    long long hid = strtoll(head, &end, 10);
    if (end == head || *end != ':') return broken(w, w->last_id, "the recorded head is malformed");
    if (!w->rows)
        return broken(w, 0, "no rows, but the recorded head is id %lld: rows were removed from the end", hid);
    if (hid > w->last_id)
        return broken(w, w->last_id, "the last row (id %lld) does not match the recorded head (id %lld): "
                      "rows were removed from the end", w->last_id, hid);
    if (hid < w->last_id)
        return broken(w, w->last_id, "the last row (id %lld) does not match the recorded head (id %lld): "
                      "rows were added without moving the head", w->last_id, hid);
    if (strcmp(end + 1, w->prev))
        return broken(w, w->last_id, "the last row (id %lld) does not match the recorded head (id %lld): "
                      "its hash differs", w->last_id, hid);
    return 0;
}

static int walk_rows(ym_db *db, walk *w)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, at, actor_id, actor_name, on_behalf_of, unit_id, ip, action, target, result,"
        " request_id, detail, alg, prev_hash, hash FROM core_audit ORDER BY id");
    if (!st) return fail(w, ym_db_errmsg(db));
    int rc, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) ret = check_row(w, st);
    if (ret == 0 && rc != SQLITE_DONE) ret = fail(w, sqlite3_errmsg(ym_db_handle(db)));
    sqlite3_reset(st);
    return ret;
}

int ym_audit_verify(ym_db *db, long long *rows, long long *bad_id, char *err, size_t errlen)
{
    walk w = {.bad_id = bad_id, .err = err, .errlen = errlen};
    memcpy(w.prev, ZERO_HASH, sizeof w.prev);
    if (bad_id) *bad_id = 0;
    if (err && errlen) err[0] = '\0';
    if (!db) return -1;
    /* one read transaction, so the rows and the head are the same snapshot */
    bool own_txn = sqlite3_get_autocommit(ym_db_handle(db));
    if (own_txn && ym_db_exec(db, "BEGIN", NULL, 0)) return fail(&w, ym_db_errmsg(db));
    int rc = walk_rows(db, &w);
    if (rc == 0) rc = check_head(db, &w);
    if (own_txn && ym_db_exec(db, "COMMIT", NULL, 0)) {
        if (rc == 0) rc = fail(&w, ym_db_errmsg(db));
        if (!sqlite3_get_autocommit(ym_db_handle(db))) ym_db_exec(db, "ROLLBACK", NULL, 0);
    }
    if (rows) *rows = w.rows;
    return rc;
}
