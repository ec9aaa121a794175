/* test_db: the database service: pragmas, migrations with checksums, the statement
 * cache, group commit with per-request savepoints, backup and core_state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

static char tmpdir[] = "/tmp/ym_test_db_XXXXXX";
static int seq;

/* ---- helpers ---- */

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* A fresh database file per test, so tests never see each other's data. */
static ym_db *open_fresh(char *path, size_t len, const char *sync)
{
    char name[32];
    snprintf(name, sizeof name, "t%d.db", seq++);
    db_path(path, len, name);
    ym_db_opts o = {.synchronous = sync, .busy_timeout_ms = 2000};
    ym_db *db = NULL;
    char err[256] = "";
    int rc = ym_db_open(path, &o, &db, err, sizeof err);
    if (rc) fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(db);
    return db;
}

static ym_db *open_migrated(char *path, size_t len)
{
    ym_db *db = open_fresh(path, len, "normal");
    char err[256] = "";
    assert_int_equal(ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count,
                                   err, sizeof err), 0);
    return db;
}

static long long query_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void query_text(sqlite3 *h, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static bool table_exists(ym_db *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(ym_db_handle(db),
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool yes = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return yes;
}

static void exec_ok(ym_db *db, const char *sql)
{
    char err[256] = "";
    int rc = ym_db_exec(db, sql, err, sizeof err);
    if (rc) fprintf(stderr, "exec %s: %s\n", sql, err);
    assert_int_equal(rc, 0);
}

static void insert_value(ym_db *db, int v)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "INSERT INTO t(v) VALUES(?1)");
    assert_non_null(st);
    sqlite3_bind_int(st, 1, v);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
}

#define MIG(n, s) {n, s, sizeof s - 1}

/* ---- open ---- */

static void test_open_pragmas(void **state)
{
    const char *modes[] = {"full", "normal", "off"};
    const long long want[] = {2, 1, 0};
    for (int i = 0; i < 3; i++) {
        char path[512], mode[32];
        ym_db *db = open_fresh(path, sizeof path, modes[i]);
        sqlite3 *h = ym_db_handle(db);
        query_text(h, "PRAGMA journal_mode", mode, sizeof mode);
        assert_string_equal(mode, "wal");
        assert_int_equal(query_int(h, "PRAGMA foreign_keys"), 1);
        assert_int_equal(query_int(h, "PRAGMA synchronous"), want[i]);
        assert_int_equal(query_int(h, "PRAGMA trusted_schema"), 0);
        int on = -1;
        sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, -1, &on);
        assert_int_equal(on, 1);
        ym_db_close(db);
    }
}

static void test_open_errors(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = (ym_db *)1;
    db_path(path, sizeof path, "bad_sync.db");
    ym_db_opts o = {.synchronous = "sometimes"};
    assert_int_equal(ym_db_open(path, &o, &db, err, sizeof err), -1);
    assert_null(db);
    assert_non_null(strstr(err, "cannot open"));
    assert_non_null(strstr(err, "synchronous"));

    db_path(path, sizeof path, "no/such/dir/x.db");
    assert_int_equal(ym_db_open(path, NULL, &db, err, sizeof err), -1);
    assert_true(strncmp(err, "cannot open ", 12) == 0);
    assert_non_null(strstr(err, "no/such/dir/x.db: "));
}

/* ---- migrations ---- */

static void test_migrate_once(void **state)
{
    char path[512], err[256] = "", at1[64], at2[64];
    ym_db *db = open_migrated(path, sizeof path);
    sqlite3 *h = ym_db_handle(db);
    assert_true(table_exists(db, "core_state"));
    assert_int_equal(query_int(h, "SELECT count(*) FROM core_migrations WHERE owner = 'core'"),
                     (long long)ym_core_migrations_count);
    query_text(h, "SELECT applied_at FROM core_migrations WHERE name = '001_init.sql'", at1,
               sizeof at1);
    /* RFC 3339 UTC: 2026-01-02T03:04:05.678Z */
    assert_int_equal(strlen(at1), 24);
    assert_int_equal(at1[10], 'T');
    assert_int_equal(at1[23], 'Z');
    char sum[80];
    query_text(h, "SELECT checksum FROM core_migrations WHERE name = '001_init.sql'", sum,
               sizeof sum);
    assert_int_equal(strlen(sum), 64);

    assert_int_equal(ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count,
                                   err, sizeof err), 0);
    query_text(h, "SELECT applied_at FROM core_migrations WHERE name = '001_init.sql'", at2,
               sizeof at2);
    assert_string_equal(at1, at2);
    assert_int_equal(query_int(h, "SELECT count(*) FROM core_migrations"),
                     (long long)ym_core_migrations_count);

    /* a readonly connection reads but cannot write */
    ym_db_opts ro = {.readonly = true};
    ym_db *rdb = NULL;
    long long v;
    assert_int_equal(ym_db_open(path, &ro, &rdb, err, sizeof err), 0);
    assert_int_equal(ym_db_state_get_int(rdb, "nothing", &v), 1);
    assert_int_equal(ym_db_state_set_int(rdb, "nothing", 1), -1);
    assert_int_equal(ym_db_write_begin(rdb), -1);
    ym_db_close(rdb);
    ym_db_close(db);
}

static void test_migrate_later_and_order(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = open_fresh(path, sizeof path, "normal");
    const ym_migration v1[] = {MIG("001_init.sql", "CREATE TABLE demo_a (x INTEGER);")};
    assert_int_equal(ym_db_migrate(db, "demo", v1, 1, err, sizeof err), 0);
    assert_true(table_exists(db, "demo_a"));
    assert_false(table_exists(db, "demo_b"));

    /* given out of order: 0002 needs 001's table, 010 needs 0002's */
    const ym_migration v2[] = {
        MIG("010_more.sql", "ALTER TABLE demo_b ADD COLUMN z TEXT;"),
        MIG("0002_next.sql", "CREATE TABLE demo_b (y INTEGER REFERENCES demo_a(x));"),
        MIG("001_init.sql", "CREATE TABLE demo_a (x INTEGER);"),
    };
    assert_int_equal(ym_db_migrate(db, "demo", v2, 3, err, sizeof err), 0);
    assert_true(table_exists(db, "demo_b"));
    assert_int_equal(query_int(ym_db_handle(db),
        "SELECT count(*) FROM pragma_table_info('demo_b') WHERE name = 'z'"), 1);
    assert_int_equal(query_int(ym_db_handle(db),
        "SELECT count(*) FROM core_migrations WHERE owner = 'demo'"), 3);
    /* another owner's history is separate */
    const ym_migration o1[] = {MIG("001_init.sql", "CREATE TABLE other_a (x INTEGER);")};
    assert_int_equal(ym_db_migrate(db, "other", o1, 1, err, sizeof err), 0);
    ym_db_close(db);
}

static void test_migrate_checksum_mismatch(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = open_fresh(path, sizeof path, "normal");
    const ym_migration v1[] = {MIG("001_init.sql", "CREATE TABLE demo_a (x INTEGER);")};
    assert_int_equal(ym_db_migrate(db, "demo", v1, 1, err, sizeof err), 0);
    const ym_migration edited[] = {
        MIG("001_init.sql", "CREATE TABLE demo_a (x INTEGER, y TEXT);"),
        MIG("002_next.sql", "CREATE TABLE demo_b (x INTEGER);"),
    };
    assert_int_equal(ym_db_migrate(db, "demo", edited, 2, err, sizeof err), -1);
    assert_string_equal(err, "demo migration 001_init.sql was changed after it was applied "
                             "(checksum mismatch)");
    assert_false(table_exists(db, "demo_b")); /* refused before anything was applied */
    ym_db_close(db);
}

static void test_migrate_newer_database(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = open_fresh(path, sizeof path, "normal");
    const ym_migration v2[] = {
        MIG("001_init.sql", "CREATE TABLE demo_a (x INTEGER);"),
        MIG("002_next.sql", "CREATE TABLE demo_b (x INTEGER);"),
    };
    assert_int_equal(ym_db_migrate(db, "demo", v2, 2, err, sizeof err), 0);
    assert_int_equal(ym_db_migrate(db, "demo", v2, 1, err, sizeof err), -1);
    assert_string_equal(err, "database was migrated by a newer yimen (demo migration "
                             "002_next.sql is unknown to this build)");
    ym_db_close(db);
}

static void test_migrate_failure_rolls_back(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = open_fresh(path, sizeof path, "normal");
    const ym_migration bad[] = {
        MIG("001_init.sql", "CREATE TABLE demo_a (x INTEGER);"),
        MIG("002_bad.sql", "CREATE TABLE demo_b (x INTEGER); CREATE TABLE nonsense (;"),
    };
    assert_int_equal(ym_db_migrate(db, "demo", bad, 2, err, sizeof err), -1);
    assert_true(strncmp(err, "demo migration 002_bad.sql failed: ", 35) == 0);
    assert_false(table_exists(db, "demo_a"));
    assert_false(table_exists(db, "demo_b"));
    assert_true(sqlite3_get_autocommit(ym_db_handle(db)));
    if (table_exists(db, "core_migrations"))
        assert_int_equal(query_int(ym_db_handle(db), "SELECT count(*) FROM core_migrations"), 0);

    /* a migration that ends the transaction itself is reported (after the fact) */
    const ym_migration sneaky[] = {MIG("001_init.sql", "CREATE TABLE sneak_a (x); COMMIT;")};
    assert_int_equal(ym_db_migrate(db, "sneak", sneaky, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "ended the transaction"));
    assert_true(sqlite3_get_autocommit(ym_db_handle(db)));
    /* the connection is usable afterwards */
    assert_int_equal(ym_db_migrate(db, "demo", bad, 1, err, sizeof err), 0);
    assert_true(table_exists(db, "demo_a"));
    ym_db_close(db);
}

static void test_migrate_bad_names(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = open_fresh(path, sizeof path, "normal");
    const char *names[] = {"1_init.sql", "01_init.sql", "001init.sql", "001_.sql",
                           "001_init.txt", "abc_init.sql", "001_in/it.sql", "001_init.sql.bak"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const ym_migration m[] = {{names[i], "CREATE TABLE demo_x (x);", 24}};
        assert_int_equal(ym_db_migrate(db, "demo", m, 1, err, sizeof err), -1);
        assert_non_null(strstr(err, "bad name"));
    }
    const ym_migration dup[] = {
        MIG("001_a.sql", "CREATE TABLE demo_a (x);"),
        MIG("0001_b.sql", "CREATE TABLE demo_b (x);"),
    };
    assert_int_equal(ym_db_migrate(db, "demo", dup, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "share number 1"));
    assert_false(table_exists(db, "demo_a"));
    ym_db_close(db);
}

/* ---- statement cache ---- */

static void test_stmt_cache(void **state)
{
    char path[512];
    ym_db *db = open_migrated(path, sizeof path);
    const char *sql = "SELECT ?1";
    sqlite3_stmt *a = ym_db_prepare(db, "core", sql);
    assert_non_null(a);
    sqlite3_bind_int(a, 1, 7);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW); /* left mid-result on purpose */
    sqlite3_stmt *b = ym_db_prepare(db, "core", sql);
    assert_ptr_equal(a, b);
    /* reset and bindings cleared: ?1 is NULL again */
    assert_int_equal(sqlite3_step(b), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(b, 0), SQLITE_NULL);

    sqlite3_stmt *c = ym_db_prepare(db, "demo", sql);
    assert_non_null(c);
    assert_ptr_not_equal(a, c);
    assert_ptr_equal(ym_db_prepare(db, "demo", sql), c);

    assert_null(ym_db_prepare(db, "core", "SELEKT 1"));
    assert_non_null(strstr(ym_db_errmsg(db), "syntax error"));
    assert_null(ym_db_prepare(db, "core", "SELECT 1; SELECT 2"));
    assert_null(ym_db_prepare(db, "core", "  "));
    assert_non_null(ym_db_prepare(db, "core", "SELECT 1;  "));

    /* more statements than the cache holds: evicted ones come back freshly prepared */
    for (int i = 0; i < 1200; i++) {
        char q[64];
        snprintf(q, sizeof q, "SELECT %d", i);
        sqlite3_stmt *s = ym_db_prepare(db, i % 2 ? "core" : "demo", q);
        assert_non_null(s);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(s, 0), i);
    }
    sqlite3_stmt *d = ym_db_prepare(db, "core", sql);
    assert_non_null(d);
    assert_int_equal(sqlite3_step(d), SQLITE_ROW);
    ym_db_close(db); /* ASan checks every entry is freed */
}

/* ---- group commit ---- */

typedef struct cb_log {
    int n;
    int ids[8];
    int rcs[8];
} cb_log;

static cb_log *current_log;

static void record_cb(void *ud, int rc)
{
    current_log->ids[current_log->n] = (int)(intptr_t)ud;
    current_log->rcs[current_log->n] = rc;
    current_log->n++;
}

static ym_db *open_with_t(char *path, size_t len)
{
    ym_db *db = open_migrated(path, len);
    exec_ok(db, "CREATE TABLE t (v INTEGER NOT NULL)");
    return db;
}

static sqlite3 *second_conn(const char *path)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return h;
}

static void test_group_commit(void **state)
{
    char path[512];
    cb_log log = {0};
    current_log = &log;
    ym_db *db = open_with_t(path, sizeof path);
    sqlite3 *other = second_conn(path);

    assert_false(ym_db_in_write(db));
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_true(ym_db_in_write(db));
    insert_value(db, 1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_after_commit(db, record_cb, (void *)1), 0);
    assert_false(ym_db_in_write(db));

    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 2);
    assert_int_equal(ym_db_after_commit(db, record_cb, (void *)2), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);

    assert_int_equal(log.n, 0); /* nobody is answered before the COMMIT */
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 2);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.ids[0], 1);
    assert_int_equal(log.ids[1], 2);
    assert_int_equal(log.rcs[0], SQLITE_OK);
    assert_int_equal(log.rcs[1], SQLITE_OK);
    assert_int_equal(ym_db_flush(db), 0); /* nothing open: a no-op */
    assert_int_equal(log.n, 2);
    sqlite3_close(other);
    ym_db_close(db);
}

static void test_group_commit_partial_rollback(void **state)
{
    char path[512];
    cb_log log = {0};
    current_log = &log;
    ym_db *db = open_with_t(path, sizeof path);

    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    ym_db_after_commit(db, record_cb, (void *)1);

    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 2);
    insert_value(db, 3);
    assert_int_equal(ym_db_write_end(db, false), 0);
    ym_db_after_commit(db, record_cb, (void *)2);

    assert_int_equal(ym_db_write_begin(db), 0); /* nested: the inner one fails alone */
    insert_value(db, 4);
    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 5);
    assert_int_equal(ym_db_flush(db), -1); /* never commits with a savepoint active */
    assert_int_equal(ym_db_write_end(db, false), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_write_end(db, true), -1); /* unbalanced */

    assert_int_equal(ym_db_flush(db), 0);
    char all[32];
    query_text(ym_db_handle(db), "SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY v)",
               all, sizeof all);
    assert_string_equal(all, "1,4");
    assert_int_equal(log.n, 2);
    ym_db_close(db);
}

static void test_after_commit_without_batch(void **state)
{
    char path[512];
    cb_log log = {0};
    current_log = &log;
    ym_db *db = open_with_t(path, sizeof path);
    assert_int_equal(ym_db_after_commit(db, record_cb, (void *)9), 0);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.ids[0], 9);
    assert_int_equal(log.rcs[0], SQLITE_OK);
    ym_db_close(db);
}

/* A callback that starts the next request's write, as a pipelined connection would. */
static ym_db *reentry_db;
static void reentry_cb(void *ud, int rc)
{
    record_cb(ud, rc);
    if ((intptr_t)ud != 1) return;
    assert_int_equal(ym_db_write_begin(reentry_db), 0);
    insert_value(reentry_db, 20);
    assert_int_equal(ym_db_write_end(reentry_db, true), 0);
    assert_int_equal(ym_db_after_commit(reentry_db, record_cb, (void *)2), 0);
}

static void test_callback_starts_next_batch(void **state)
{
    char path[512];
    cb_log log = {0};
    current_log = &log;
    ym_db *db = reentry_db = open_with_t(path, sizeof path);
    sqlite3 *other = second_conn(path);
    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 10);
    assert_int_equal(ym_db_write_end(db, true), 0);
    ym_db_after_commit(db, reentry_cb, (void *)1);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(log.n, 1);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 1);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.ids[1], 2);
    assert_int_equal(query_int(other, "SELECT count(*) FROM t"), 2);
    sqlite3_close(other);
    ym_db_close(db);
}

static void test_commit_failure_tells_everyone(void **state)
{
    char path[512];
    cb_log log = {0};
    current_log = &log;
    ym_db *db = open_with_t(path, sizeof path);
    exec_ok(db, "CREATE TABLE p (id INTEGER PRIMARY KEY)");
    exec_ok(db, "CREATE TABLE c (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)");

    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    ym_db_after_commit(db, record_cb, (void *)1);
    assert_int_equal(ym_db_write_begin(db), 0);
    exec_ok(db, "INSERT INTO c(p) VALUES(42)"); /* checked only at COMMIT */
    assert_int_equal(ym_db_write_end(db, true), 0);
    ym_db_after_commit(db, record_cb, (void *)2);

    assert_int_equal(ym_db_flush(db), -1);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.rcs[0] & 0xff, SQLITE_CONSTRAINT);
    assert_int_equal(log.rcs[1] & 0xff, SQLITE_CONSTRAINT);
    assert_true(sqlite3_get_autocommit(ym_db_handle(db)));
    assert_int_equal(query_int(ym_db_handle(db), "SELECT count(*) FROM t"), 0);
    /* the next batch works */
    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 2);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(query_int(ym_db_handle(db), "SELECT count(*) FROM t"), 1);
    ym_db_close(db);
}

static void test_close_fails_pending(void **state)
{
    char path[512];
    cb_log log = {0};
    current_log = &log;
    ym_db *db = open_with_t(path, sizeof path);
    assert_int_equal(ym_db_write_begin(db), 0);
    insert_value(db, 1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    ym_db_after_commit(db, record_cb, (void *)1);
    ym_db_close(db);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.rcs[0], SQLITE_ABORT);
}

/* ---- backup, exec, state ---- */

static void test_backup(void **state)
{
    char path[512], bpath[512], err[256] = "";
    ym_db *db = open_with_t(path, sizeof path);
    for (int i = 0; i < 100; i++) insert_value(db, i);
    db_path(bpath, sizeof bpath, "backup.db");
    assert_int_equal(ym_db_backup(db, bpath, err, sizeof err), 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", bpath);
    assert_int_equal(access(tmp, F_OK), -1);
    snprintf(tmp, sizeof tmp, "%s.tmp-wal", bpath);
    assert_int_equal(access(tmp, F_OK), -1);
    snprintf(tmp, sizeof tmp, "%s.tmp-journal", bpath);
    assert_int_equal(access(tmp, F_OK), -1);

    ym_db *copy = NULL;
    assert_int_equal(ym_db_open(bpath, NULL, &copy, err, sizeof err), 0);
    assert_int_equal(query_int(ym_db_handle(copy), "SELECT count(*) FROM t"), 100);
    assert_int_equal(query_int(ym_db_handle(copy), "SELECT sum(v) FROM t"), 4950);
    char ok[16];
    query_text(ym_db_handle(copy), "PRAGMA integrity_check", ok, sizeof ok);
    assert_string_equal(ok, "ok");
    ym_db_close(copy);

    /* over an existing copy, and refused inside a write batch */
    insert_value(db, 1000);
    assert_int_equal(ym_db_backup(db, bpath, err, sizeof err), 0);
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_db_backup(db, bpath, err, sizeof err), -1);
    assert_non_null(strstr(err, "write batch"));
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    sqlite3 *h = second_conn(bpath);
    assert_int_equal(query_int(h, "SELECT count(*) FROM t"), 101);
    sqlite3_close(h);

    db_path(bpath, sizeof bpath, "no/such/dir/b.db");
    assert_int_equal(ym_db_backup(db, bpath, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot back up to"));
    ym_db_close(db);
}

static void test_exec_error(void **state)
{
    char path[512], err[256] = "";
    ym_db *db = open_fresh(path, sizeof path, "off");
    assert_int_equal(ym_db_exec(db, "CREATE TABLE x (a); INSERT INTO x VALUES (1)", err,
                                sizeof err), 0);
    assert_int_equal(ym_db_exec(db, "INSERT INTO nope VALUES (1)", err, sizeof err), -1);
    assert_string_equal(err, "no such table: nope");
    assert_string_equal(ym_db_errmsg(db), "no such table: nope");
    ym_db_close(db);
}

static void test_state(void **state)
{
    char path[512];
    long long v = -1;
    ym_db *db = open_migrated(path, sizeof path);
    assert_int_equal(ym_db_state_get_int(db, "clock_offset", &v), 1);
    assert_int_equal(v, -1);
    assert_int_equal(ym_db_state_set_int(db, "clock_offset", 42), 0); /* standalone */
    assert_true(sqlite3_get_autocommit(ym_db_handle(db)));
    assert_int_equal(ym_db_state_get_int(db, "clock_offset", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(ym_db_state_set_int(db, "clock_offset", -9000000000LL), 0);
    assert_int_equal(ym_db_state_get_int(db, "clock_offset", &v), 0);
    assert_int_equal(v, -9000000000LL);

    sqlite3 *other = second_conn(path);
    assert_int_equal(ym_db_write_begin(db), 0); /* inside a batch: carried by its COMMIT */
    assert_int_equal(ym_db_state_set_int(db, "clock_offset", 7), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(query_int(other, "SELECT value FROM core_state WHERE key = 'clock_offset'"),
                     -9000000000LL);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(query_int(other, "SELECT value FROM core_state WHERE key = 'clock_offset'"),
                     7);
    sqlite3_close(other);

    exec_ok(db, "INSERT INTO core_state(key, value) VALUES('junk', '12abc')");
    assert_int_equal(ym_db_state_get_int(db, "junk", &v), -1);
    ym_db_close(db);
}

/* ---- main ---- */

static int rm_tree(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

static int group_setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    return rm_tree() == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_pragmas),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_migrate_once),
        cmocka_unit_test(test_migrate_later_and_order),
        cmocka_unit_test(test_migrate_checksum_mismatch),
        cmocka_unit_test(test_migrate_newer_database),
        cmocka_unit_test(test_migrate_failure_rolls_back),
        cmocka_unit_test(test_migrate_bad_names),
        cmocka_unit_test(test_stmt_cache),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_group_commit_partial_rollback),
        cmocka_unit_test(test_after_commit_without_batch),
        cmocka_unit_test(test_callback_starts_next_batch),
        cmocka_unit_test(test_commit_failure_tells_everyone),
        cmocka_unit_test(test_close_fails_pending),
        cmocka_unit_test(test_backup),
        cmocka_unit_test(test_exec_error),
        cmocka_unit_test(test_state),
    };
    return cmocka_run_group_tests_name("db", tests, group_setup, group_teardown);
}
