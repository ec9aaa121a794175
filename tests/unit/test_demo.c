/* test_demo: the demo county: its exact size, a clerk and a leader on every unit, the
 * same county for the same seed (and another for another), and no second load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <limits.h>
#include <cmocka.h>

#include "demo.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "password.h"
#include "system.h"

#define PW "Demo-password-2024"

typedef struct county {
    char dir[64];
    ym_config *cfg;
    ym_db *db;
} county;

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w) { return remove(p); }

static void county_open(county *c)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/yimen-demo-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    char text[512], path[PATH_MAX], err[512] = "";
    snprintf(text, sizeof text, "data_dir = \"%s/var\"\nlog_level = \"error\"\n"
             "database = { synchronous = \"off\" }\n"
             "auth = { argon2 = { memory = \"1MiB\", iterations = 1 } }\n", c->dir);
    snprintf(path, sizeof path, "%s/yimen.conf", c->dir);
    setenv("YIMEN_ADMIN_PASSWORD", "Admin-pass-for-tests-1", 1);
    if (ym_config_load_string(text, strlen(text), path, &c->cfg, err, sizeof err) < 0 ||
        ym_prepare_database(c->cfg, err, sizeof err) < 0)
        fail_msg("setup: %s", err);
    snprintf(path, sizeof path, "%s/var/yimen.db", c->dir);
    ym_db_opts o = {.synchronous = "off", .busy_timeout_ms = 2000};
    assert_int_equal(ym_db_open(path, &o, &c->db, err, sizeof err), 0);
}

static void county_close(county *c)
{
    ym_db_close(c->db);
    ym_config_free(c->cfg);
    nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void load(county *c, uint64_t seed)
{
    ym_demo_stats st;
    char err[512] = "";
    if (ym_demo_load(c->db, c->cfg, seed, PW, &st, err, sizeof err) != 0)
        fail_msg("demo: %s", err);
    assert_int_equal(st.units, YM_DEMO_UNITS);
    assert_int_equal(st.users, YM_DEMO_USERS);
}

static long long count(county *c, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(c->db, "core", sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

/* "username=display_name\n" for every demo account, in username order. */
static char *roster(county *c)
{
    sqlite3_stmt *st = ym_db_prepare(c->db, "core",
        "SELECT username, display_name FROM core_users WHERE username <> 'admin' ORDER BY username");
    assert_non_null(st);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *u = (const char *)sqlite3_column_text(st, 0), *d = (const char *)sqlite3_column_text(st, 1);
        size_t need = strlen(u) + strlen(d) + 3;
        if (n + need >= cap)
            assert_non_null(out = realloc(out, cap *= 2));
        n += (size_t)sprintf(out + n, "%s=%s\n", u, d);
    }
    sqlite3_reset(st);
    return out;
}

static void test_size_and_shape(void **state)
{
    county c;
    county_open(&c);
    assert_int_equal(ym_demo_db_empty(c.db), 1);
    load(&c, 1);
    assert_int_equal(ym_demo_db_empty(c.db), 0);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units"), 573);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_users WHERE username <> 'admin'"), 1452);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units WHERE kind = 'township'"), 22);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units WHERE kind = 'department'"), 41);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units WHERE parent_id IS NULL AND name = '云溪县'"), 1);
    /* every unit has a clerk and a leader, granted on that very unit */
    static const char *const roles[] = {"clerk", "leader"};
    for (int i = 0; i < 2; i++) {
        char sql[400];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM core_units u WHERE NOT EXISTS (SELECT 1 FROM core_grants g "
                 "JOIN core_roles r ON r.id = g.role_id WHERE r.key = '%s' AND g.unit_id = u.id)", roles[i]);
        assert_int_equal(count(&c, sql), 0);
    }
    /* everyone is staff of their own unit */
    assert_int_equal(count(&c, "SELECT count(*) FROM core_users u WHERE username <> 'admin' AND NOT EXISTS "
                               "(SELECT 1 FROM core_grants g JOIN core_roles r ON r.id = g.role_id "
                               "WHERE r.key = 'staff' AND g.user_id = u.id AND g.unit_id = u.unit_id)"), 0);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_users WHERE username <> 'admin' AND "
                               "(length(phone) <> 11 OR substr(phone, 1, 1) <> '1')"), 0);
    /* villages hang under townships */
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units v JOIN core_units t ON t.id = v.parent_id "
                               "WHERE v.kind = 'village' AND t.kind <> 'township'"), 0);
    /* one hash for all: the password works for a clerk */
    sqlite3_stmt *st = ym_db_prepare(c.db, "core", "SELECT password_hash FROM core_users WHERE username = 't01.clerk'");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(ym_password_verify((const char *)sqlite3_column_text(st, 0), PW), 1);
    sqlite3_reset(st);
    assert_int_equal(count(&c, "SELECT count(DISTINCT password_hash) FROM core_users WHERE username <> 'admin'"), 1);
    assert_int_equal(count(&c, "SELECT count(*) FROM core_audit WHERE action = 'cli.demo'"), 1);
    long long rows = 0, bad = 0;
    char err[256];
    assert_int_equal(ym_audit_verify(c.db, &rows, &bad, err, sizeof err), 0);
    county_close(&c);
}

static void test_second_run_refused(void **state)
{
    county c;
    county_open(&c);
    load(&c, 3);
    ym_demo_stats st;
    char err[512] = "";
    assert_int_equal(ym_demo_load(c.db, c.cfg, 3, PW, &st, err, sizeof err), 1);
    assert_string_equal(err, "the demo county is already loaded");
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units"), 573);
    county_close(&c);
}

static void test_weak_password_refused(void **state)
{
    county c;
    county_open(&c);
    ym_demo_stats st;
    char err[512] = "";
    assert_int_equal(ym_demo_load(c.db, c.cfg, 1, "short", &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "the demo password"));
    assert_int_equal(count(&c, "SELECT count(*) FROM core_units"), 1);
    county_close(&c);
}

static void test_deterministic(void **state)
{
    county a, b, d;
    county_open(&a);
    county_open(&b);
    county_open(&d);
    load(&a, 20240601);
    load(&b, 20240601);
    load(&d, 20240602);
    char *ra = roster(&a), *rb = roster(&b), *rd = roster(&d);
    assert_string_equal(ra, rb);
    assert_string_not_equal(ra, rd);
    free(ra);
    free(rb);
    free(rd);
    county_close(&a);
    county_close(&b);
    county_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_and_shape),
        cmocka_unit_test(test_second_run_refused),
        cmocka_unit_test(test_weak_password_refused),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
