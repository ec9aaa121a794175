/* db: one SQLite connection per process/thread: the pragmas every connection needs,
 * checksummed migrations, a statement cache keyed by (owner, sql), and group commit. */
#include "db.h"
#include "cache.h"
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db_private.h"

/* ---- errors ---- */

static void fmt_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int set_err(ym_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(ym_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
    va_end(ap);
    return -1;
}

/* Runs trusted, constant SQL; the SQLite message lands in db->errmsg. */
static int exec_sql(ym_db *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        set_err(db, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

/* Rolls back only if SQLite has not already done so on its own (after IOERR, FULL, ...). */
static void rollback_if_open(ym_db *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

const char *ym_db_errmsg(ym_db *db)
{
    return db ? db->errmsg : "no database";
}

sqlite3 *ym_db_handle(ym_db *db)
{
    return db->h;
}

/* ---- open / close ---- */

/* Only whitelisted constants reach the SQL, so no value is ever spliced in. */
static const char *sync_pragma(const char *name)
{
    if (!name || !strcasecmp(name, "full")) return "PRAGMA synchronous=FULL";
    if (!strcasecmp(name, "normal")) return "PRAGMA synchronous=NORMAL";
    if (!strcasecmp(name, "off")) return "PRAGMA synchronous=OFF";
    return NULL;
}

static int query_text(ym_db *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(buf, len, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) set_err(db, "%s: %s", sql, sqlite3_errmsg(db->h));
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

static int configure(ym_db *db, const ym_db_opts *o)
{
    const char *sync = sync_pragma(o ? o->synchronous : NULL);
    if (!sync) return set_err(db, "synchronous must be full, normal or off, not \"%s\"", o->synchronous);
    int on = 0;
    /* DEFENSIVE stops SQL from corrupting the file (writable_schema, ...); untrusted
     * schema keeps functions with side effects out of views and triggers. */
    if (sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || !on)
        return set_err(db, "cannot enable SQLITE_DBCONFIG_DEFENSIVE");
    if (sqlite3_db_config(db->h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on)
        return set_err(db, "cannot disable SQLITE_DBCONFIG_TRUSTED_SCHEMA");
    int busy = o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms : DEFAULT_BUSY_MS;
    sqlite3_busy_timeout(db->h, busy);
    if (exec_sql(db, "PRAGMA trusted_schema=OFF") != SQLITE_OK) return -1;
    char mode[32];
    if (query_text(db, "PRAGMA journal_mode=WAL", mode, sizeof mode)) return -1;
    if (strcasecmp(mode, "wal"))
        return set_err(db, "journal_mode is %s, not wal", mode);
    if (exec_sql(db, "PRAGMA foreign_keys=ON") != SQLITE_OK) return -1;
    if (exec_sql(db, sync) != SQLITE_OK) return -1;
    return 0;
}

int ym_db_open(const char *path, const ym_db_opts *opts, ym_db **out, char *err, size_t errlen)
{
    *out = NULL;
    ym_db *db = calloc(1, sizeof *db);
    if (!db) {
        fmt_err(err, errlen, "cannot open %s: out of memory", path);
        return -1;
    }
    /* NOMUTEX: a connection never crosses threads, so SQLite's own locking is waste. */
    int flags = SQLITE_OPEN_NOMUTEX |
                (opts && opts->readonly ? SQLITE_OPEN_READONLY
                                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &db->h, flags, NULL);
    if (rc != SQLITE_OK)
        set_err(db, "%s", db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
    if (rc != SQLITE_OK || configure(db, opts)) {
        fmt_err(err, errlen, "cannot open %s: %s", path, db->errmsg);
        sqlite3_close_v2(db->h);
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

static void cache_clear(ym_db *db);
static void finish_batch(ym_db *db, int rc);

void ym_db_close(ym_db *db)
{
    if (!db) return;
    db->closing = true;
    if (db->batch_open) { /* nothing queued may wait forever: tell them it failed */
        rollback_if_open(db);
        finish_batch(db, SQLITE_ABORT);
    }
    free(db->waits);
    cache_clear(db);
    /* close_v2 so a statement a caller forgot to finalise cannot leak the handle */
    sqlite3_close_v2(db->h);
    free(db);
}

/* ---- statement cache ---- */

static uint64_t key_hash(const char *owner, const char *sql)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = owner; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* separator: ("ab","c") != ("a","bc") */
    for (const char *p = sql; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

static void lru_unlink(ym_db *db, cache_entry *e)
{
    if (e->newer) e->newer->older = e->older; else db->newest = e->older;
    if (e->older) e->older->newer = e->newer; else db->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(ym_db *db, cache_entry *e)
{
    e->older = db->newest;
    e->newer = NULL;
    if (db->newest) db->newest->newer = e; else db->oldest = e;
    db->newest = e;
}

static void entry_free(cache_entry *e)
{
    sqlite3_finalize(e->stmt);
    free(e->owner);
    free(e->sql);
    free(e);
}

static size_t ptr_slot(const sqlite3_stmt *st) { return ((uintptr_t)st >> 4) & (CACHE_BUCKETS - 1); }

static void cache_evict_oldest(ym_db *db)
{
    cache_entry *e = db->oldest;
    cache_entry **pp = &db->buckets[e->hash & (CACHE_BUCKETS - 1)];
    while (*pp != e) pp = &(*pp)->next;
    *pp = e->next;
    pp = &db->by_stmt[ptr_slot(e->stmt)];
    while (*pp != e) pp = &(*pp)->next_ptr;
    *pp = e->next_ptr;
    lru_unlink(db, e);
    entry_free(e);
    db->cached--;
}

static void cache_clear(ym_db *db)
{
    while (db->oldest) cache_evict_oldest(db);
}

static cache_entry *cache_find(ym_db *db, uint64_t h, const char *owner, const char *sql)
{
    for (cache_entry *e = db->buckets[h & (CACHE_BUCKETS - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->sql, sql) && !strcmp(e->owner, owner)) return e;
    return NULL;
}

/* One statement per cache entry: trailing SQL would otherwise be ignored silently. */
static bool only_space(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s) && *s != ';') return false;
    return true;
}

const char *ym_db_set_actor(ym_db *db, const char *owner);

static bool is_core_owner(const char *owner) { return !owner || strcmp(owner, "core") == 0; }

/* Does plugin SQL name a core table? Only the views core_v_* are theirs to read.
 * (A count(*) through a view reaches its table without naming the view to the
 * authorizer, so the text itself is checked as well.) */
static bool names_core_table(const char *sql)
{
    for (const char *p = sql; (p = strcasestr(p, "core_")); p += 5) {
        bool word_start = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        if (word_start && strncasecmp(p + 5, "v_", 2) != 0)
            return true;
    }
    return false;
}

static sqlite3_stmt *prepare_new(ym_db *db, const char *owner, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (!is_core_owner(owner) && names_core_table(sql)) {
        set_err(db, "not authorized: plugins read core data only through the views core_v_* (core_v_units, core_v_users, core_v_items)");
        return NULL;
    }
    const char *prev = ym_db_set_actor(db, owner);
    int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    ym_db_set_actor(db, prev);
    if (rc != SQLITE_OK) {
        set_err(db, "%s", sqlite3_errmsg(db->h));
        return NULL;
    }
    if (!st || (tail && !only_space(tail))) {
        sqlite3_finalize(st);
        set_err(db, st ? "more than one SQL statement" : "empty SQL statement");
        return NULL;
    }
    return st;
}

sqlite3_stmt *ym_db_prepare(ym_db *db, const char *owner, const char *sql)
{
    uint64_t h = key_hash(owner, sql);
    cache_entry *e = cache_find(db, h, owner, sql);
    if (e) {
        lru_unlink(db, e);
        lru_push(db, e);
        sqlite3_reset(e->stmt);
        sqlite3_clear_bindings(e->stmt);
        return e->stmt;
    }
    sqlite3_stmt *st = prepare_new(db, owner, sql);
    if (!st) return NULL;
    e = calloc(1, sizeof *e);
    if (e) e->owner = strdup(owner), e->sql = strdup(sql);
    if (!e || !e->owner || !e->sql) {
        if (e) free(e->owner), free(e->sql), free(e);
        sqlite3_finalize(st);
        set_err(db, "out of memory");
        return NULL;
    }
    if (db->cached >= CACHE_MAX) cache_evict_oldest(db);
    e->hash = h;
    e->stmt = st;
    e->next = db->buckets[h & (CACHE_BUCKETS - 1)];
    db->buckets[h & (CACHE_BUCKETS - 1)] = e;
    e->next_ptr = db->by_stmt[ptr_slot(st)];
    db->by_stmt[ptr_slot(st)] = e;
    lru_push(db, e);
    db->cached++;
    return st;
}

int ym_db_exec(ym_db *db, const char *sql, char *err, size_t errlen)
{
    if (exec_sql(db, sql) == SQLITE_OK) return 0;
    fmt_err(err, errlen, "%s", db->errmsg);
    return -1;
}

/* ---- migrations ---- */

typedef struct plan_item {
    const ym_migration *m;
    unsigned long num;
    char sum[2 * 32 + 1];
    bool applied;
} plan_item;

/* NNN_word.sql with 3+ digits: the number orders them, the word is for people. */
static bool parse_name(const char *name, unsigned long *num)
{
    size_t d = 0;
    while (isdigit((unsigned char)name[d])) d++;
    if (d < 3 || d > 9 || name[d] != '_') return false;
    const char *w = name + d + 1;
    size_t wl = strlen(w);
    if (wl <= 4 || strcmp(w + wl - 4, ".sql")) return false;
    for (size_t i = 0; i < wl - 4; i++)
        if (!isalnum((unsigned char)w[i]) && w[i] != '_' && w[i] != '-') return false;
    *num = strtoul(name, NULL, 10);
    return true;
}

static int sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return -1;
    for (unsigned i = 0; i < mdlen; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int plan_cmp(const void *a, const void *b)
{
    unsigned long x = ((const plan_item *)a)->num, y = ((const plan_item *)b)->num;
    return x < y ? -1 : x > y;
}

/* Validates names, checksums the SQL and sorts by number; everything before BEGIN. */
static int plan_build(ym_db *db, const char *owner, const ym_migration *m, size_t n,
                      plan_item *plan)
{
    for (size_t i = 0; i < n; i++) {
        plan[i].m = &m[i];
        if (!m[i].name || !parse_name(m[i].name, &plan[i].num))
            return set_err(db, "%s migration %s: bad name (want NNN_name.sql)", owner,
                           m[i].name ? m[i].name : "(null)");
        if (!m[i].sql || sha256_hex(m[i].sql, m[i].len, plan[i].sum))
            return set_err(db, "%s migration %s: cannot checksum", owner, m[i].name);
    }
    qsort(plan, n, sizeof *plan, plan_cmp);
    for (size_t i = 1; i < n; i++)
        if (plan[i].num == plan[i - 1].num)
            return set_err(db, "%s migrations %s and %s share number %lu", owner,
                           plan[i - 1].m->name, plan[i].m->name, plan[i].num);
    return 0;
}

static plan_item *plan_find(plan_item *plan, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(plan[i].m->name, name)) return &plan[i];
    return NULL;
}

/* Marks what is applied; refuses a database from a newer build or an edited file. */
static int plan_check_applied(ym_db *db, const char *owner, plan_item *plan, size_t n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT name, checksum FROM core_migrations WHERE owner = ?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    int rc = SQLITE_DONE, ret = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *sum = (const char *)sqlite3_column_text(st, 1);
        plan_item *p = plan_find(plan, n, name ? name : "");
        if (!p)
            ret = set_err(db, "database was migrated by a newer yimen (%s migration %s is "
                          "unknown to this build)", owner, name ? name : "");
        else if (!sum || strcmp(sum, p->sum))
            ret = set_err(db, "%s migration %s was changed after it was applied (checksum "
                          "mismatch)", owner, name);
        else
            p->applied = true;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = set_err(db, "cannot read core_migrations: %s", sqlite3_errmsg(db->h));
    sqlite3_reset(st);
    return ret;
}

static void rfc3339_utc(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, len - k, ".%03dZ", (int)(ms % 1000));
}

static int record_applied(ym_db *db, const char *owner, const plan_item *p)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_migrations(owner, name, checksum, applied_at) VALUES(?1, ?2, ?3, ?4)");
    if (!st) return -1;
    char at[40];
    rfc3339_utc(ym_now(), at, sizeof at);
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->sum, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, at, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) set_err(db, "%s", sqlite3_errmsg(db->h));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int apply_one(ym_db *db, const char *owner, const plan_item *p)
{
    /* sqlite3_exec wants a terminated string; ym_migration only promises len bytes */
    char *sql = malloc(p->m->len + 1);
    if (!sql) return set_err(db, "%s migration %s failed: out of memory", owner, p->m->name);
    memcpy(sql, p->m->sql, p->m->len);
    sql[p->m->len] = '\0';
    const char *prev = ym_db_set_actor(db, owner); /* a plugin's migration touches only its tables */
    db->migrating = true;
    int rc = exec_sql(db, sql);
    db->migrating = false;
    ym_db_set_actor(db, prev);
    free(sql);
    if (rc == SQLITE_OK && sqlite3_get_autocommit(db->h))
        set_err(db, "it ended the transaction"), rc = SQLITE_MISUSE;
    if (rc == SQLITE_OK && record_applied(db, owner, p)) rc = SQLITE_ERROR;
    if (rc == SQLITE_OK) return 0;
    char why[sizeof db->errmsg];
    memcpy(why, db->errmsg, sizeof why);
    return set_err(db, "%s migration %s failed: %s", owner, p->m->name, why);
}

/* Read-only look: is every migration already applied, unchanged, with nothing
 * unknown beside it? Anything else (or any doubt) goes the locked way. */
static bool all_applied(ym_db *db, const char *owner, plan_item *plan, size_t n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT count(*) FROM sqlite_schema WHERE name = 'core_migrations'");
    bool have = st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    if (st)
        sqlite3_reset(st);
    if (!have || exec_sql(db, "BEGIN") != SQLITE_OK)
        return false;
    bool ok = plan_check_applied(db, owner, plan, n) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = plan[i].applied;
    exec_sql(db, "COMMIT");
    for (size_t i = 0; i < n; i++)
        plan[i].applied = false; /* the locked pass decides afresh */
    return ok;
}

static int migrate_in_tx(ym_db *db, const char *owner, plan_item *plan, size_t n)
{
    if (exec_sql(db, "CREATE TABLE IF NOT EXISTS core_migrations ("
                     "owner TEXT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, "
                     "applied_at TEXT NOT NULL, PRIMARY KEY(owner, name))") != SQLITE_OK)
        return -1;
    if (plan_check_applied(db, owner, plan, n)) return -1;
    for (size_t i = 0; i < n; i++)
        if (!plan[i].applied && apply_one(db, owner, &plan[i])) return -1;
    if (exec_sql(db, "COMMIT") != SQLITE_OK) {
        char why[sizeof db->errmsg];
        memcpy(why, db->errmsg, sizeof why);
        return set_err(db, "%s migrations could not be committed: %s", owner, why);
    }
    return 0;
}

int ym_db_migrate(ym_db *db, const char *owner, const ym_migration *m, size_t n,
                  char *err, size_t errlen)
{
    int ret = -1;
    plan_item *plan = calloc(n ? n : 1, sizeof *plan);
    if (!owner || !*owner) set_err(db, "migrations need an owner");
    else if (db->batch_open) set_err(db, "cannot migrate inside a write batch");
    else if (!plan) set_err(db, "out of memory");
    else if (plan_build(db, owner, m, n, plan) == 0) {
        if (all_applied(db, owner, plan, n)) {
            ret = 0; /* the usual start: nothing to do, so no write lock to wait for */
        } else if (exec_sql(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
            char why[sizeof db->errmsg];
            memcpy(why, db->errmsg, sizeof why);
            set_err(db, "%s migrations: cannot begin: %s", owner, why);
        } else if ((ret = migrate_in_tx(db, owner, plan, n)) != 0) {
            rollback_if_open(db);
        }
    }
    free(plan);
    if (ret) fmt_err(err, errlen, "%s", db->errmsg);
    return ret;
}

/* ---- group commit ---- */

static int savepoint(ym_db *db, const char *verb, int n)
{
    char sql[48];
    snprintf(sql, sizeof sql, "%s w%d", verb, n);
    return exec_sql(db, sql);
}

/* SQLite rolls a whole transaction back by itself after some errors (IOERR, FULL,
 * NOMEM, ...): then the batch is gone and every request in it has failed. */
static bool batch_lost(ym_db *db)
{
    return db->batch_open && sqlite3_get_autocommit(db->h);
}

int ym_db_write_begin(ym_db *db)
{
    if (db->closing) return set_err(db, "database is closing");
    /* SQLite lets BEGIN IMMEDIATE through on a read-only handle; fail here, not later */
    if (sqlite3_db_readonly(db->h, "main") == 1) return set_err(db, "database is read-only");
    if (batch_lost(db)) return set_err(db, "the write batch was rolled back; flush first");
    bool opened = false;
    ym_db_read_end(db); /* its snapshot may be older than the write lock's: start afresh */
    if (!db->batch_open) {
        if (exec_sql(db, "BEGIN IMMEDIATE") != SQLITE_OK) return -1;
        db->batch_open = opened = true;
    }
    if (savepoint(db, "SAVEPOINT", db->depth + 1) != SQLITE_OK) {
        if (opened && db->nwaits == 0) { /* nobody else shares it yet: undo cleanly */
            rollback_if_open(db);
            db->batch_open = false;
        }
        return -1;
    }
    db->depth++;
    return 0;
}

int ym_db_write_end(ym_db *db, bool ok)
{
    if (db->depth == 0) return set_err(db, "write_end without write_begin");
    int n = db->depth--;
    if (batch_lost(db)) return set_err(db, "the write batch was rolled back");
    if (ok && savepoint(db, "RELEASE", n) == SQLITE_OK) return 0;
    /* a failed request (or a failed RELEASE) takes back only its own changes */
    if (savepoint(db, "ROLLBACK TO", n) != SQLITE_OK || savepoint(db, "RELEASE", n) != SQLITE_OK)
        return -1;
    return ok ? -1 : 0; /* errmsg still holds why RELEASE failed */
}

int ym_db_after_commit(ym_db *db, ym_db_commit_cb cb, void *ud)
{
    if (!db->batch_open) { /* nothing to wait for */
        cb(ud, SQLITE_OK);
        return 0;
    }
    if (db->nwaits == db->capwaits) {
        size_t cap = db->capwaits ? 2 * db->capwaits : 16;
        commit_wait *w = realloc(db->waits, cap * sizeof *w);
        if (!w) return set_err(db, "out of memory");
        db->waits = w;
        db->capwaits = cap;
    }
    db->waits[db->nwaits++] = (commit_wait){cb, ud};
    return 0;
}

bool ym_db_in_write(ym_db *db)
{
    return db->depth > 0;
}

/* Closes the batch and tells everyone queued. The queue is swapped out first because
 * a callback may start the next batch (write_begin, after_commit) right away. */
static void finish_batch(ym_db *db, int rc)
{
    commit_wait *w = db->waits;
    size_t n = db->nwaits;
    db->waits = NULL;
    db->nwaits = db->capwaits = 0;
    db->batch_open = false;
    db->depth = 0;
    for (size_t i = 0; i < n; i++) w[i].cb(w[i].ud, rc);
    free(w);
}

int ym_db_flush(ym_db *db)
{
    if (db->depth > 0) return set_err(db, "cannot flush inside a write (savepoint w%d)", db->depth);
    if (!db->batch_open) return 0;
    int rc;
    if (batch_lost(db)) {
        rc = SQLITE_ABORT;
        set_err(db, "the write batch was rolled back before commit");
    } else if ((rc = exec_sql(db, "COMMIT")) != SQLITE_OK) {
        rollback_if_open(db);
    }
    if (rc == SQLITE_OK)
        ym_cache_bump(); /* before anyone hears of the change: no cache may outlive it */
    finish_batch(db, rc);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- backup ---- */

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The rename is durable only once the directory holding it is synced. */
static int fsync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) return fsync_path(".", O_RDONLY | O_DIRECTORY);
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= sizeof dir) return -1;
    memcpy(dir, path, len);
    dir[len] = '\0';
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

static int backup_copy(ym_db *db, const char *tmp)
{
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", db->h, "main");
        if (b) {
            rc = sqlite3_backup_step(b, -1);
            int frc = sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? frc : rc;
        } else {
            rc = sqlite3_errcode(dst);
        }
    }
    if (rc != SQLITE_OK)
        set_err(db, "%s", dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
    if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK)
        rc = set_err(db, "cannot close %s", tmp);
    return rc == SQLITE_OK ? 0 : -1;
}

/* A stale -wal beside the final name would be replayed into the new copy. */
static int remove_stale(const char *path, const char *suffix)
{
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s%s", path, suffix) >= sizeof p) return -1;
    return unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

int ym_db_backup(ym_db *db, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    int ret = -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        set_err(db, "path too long");
    else if (db->batch_open) /* the copy would include uncommitted writes */
        set_err(db, "cannot back up inside a write batch");
    else if ((remove_stale(tmp, "") || remove_stale(tmp, "-journal")))
        set_err(db, "cannot remove old %s: %s", tmp, strerror(errno));
    else if (backup_copy(db, tmp) == 0) {
        if (fsync_path(tmp, O_RDONLY) || remove_stale(path, "-wal") ||
            remove_stale(path, "-shm") || rename(tmp, path) || fsync_parent(path))
            set_err(db, "%s", strerror(errno));
        else
            ret = 0;
    }
    if (ret) {
        unlink(tmp);
        fmt_err(err, errlen, "cannot back up to %s: %s", path, db->errmsg);
    }
    return ret;
}

/* ---- core_state ---- */

int ym_db_state_get_int(ym_db *db, const char *key, long long *out)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT value FROM core_state WHERE key = ?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), ret = 1;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        char *end = NULL;
        errno = 0;
        long long x = v ? strtoll(v, &end, 10) : 0;
        if (!v || end == v || *end || errno) {
            ret = set_err(db, "core_state %s is not an integer", key);
        } else {
            *out = x;
            ret = 0;
        }
    } else if (rc != SQLITE_DONE) {
        ret = set_err(db, "%s", sqlite3_errmsg(db->h));
    }
    sqlite3_reset(st);
    return ret;
}

static int state_upsert_text(ym_db *db, const char *key, const char *value)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_state(key, value) VALUES(?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) set_err(db, "%s", sqlite3_errmsg(db->h));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int state_upsert(ym_db *db, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return state_upsert_text(db, key, buf);
}

int ym_db_state_set_int(ym_db *db, const char *key, long long v)
{
    /* inside any open transaction (a write batch) the batch's COMMIT carries it */
    if (!sqlite3_get_autocommit(db->h)) return state_upsert(db, key, v);
    if (exec_sql(db, "BEGIN IMMEDIATE") != SQLITE_OK) return -1;
    if (state_upsert(db, key, v) || exec_sql(db, "COMMIT") != SQLITE_OK) {
        rollback_if_open(db);
        return -1;
    }
    return 0;
}

bool ym_db_in_batch(ym_db *db) { return db->batch_open; }

int ym_db_write_now(ym_db *db)
{
    if (ym_db_in_write(db) || (ym_db_in_batch(db) && ym_db_flush(db) < 0))
        return -1;
    return ym_db_write_begin(db);
}

int ym_db_commit_now(ym_db *db, bool ok)
{
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    return ym_db_flush(db) == 0 && ok ? 0 : -1;
}

int ym_db_state_set_text(ym_db *db, const char *key, const char *value)
{
    if (!sqlite3_get_autocommit(db->h)) return state_upsert_text(db, key, value);
    if (exec_sql(db, "BEGIN IMMEDIATE") != SQLITE_OK) return -1;
    if (state_upsert_text(db, key, value) || exec_sql(db, "COMMIT") != SQLITE_OK) {
        rollback_if_open(db);
        return -1;
    }
    return 0;
}

char *ym_db_state_get_text(ym_db *db, const char *key)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT value FROM core_state WHERE key = ?1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return v;
}

/* Steps as the statement's owner: SQLite re-prepares a statement after a schema
 * change, and the authorizer must then judge it for the same owner again. */
int ym_db_step(ym_db *db, sqlite3_stmt *st)
{
    const char *owner = NULL;
    for (cache_entry *e = db->by_stmt[ptr_slot(st)]; e; e = e->next_ptr)
        if (e->stmt == st) {
            owner = e->owner;
            break;
        }
    const char *prev = ym_db_set_actor(db, owner);
    int rc = sqlite3_step(st);
    ym_db_set_actor(db, prev);
    return rc;
}

/* One deferred transaction around a request's reads: SQLite then takes its file
 * and WAL locks once per request instead of once per statement. */
int ym_db_read_begin(ym_db *db)
{
    if (db->read_open || db->batch_open || !sqlite3_get_autocommit(db->h))
        return 0;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "BEGIN");
    if (!st || sqlite3_step(st) != SQLITE_DONE)
        return -1;
    db->read_open = true;
    return 0;
}

void ym_db_read_end(ym_db *db)
{
    if (!db->read_open)
        return;
    db->read_open = false;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "COMMIT");
    if (!st || sqlite3_step(st) != SQLITE_DONE)
        rollback_if_open(db);
}
