/* test_files: file-name cleaning (UTF-8, controls, paths), the Content-Disposition
 * encoder (RFC 6266/5987), the inline-safe type list, SHA-256 and the blob layout;
 * on a migrated temporary database: the attach rules, detach, and the orphan cleanup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "files.h"
#include "datadir.h"
#include "identity.h"

static const char *clean(const char *in, char *out)
{
    return ym_files_name_clean(in, out, YM_FILES_NAME_MAX + 1);
}

static void test_name_plain(void **state)
{
    char out[YM_FILES_NAME_MAX + 1];
    assert_null(clean("report.pdf", out));
    assert_string_equal(out, "report.pdf");
    assert_null(clean("关于春耕的通知 (2026).docx", out));
    assert_string_equal(out, "关于春耕的通知 (2026).docx");
    assert_null(clean(".hidden", out));
    assert_string_equal(out, ".hidden");
}

static void test_name_paths(void **state)
{
    char out[YM_FILES_NAME_MAX + 1];
    assert_null(clean("../../etc/passwd", out));
    assert_string_equal(out, "passwd");
    assert_null(clean("C:\\Users\\张三\\a.txt", out));
    assert_string_equal(out, "a.txt");
    assert_null(clean("/abs/path\\mixed/b.png", out));
    assert_string_equal(out, "b.png");
    assert_non_null(clean("dir/", out));
    assert_non_null(clean("a/..", out));
    assert_non_null(clean("a\\.", out));
    assert_non_null(clean("/", out));
}

static void test_name_refused(void **state)
{
    char out[YM_FILES_NAME_MAX + 1];
    assert_non_null(clean(NULL, out));
    assert_non_null(clean("", out));
    assert_non_null(clean("a\nb.txt", out));
    assert_non_null(clean("a\tb", out));
    assert_non_null(clean("x\x7f", out));
    assert_non_null(clean("x\xc2\x85y", out));       /* U+0085 NEL */
    assert_non_null(clean("bad\xff.txt", out));      /* not UTF-8 */
    assert_non_null(clean("\xc0\xaf", out));         /* overlong '/' */
    assert_non_null(clean("\xed\xa0\x80", out));     /* surrogate */
    assert_non_null(clean("\xe4\xb8", out));         /* truncated */
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    assert_non_null(clean(longname, out));
    longname[255] = 0;
    assert_null(clean(longname, out));
    assert_int_equal(strlen(out), 255);
    /* the length counts after the path is stripped */
    char pathy[400];
    snprintf(pathy, sizeof pathy, "dir/%s", longname);
    assert_null(clean(pathy, out));
}

static void test_utf8(void **state)
{
    assert_true(ym_files_utf8_ok("abc", 3));
    assert_true(ym_files_utf8_ok("\xe4\xb8\xad", 3));
    assert_true(ym_files_utf8_ok("\xf0\x9f\x98\x80", 4));
    assert_false(ym_files_utf8_ok("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(ym_files_utf8_ok("\xe0\x80\xaf", 3));      /* overlong */
    assert_false(ym_files_utf8_ok("\x80", 1));
}

static void test_disposition(void **state)
{
    char out[2048];
    size_t n = ym_files_disposition("inline", "a.png", out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "inline; filename=\"a.png\"; filename*=UTF-8''a.png");
    ym_files_disposition("attachment", "报告.pdf", out, sizeof out);
    assert_string_equal(out, "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf");
    ym_files_disposition("attachment", "say \"hi\" 100%.txt", out, sizeof out);
    assert_string_equal(out, "attachment; filename=\"say _hi_ 100_.txt\"; "
                             "filename*=UTF-8''say%20%22hi%22%20100%25.txt");
    ym_files_disposition("attachment", "a'b;c=d", out, sizeof out);
    assert_string_equal(out, "attachment; filename=\"a'b;c=d\"; filename*=UTF-8''a%27b%3Bc%3Dd");
    /* too small: 0, never a cut header */
    assert_int_equal(ym_files_disposition("attachment", "报告.pdf", out, 20), 0);
}

static void test_inline_types(void **state)
{
    assert_true(ym_files_inline_ok("image/png"));
    assert_true(ym_files_inline_ok("application/pdf"));
    assert_true(ym_files_inline_ok("text/plain"));
    assert_false(ym_files_inline_ok("text/html"));
    assert_false(ym_files_inline_ok("image/svg+xml"));
    assert_false(ym_files_inline_ok("application/javascript"));
    assert_false(ym_files_inline_ok("application/octet-stream"));
    assert_false(ym_files_inline_ok(NULL));
}

static void test_sha_and_path(void **state)
{
    char hex[65], path[512];
    assert_int_equal(ym_files_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ym_files_blob_path("/var/lib/yimen", hex, path, sizeof path), 0);
    assert_string_equal(path, "/var/lib/yimen/files/ba/78/"
                              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ym_files_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(ym_files_blob_path("/d", "../../etc/passwd", path, sizeof path), -1);
    assert_int_equal(ym_files_blob_path("/d", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", path,
                                        sizeof path), -1);
    assert_int_equal(ym_files_blob_path("/d", hex, path, 20), -1);
}

/* ---------- attach, detach, cleanup ---------- */

#define HOUR (3600LL * 1000)
#define NOW (1800000000000LL) /* a fixed "now" for the cleanup: mtimes are set relative to it */

static char g_dir[64];

static ym_db *open_db(void)
{
    char err[256] = "", path[128];
    snprintf(g_dir, sizeof g_dir, "/tmp/ym-files-%d", (int)getpid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ym_mkdirs(g_dir, 0750), 0);
    snprintf(path, sizeof path, "%s/yimen.db", g_dir);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    ym_db *db = NULL;
    assert_int_equal(ym_db_open(path, &o, &db, err, sizeof err), 0);
    if (ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err) < 0)
        fail_msg("migrate: %s", err);
    return db;
}

static void close_db(ym_db *db)
{
    ym_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
}

/* A row (committed) for the blob of content, uploaded by user at created. */
static int64_t add_file(ym_db *db, const char *content, int64_t user, int64_t created, const char *owner)
{
    char hex[65];
    assert_int_equal(ym_files_sha256_hex(content, strlen(content), hex), 0);
    assert_int_equal(ym_db_write_begin(db), 0);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_files(sha256, size, name, sniffed_type, uploader_id, unit_id, owner, created_at) "
        "VALUES (?1, ?2, 'a.txt', 'text/plain', ?3, 1, ?4, ?5)");
    assert_non_null(st);
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)strlen(content));
    sqlite3_bind_int64(st, 3, user);
    if (owner)
        sqlite3_bind_text(st, 4, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, created);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
    int64_t id = sqlite3_last_insert_rowid(ym_db_handle(db));
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), SQLITE_OK);
    return id;
}

/* Writes the blob of content with the given mtime; returns its path in out. */
static void add_blob(const char *content, int64_t mtime, char *out, size_t outlen)
{
    char hex[65], d[256];
    assert_int_equal(ym_files_sha256_hex(content, strlen(content), hex), 0);
    assert_int_equal(ym_files_blob_path(g_dir, hex, out, outlen), 0);
    snprintf(d, sizeof d, "%s", out);
    *strrchr(d, '/') = 0;
    assert_int_equal(ym_mkdirs(d, 0750), 0);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    struct timespec ts[2] = {{.tv_sec = mtime / 1000}, {.tv_sec = mtime / 1000}};
    assert_int_equal(utimensat(AT_FDCWD, out, ts, 0), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static long long rows(ym_db *db, const char *where)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM core_files WHERE %s", where);
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

static int attach(ym_db *db, int64_t id, int64_t user, const char *owner, char *err)
{
    assert_int_equal(ym_db_write_begin(db), 0);
    int rc = ym_files_attach(db, id, user, owner, err, 200);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), SQLITE_OK);
    return rc;
}

static void test_attach_rules(void **state)
{
    ym_db *db = open_db();
    char err[200] = "";
    int64_t a = add_file(db, "alpha", 7, NOW, NULL), b = add_file(db, "beta", 8, NOW, NULL);
    /* outside a write: refused */
    assert_int_equal(ym_files_attach(db, a, 7, "hello_item:5", err, sizeof err), -1);
    assert_non_null(strstr(err, "write"));
    assert_int_equal(attach(db, 999, 7, "hello_item:5", err), -1);
    assert_string_equal(err, "no such file of yours");
    assert_int_equal(attach(db, b, 7, "hello_item:5", err), -1); /* bob's file: the same answer */
    assert_string_equal(err, "no such file of yours");
    assert_int_equal(attach(db, a, 7, "", err), -1);
    assert_int_equal(attach(db, a, 7, "bad\nowner", err), -1);
    assert_int_equal(attach(db, a, 7, "hello_item:5", err), 0);
    assert_int_equal(rows(db, "owner = 'hello_item:5'"), 1);
    assert_int_equal(attach(db, a, 7, "hello_item:5", err), 0); /* the same owner again */
    assert_int_equal(attach(db, a, 7, "hello_item:6", err), -1);
    assert_non_null(strstr(err, "another record"));
    assert_int_equal(rows(db, "owner = 'hello_item:5'"), 1);
    /* detach: owner NULL again, and attachable anew */
    assert_int_equal(ym_files_detach_owner(db, "hello_item:5"), -1); /* outside a write */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_files_detach_owner(db, "hello_item:5"), 1);
    assert_int_equal(ym_files_detach_owner(db, "hello_item:5"), 0);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), SQLITE_OK);
    assert_int_equal(rows(db, "owner IS NULL"), 2);
    assert_int_equal(attach(db, a, 7, "hello_item:6", err), 0);
    close_db(db);
}

static void test_cleanup(void **state)
{
    ym_db *db = open_db();
    char err[256] = "", p_old[256], p_att[256], p_young[256], p_shared[256], p_stray[256], p_fresh[256];
    int64_t day = 24 * HOUR;
    /* an unattached file two days old: row and blob go */
    add_file(db, "orphan", 7, NOW - 2 * day, NULL);
    add_blob("orphan", NOW - 2 * day, p_old, sizeof p_old);
    /* an attached one as old: kept */
    add_file(db, "attached", 7, NOW - 2 * day, "hello_item:5");
    add_blob("attached", NOW - 2 * day, p_att, sizeof p_att);
    /* an unattached one an hour old: kept (it may be attached yet) */
    add_file(db, "young", 7, NOW - HOUR, NULL);
    add_blob("young", NOW - HOUR, p_young, sizeof p_young);
    /* the same bytes twice: the old orphan row goes, the blob stays for the other row */
    add_file(db, "shared", 7, NOW - 2 * day, NULL);
    add_file(db, "shared", 8, NOW - 2 * day, "hello_item:9");
    add_blob("shared", NOW - 2 * day, p_shared, sizeof p_shared);
    /* blobs with no row: an old one goes, one written a minute ago stays (its row may
     * be about to commit) */
    add_blob("stray", NOW - 2 * HOUR, p_stray, sizeof p_stray);
    add_blob("fresh", NOW - 60000, p_fresh, sizeof p_fresh);
    /* temp files: an old one goes, a new one stays */
    char tmpdir[128], t_old[160], t_new[160];
    snprintf(tmpdir, sizeof tmpdir, "%s/files/tmp", g_dir);
    assert_int_equal(ym_mkdirs(tmpdir, 0750), 0);
    snprintf(t_old, sizeof t_old, "%s/up-old123", tmpdir);
    snprintf(t_new, sizeof t_new, "%s/up-new123", tmpdir);
    FILE *f = fopen(t_old, "w");
    fclose(f);
    f = fopen(t_new, "w");
    fclose(f);
    struct timespec ts_old[2] = {{.tv_sec = (NOW - 2 * HOUR) / 1000}, {.tv_sec = (NOW - 2 * HOUR) / 1000}};
    struct timespec ts_new[2] = {{.tv_sec = NOW / 1000}, {.tv_sec = NOW / 1000}};
    assert_int_equal(utimensat(AT_FDCWD, t_old, ts_old, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, t_new, ts_new, 0), 0);

    ym_files_cleanup_stats s;
    assert_int_equal(ym_files_cleanup(db, g_dir, NOW, &s, err, sizeof err), 0);
    assert_int_equal(s.rows, 2);
    assert_int_equal(s.blobs, 2);
    assert_int_equal(s.temps, 1);
    assert_false(exists(p_old));
    assert_false(exists(p_stray));
    assert_false(exists(t_old));
    assert_true(exists(p_att));
    assert_true(exists(p_young));
    assert_true(exists(p_shared));
    assert_true(exists(p_fresh));
    assert_true(exists(t_new));
    assert_int_equal(rows(db, "1"), 3);
    assert_int_equal(rows(db, "owner IS NULL"), 1); /* the young one */
    assert_false(ym_db_in_write(db));
    /* idempotent: a second run finds nothing */
    assert_int_equal(ym_files_cleanup(db, g_dir, NOW, &s, err, sizeof err), 0);
    assert_int_equal(s.rows + s.blobs + s.temps, 0);
    /* the shared blob goes once its last row does */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_files_detach_owner(db, "hello_item:9"), 1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), SQLITE_OK);
    assert_int_equal(ym_files_cleanup(db, g_dir, NOW, &s, err, sizeof err), 0);
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.blobs, 1);
    assert_false(exists(p_shared));
    /* refused inside someone's write: it commits its own */
    assert_int_equal(ym_db_write_begin(db), 0);
    assert_int_equal(ym_files_cleanup(db, g_dir, NOW, &s, err, sizeof err), -1);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), SQLITE_OK);
    /* a missing files directory is nothing to do */
    assert_int_equal(ym_files_cleanup(db, "/nonexistent-ym", NOW, &s, err, sizeof err), 0);
    close_db(db);
}

static void test_data_dir(void **state)
{
    ym_db *db = open_db();
    char buf[256];
    assert_non_null(ym_files_data_dir(db, buf, sizeof buf));
    assert_string_equal(buf, g_dir);
    ym_files_set_data_dir("/srv/yimen");
    assert_string_equal(ym_files_data_dir(db, buf, sizeof buf), "/srv/yimen");
    ym_files_set_data_dir(NULL);
    assert_string_equal(ym_files_data_dir(db, buf, sizeof buf), g_dir);
    close_db(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_plain),     cmocka_unit_test(test_name_paths),
        cmocka_unit_test(test_name_refused),   cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_disposition),    cmocka_unit_test(test_inline_types),
        cmocka_unit_test(test_sha_and_path),    cmocka_unit_test(test_attach_rules),
        cmocka_unit_test(test_cleanup),         cmocka_unit_test(test_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
