/* test_datadir: nested mkdir, database preparation with the core migrations, the
 * master's pid file against live and stale pids, and backup/restore of db and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>
#include <sqlite3.h>

#include <cmocka.h>

#include "datadir.h"
#include "system.h"
#include "db.h"
#include "log.h"

typedef struct fixture {
    char base[64];
    char data[256];
    ym_config *cfg;
} fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }
static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->base, sizeof f->base, "/tmp/yimen-datadir-XXXXXX");
    if (!mkdtemp(f->base))
        return -1;
    snprintf(f->data, sizeof f->data, "%s/var/nested/data", f->base);
    char text[PATH_MAX + 64], path[PATH_MAX], err[512];
    snprintf(text, sizeof text, "data_dir = \"%s\"\nlog_level = \"error\"\n", f->data);
    snprintf(path, sizeof path, "%s/yimen.conf", f->base);
    if (ym_config_load_string(text, strlen(text), path, &f->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ym_config_free(f->cfg);
    rm_rf(f->base);
    free(f);
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path)
{
    static char buf[256];
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

/* One value from an SQL query on a database file, opened independently of db.c. */
static char *query1(const char *dbfile, const char *sql)
{
    static char out[256];
    sqlite3 *h;
    out[0] = 0;
    if (sqlite3_open_v2(dbfile, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_stmt *st;
    char *ret = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(out, sizeof out, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
            ret = out;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return ret;
}

static void exec_sql(const char *dbfile, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(dbfile, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(h);
}

static void db_file(const fixture *f, char *buf, size_t len) { snprintf(buf, len, "%s/yimen.db", f->data); }

/* A process that takes the pid file's lock as a master does and stays alive until
 * killed: the pid that ym_pidfile_read must believe. */
static pid_t spawn_holder(const char *path)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
        if (fd < 0 || flock(fd, LOCK_EX) < 0 || ftruncate(fd, 0) < 0 || write(fd, buf, (size_t)n) != n)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void write_pid(const fixture *f, const char *content)
{
    char path[PATH_MAX];
    assert_int_equal(ym_mkdirs(f->data, 0750), 0);
    snprintf(path, sizeof path, "%s/yimen.pid", f->data);
    write_text(path, content);
}

/* ---------- tests ---------- */

static void test_mkdirs(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/a/b/c/d", f->base);
    assert_int_equal(ym_mkdirs(path, 0750), 0);
    assert_true(is_dir(path));
    assert_int_equal(ym_mkdirs(path, 0750), 0); /* already there */
    snprintf(path, sizeof path, "%s/a/b/c/d/", f->base);
    assert_int_equal(ym_mkdirs(path, 0750), 0);
    /* a file in the way */
    snprintf(path, sizeof path, "%s/a/file", f->base);
    write_text(path, "x");
    snprintf(path, sizeof path, "%s/a/file/sub", f->base);
    assert_int_equal(ym_mkdirs(path, 0750), -1);
}

static void test_prepare_database(void **state)
{
    fixture *f = *state;
    char err[512] = "", dbf[512];
    assert_false(is_dir(f->data));
    if (ym_prepare_database(f->cfg, err, sizeof err) != 0)
        fail_msg("prepare: %s", err);
    assert_true(is_dir(f->data));
    db_file(f, dbf, sizeof dbf);
    char *n = query1(dbf, "SELECT count(*) FROM core_migrations WHERE owner = 'core'");
    assert_non_null(n);
    assert_int_equal(atoi(n), (int)ym_core_migrations_count);
    assert_true(ym_core_migrations_count >= 1);
    char want[128];
    snprintf(want, sizeof want, "SELECT name FROM core_migrations WHERE owner = 'core' AND name = '%s'",
             ym_core_migrations[0].name);
    assert_non_null(query1(dbf, want));
    assert_non_null(query1(dbf, "SELECT count(*) FROM core_state"));
    /* a second start applies nothing twice */
    assert_int_equal(ym_prepare_database(f->cfg, err, sizeof err), 0);
    assert_int_equal(atoi(query1(dbf, "SELECT count(*) FROM core_migrations")), (int)ym_core_migrations_count);
}

static void test_pidfile(void **state)
{
    fixture *f = *state;
    char err[512] = "", path[PATH_MAX];
    snprintf(path, sizeof path, "%s/yimen.pid", f->data);
    assert_int_equal(ym_mkdirs(f->data, 0750), 0);
    assert_int_equal(ym_pidfile_read(f->cfg), 0); /* none */
    if (ym_pidfile_write(f->cfg, err, sizeof err) != 0)
        fail_msg("pidfile write: %s", err);
    assert_int_equal(ym_pidfile_read(f->cfg), getpid());
    char want[32];
    snprintf(want, sizeof want, "%d\n", (int)getpid());
    assert_string_equal(read_text(path), want);
    assert_int_equal(ym_pidfile_write(f->cfg, err, sizeof err), 0); /* our own pid: fine */
    ym_pidfile_remove(f->cfg);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(ym_pidfile_read(f->cfg), 0);

    /* another live master holds the data_dir */
    pid_t other = spawn_holder(path);
    snprintf(want, sizeof want, "%d\n", (int)other);
    assert_int_equal(ym_pidfile_read(f->cfg), other);
    err[0] = 0;
    assert_int_equal(ym_pidfile_write(f->cfg, err, sizeof err), -1);
    char pidstr[32];
    snprintf(pidstr, sizeof pidstr, "pid %d", (int)other);
    if (!strstr(err, pidstr))
        fail_msg("error should name the other pid: %s", err);
    ym_pidfile_remove(f->cfg); /* not ours: left alone */
    assert_string_equal(read_text(path), want);

    /* once it is gone the file is stale, even when its pid is alive again */
    reap(other);
    assert_int_equal(ym_pidfile_read(f->cfg), 0);
    pid_t sleeper = fork();
    assert_true(sleeper >= 0);
    if (sleeper == 0) {
        for (;;)
            pause();
    }
    snprintf(want, sizeof want, "%d\n", (int)sleeper);
    write_pid(f, want);
    assert_int_equal(ym_pidfile_read(f->cfg), 0); /* a live pid without the lock is not a master */
    reap(sleeper);
    assert_int_equal(ym_pidfile_write(f->cfg, err, sizeof err), 0);
    assert_int_equal(ym_pidfile_read(f->cfg), getpid());
    ym_pidfile_remove(f->cfg);

    /* junk is no pid */
    write_pid(f, "garbage\n");
    assert_int_equal(ym_pidfile_read(f->cfg), 0);
    write_pid(f, "-5\n");
    assert_int_equal(ym_pidfile_read(f->cfg), 0);
    write_pid(f, "");
    assert_int_equal(ym_pidfile_read(f->cfg), 0);
}

/* A prepared data_dir with one state row and two attachment files. */
static void fill_data_dir(fixture *f)
{
    char err[512] = "", dbf[512], path[PATH_MAX];
    if (ym_prepare_database(f->cfg, err, sizeof err) != 0)
        fail_msg("prepare: %s", err);
    db_file(f, dbf, sizeof dbf);
    exec_sql(dbf, "INSERT INTO core_state(key, value) VALUES('probe', 'before')");
    snprintf(path, sizeof path, "%s/files/ab/cd", f->data);
    assert_int_equal(ym_mkdirs(path, 0750), 0);
    snprintf(path, sizeof path, "%s/files/ab/cd/abcd1234", f->data);
    write_text(path, "attachment one");
    snprintf(path, sizeof path, "%s/files/top.bin", f->data);
    write_text(path, "attachment two");
}

static void test_backup(void **state)
{
    fixture *f = *state;
    fill_data_dir(f);
    char err[512] = "", out[512], path[PATH_MAX];
    snprintf(out, sizeof out, "%s/backups/one", f->base);
    if (ym_backup(f->cfg, out, err, sizeof err) != 0)
        fail_msg("backup: %s", err);
    snprintf(path, sizeof path, "%s/yimen.db", out);
    char *v = query1(path, "SELECT value FROM core_state WHERE key = 'probe'");
    assert_non_null(v);
    assert_string_equal(v, "before");
    char *ok = query1(path, "PRAGMA integrity_check");
    assert_non_null(ok);
    assert_string_equal(ok, "ok");
    snprintf(path, sizeof path, "%s/files/ab/cd/abcd1234", out);
    assert_non_null(read_text(path));
    assert_string_equal(read_text(path), "attachment one");
    snprintf(path, sizeof path, "%s/files/top.bin", out);
    assert_string_equal(read_text(path), "attachment two");

    /* a non-empty target is refused and left as it was */
    err[0] = 0;
    assert_int_equal(ym_backup(f->cfg, out, err, sizeof err), -1);
    assert_non_null(strstr(err, "not empty"));
    assert_string_equal(read_text(path), "attachment two");

    /* an existing empty directory is fine */
    snprintf(out, sizeof out, "%s/backups/empty", f->base);
    assert_int_equal(ym_mkdirs(out, 0750), 0);
    assert_int_equal(ym_backup(f->cfg, out, err, sizeof err), 0);
}

static void test_backup_without_database(void **state)
{
    fixture *f = *state;
    char err[512] = "", out[512];
    snprintf(out, sizeof out, "%s/backups/nodb", f->base);
    assert_int_equal(ym_backup(f->cfg, out, err, sizeof err), -1);
    assert_non_null(strstr(err, "no database"));
}

static void test_restore(void **state)
{
    fixture *f = *state;
    fill_data_dir(f);
    char err[512] = "", bk[512], dbf[512], path[PATH_MAX];
    snprintf(bk, sizeof bk, "%s/bk", f->base);
    if (ym_backup(f->cfg, bk, err, sizeof err) != 0)
        fail_msg("backup: %s", err);
    db_file(f, dbf, sizeof dbf);

    /* the data moves on after the backup */
    exec_sql(dbf, "UPDATE core_state SET value = 'after' WHERE key = 'probe'");
    snprintf(path, sizeof path, "%s/files/ab/cd/abcd1234", f->data);
    assert_int_equal(unlink(path), 0);

    /* refused while a server holds the data_dir */
    char pidpath[PATH_MAX];
    snprintf(pidpath, sizeof pidpath, "%s/yimen.pid", f->data);
    pid_t server = spawn_holder(pidpath);
    err[0] = 0;
    assert_int_equal(ym_restore(f->cfg, bk, err, sizeof err), -1);
    assert_non_null(strstr(err, "serving"));
    assert_string_equal(query1(dbf, "SELECT value FROM core_state WHERE key = 'probe'"), "after");
    reap(server);

    /* the server stopped (stale pid file): restore */
    if (ym_restore(f->cfg, bk, err, sizeof err) != 0)
        fail_msg("restore: %s", err);
    assert_string_equal(query1(dbf, "SELECT value FROM core_state WHERE key = 'probe'"), "before");
    assert_string_equal(query1(dbf, "PRAGMA integrity_check"), "ok");
    assert_string_equal(read_text(path), "attachment one");
    snprintf(path, sizeof path, "%s.restore", dbf);
    assert_int_equal(access(path, F_OK), -1); /* no staging file left behind */
}

static void test_restore_refuses_bad_backup(void **state)
{
    fixture *f = *state;
    fill_data_dir(f);
    char err[512] = "", bk[512], dbf[512], path[PATH_MAX];
    db_file(f, dbf, sizeof dbf);

    snprintf(bk, sizeof bk, "%s/corrupt", f->base);
    assert_int_equal(ym_mkdirs(bk, 0750), 0);
    snprintf(path, sizeof path, "%s/yimen.db", bk);
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)('a' + i % 23);
    junk[sizeof junk - 1] = 0;
    write_text(path, junk);
    err[0] = 0;
    assert_int_equal(ym_restore(f->cfg, bk, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_string_equal(query1(dbf, "SELECT value FROM core_state WHERE key = 'probe'"), "before");

    /* a backup directory without a database */
    snprintf(bk, sizeof bk, "%s/empty", f->base);
    assert_int_equal(ym_mkdirs(bk, 0750), 0);
    err[0] = 0;
    assert_int_equal(ym_restore(f->cfg, bk, err, sizeof err), -1);
    assert_non_null(strstr(err, "no database"));
    snprintf(bk, sizeof bk, "%s/missing", f->base);
    assert_int_equal(ym_restore(f->cfg, bk, err, sizeof err), -1);
    assert_string_equal(query1(dbf, "SELECT value FROM core_state WHERE key = 'probe'"), "before");
}

int main(void)
{
    ym_log_set_level(YM_LOG_ERROR);
    setenv("YIMEN_ADMIN_PASSWORD", "unit-test-admin-password", 1); /* no random password printed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pidfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_without_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_bad_backup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
