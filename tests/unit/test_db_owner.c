/* test_db_owner: table ownership by SQLite's authorizer: a plugin's SQL touches only
 * its own tables and the core_v_* views, changes its schema only in migrations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db.h"

static char dir[64];
static ym_db *db;

static const char *owner_of(void *ud, const char *table)
{
    if (strncmp(table, "core_", 5) == 0)
        return "core";
    if (strncmp(table, "hello_", 6) == 0)
        return "hello";
    if (strncmp(table, "other_", 6) == 0)
        return "other";
    return NULL;
}

static int setup(void **state)
{
    strcpy(dir, "/tmp/yimen-owner-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/t.db", dir);
    ym_db_opts o = {.synchronous = "off", .busy_timeout_ms = 1000};
    assert_int_equal(ym_db_open(path, &o, &db, err, sizeof err), 0);
    assert_int_equal(ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err), 0);
    ym_db_set_owner_resolver(db, owner_of, NULL);
    static const ym_migration hello[] = {{"001_init.sql", "CREATE TABLE hello_items (id INTEGER PRIMARY KEY, name TEXT);"
                                                          "CREATE INDEX hello_items_name ON hello_items(name);", 0}};
    ym_migration m = hello[0];
    m.len = strlen(m.sql);
    if (ym_db_migrate(db, "hello", &m, 1, err, sizeof err) != 0)
        fail_msg("hello migration: %s", err);
    return 0;
}

static int teardown(void **state)
{
    ym_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_own_tables_and_views(void **state)
{
    assert_non_null(ym_db_prepare(db, "hello", "INSERT INTO hello_items (name) VALUES ('x')"));
    assert_non_null(ym_db_prepare(db, "hello", "SELECT id, name FROM hello_items"));
    assert_non_null(ym_db_prepare(db, "hello", "SELECT id, name FROM core_v_units"));
    assert_non_null(ym_db_prepare(db, "hello", "SELECT count(*) FROM core_v_users"));
}

static void test_refused(void **state)
{
    const char *bad[] = {
        "SELECT * FROM core_users",                      /* a core table by name */
        "SELECT password_hash FROM core_users",
        "UPDATE core_state SET value = 'x'",
        "INSERT INTO other_t (a) VALUES (1)",            /* another plugin's table */
        "CREATE TABLE hello_more (a INTEGER)",           /* DDL outside a migration */
        "DROP TABLE hello_items",
        "CREATE TRIGGER hello_t AFTER INSERT ON hello_items BEGIN SELECT 1; END",
        "BEGIN", "COMMIT", "SAVEPOINT x",                /* the group commit owns transactions */
        "PRAGMA journal_mode", "ATTACH DATABASE ':memory:' AS x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ym_db_prepare(db, "hello", bad[i]))
            fail_msg("prepared for plugin hello: %s", bad[i]);
    /* the core itself is not limited */
    assert_non_null(ym_db_prepare(db, "core", "SELECT * FROM core_users"));
}

static void test_migration_outside_its_tables(void **state)
{
    char err[256];
    ym_migration m = {"001_init.sql", "CREATE TABLE core_evil (a INTEGER);", 0};
    m.len = strlen(m.sql);
    assert_int_equal(ym_db_migrate(db, "other", &m, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "not authorized"));
    assert_null(ym_db_prepare(db, "core", "SELECT * FROM core_evil"));
}

/* UNIQUE and TEXT PRIMARY KEY columns get indexes SQLite names itself
 * (sqlite_autoindex_<table>_<n>): allowed on the plugin's own table, not on another's. */
static void test_automatic_indexes(void **state)
{
    char err[256];
    ym_migration m = {"002_keys.sql", "CREATE TABLE hello_keys (k TEXT PRIMARY KEY, code TEXT UNIQUE, "
                                      "a INTEGER, b INTEGER, UNIQUE (a, b));", 0};
    m.len = strlen(m.sql);
    static const ym_migration first = {"001_init.sql", "CREATE TABLE hello_items (id INTEGER PRIMARY KEY, name TEXT);"
                                                       "CREATE INDEX hello_items_name ON hello_items(name);", 0};
    ym_migration both[2] = {first, m};
    both[0].len = strlen(both[0].sql);
    if (ym_db_migrate(db, "hello", both, 2, err, sizeof err) != 0)
        fail_msg("hello migration with automatic indexes: %s", err);
    assert_non_null(ym_db_prepare(db, "hello", "INSERT INTO hello_keys (k, code) VALUES ('x', 'y')"));
    ym_migration evil = {"001_init.sql", "CREATE TABLE core_keys (k TEXT UNIQUE);", 0};
    evil.len = strlen(evil.sql);
    assert_int_equal(ym_db_migrate(db, "other", &evil, 1, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_tables_and_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_outside_its_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_automatic_indexes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
