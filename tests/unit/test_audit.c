/* test_audit: the hash-chained audit log: the documented row encoding (checked with an
 * independent encoder), append inside writes only, verify, and tampering it catches. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "audit.h"
#include "clock.h"
#include "db.h"

static char tmpdir[] = "/tmp/ym_test_audit_XXXXXX";
static int seq;

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- an independent encoder: the comment in core/audit.c, written out again ---- */

static void hex(const unsigned char *d, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void put_field(EVP_MD_CTX *ctx, const char *s)
{
    uint64_t n = strlen(s);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (56 - 8 * i));
    assert_true(EVP_DigestUpdate(ctx, len, 8));
    assert_true(EVP_DigestUpdate(ctx, s, n));
}

static void int_text(char *buf, size_t len, long long v, int nullable)
{
    if (nullable && v == 0) buf[0] = '\0';
    else snprintf(buf, len, "%lld", v);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static void expect_hash(const char *alg, const char *prev, const ym_audit_entry *e, const char *detail,
                        char out[65])
{
    char at[24], actor[24], behalf[24], unit[24];
    int_text(at, sizeof at, e->at, 0);
    int_text(actor, sizeof actor, e->actor_id, 1);
    int_text(behalf, sizeof behalf, e->on_behalf_of, 1);
    int_text(unit, sizeof unit, e->unit_id, 1);
    const char *fields[13] = {alg, prev, at, actor, or_empty(e->actor_name), behalf, unit,
                              or_empty(e->ip), e->action, or_empty(e->target), e->result,
                              or_empty(e->request_id), detail};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_true(EVP_DigestInit_ex(ctx, strcmp(alg, "sm3") ? EVP_sha256() : EVP_sm3(), NULL));
    for (int i = 0; i < 13; i++) put_field(ctx, fields[i]);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    assert_true(EVP_DigestFinal_ex(ctx, d, &n));
    assert_int_equal(n, 32);
    EVP_MD_CTX_free(ctx);
    hex(d, n, out);
}

/* ---- database helpers ---- */

static ym_db *open_migrated(void)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/a%d.db", tmpdir, seq++);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    ym_db *db = NULL;
    assert_int_equal(ym_db_open(path, &o, &db, err, sizeof err), 0);
    int rc = ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err);
    if (rc) fprintf(stderr, "migrate: %s\n", err);
    assert_int_equal(rc, 0);
    return db;
}

static void sql(ym_db *db, const char *s)
{
    char *msg = NULL;
    int rc = sqlite3_exec(ym_db_handle(db), s, NULL, NULL, &msg);
    if (rc) fprintf(stderr, "%s: %s\n", s, msg);
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static long long query_int(ym_db *db, const char *s)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(ym_db_handle(db), s, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void query_text(ym_db *db, const char *s, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(ym_db_handle(db), s, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    snprintf(buf, len, "%s", t ? t : "(null)");
    sqlite3_finalize(st);
}

static ym_audit_entry sample(int i)
{
    static char target[32];
    snprintf(target, sizeof target, "user:%d", 40 + i);
    return (ym_audit_entry){
        .at = 1767225600000LL + i, .actor_id = i % 2 ? 42 : 0, .actor_name = i % 2 ? "张三" : NULL,
        .on_behalf_of = i == 3 ? 9 : 0, .unit_id = 7, .ip = "10.0.0.1", .action = "users.update",
        .target = target, .result = i % 2 ? "ok" : "denied", .request_id = "r-1",
    };
}

/* Appends n sample rows in one write batch, committed. */
static void append_n(ym_db *db, const char *alg, int n)
{
    assert_int_equal(ym_db_write_begin(db), 0);
    for (int i = 1; i <= n; i++) {
        ym_audit_entry e = sample(i);
        json_t *d = json_pack("{s:i, s:s}", "n", i, "note", "第几行");
        e.detail = d;
        assert_int_equal(ym_audit_append(db, alg, &e), 0);
        json_decref(d);
    }
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
}

static int verify(ym_db *db, long long *rows, long long *bad, char *err, size_t len)
{
    *rows = *bad = -1;
    int rc = ym_audit_verify(db, rows, bad, err, len);
    if (rc) fprintf(stderr, "  verify: %s\n", err);
    return rc;
}

/* ---- tests ---- */

static void test_sm3_known_answer(void **state)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    char h[65];
    assert_true(EVP_Digest("abc", 3, d, &n, EVP_sm3(), NULL));
    assert_int_equal(n, 32);
    hex(d, n, h);
    assert_string_equal(h, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

/* The fixed entry's hashes, computed once with expect_hash (and cross-checked with Python
 * hashlib and `openssl dgst -sm3` over the same bytes), pinned so the encoding cannot drift. */
#define FIXED_SM3 "8a961e7c5af9222bb43a86b7bba70603e6277070928b4ad54242917f8dd32772"
#define FIXED_SHA256 "97ca295505541a35ad2d97a8aa3c977e0b8a03c871f962f98cc816b3d99f831e"

static ym_audit_entry fixed_entry(void)
{
    return (ym_audit_entry){
        .at = 1767225600000LL, .actor_id = 42, .actor_name = "张三", .on_behalf_of = 0,
        .unit_id = 7, .ip = "10.0.0.1", .action = "users.create", .target = "user:43",
        .result = "ok", .request_id = "r-1",
    };
}

static void check_fixed(const char *alg, const char *pinned)
{
    ym_audit_entry e = fixed_entry();
    const char *detail = "{\"a\":[true,null],\"b\":1}";
    char want[65], got[65];
    expect_hash(alg, ZEROS, &e, detail, want);
    assert_int_equal(ym_audit_row_hash(alg, ZEROS, &e, detail, got, sizeof got), 0);
    assert_string_equal(got, want);
    assert_string_equal(got, pinned);
    /* detail_json NULL: the entry's detail is dumped compact with sorted keys */
    json_t *d = json_loads("{\"b\": 1, \"a\": [true, null]}", 0, NULL);
    e.detail = d;
    assert_int_equal(ym_audit_row_hash(alg, NULL, &e, NULL, got, sizeof got), 0);
    assert_string_equal(got, pinned);
    json_decref(d);
}

static void test_row_hash_fixed(void **state)
{
    check_fixed("sm3", FIXED_SM3);
    check_fixed("sha256", FIXED_SHA256);
}

static void test_row_hash_args(void **state)
{
    ym_audit_entry e = fixed_entry();
    char out[65];
    assert_int_equal(ym_audit_row_hash("md5", ZEROS, &e, "{}", out, sizeof out), -1);
    assert_int_equal(ym_audit_row_hash(NULL, ZEROS, &e, "{}", out, sizeof out), -1);
    assert_int_equal(ym_audit_row_hash("SM3", ZEROS, &e, "{}", out, sizeof out), -1);
    assert_int_equal(ym_audit_row_hash("sm3", ZEROS, &e, "{}", out, 64), -1);
    assert_int_equal(ym_audit_row_hash("sm3", ZEROS, NULL, "{}", out, sizeof out), -1);
    /* lengths prefix every field: moving a byte across a boundary changes the hash */
    char h1[65], h2[65];
    e.actor_name = "ab", e.ip = "c";
    assert_int_equal(ym_audit_row_hash("sm3", ZEROS, &e, "{}", h1, sizeof h1), 0);
    e.actor_name = "a", e.ip = "bc";
    assert_int_equal(ym_audit_row_hash("sm3", ZEROS, &e, "{}", h2, sizeof h2), 0);
    assert_string_not_equal(h1, h2);
    /* an absent id (0) differs from any present one */
    e.unit_id = 0;
    assert_int_equal(ym_audit_row_hash("sm3", ZEROS, &e, "{}", h1, sizeof h1), 0);
    e.unit_id = 1;
    assert_int_equal(ym_audit_row_hash("sm3", ZEROS, &e, "{}", h2, sizeof h2), 0);
    assert_string_not_equal(h1, h2);
}

/* The stored rows: NULL ids, detail as hashed, prev_hash linked, hash recomputable. */
static void check_stored(ym_db *db, const char *alg, int n)
{
    char prev[65] = ZEROS;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(ym_db_handle(db),
        "SELECT id, actor_id IS NULL, on_behalf_of IS NULL, detail, alg, prev_hash, hash"
        " FROM core_audit ORDER BY id", -1, &st, NULL), SQLITE_OK);
    for (int i = 1; i <= n; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        ym_audit_entry e = sample(i);
        char detail[64], want[65];
        snprintf(detail, sizeof detail, "{\"n\":%d,\"note\":\"第几行\"}", i);
        assert_int_equal(sqlite3_column_int64(st, 0), i);
        assert_int_equal(sqlite3_column_int(st, 1), e.actor_id == 0);
        assert_int_equal(sqlite3_column_int(st, 2), e.on_behalf_of == 0);
        assert_string_equal((const char *)sqlite3_column_text(st, 3), detail);
        assert_string_equal((const char *)sqlite3_column_text(st, 4), alg);
        assert_string_equal((const char *)sqlite3_column_text(st, 5), prev);
        expect_hash(alg, prev, &e, detail, want);
        assert_string_equal((const char *)sqlite3_column_text(st, 6), want);
        memcpy(prev, want, sizeof prev);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    char head[128], want_head[128];
    query_text(db, "SELECT value FROM core_state WHERE key = 'audit_head'", head, sizeof head);
    snprintf(want_head, sizeof want_head, "%d:%s", n, prev);
    assert_string_equal(head, want_head);
}

static void append_verify(const char *alg)
{
    ym_db *db = open_migrated();
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 0);
    append_n(db, alg, 5);
    check_stored(db, alg, 5);
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 5);
    assert_int_equal(bad, 0);
    ym_db_close(db);
}

static void test_append_verify_sm3(void **state) { append_verify("sm3"); }
static void test_append_verify_sha256(void **state) { append_verify("sha256"); }

static void test_mixed_algs_and_batches(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 2);
    append_n(db, "sha256", 2);
    append_n(db, "sm3", 1);
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 5);
    /* verify inside an open write batch reads the batch's own rows */
    assert_int_equal(ym_db_write_begin(db), 0);
    ym_audit_entry e = sample(1);
    assert_int_equal(ym_audit_append(db, "sm3", &e), 0);
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 6);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 6);
    ym_db_close(db);
}

static void test_at_defaults_to_now(void **state)
{
    ym_db *db = open_migrated();
    ym_audit_entry e = {.action = "auth.login", .result = "failed"};
    int64_t before = ym_now();
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_audit_append(db, "sm3", &e), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    long long at = query_int(db, "SELECT at FROM core_audit WHERE id = 1");
    assert_true(at >= before && at <= ym_now());
    char buf[64];
    query_text(db, "SELECT detail || '|' || actor_name || '|' || target FROM core_audit", buf, sizeof buf);
    assert_string_equal(buf, "{}||");
    assert_int_equal(query_int(db, "SELECT unit_id IS NULL FROM core_audit"), 1);
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    ym_db_close(db);
}

static void test_edit_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 4);
    sql(db, "UPDATE core_audit SET result = 'ok' WHERE id = 2"); /* was 'denied' */
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 2);
    assert_string_equal(err, "row 2: hash does not match its contents");
    ym_db_close(db);
}

static void test_edit_result_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sha256", 3);
    sql(db, "UPDATE core_audit SET result = 'failed' WHERE id = 2");
    sql(db, "UPDATE core_audit SET result = 'denied' WHERE id = 2"); /* back: intact again */
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    sql(db, "UPDATE core_audit SET result = 'error' WHERE id = 2");
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 2);
    ym_db_close(db);
}

static void test_null_to_zero_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 3);
    sql(db, "UPDATE core_audit SET actor_id = 0 WHERE id = 2"); /* was NULL */
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 2);
    ym_db_close(db);
}

static void test_unknown_alg_in_row(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 3);
    sql(db, "UPDATE core_audit SET alg = 'md5' WHERE id = 3");
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 3);
    assert_string_equal(err, "row 3: unknown hash algorithm");
    ym_db_close(db);
}

static void test_delete_middle_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 5);
    sql(db, "DELETE FROM core_audit WHERE id = 3");
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 4);
    assert_string_equal(err, "row 4: prev_hash does not match row 2");
    assert_int_equal(rows, 2);
    ym_db_close(db);
}

static void test_delete_first_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 3);
    sql(db, "DELETE FROM core_audit WHERE id = 1");
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 2);
    assert_string_equal(err, "row 2: prev_hash does not match the start of the chain");
    ym_db_close(db);
}

static void test_delete_last_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 4);
    sql(db, "DELETE FROM core_audit WHERE id = 4");
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 3);
    assert_string_equal(err, "the last row (id 3) does not match the recorded head (id 4): "
                             "rows were removed from the end");
    sql(db, "DELETE FROM core_audit");
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 0);
    assert_int_equal(rows, 0);
    ym_db_close(db);
}

/* The last row rewritten with a hash that fits its new contents: only the head sees it. */
static void test_rehashed_last_row_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 3);
    char prev[65], h[65], upd[256];
    query_text(db, "SELECT prev_hash FROM core_audit WHERE id = 3", prev, sizeof prev);
    ym_audit_entry e = sample(3);
    e.result = "denied";
    expect_hash("sm3", prev, &e, "{\"n\":3,\"note\":\"第几行\"}", h);
    snprintf(upd, sizeof upd, "UPDATE core_audit SET result = 'denied', hash = '%s' WHERE id = 3", h);
    sql(db, upd);
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 3);
    assert_non_null(strstr(err, "the last row (id 3) does not match the recorded head (id 3)"));
    ym_db_close(db);
}

static void test_missing_head_detected(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 2);
    sql(db, "DELETE FROM core_state WHERE key = 'audit_head'");
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 1);
    assert_int_equal(bad, 2);
    ym_db_close(db);
}

static void test_append_outside_write(void **state)
{
    ym_db *db = open_migrated();
    ym_audit_entry e = sample(1);
    assert_int_equal(ym_audit_append(db, "sm3", &e), -1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM core_audit"), 0);
    ym_db_close(db);
}

static void test_append_refusals(void **state)
{
    ym_db *db = open_migrated();
    assert_int_equal(ym_db_write_begin(db), 0);
    ym_audit_entry e = sample(1);
    assert_int_equal(ym_audit_append(db, "md5", &e), -1);
    assert_int_equal(ym_audit_append(db, NULL, &e), -1);
    assert_int_equal(ym_audit_append(db, "sm3", NULL), -1);
    e.action = "";
    assert_int_equal(ym_audit_append(db, "sm3", &e), -1);
    e.action = "users.update", e.result = NULL;
    assert_int_equal(ym_audit_append(db, "sm3", &e), -1);
    e.result = "ok";
    const char *secrets[] = {
        "{\"password\": \"x\"}", "{\"user\": {\"Token\": 1}}", "{\"list\": [1, {\"TOTP\": null}]}",
        "{\"a\": {\"b\": [{\"SECRET\": \"\"}]}}", "{\"code\": \"123456\"}",
    };
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++) {
        json_t *d = json_loads(secrets[i], 0, NULL);
        assert_non_null(d);
        e.detail = d;
        assert_int_equal(ym_audit_append(db, "sm3", &e), -1);
        json_decref(d);
    }
    /* a secret-looking value, or a key that only contains a banned word, is fine */
    json_t *d = json_loads("{\"field\": \"password\", \"password_changed\": true}", 0, NULL);
    e.detail = d;
    assert_int_equal(ym_audit_append(db, "sm3", &e), 0);
    json_decref(d);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM core_audit"), 1);
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 1);
    ym_db_close(db);
}

/* A request whose write is rolled back takes its audit row and the head with it. */
static void test_rolled_back_write(void **state)
{
    ym_db *db = open_migrated();
    append_n(db, "sm3", 2);
    assert_int_equal(ym_db_write_begin(db), 0);
    ym_audit_entry e = sample(3);
    assert_int_equal(ym_audit_append(db, "sm3", &e), 0);
    assert_int_equal(ym_db_write_end(db, false), 0);
    assert_int_equal(ym_db_flush(db), 0);
    append_n(db, "sm3", 1);
    long long rows, bad;
    char err[256];
    assert_int_equal(verify(db, &rows, &bad, err, sizeof err), 0);
    assert_int_equal(rows, 3);
    ym_db_close(db);
}

static int group_setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sm3_known_answer),
        cmocka_unit_test(test_row_hash_fixed),
        cmocka_unit_test(test_row_hash_args),
        cmocka_unit_test(test_append_verify_sm3),
        cmocka_unit_test(test_append_verify_sha256),
        cmocka_unit_test(test_mixed_algs_and_batches),
        cmocka_unit_test(test_at_defaults_to_now),
        cmocka_unit_test(test_edit_detected),
        cmocka_unit_test(test_edit_result_detected),
        cmocka_unit_test(test_null_to_zero_detected),
        cmocka_unit_test(test_unknown_alg_in_row),
        cmocka_unit_test(test_delete_middle_detected),
        cmocka_unit_test(test_delete_first_detected),
        cmocka_unit_test(test_delete_last_detected),
        cmocka_unit_test(test_rehashed_last_row_detected),
        cmocka_unit_test(test_missing_head_detected),
        cmocka_unit_test(test_append_outside_write),
        cmocka_unit_test(test_append_refusals),
        cmocka_unit_test(test_rolled_back_write),
    };
    return cmocka_run_group_tests_name("audit", tests, group_setup, group_teardown);
}
