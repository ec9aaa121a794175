/* datadir: everything under data_dir that is not a request: creating it, the
 * master's pid file, migrations at start, backup and restore. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/file.h>
#include "datadir.h"
#include "system.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "identity.h"
#include "password.h"

int ym_mkdirs(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static void db_path(const ym_config *cfg, char *buf, size_t len)
{
    snprintf(buf, len, "%s/yimen.db", cfg->data_dir);
}

static void pid_path(const ym_config *cfg, char *buf, size_t len)
{
    snprintf(buf, len, "%s/yimen.pid", cfg->data_dir);
}

/* The pid of the master serving this data_dir, or 0: a pid file counts only while
 * its master holds the lock on it (a stale file from a crash does not). */
int ym_pidfile_read(const ym_config *cfg)
{
    char path[PATH_MAX], buf[32] = {0};
    pid_path(cfg, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        close(fd);
        return 0;
    }
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    int pid = n > 0 ? atoi(buf) : 0;
    return pid > 0 ? pid : 0;
}

/* The master holds an exclusive lock on the pid file for its life: two masters
 * starting at once cannot both take it, and a crash releases it. */
static int g_pid_fd = -1;

int ym_pidfile_write(const ym_config *cfg, char *err, size_t errlen)
{
    if (g_pid_fd >= 0)
        return 0; /* this process holds it already */
    char path[PATH_MAX], buf[32];
    pid_path(cfg, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int other = ym_pidfile_read(cfg);
        close(fd);
        snprintf(err, errlen, "another yimen is serving this data_dir (pid %d)", other);
        return -1;
    }
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    g_pid_fd = fd;
    return 0;
}

void ym_pidfile_remove(const ym_config *cfg)
{
    if (!cfg || g_pid_fd < 0)
        return;
    char path[PATH_MAX];
    pid_path(cfg, path, sizeof path);
    unlink(path);
    close(g_pid_fd);
    g_pid_fd = -1;
}

/* First start: the built-in roles, the root unit and "admin". The password is
 * YIMEN_ADMIN_PASSWORD (the operator's own: not forced to change) or a random one
 * printed once, which must be changed at first sign-in. */
static int bootstrap(const ym_config *cfg, ym_db *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT count(*) FROM core_users WHERE username = 'admin'");
    if (!st) {
        snprintf(err, errlen, "bootstrap: %s", ym_db_errmsg(db));
        return -1;
    }
    bool have_admin = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    char hash[256] = "", random_pw[32] = "";
    const char *pw = getenv("YIMEN_ADMIN_PASSWORD");
    if (!have_admin) {
        if (!pw || !*pw) {
            ym_random_token(random_pw, sizeof random_pw, 12);
            pw = random_pw;
        }
        ym_argon2_params prm;
        ym_argon2_params_from(cfg, &prm);
        if (ym_password_hash(pw, &prm, hash, sizeof hash) < 0) {
            snprintf(err, errlen, "bootstrap: cannot hash the admin password");
            return -1;
        }
    }
    if (ym_db_write_begin(db) < 0) {
        snprintf(err, errlen, "bootstrap: database busy");
        return -1;
    }
    int rc = ym_identity_bootstrap(db, "本县", have_admin ? NULL : hash, random_pw[0] != 0, err, errlen);
    ym_db_write_end(db, rc >= 0);
    if (ym_db_flush(db) < 0 && rc >= 0) {
        snprintf(err, errlen, "bootstrap: commit failed: %s", ym_db_errmsg(db));
        rc = -1;
    }
    if (rc == 1 && random_pw[0])
        fprintf(stderr, "yimen: created the administrator: username admin, password %s\n"
                        "yimen: it is shown only now; you will be asked to change it at first sign-in.\n", random_pw);
    else if (rc == 1)
        fprintf(stderr, "yimen: created the administrator: username admin, password from YIMEN_ADMIN_PASSWORD\n");
    return rc < 0 ? -1 : 0;
}

int ym_prepare_database(const ym_config *cfg, char *err, size_t errlen)
{
    if (ym_mkdirs(cfg->data_dir, 0750) < 0) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    char path[PATH_MAX];
    db_path(cfg, path, sizeof path);
    ym_db_opts o = {.synchronous = cfg->database.synchronous, .busy_timeout_ms = cfg->database.busy_timeout_ms};
    ym_db *db;
    if (ym_db_open(path, &o, &db, err, errlen) < 0)
        return -1;
    int rc = ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count, err, errlen);
    long long off = 0;
    if (rc == 0 && ym_clock_test_enabled() && ym_db_state_get_int(db, "test_clock_offset_ms", &off) == 0)
        ym_clock_set_offset(off);
    if (rc == 0)
        rc = bootstrap(cfg, db, err, errlen);
    ym_db_close(db);
    return rc;
}

/* ---------- backup and restore ---------- */

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int ok = in >= 0 && out >= 0;
    char buf[65536];
    ssize_t n;
    while (ok && (n = read(in, buf, sizeof buf)) != 0)
        ok = n > 0 && write(out, buf, (size_t)n) == n;
    if (ok)
        ok = fsync(out) == 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        ok = 0;
    if (!ok || rename(tmp, to) < 0) {
        snprintf(err, errlen, "cannot copy %s to %s: %s", from, to, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Attachments are content-addressed and never change once written, so a copy
 * made after the database snapshot holds every file the snapshot refers to. */
static int copy_tree(const char *from, const char *to, char *err, size_t errlen)
{
    DIR *d = opendir(from);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    if (ym_mkdirs(to, 0750) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", to, strerror(errno));
        closedir(d);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char a[PATH_MAX], b[PATH_MAX];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        struct stat st;
        if (lstat(a, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = copy_tree(a, b, err, errlen);
        else if (S_ISREG(st.st_mode))
            rc = copy_file(a, b, err, errlen);
    }
    closedir(d);
    return rc;
}

static int dir_empty_or_missing(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

int ym_backup(const ym_config *cfg, const char *out_dir, char *err, size_t errlen)
{
    if (!dir_empty_or_missing(out_dir)) {
        snprintf(err, errlen, "%s exists and is not empty", out_dir);
        return -1;
    }
    if (ym_mkdirs(out_dir, 0750) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", out_dir, strerror(errno));
        return -1;
    }
    char src[PATH_MAX], dst[PATH_MAX], files_a[PATH_MAX], files_b[PATH_MAX];
    db_path(cfg, src, sizeof src);
    if (access(src, R_OK) < 0) {
        snprintf(err, errlen, "no database at %s", src);
        return -1;
    }
    snprintf(dst, sizeof dst, "%s/yimen.db", out_dir);
    ym_db_opts o = {.synchronous = cfg->database.synchronous, .busy_timeout_ms = cfg->database.busy_timeout_ms};
    ym_db *db;
    if (ym_db_open(src, &o, &db, err, errlen) < 0)
        return -1;
    int rc = ym_db_backup(db, dst, err, errlen);
    ym_db_close(db);
    if (rc < 0)
        return -1;
    snprintf(files_a, sizeof files_a, "%s/files", cfg->data_dir);
    snprintf(files_b, sizeof files_b, "%s/files", out_dir);
    return copy_tree(files_a, files_b, err, errlen);
}

static int check_backup(const char *path, char *err, size_t errlen)
{
    ym_db_opts o = {.synchronous = "full", .busy_timeout_ms = 1000, .readonly = true};
    ym_db *db;
    if (access(path, R_OK) < 0) {
        snprintf(err, errlen, "no database in backup (%s)", path);
        return -1;
    }
    if (ym_db_open(path, &o, &db, err, errlen) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "PRAGMA quick_check");
    int ok = st && sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    ym_db_close(db);
    if (!ok)
        snprintf(err, errlen, "backup database %s fails its integrity check", path);
    return ok ? 0 : -1;
}

int ym_restore(const ym_config *cfg, const char *in_dir, char *err, size_t errlen)
{
    int pid = ym_pidfile_read(cfg);
    if (pid) {
        snprintf(err, errlen, "yimen is serving this data_dir (pid %d); stop it before restoring", pid);
        return -1;
    }
    char src[PATH_MAX], dst[PATH_MAX], side[PATH_MAX + 8], files_a[PATH_MAX], files_b[PATH_MAX];
    snprintf(src, sizeof src, "%s/yimen.db", in_dir);
    if (check_backup(src, err, errlen) < 0)
        return -1;
    if (ym_mkdirs(cfg->data_dir, 0750) < 0) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    db_path(cfg, dst, sizeof dst);
    char staged[PATH_MAX + 16];
    snprintf(staged, sizeof staged, "%s.restore", dst);
    if (copy_file(src, staged, err, errlen) < 0)
        return -1;
    /* only once the copy is complete: a stale WAL beside the new file would be replayed into it */
    snprintf(side, sizeof side, "%s-wal", dst);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dst);
    unlink(side);
    if (rename(staged, dst) < 0) {
        snprintf(err, errlen, "cannot move %s into place: %s", staged, strerror(errno));
        return -1;
    }
    snprintf(files_a, sizeof files_a, "%s/files", in_dir);
    snprintf(files_b, sizeof files_b, "%s/files", cfg->data_dir);
    return copy_tree(files_a, files_b, err, errlen);
}
