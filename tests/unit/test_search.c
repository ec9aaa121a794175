/* test_search: the search feed on a migrated temporary database: put, replace, delete,
 * refusal outside a write, trigram substring matches of 3+ Chinese characters, the LIKE
 * path of 1-2 characters, the directory feed, and the UTF-8 length of ?q=. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "identity.h"
#include "search.h"

static char g_path[64];

static ym_db *open_db(void)
{
    char err[256] = "";
    snprintf(g_path, sizeof g_path, "/tmp/ym-search-%d.db", (int)getpid());
    unlink(g_path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    ym_db *db = NULL;
    assert_int_equal(ym_db_open(g_path, &o, &db, err, sizeof err), 0);
    if (ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err) < 0)
        fail_msg("migrate: %s", err);
    return db;
}

static void close_db(ym_db *db)
{
    ym_db_close(db);
    char p[80];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
}

static long long count(ym_db *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        fail_msg("%s: %s", sql, ym_db_errmsg(db));
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

static const char *FTS = "SELECT count(*) FROM core_search_fts WHERE core_search_fts MATCH ?1";
static const char *LIKE = "SELECT count(*) FROM core_search_docs WHERE title LIKE ?1 ESCAPE '\\' OR body LIKE ?1 ESCAPE '\\'";

static void put(ym_db *db, const char *kind, const char *ref, const char *title, const char *body)
{
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_search_put(db, kind, ref, title, body, 1, "units.read"), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
}

static void test_put_replace_delete(void **state)
{
    (void)state;
    ym_db *db = open_db();
    put(db, "unit", "unit:7", "云溪县城关镇人民政府", "城关镇");
    put(db, "unit", "unit:8", "云溪县石门乡人民政府", "石门乡");
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 2);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_fts", NULL), 2);

    /* a 3+ character Chinese substring through the trigram index */
    assert_int_equal(count(db, FTS, "\"城关镇\""), 1);
    assert_int_equal(count(db, FTS, "\"人民政府\""), 2);
    assert_int_equal(count(db, FTS, "\"县城关\""), 1);
    /* 2 characters: the trigram index finds nothing; the LIKE path does */
    assert_int_equal(count(db, FTS, "\"城关\""), 0);
    assert_int_equal(count(db, LIKE, "%城关%"), 1);
    assert_int_equal(count(db, LIKE, "%乡%"), 1);

    /* the same kind + ref replaces, in both tables */
    put(db, "unit", "unit:7", "云溪县东城街道办事处", "东城");
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 2);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_fts", NULL), 2);
    assert_int_equal(count(db, FTS, "\"城关镇\""), 0);
    assert_int_equal(count(db, FTS, "\"东城街道\""), 1);
    assert_int_equal(count(db, LIKE, "%城关%"), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs d JOIN core_search_fts f ON f.rowid = d.id "
                               "WHERE d.ref = ?1 AND f.title = d.title", "unit:7"), 1);
    /* another kind with the same ref is another document */
    put(db, "user", "unit:7", "城关镇张三", "");
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 3);

    /* delete */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_search_del(db, "unit", "unit:7"), 1);
    assert_int_equal(ym_search_del(db, "unit", "unit:7"), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 2);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_fts", NULL), 2);
    assert_int_equal(count(db, FTS, "\"东城街道\""), 0);

    /* a rolled-back write leaves nothing in either table */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_search_put(db, "unit", "unit:9", "回滚的单位", "", 1, "units.read"), 0);
    assert_int_equal(ym_db_write_end(db, false), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(count(db, FTS, "\"回滚的\""), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs WHERE ref = ?1", "unit:9"), 0);
    close_db(db);
}

static void test_outside_write_refused(void **state)
{
    (void)state;
    ym_db *db = open_db();
    assert_int_equal(ym_search_put(db, "unit", "unit:1", "本县", "", 1, "units.read"), -1);
    assert_int_equal(ym_search_del(db, "unit", "unit:1"), -1);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 0);
    /* missing kind, ref or permission */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_search_put(db, "", "unit:1", "本县", "", 1, "units.read"), -1);
    assert_int_equal(ym_search_put(db, "unit", NULL, "本县", "", 1, "units.read"), -1);
    assert_int_equal(ym_search_put(db, "unit", "unit:1", "本县", "", 1, ""), -1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    close_db(db);
}

static void test_reindex_directory(void **state)
{
    (void)state;
    ym_db *db = open_db();
    char err[256] = "";
    assert_int_equal(ym_db_write_begin(db), 0);
    if (ym_identity_bootstrap(db, "云溪县", "not-a-real-hash", false, err, sizeof err) < 0)
        fail_msg("bootstrap: %s", err);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    /* creating the root unit and admin indexed them already: nothing to do */
    assert_int_equal(ym_search_reindex_directory(db), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 2);
    /* a database from before the index (an upgrade): indexed once at start */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_search_del(db, "unit", "unit:1"), 1);
    assert_int_equal(ym_search_del(db, "user", "user:1"), 1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    assert_int_equal(ym_search_reindex_directory(db), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs WHERE kind = 'unit'", NULL), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs WHERE kind = 'user' AND permission = 'users.read'", NULL), 1);
    assert_int_equal(count(db, FTS, "\"系统管理员\""), 1);
    assert_int_equal(count(db, FTS, "\"admin\""), 1);
    assert_int_equal(count(db, LIKE, "%云溪%"), 1);
    /* only once: the index already holds units */
    assert_int_equal(ym_search_reindex_directory(db), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM core_search_docs", NULL), 2);
    close_db(db);
}

static void test_utf8_len(void **state)
{
    (void)state;
    assert_int_equal(ym_search_utf8_len("abc"), 3);
    assert_int_equal(ym_search_utf8_len("城关"), 2);
    assert_int_equal(ym_search_utf8_len("城关镇a"), 4);
    assert_int_equal(ym_search_utf8_len(""), 0);
    assert_int_equal(ym_search_utf8_len("\xff"), -1);
    assert_int_equal(ym_search_utf8_len(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_replace_delete), cmocka_unit_test(test_outside_write_refused),
        cmocka_unit_test(test_reindex_directory), cmocka_unit_test(test_utf8_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
