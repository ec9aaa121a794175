/* test_csvimport: the RFC 4180 parser, encoding detection (BOM, UTF-8, GB18030) and the
 * all-or-nothing imports of units and users with their line-numbered reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <limits.h>
#include <unistd.h>
#include <cmocka.h>

#include "csvimport.h"
#include "cli_admin.h"
#include "config.h"
#include "db.h"
#include "identity.h"
#include "password.h"
#include "audit.h"
#include "system.h"

/* ---------- parsing ---------- */

static ym_csv parse_ok(const char *text)
{
    ym_csv c = {0};
    char err[256] = "";
    int rc = ym_csv_parse(text, strlen(text), &c, err, sizeof err);
    if (rc != 0)
        fail_msg("parse failed: %s", err);
    return c;
}

static void parse_bad(const char *text, const char *want)
{
    ym_csv c = {0};
    char err[256] = "";
    assert_int_equal(ym_csv_parse(text, strlen(text), &c, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error %s does not contain %s", err, want);
    assert_int_equal(c.nrows, 0);
}

static void test_plain_and_quotes(void **state)
{
    ym_csv c = parse_ok("a,b,c\n1,\"x,y\",\"say \"\"hi\"\"\"\n,,last\n");
    assert_int_equal(c.nrows, 3);
    assert_int_equal(c.rows[1].n, 3);
    assert_string_equal(c.rows[1].f[1], "x,y");
    assert_string_equal(c.rows[1].f[2], "say \"hi\"");
    assert_string_equal(c.rows[2].f[0], "");
    assert_string_equal(c.rows[2].f[2], "last");
    assert_int_equal(c.rows[2].line, 3);
    ym_csv_free(&c);
}

static void test_embedded_newline_and_crlf(void **state)
{
    ym_csv c = parse_ok("h1,h2\r\n\"two\r\nlines\",b\r\n\r\nnext,row\r\n");
    assert_int_equal(c.nrows, 3);          /* the blank line is skipped */
    assert_string_equal(c.rows[1].f[0], "two\nlines");
    assert_string_equal(c.rows[1].f[1], "b");
    assert_int_equal(c.rows[1].line, 2);
    assert_int_equal(c.rows[2].line, 5);   /* physical lines count the one inside quotes */
    assert_string_equal(c.rows[2].f[1], "row");
    ym_csv_free(&c);
}

static void test_no_final_newline_and_empty_rows(void **state)
{
    ym_csv c = parse_ok("a\n,,,\n\nz");
    assert_int_equal(c.nrows, 2);
    assert_string_equal(c.rows[1].f[0], "z");
    assert_int_equal(c.rows[1].line, 4);
    ym_csv_free(&c);
    c = parse_ok("");
    assert_int_equal(c.nrows, 0);
    ym_csv_free(&c);
}

static void test_bad_quoting(void **state)
{
    parse_bad("a,b\nc,d\ne,f\"g\n", "line 3: a quote inside an unquoted field");
    parse_bad("a,b\n\"x\"y,z\n", "line 2: text after a closing quote");
    parse_bad("a\nb\n\"open\nstill\n", "line 3: a quoted field is not closed");
}

/* ---------- encodings ---------- */

static void decode(const char *in, size_t len, const char *want, const char *want_enc)
{
    char *out = NULL, err[256] = "";
    size_t n = 0;
    const char *enc = NULL;
    if (ym_csv_to_utf8(in, len, &out, &n, &enc, err, sizeof err) != 0)
        fail_msg("decode failed: %s", err);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    assert_string_equal(enc, want_enc);
    free(out);
}

static void test_encodings(void **state)
{
    decode("\xef\xbb\xbf" "name\n城关镇\n", 3 + 5 + 10, "name\n城关镇\n", "UTF-8 (BOM)");
    decode("name\n城关镇\n", 15, "name\n城关镇\n", "UTF-8");
    /* "城关镇" as Excel and WPS save it in GB18030 */
    decode("name\n\xb3\xc7\xb9\xd8\xd5\xf2\n", 12, "name\n城关镇\n", "GB18030");
    /* a four-byte GB18030 sequence: U+20000 𠀀 */
    decode("\x95\x32\x82\x36", 4, "\xf0\xa0\x80\x80", "GB18030");
    /* GB18030's byte-order mark (U+FEFF as 84 31 95 33) is dropped too */
    decode("\x84\x31\x95\x33\xb3\xc7", 6, "城", "GB18030");
}

static void test_encoding_errors(void **state)
{
    char *out = NULL, err[256] = "";
    size_t n;
    const char *enc;
    assert_int_equal(ym_csv_to_utf8("\xff\xfen\0a\0", 6, &out, &n, &enc, err, sizeof err), -1);
    assert_non_null(strstr(err, "UTF-16"));
    assert_int_equal(ym_csv_to_utf8("a\nb\0c", 5, &out, &n, &enc, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: a NUL byte"));
    /* 0xff is never GB18030 */
    assert_int_equal(ym_csv_to_utf8("a\nb\n\xff\xff", 6, &out, &n, &enc, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 3"));
    assert_null(out);
}

/* ---------- imports against a database ---------- */

typedef struct fx {
    char dir[64];
    ym_config *cfg;
    ym_db *db;
} fx;

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w) { return remove(p); }

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/yimen-csv-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    char text[512], path[PATH_MAX], err[512];
    snprintf(text, sizeof text, "data_dir = \"%s/var\"\nlog_level = \"error\"\n"
             "auth = { argon2 = { memory = \"1MiB\", iterations = 1 } }\n", f->dir);
    snprintf(path, sizeof path, "%s/yimen.conf", f->dir);
    setenv("YIMEN_ADMIN_PASSWORD", "Admin-pass-for-tests-1", 1);
    if (ym_config_load_string(text, strlen(text), path, &f->cfg, err, sizeof err) < 0 ||
        ym_prepare_database(f->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/var/yimen.db", f->dir);
    ym_db_opts o = {.synchronous = "off", .busy_timeout_ms = 2000};
    if (ym_db_open(path, &o, &f->db, err, sizeof err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ym_db_close(f->db);
    ym_config_free(f->cfg);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static long long count(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

static int import(fx *f, bool users, const char *text, ym_import_result *res)
{
    ym_csv c = parse_ok(text);
    ym_import_opts o = {.cfg = f->cfg, .source = "test.csv"};
    char err[256] = "";
    int rc = users ? ym_import_users(f->db, &o, &c, res, err, sizeof err)
                   : ym_import_units(f->db, &o, &c, res, err, sizeof err);
    if (rc < 0)
        fail_msg("import error: %s", err);
    ym_csv_free(&c);
    return rc;
}

static void has_problem(const ym_import_result *res, const char *want)
{
    for (size_t i = 0; i < res->nproblems; i++)
        if (strstr(res->problems[i], want))
            return;
    for (size_t i = 0; i < res->nproblems; i++)
        fprintf(stderr, "  %s\n", res->problems[i]);
    fail_msg("no problem mentions %s", want);
}

static void test_import_units(void **state)
{
    fx *f = *state;
    ym_import_result res;
    assert_int_equal(import(f, false, "name,kind,parent,short_name,credit_code,sort\n"
                                      "城关镇,乡镇,,城关,,1\n城东村,村,城关镇,,,1\n东湖镇,township,,,,2\n"
                                      "城东村,village,东湖镇,,,1\n", &res), 0);
    assert_int_equal(res.created, 4);
    ym_import_result_free(&res);
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_units"), 5);
    char why[256];
    /* 城东村 exists twice: only a path tells which */
    assert_int_equal(ym_unit_resolve(f->db, "城东村", why, sizeof why), 0);
    assert_non_null(strstr(why, "more than one"));
    int64_t a = ym_unit_resolve(f->db, "东湖镇/城东村", why, sizeof why);
    assert_true(a > 0);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)a);
    assert_int_equal(ym_unit_resolve(f->db, id, why, sizeof why), a);
    assert_int_equal(ym_unit_resolve(f->db, "9999", why, sizeof why), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_audit WHERE action = 'cli.unit.import'"), 4);
}

static void test_import_units_all_or_nothing(void **state)
{
    fx *f = *state;
    ym_import_result res;
    long long before = count(f->db, "SELECT count(*) FROM core_units");
    assert_int_equal(import(f, false, "name,kind,parent\n好镇,township,\n坏村,hamlet,好镇\n孤村,village,无此镇\n"
                                      "好村,village,好镇\n", &res), 1);
    has_problem(&res, "line 3: kind:");
    has_problem(&res, "line 4: parent: no unit named 无此镇");
    assert_int_equal(res.nproblems, 2);
    ym_import_result_free(&res);
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_units"), before);
    assert_int_equal(import(f, false, "name,kind,colour\nx,village,red\n", &res), 1);
    has_problem(&res, "line 1: column 3: unknown column \"colour\"");
    ym_import_result_free(&res);
    assert_int_equal(import(f, false, "kind\nvillage\n", &res), 1);
    has_problem(&res, "the header has no column name");
    ym_import_result_free(&res);
}

static void test_import_users(void **state)
{
    fx *f = *state;
    ym_import_result res;
    assert_int_equal(import(f, false, "name,kind\n城关镇,township\n", &res), 0);
    ym_import_result_free(&res);
    assert_int_equal(import(f, true, "用户名,姓名,单位,职务,电话,角色,密码\n"
                                     "zhang.san,张三,城关镇,文书,13800000000,clerk,\n"
                                     "li.si,李四,城关镇,,,leader;clerk,Correct-horse-99\n", &res), 0);
    assert_int_equal(res.created, 2);
    assert_int_equal(res.nsecrets, 1);
    assert_memory_equal(res.secrets[0], "zhang.san,", 10);
    ym_import_result_free(&res);
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_users WHERE must_change = 1 AND username IN "
                                  "('zhang.san', 'li.si')"), 2);
    /* staff on the own unit plus the listed roles */
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_grants g JOIN core_users u ON u.id = g.user_id "
                                  "WHERE u.username = 'li.si'"), 3);
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_audit WHERE action = 'cli.user.import' "
                                  "AND detail LIKE '%Correct-horse%'"), 0);
    long long rows = 0, bad = 0;
    char err[256];
    assert_int_equal(ym_audit_verify(f->db, &rows, &bad, err, sizeof err), 0);
}

static void test_import_users_report(void **state)
{
    fx *f = *state;
    ym_import_result res;
    long long before = count(f->db, "SELECT count(*) FROM core_users");
    assert_int_equal(import(f, true, "username,display_name,unit,role,password\n"
                                     "good.one,好,1,,\n"
                                     "Bad User,坏,1,,\n"
                                     "admin,重名,1,,\n"
                                     "good.one,又一个,1,,\n"
                                     "x2,名,无此单位,nosuch,short\n", &res), 1);
    has_problem(&res, "line 3: username:");
    has_problem(&res, "line 4: username: admin is already taken");
    has_problem(&res, "line 5: username: good.one is also on line 2");
    has_problem(&res, "line 6: unit: no unit named 无此单位");
    has_problem(&res, "line 6: role: no role nosuch");
    has_problem(&res, "line 6: password:");
    assert_int_equal(res.nsecrets, 0);
    ym_import_result_free(&res);
    assert_int_equal(count(f->db, "SELECT count(*) FROM core_users"), before);
}

static void test_many_problems_capped(void **state)
{
    fx *f = *state;
    size_t cap = 64 + 130 * 20;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "username,display_name,unit\n");
    for (int i = 0; i < 130; i++)
        p += sprintf(p, "u%d,名,nowhere\n", i);
    ym_import_result res;
    assert_int_equal(import(f, true, text, &res), 1);
    assert_int_equal(res.nproblems, YM_IMPORT_MAX_PROBLEMS);
    assert_int_equal(res.more, 30);
    ym_import_result_free(&res);
    free(text);
}

static void test_hash_many(void **state)
{
    fx *f = *state;
    char *pws[5] = {"Alpha-password-1", "Beta-password-22", "Gamma-password-333", "Delta-password-4", "Eps-password-555"};
    char (*hashes)[256] = calloc(5, sizeof *hashes);
    assert_int_equal(ym_password_hash_many(f->cfg, pws, 5, hashes), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ym_password_verify(hashes[i], pws[i]), 1);
    assert_int_equal(ym_password_verify(hashes[0], pws[1]), 0);
    free(hashes);
    char pw[64];
    assert_int_equal(ym_password_generate(f->cfg, "someone", pw, sizeof pw), 0);
    assert_int_equal(strlen(pw), 16);
    assert_string_equal(ym_unit_kind_parse("乡镇"), "township");
    assert_string_equal(ym_unit_kind_parse("Village"), "village");
    assert_null(ym_unit_kind_parse("hamlet"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_quotes),
        cmocka_unit_test(test_embedded_newline_and_crlf),
        cmocka_unit_test(test_no_final_newline_and_empty_rows),
        cmocka_unit_test(test_bad_quoting),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_encoding_errors),
        cmocka_unit_test_setup_teardown(test_import_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_units_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_users_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_problems_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
