/* cli_admin: `yimen user`, `yimen unit`, `yimen audit verify` and `yimen demo`: each runs one
 * short write beside a running server (WAL, BEGIN IMMEDIATE) and audits it as actor "cli". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cli_admin.h"
#include "csvimport.h"
#include "auditlog.h"
#include "audit.h"
#include "auth.h"
#include "clock.h"
#include "demo.h"
#include "identity.h"
#include "log.h"
#include "shared.h"
#include "search.h"
#include "password.h"
#include "system.h"

#define MAX_ROLES 8

/* ---------- helpers shared with the imports ---------- */

static const char *const kind_names[][6] = {
    {"county", "县", "县级", NULL},
    {"township", "乡镇", "镇", "乡", "街道", NULL},
    {"village", "村", "社区", "村居", "村（社区）", NULL},
    {"department", "部门", "县直部门", NULL},
    {"other", "其他", NULL},
};

const char *ym_unit_kind_parse(const char *s)
{
    for (size_t k = 0; s && k < sizeof kind_names / sizeof *kind_names; k++)
        for (size_t j = 0; j < 6 && kind_names[k][j]; j++)
            if (strcasecmp(s, kind_names[k][j]) == 0)
                return kind_names[k][0];
    return NULL;
}

/* The unit named name under parent (0 = anywhere): >0 id, 0 none or ambiguous, -1 error. */
static int64_t unit_by_name(ym_db *db, int64_t parent, const char *name, size_t nlen, char *why, size_t wl)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id FROM core_units WHERE name = ?1 AND (?2 = 0 OR parent_id = ?2) ORDER BY id LIMIT 2");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, (int)nlen, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, parent);
    int64_t id = 0;
    int found = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        found++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (found == 1)
        return id;
    if (found == 0)
        snprintf(why, wl, "no unit named %.*s%s", (int)nlen, name, parent ? " there" : "");
    else
        snprintf(why, wl, "more than one unit is named %.*s; use its id or its path (乡镇/村)", (int)nlen, name);
    return 0;
}

int64_t ym_unit_resolve(ym_db *db, const char *ref, char *why, size_t whylen)
{
    if (ym_digits_only(ref)) {
        int64_t id = strtoll(ref, NULL, 10);
        json_t *u = id > 0 ? ym_unit_json(db, id) : NULL;
        json_decref(u);
        if (!u)
            snprintf(why, whylen, "no unit with id %s", ref);
        return u ? id : 0;
    }
    int64_t id = 0;
    const char *seg = ref;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0) {
            snprintf(why, whylen, "empty unit name in %s", ref);
            return 0;
        }
        if ((id = unit_by_name(db, id, seg, n, why, whylen)) <= 0)
            return id;
        if (!slash)
            return id;
        seg = slash + 1;
    }
}

int ym_password_generate(const ym_config *cfg, const char *username, char *out, size_t outlen)
{
    for (int tries = 0; tries < 100; tries++) {
        if (ym_random_token(out, outlen, 12) < 0)
            return -1;
        if (ym_password_policy(cfg, out, username, NULL, 0) == 0)
            return 0;
    }
    return -1;
}

typedef struct hash_job {
    ym_argon2_params prm;
    char *const *pws;
    char (*out)[256];
    size_t n, next;
    int failed;
} hash_job;

static void *hash_worker(void *ud)
{
    hash_job *j = ud;
    size_t i;
    while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n)
        if (ym_password_hash(j->pws[i], &j->prm, j->out[i], sizeof j->out[i]) < 0)
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    return NULL;
}

int ym_password_hash_many(const ym_config *cfg, char *const *pws, size_t n, char (*hashes)[256])
{
    hash_job j = {.pws = pws, .out = hashes, .n = n};
    ym_argon2_params_from(cfg, &j.prm);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cpus < 1 ? 1 : cpus > 8 ? 8 : (size_t)cpus;
    if (nt > n)
        nt = n;
    pthread_t th[8];
    size_t started = 0;
    while (started < nt && pthread_create(&th[started], NULL, hash_worker, &j) == 0)
        started++;
    if (started == 0)
        hash_worker(&j);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    return j.failed ? -1 : 0;
}

int ym_import_grant_roles(ym_db *db, int64_t user_id, int64_t unit_id, char *const *roles, size_t nroles,
                          char *err, size_t errlen)
{
    if (ym_grant_create(db, user_id, "staff", unit_id, false, 0, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < nroles; i++) {
        size_t n = strlen(roles[i]);
        bool admin = n > 6 && strcmp(roles[i] + n - 6, "_admin") == 0;
        if (ym_grant_create(db, user_id, roles[i], unit_id, admin, 0, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int ym_unit_sibling_named(ym_db *db, int64_t parent, const char *name)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id FROM core_units WHERE parent_id = ?1 AND name = ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, parent);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* ---------- options ---------- */

typedef struct cli {
    const char *config;
    const char *pos[2];
    int npos;
    const char *name, *unit, *title, *phone, *kind, *parent, *short_name, *code, *sort, *seed, *passwords_out;
    char *roles[MAX_ROLES];
    size_t nroles;
    bool password_stdin, if_empty, wrote_secrets;
    ym_config *cfg;
    ym_db *db;
} cli;

typedef struct flag_def {
    const char *flag;
    size_t off;
    bool arg;
} flag_def;

static const flag_def flag_defs[] = {
    {"--name", offsetof(cli, name), true}, {"--unit", offsetof(cli, unit), true},
    {"--title", offsetof(cli, title), true}, {"--phone", offsetof(cli, phone), true},
    {"--kind", offsetof(cli, kind), true}, {"--parent", offsetof(cli, parent), true},
    {"--short", offsetof(cli, short_name), true}, {"--code", offsetof(cli, code), true},
    {"--sort", offsetof(cli, sort), true}, {"--seed", offsetof(cli, seed), true},
    {"--passwords-out", offsetof(cli, passwords_out), true}, {"--role", offsetof(cli, roles), true},
    {"--password-stdin", offsetof(cli, password_stdin), false}, {"--if-empty", offsetof(cli, if_empty), false},
};

typedef struct command {
    const char *group, *verb;
    int npos;
    const char *args, *help;
    const char *flags;      /* the options it takes */
    int (*run)(cli *c);
} command;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "yimen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

static int db_fail(cli *c)
{
    return fail("database error: %s", ym_db_errmsg(c->db));
}

/* ---------- writes ---------- */

static int begin(cli *c)
{
    return ym_db_write_begin(c->db) < 0 ? fail("the database is busy: %s", ym_db_errmsg(c->db)) : 0;
}

static void rollback(cli *c)
{
    ym_db_write_end(c->db, false);
    ym_db_flush(c->db);
}

static int commit(cli *c)
{
    if (ym_db_write_end(c->db, true) < 0 || ym_db_flush(c->db) < 0)
        return fail("cannot commit: %s", ym_db_errmsg(c->db));
    return 0;
}

static int64_t user_id_of(cli *c, const char *username)
{
    sqlite3_stmt *st = ym_db_prepare(c->db, "core", "SELECT id FROM core_users WHERE username = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? id : -1;
}

/* The new password: one line of stdin, checked against the policy, or a random one. */
static int new_password(cli *c, const char *username, char *pw, size_t len, bool *generated)
{
    char why[256];
    *generated = !c->password_stdin;
    if (*generated)
        return ym_password_generate(c->cfg, username, pw, len) < 0 ? fail("cannot generate a password") : 0;
    if (!fgets(pw, (int)len, stdin))
        return fail("--password-stdin: no password on stdin");
    size_t n = strcspn(pw, "\r\n");
    if (!pw[n] && n == len - 1)
        return fail("--password-stdin: the password is longer than %zu bytes", len - 2);
    pw[n] = 0;
    if (ym_password_policy(c->cfg, pw, username, why, sizeof why) < 0)
        return fail("password: %s", why);
    return 0;
}

static int hash_one(cli *c, const char *pw, char *hash, size_t len)
{
    ym_argon2_params prm;
    ym_argon2_params_from(c->cfg, &prm);
    return ym_password_hash(pw, &prm, hash, len) < 0 ? fail("cannot hash the password") : 0;
}

static json_t *roles_json(const cli *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->nroles; i++)
        json_array_append_new(a, json_string(c->roles[i]));
    return a;
}

static void target_of(char *buf, size_t len, const char *kind, int64_t id)
{
    snprintf(buf, len, "%s:%lld", kind, (long long)id);
}

/* ---------- yimen user ---------- */

static int check_user_args(cli *c, int64_t *unit)
{
    char why[300];
    if (!c->name || !*c->name || !c->unit)
        return fail("user add needs --name and --unit (see yimen user add --help)");
    if (!ym_username_ok(c->pos[0]))
        return fail("username %s: 2-64 characters of a-z, 0-9, '_', '.', '-'", c->pos[0]);
    if ((*unit = ym_unit_resolve(c->db, c->unit, why, sizeof why)) <= 0)
        return *unit < 0 ? db_fail(c) : fail("--unit: %s", why);
    for (size_t i = 0; i < c->nroles; i++) {
        int64_t r = ym_role_id(c->db, c->roles[i]);
        if (r <= 0)
            return r < 0 ? db_fail(c) : fail("--role: no role %s", c->roles[i]);
    }
    int64_t taken = user_id_of(c, c->pos[0]);
    return taken ? (taken < 0 ? db_fail(c) : fail("username %s is already taken", c->pos[0])) : 0;
}

static int user_add(cli *c)
{
    const char *username = c->pos[0];
    char why[300], pw[1026], hash[256], field[32], target[32];
    int64_t unit = 0;
    bool generated = false;
    if (check_user_args(c, &unit) || new_password(c, username, pw, sizeof pw, &generated) ||
        hash_one(c, pw, hash, sizeof hash) || begin(c)) {
        explicit_bzero(pw, sizeof pw);
        return 1;
    }
    int64_t uid = ym_user_create(c->db, username, c->name, unit, c->title ? c->title : "", c->phone ? c->phone : "",
                                 hash, true, field, sizeof field, why, sizeof why);
    bool ok = uid > 0 && ym_import_grant_roles(c->db, uid, unit, c->roles, c->nroles, why, sizeof why) == 0;
    if (ok) {
        target_of(target, sizeof target, "user", uid);
        json_t *d = json_pack("{s:s,s:s,s:I,s:o,s:b}", "username", username, "display_name", c->name, "unit_id",
                              (json_int_t)unit, "roles", roles_json(c), "generated_password", generated);
        ok = ym_audit_cli(c->db, c->cfg, "cli.user.add", target, d) == 0;
        json_decref(d);
    }
    if (!ok) {
        rollback(c);
        explicit_bzero(pw, sizeof pw);
        return uid == -1 ? fail("%s: %s", field, why) : fail("cannot create the user: %s", ym_db_errmsg(c->db));
    }
    int rc = commit(c);
    if (rc == 0) {
        printf("user %s created (id %lld) in unit %lld; it must change its password at first sign-in\n", username,
               (long long)uid, (long long)unit);
        if (generated)
            printf("password: %s\n", pw);
    }
    explicit_bzero(pw, sizeof pw);
    return rc;
}

static int user_passwd(cli *c)
{
    const char *username = c->pos[0];
    char pw[1026], hash[256], target[32];
    bool generated;
    int64_t uid = user_id_of(c, username);
    if (uid <= 0)
        return uid < 0 ? db_fail(c) : fail("no user %s", username);
    if (new_password(c, username, pw, sizeof pw, &generated) || hash_one(c, pw, hash, sizeof hash) || begin(c)) {
        explicit_bzero(pw, sizeof pw);
        return 1;
    }
    sqlite3_stmt *st = ym_db_prepare(c->db, "core",
        "UPDATE core_users SET password_hash = ?1, must_change = 1, password_set_at = ?2, updated_at = ?2 "
        "WHERE id = ?3");
    bool ok = st != NULL;
    if (st) {
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, ym_now());
        sqlite3_bind_int64(st, 3, uid);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    ok = ok && ym_auth_revoke_sessions(c->db, uid, 0) == 0;
    target_of(target, sizeof target, "user", uid);
    json_t *d = json_pack("{s:s,s:b}", "username", username, "generated_password", generated);
    ok = ok && ym_audit_cli(c->db, c->cfg, "cli.user.passwd", target, d) == 0;
    json_decref(d);
    int rc = ok ? commit(c) : (rollback(c), db_fail(c));
    if (rc == 0) {
        printf("password of %s set; every session of it ended; it must be changed at sign-in\n", username);
        if (generated)
            printf("password: %s\n", pw);
    }
    explicit_bzero(pw, sizeof pw);
    return rc;
}

/* disable, enable, unlock: one UPDATE (?1 = id, ?2 = now), optionally ending sessions. */
static int user_update(cli *c, const char *sql, const char *action, bool end_sessions, const char *done)
{
    const char *username = c->pos[0];
    char target[32];
    int64_t uid = user_id_of(c, username);
    if (uid <= 0)
        return uid < 0 ? db_fail(c) : fail("no user %s", username);
    if (begin(c))
        return 1;
    sqlite3_stmt *st = ym_db_prepare(c->db, "core", sql);
    bool ok = st != NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_int64(st, 2, ym_now());
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    ok = ok && ym_search_sync_user(c->db, uid) == 0 && (!end_sessions || ym_auth_revoke_sessions(c->db, uid, 0) == 0);
    target_of(target, sizeof target, "user", uid);
    json_t *d = json_pack("{s:s}", "username", username);
    ok = ok && ym_audit_cli(c->db, c->cfg, action, target, d) == 0;
    json_decref(d);
    int rc = ok ? commit(c) : (rollback(c), db_fail(c));
    if (rc == 0)
        printf("user %s %s\n", username, done);
    return rc;
}

static int user_disable(cli *c)
{
    return user_update(c, "UPDATE core_users SET status = 'disabled', updated_at = ?2 WHERE id = ?1",
                       "cli.user.disable", true, "disabled; its sessions are ended");
}

static int user_enable(cli *c)
{
    return user_update(c, "UPDATE core_users SET status = 'active', updated_at = ?2 WHERE id = ?1",
                       "cli.user.enable", false, "enabled");
}

static int user_unlock(cli *c)
{
    return user_update(c, "UPDATE core_users SET failed_count = 0, failed_since = NULL, locked_until = NULL, "
                          "updated_at = ?2 WHERE id = ?1", "cli.user.unlock", false, "unlocked");
}

/* ---------- imports ---------- */

/* Before the commit: the generated passwords go to --passwords-out (0600, new file). */
static int write_secrets(void *ud, const ym_import_result *res)
{
    cli *c = ud;
    int fd = open(c->passwords_out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return fail("cannot create %s: %s", c->passwords_out, strerror(errno));
    }
    c->wrote_secrets = true;
    int ok = fprintf(f, "username,password\n") > 0;
    for (size_t i = 0; ok && i < res->nsecrets; i++)
        ok = fprintf(f, "%s\n", res->secrets[i]) > 0;
    ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : fail("cannot write %s: %s", c->passwords_out, strerror(errno));
}

static int import_report(cli *c, int rc, const ym_import_result *res, const char *what, const char *path,
                         const ym_csv *csv, const char *err)
{
    if (rc != 0 && c->wrote_secrets)
        unlink(c->passwords_out);
    if (rc < 0)
        return fail("%s", err);
    if (rc == 1) {
        fprintf(stderr, "yimen: %s: nothing imported; %zu problem%s:\n", path, res->nproblems + res->more,
                res->nproblems + res->more == 1 ? "" : "s");
        for (size_t i = 0; i < res->nproblems; i++)
            fprintf(stderr, "%s\n", res->problems[i]);
        if (res->more)
            fprintf(stderr, "... and %zu more\n", res->more);
        return 1;
    }
    bool listed = res->nsecrets && !c->passwords_out;
    fprintf(listed ? stderr : stdout, "imported %zu %s from %s (%s)%s%s\n", res->created, what, path, csv->encoding,
            res->nsecrets ? "; generated passwords, shown only now: " : "",
            res->nsecrets ? (listed ? "below" : c->passwords_out) : "");
    if (listed)
        printf("username,password\n");
    for (size_t i = 0; listed && i < res->nsecrets; i++)
        printf("%s\n", res->secrets[i]);
    return 0;
}

static int run_import(cli *c, bool users)
{
    const char *path = c->pos[0];
    char err[512] = "";
    if (c->passwords_out && access(c->passwords_out, F_OK) == 0)
        return fail("%s exists; name a new file for the passwords", c->passwords_out);
    ym_csv csv;
    if (ym_csv_load(path, &csv, err, sizeof err) < 0)
        return fail("%s: %s", path, err);
    ym_import_opts o = {.cfg = c->cfg, .source = path, .before_commit = c->passwords_out ? write_secrets : NULL,
                        .ud = c};
    ym_import_result res;
    int rc = users ? ym_import_users(c->db, &o, &csv, &res, err, sizeof err)
                   : ym_import_units(c->db, &o, &csv, &res, err, sizeof err);
    rc = import_report(c, rc, &res, users ? "users" : "units", path, &csv, err);
    ym_import_result_free(&res);
    ym_csv_free(&csv);
    return rc;
}

static int user_import(cli *c) { return run_import(c, true); }
static int unit_import(cli *c) { return run_import(c, false); }

/* ---------- yimen unit add ---------- */

static int check_unit_args(cli *c, const char **kind, int64_t *parent, int *sort)
{
    char why[300], *end = NULL;
    if (!c->kind)
        return fail("unit add needs --kind (county, township, village, department or other)");
    if (!(*kind = ym_unit_kind_parse(c->kind)))
        return fail("--kind: %s is not county, township, village, department or other", c->kind);
    *parent = c->parent ? ym_unit_resolve(c->db, c->parent, why, sizeof why) : ym_root_unit(c->db);
    if (*parent <= 0)
        return *parent < 0 ? db_fail(c) : fail("--parent: %s", c->parent ? why : "no county unit");
    long v = c->sort ? strtol(c->sort, &end, 10) : 0;
    if (c->sort && (!*c->sort || *end || v < INT_MIN || v > INT_MAX))
        return fail("--sort: %s is not a whole number", c->sort);
    *sort = (int)v;
    int dup = ym_unit_sibling_named(c->db, *parent, c->pos[0]);
    return dup ? (dup < 0 ? db_fail(c) : fail("a unit named %s already exists there", c->pos[0])) : 0;
}

static int unit_add(cli *c)
{
    const char *kind = NULL;
    int64_t parent = 0;
    int sort = 0;
    char field[32], why[300], target[32];
    if (check_unit_args(c, &kind, &parent, &sort) || begin(c))
        return 1;
    int64_t id = ym_unit_create(c->db, parent, kind, c->pos[0], c->short_name, c->code, sort, field, sizeof field,
                                why, sizeof why);
    bool ok = id > 0;
    if (ok) {
        target_of(target, sizeof target, "unit", id);
        json_t *d = json_pack("{s:s,s:s,s:I}", "name", c->pos[0], "kind", kind, "parent_id", (json_int_t)parent);
        ok = ym_audit_cli(c->db, c->cfg, "cli.unit.add", target, d) == 0;
        json_decref(d);
    }
    if (!ok) {
        rollback(c);
        return id == -1 ? fail("%s: %s", field, why) : fail("cannot create the unit: %s", ym_db_errmsg(c->db));
    }
    int rc = commit(c);
    if (rc == 0)
        printf("unit %s created (id %lld) under unit %lld\n", c->pos[0], (long long)id, (long long)parent);
    return rc;
}

/* ---------- yimen audit verify, yimen demo ---------- */

static int audit_verify(cli *c)
{
    long long rows = 0, bad = 0;
    char err[512];
    int rc = ym_audit_verify(c->db, &rows, &bad, err, sizeof err);
    if (rc < 0)
        return fail("%s", err);
    if (rc == 0) {
        printf("ok: %lld rows\n", rows);
        return 0;
    }
    char prefix[48];
    int n = snprintf(prefix, sizeof prefix, "row %lld: ", bad);
    const char *why = strncmp(err, prefix, (size_t)n) == 0 ? err + n : err;
    fprintf(stderr, "audit chain broken at row %lld: %s\n", bad, why);
    return 1;
}

static int demo(cli *c)
{
    char pw[256], err[512], *end = NULL;
    errno = 0;
    unsigned long long seed = c->seed ? strtoull(c->seed, &end, 10) : 1;
    if (c->seed && (!*c->seed || *end || *c->seed == '-' || errno))
        return fail("--seed: %s is not a whole number", c->seed);
    if (c->if_empty) {
        int empty = ym_demo_db_empty(c->db);
        if (empty <= 0) {
            if (empty == 0)
                printf("demo: skipped; this database is not new (it holds the demo, or other units or users)\n");
            return empty < 0 ? db_fail(c) : 0;
        }
    }
    const char *env = getenv("YIMEN_DEMO_PASSWORD");
    bool from_env = env && *env;
    if (from_env)
        snprintf(pw, sizeof pw, "%s", env);
    else if (ym_password_generate(c->cfg, NULL, pw, sizeof pw) < 0)
        return fail("cannot generate a password");
    ym_demo_stats st;
    int rc = ym_demo_load(c->db, c->cfg, seed, pw, &st, err, sizeof err);
    if (rc == 0)
        ym_demo_report(stdout, &st, pw, from_env);
    explicit_bzero(pw, sizeof pw);
    return rc == 0 ? 0 : fail("%s", err);
}

/* ---------- dispatch ---------- */

static const command commands[] = {
    {"user", "add", 1, "USERNAME --name 显示名 --unit UNIT [--title T] [--phone P] [--role KEY]... [--password-stdin]",
     "create an account with role staff on UNIT (an id, a name or a path like 城关镇/城东村) and each --role;\n  "
     "the password is one line of stdin, or a random one printed once; it must be changed at first sign-in",
     "--name --unit --title --phone --role --password-stdin", user_add},
    {"user", "passwd", 1, "USERNAME [--password-stdin]",
     "set a new password (one line of stdin, or a random one printed once), to be changed at sign-in;\n  "
     "every session of the user ends", "--password-stdin", user_passwd},
    {"user", "disable", 1, "USERNAME", "disable the account and end its sessions", "", user_disable},
    {"user", "enable", 1, "USERNAME", "enable a disabled account again", "", user_enable},
    {"user", "unlock", 1, "USERNAME", "lift the lock after failed sign-ins", "", user_unlock},
    {"user", "import", 1, "FILE.csv [--passwords-out FILE]",
     "create accounts from CSV (UTF-8, with or without BOM, or GB18030) with the header\n  "
     "username,display_name,unit,title,phone,role,password — all or nothing, or a report of every problem;\n  "
     "generated passwords are printed as username,password (the summary then goes to stderr),\n  "
     "or written to a new FILE with mode 0600", "--passwords-out", user_import},
    {"unit", "add", 1, "NAME --kind KIND [--parent UNIT] [--short 简称] [--code CREDIT] [--sort N]",
     "create a unit; KIND is county, township, village, department or other; the parent (an id, a name\n  "
     "or a path) defaults to the county", "--kind --parent --short --code --sort", unit_add},
    {"unit", "import", 1, "FILE.csv",
     "create units from CSV with the header name,kind,parent,short_name,credit_code,sort (parent: an id,\n  "
     "a name or a path, also of a unit earlier in the file; empty = the county) — all or nothing", "", unit_import},
    {"audit", "verify", 0, "",
     "check the hash chain of the audit log: prints \"ok: N rows\", or where it is broken and exits 1", "",
     audit_verify},
    {"demo", NULL, 0, "[--seed N] [--if-empty]",
     "load the demo county 云溪县 (573 units, 1,452 staff) once; all accounts share the password\n  "
     "YIMEN_DEMO_PASSWORD, or a random one printed once; --if-empty: load only into a new database\n  "
     "(no units or users yet) and otherwise do nothing", "--seed --if-empty", demo},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

bool ym_cli_admin_handles(const char *name)
{
    for (size_t i = 0; name && i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, name) == 0)
            return true;
    return false;
}

static void usage_of(FILE *f, const command *cmd)
{
    fprintf(f, "usage: yimen %s%s%s -c FILE%s%s\n  %s\n", cmd->group, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "",
            *cmd->args ? " " : "", cmd->args, cmd->help);
}

static int group_usage(const char *group, FILE *f, int rc)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, group) == 0)
            usage_of(f, &commands[i]);
    fprintf(f, "-c FILE defaults to <bindir>/../config/yimen.conf when it exists, else built-in defaults.\n");
    return rc;
}

static const flag_def *flag_for(const command *cmd, const char *name)
{
    size_t n = strlen(name);
    const char *p = cmd->flags;
    while ((p = strstr(p, name)) && ((p[n] && p[n] != ' ') || (p != cmd->flags && p[-1] != ' ')))
        p += n;
    for (size_t i = 0; p && i < sizeof flag_defs / sizeof *flag_defs; i++)
        if (strcmp(flag_defs[i].flag, name) == 0)
            return &flag_defs[i];
    return NULL;
}

static int set_flag(cli *c, const flag_def *fd, const char *val)
{
    if (!fd->arg) {
        *(bool *)((char *)c + fd->off) = true;
        return 0;
    }
    if (fd->off != offsetof(cli, roles)) {
        *(const char **)((char *)c + fd->off) = val;
        return 0;
    }
    char *save = NULL; /* --role a,b or --role a --role b; argv is ours to split */
    for (char *t = strtok_r((char *)val, ",; ", &save); t; t = strtok_r(NULL, ",; ", &save)) {
        if (c->nroles == MAX_ROLES)
            return fail("--role: at most %d roles", MAX_ROLES);
        c->roles[c->nroles++] = t;
    }
    return 0;
}

static int parse(const command *cmd, int argc, char **argv, int first, cli *c)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0) {
            if (i + 1 >= argc)
                return fail("-c needs a file");
            c->config = argv[++i];
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (c->npos == cmd->npos)
                return fail("unexpected argument %s (see yimen %s%s%s --help)", a, cmd->group, cmd->verb ? " " : "",
                            cmd->verb ? cmd->verb : "");
            c->pos[c->npos++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const flag_def *fd = flag_for(cmd, name);
        if (!fd)
            return fail("unknown option %s for yimen %s%s%s (see --help)", name, cmd->group, cmd->verb ? " " : "",
                        cmd->verb ? cmd->verb : "");
        if (fd->arg && !eq && i + 1 >= argc)
            return fail("%s needs a value", name);
        if (!fd->arg && eq)
            return fail("%s takes no value", name);
        if (set_flag(c, fd, eq ? eq + 1 : fd->arg ? argv[++i] : NULL))
            return 1;
    }
    if (c->npos < cmd->npos)
        return fail("missing argument; usage: yimen %s %s %s", cmd->group, cmd->verb ? cmd->verb : "", cmd->args);
    return 0;
}

/* Config as the other subcommands find it; the database migrated and bootstrapped
 * (prepare) or only opened (it must exist). */
static int open_env(cli *c, bool prepare)
{
    char buf[PATH_MAX], dbpath[PATH_MAX + 16], err[512];
    const char *path = c->config;
    if (!path) {
        snprintf(buf, sizeof buf, "%s/../config/yimen.conf", ym_config_bindir());
        path = access(buf, R_OK) == 0 ? buf : NULL;
    }
    if (ym_config_load_file(path, &c->cfg, err, sizeof err) < 0)
        return fail("%s", err);
    ym_clock_set_timezone(c->cfg->timezone);
    ym_password_common_load(c->cfg->auth.password.common_list);
    /* a running server's segment: our commits then move the epoch its caches watch */
    snprintf(dbpath, sizeof dbpath, "%s/yimen.shm", c->cfg->data_dir);
    ym_shared_map_file(dbpath);
    snprintf(dbpath, sizeof dbpath, "%s/yimen.db", c->cfg->data_dir);
    if (prepare && ym_prepare_database(c->cfg, err, sizeof err) < 0)
        return fail("%s", err);
    if (!prepare && access(dbpath, F_OK) < 0)
        return fail("no database at %s", dbpath);
    ym_db_opts o = {.synchronous = c->cfg->database.synchronous, .busy_timeout_ms = c->cfg->database.busy_timeout_ms};
    return ym_db_open(dbpath, &o, &c->db, err, sizeof err) < 0 ? fail("%s", err) : 0;
}

static const command *find_command(const char *group, const char *verb)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].group, group) == 0 &&
            (commands[i].verb ? verb && strcmp(commands[i].verb, verb) == 0 : true))
            return &commands[i];
    return NULL;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int ym_cli_admin_main(int argc, char **argv)
{
    const char *group = argv[1], *verb = argc > 2 ? argv[2] : NULL;
    bool has_verb = strcmp(group, "demo") != 0;
    ym_log_init(YM_LOG_WARN, "cli", 0);
    if (has_verb && (!verb || is_help(verb)))
        return group_usage(group, verb ? stdout : stderr, verb ? 0 : 1);
    const command *cmd = find_command(group, verb);
    if (!cmd)
        return fail("unknown command: yimen %s %s (see yimen %s --help)", group, verb, group);
    int first = has_verb ? 3 : 2;
    for (int i = first; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_of(stdout, cmd);
            return 0;
        }
    cli c = {0};
    int rc = parse(cmd, argc, argv, first, &c) || open_env(&c, cmd->run != audit_verify) ? 1 : cmd->run(&c);
    ym_db_close(c.db);
    ym_config_free(c.cfg);
    ym_password_common_free();
    return rc;
}
