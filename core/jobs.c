/* jobs: the persistent scheduler: schedules parsed once at registration, next run
 * times in the server's timezone, and runs claimed by a lease in core_jobs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "jobs.h"
#include "clock.h"
#include "log.h"
#include "plugin.h"
#include "notify.h"
#include "files.h"
#include "todo.h"

#define DAY_MS 86400000LL
#define MAX_BACKOFF_MS 3600000LL
#define SESSION_KEEP_MS (30 * DAY_MS)

typedef struct job {
    char name[64];
    char owner[33];
    char text[64];            /* the schedule as registered (what core_jobs stores) */
    ym_schedule s;
    ym_job_fn fn;
    void *ud;
    void (*ud_free)(void *);
} job;

struct ym_jobs {
    job *v;
    size_t n, cap;
    ym_db *db;
    uv_timer_t timer;
    bool timer_on, stopped, running;
    char by[24];              /* lease_by: this worker's pid */
};

static ym_jobs *g_current;

/* ---- schedules ---- */

/* Reads 1+ digits into *v (bounded); returns the rest, or NULL. */
static const char *digits(const char *p, long long max, long long *v)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    *v = 0;
    while (isdigit((unsigned char)*p)) {
        *v = *v * 10 + (*p++ - '0');
        if (*v > max)
            return NULL;
    }
    return p;
}

/* "HH:MM" exactly, and nothing after it. */
static int parse_hm(const char *p, int *h, int *m)
{
    if (strlen(p) != 5 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
        !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
        return -1;
    *h = (p[0] - '0') * 10 + (p[1] - '0');
    *m = (p[3] - '0') * 10 + (p[4] - '0');
    return *h < 24 && *m < 60 ? 0 : -1;
}

static int parse_every(const char *s, ym_schedule *o, char *err, size_t errlen)
{
    long long n;
    const char *u = digits(s + 6, 100000, &n);
    long long unit = !u || u[0] == 0 || u[1] != 0 ? 0 : u[0] == 's' ? 1000 : u[0] == 'm' ? 60000
                   : u[0] == 'h' ? 3600000 : u[0] == 'd' ? DAY_MS : 0;
    if (!unit || n < 1 || n * unit > 366 * DAY_MS) {
        snprintf(err, errlen, "bad schedule \"%s\": expected \"%.5s\" and a duration such as 30s, 5m, 2h "
                 "or 1d (at most 366d)", s, s);
        return -1;
    }
    o->every_ms = n * unit;
    return 0;
}

/* "N HH:MM" for monthly (N = day 1..31) and workday (N = working day 1..23). */
static int parse_nth(const char *p, int max, ym_schedule *o)
{
    long long n;
    const char *q = digits(p, 99, &n);
    if (!q || *q != ' ' || n < 1 || n > max)
        return -1;
    o->day = (int)n;
    return parse_hm(q + 1, &o->hour, &o->minute);
}

int ym_schedule_parse(const char *s, ym_schedule *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (!s) {
        snprintf(err, errlen, "missing schedule");
        return -1;
    }
    if (strncmp(s, "every ", 6) == 0 || strncmp(s, "after ", 6) == 0) {
        o->kind = s[0] == 'e' ? YM_SCHED_EVERY : YM_SCHED_AFTER;
        return parse_every(s, o, err, errlen);
    }
    int rc = -1;
    const char *want = "";
    if (strncmp(s, "daily ", 6) == 0) {
        o->kind = YM_SCHED_DAILY;
        rc = parse_hm(s + 6, &o->hour, &o->minute);
        want = "\"daily HH:MM\"";
    } else if (strncmp(s, "monthly ", 8) == 0) {
        o->kind = YM_SCHED_MONTHLY;
        rc = parse_nth(s + 8, 31, o);
        want = "\"monthly D HH:MM\" with D from 1 to 31";
    } else if (strncmp(s, "workday ", 8) == 0) {
        o->kind = YM_SCHED_WORKDAY;
        rc = parse_nth(s + 8, 23, o);
        want = "\"workday N HH:MM\" with N from 1 to 23";
    } else if (strncmp(s, "at ", 3) == 0) {
        char d[11];
        o->kind = YM_SCHED_AT;
        snprintf(d, sizeof d, "%.10s", s + 3);
        rc = strlen(s) > 13 && s[13] == 'T' && ym_date_parse(d, &o->date) == 0 ? parse_hm(s + 14, &o->hour, &o->minute) : -1;
        want = "\"at YYYY-MM-DDTHH:MM\"";
    } else {
        snprintf(err, errlen, "unknown schedule \"%s\": use every, daily, monthly, workday, at or after", s);
        return -1;
    }
    if (rc < 0)
        snprintf(err, errlen, "bad schedule \"%s\": expected %s", s, want);
    return rc;
}

/* Local wall time → ms; mktime normalizes day and month overflow. */
static int64_t local_ms(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_isdst = -1};
    return (int64_t)mktime(&tm) * 1000;
}

static void local_ymd(int64_t ms, int *y, int *mo, int *d)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    *y = tm.tm_year + 1900, *mo = tm.tm_mon + 1, *d = tm.tm_mday;
}

static void days_ymd(int32_t days, int *y, int *mo, int *d)
{
    time_t t = (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    *y = tm.tm_year + 1900, *mo = tm.tm_mon + 1, *d = tm.tm_mday;
}

static int days_in_month(int y, int mo)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return mo == 2 && leap ? 29 : dim[mo - 1];
}

/* The day of month (y, mo) a monthly or workday schedule fires on; 0 if none. */
static int fire_day(const ym_schedule *s, int y, int mo, const ym_calendar *cal)
{
    if (s->kind == YM_SCHED_MONTHLY)
        return s->day < days_in_month(y, mo) ? s->day : days_in_month(y, mo);
    char buf[11];
    int32_t first;
    snprintf(buf, sizeof buf, "%04d-%02d-01", y, mo);
    if (ym_date_parse(buf, &first) < 0)
        return 0;
    int32_t wd = ym_calendar_add_working_days(cal, ym_calendar_add_working_days(cal, first, 0), s->day - 1);
    int wy, wm, dd;
    days_ymd(wd, &wy, &wm, &dd);
    return wy == y && wm == mo ? dd : 0; /* a month with fewer working days is skipped */
}

int64_t ym_schedule_next(const ym_schedule *s, int64_t after, const ym_calendar *cal)
{
    int y, mo, d;
    local_ymd(after, &y, &mo, &d);
    if (s->kind == YM_SCHED_EVERY)
        return after + s->every_ms;
    if (s->kind == YM_SCHED_AFTER) /* once: after it has run, never again */
        return YM_JOB_NEVER;
    if (s->kind == YM_SCHED_AT) {
        int ay, am, ad;
        days_ymd(s->date, &ay, &am, &ad);
        int64_t t = local_ms(ay, am, ad, s->hour, s->minute);
        return t > after ? t : YM_JOB_NEVER;
    }
    if (s->kind == YM_SCHED_DAILY) {
        for (int k = 0; k < 3; k++) {
            int64_t t = local_ms(y, mo, d + k, s->hour, s->minute);
            if (t > after)
                return t;
        }
        return YM_JOB_NEVER;
    }
    for (int k = 0; k < 14; k++) { /* monthly / workday: this month, else the next ones */
        int yy = y + (mo - 1 + k) / 12, mm = (mo - 1 + k) % 12 + 1;
        int fd = fire_day(s, yy, mm, cal);
        int64_t t = fd ? local_ms(yy, mm, fd, s->hour, s->minute) : 0;
        if (fd && t > after)
            return t;
    }
    return YM_JOB_NEVER;
}

int64_t ym_schedule_first(const ym_schedule *s, int64_t now, const ym_calendar *cal)
{
    if (s->kind == YM_SCHED_AFTER)
        return now + s->every_ms;
    if (s->kind == YM_SCHED_AT) {
        int ay, am, ad;
        days_ymd(s->date, &ay, &am, &ad);
        return local_ms(ay, am, ad, s->hour, s->minute);
    }
    return ym_schedule_next(s, now, cal);
}

/* ---- the registry ---- */

ym_jobs *ym_jobs_new(void)
{
    ym_jobs *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    snprintf(j->by, sizeof j->by, "%d", (int)getpid());
    return j;
}

void ym_jobs_free(ym_jobs *j)
{
    if (!j)
        return;
    if (g_current == j)
        g_current = NULL;
    for (size_t i = 0; i < j->n; i++)
        if (j->v[i].ud_free)
            j->v[i].ud_free(j->v[i].ud);
    free(j->v);
    free(j);
}

void ym_jobs_set_current(ym_jobs *j) { g_current = j; }
ym_jobs *ym_jobs_current(void) { return g_current; }
size_t ym_jobs_count(const ym_jobs *j) { return j ? j->n : 0; }

/* "<owner>.<word>", word of [a-z0-9_]: the name is a key in the database and logs. */
static bool name_ok(const char *name, const char *owner)
{
    size_t n = strlen(owner);
    if (!name || strlen(name) >= sizeof ((job *)0)->name || strncmp(name, owner, n) != 0 || name[n] != '.' ||
        !name[n + 1])
        return false;
    for (const char *p = name + n + 1; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

int ym_jobs_add(ym_jobs *j, const char *name, const char *owner, const char *schedule, ym_job_fn fn, void *ud,
                void (*ud_free)(void *), char *err, size_t errlen)
{
    ym_schedule s;
    if (!owner || strlen(owner) >= sizeof ((job *)0)->owner || !name_ok(name, owner)) {
        snprintf(err, errlen, "job %s must be named %s.<word> (a-z, 0-9, _)", name ? name : "(null)",
                 owner ? owner : "?");
        return -1;
    }
    if (!fn || !schedule || strlen(schedule) >= sizeof ((job *)0)->text) {
        snprintf(err, errlen, "job %s needs a function and a schedule", name);
        return -1;
    }
    char why[200];
    if (ym_schedule_parse(schedule, &s, why, sizeof why) < 0) {
        snprintf(err, errlen, "job %s: %s", name, why);
        return -1;
    }
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->v[i].name, name) == 0) {
            snprintf(err, errlen, "job %s is registered twice", name);
            return -1;
        }
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 8;
        job *v = realloc(j->v, cap * sizeof *v);
        if (!v)
            abort();
        j->v = v, j->cap = cap;
    }
    job *b = &j->v[j->n++];
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    snprintf(b->owner, sizeof b->owner, "%s", owner);
    snprintf(b->text, sizeof b->text, "%s", schedule);
    b->s = s, b->fn = fn, b->ud = ud, b->ud_free = ud_free;
    return 0;
}

void ym_jobs_drop_owner(ym_jobs *j, const char *owner)
{
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (strcmp(j->v[i].owner, owner) == 0) {
            if (j->v[i].ud_free)
                j->v[i].ud_free(j->v[i].ud);
            continue;
        }
        j->v[k++] = j->v[i];
    }
    j->n = k;
}

/* Sessions that ended over 30 days ago: nobody can use them, and the audit log
 * (not this table) is the record of who signed in. Idempotent. */
static int sessions_cleanup(void *ud, char *err, size_t errlen)
{
    ym_jobs *j = ud;
    int64_t cutoff = ym_now() - SESSION_KEEP_MS;
    if (ym_db_write_begin(j->db) < 0) {
        snprintf(err, errlen, "%s", ym_db_errmsg(j->db));
        return -1;
    }
    sqlite3_stmt *st = ym_db_prepare(j->db, "core", "DELETE FROM core_sessions WHERE expires_at < ?1 "
                                                    "OR (revoked_at IS NOT NULL AND revoked_at < ?1)");
    bool ok = st && sqlite3_bind_int64(st, 1, cutoff) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        snprintf(err, errlen, "%s", ym_db_errmsg(j->db));
    if (st)
        sqlite3_reset(st);
    ym_db_write_end(j->db, ok);
    return ok ? 0 : -1;
}

/* Attachments never attached for a day, then unreferenced blobs and stale temp
 * files (core/files.c). Idempotent. */
static int files_cleanup(void *ud, char *err, size_t errlen)
{
    ym_jobs *j = ud;
    char dir[4096];
    if (!ym_files_data_dir(j->db, dir, sizeof dir)) {
        snprintf(err, errlen, "the data_dir is not known");
        return -1;
    }
    return ym_files_cleanup(j->db, dir, ym_now(), NULL, err, errlen);
}

/* To-dos resolved over 30 days ago (kept that long as history). Idempotent. */
static int todos_cleanup(void *ud, char *err, size_t errlen)
{
    ym_jobs *j = ud;
    if (ym_todo_cleanup(j->db, ym_now() - YM_TODO_KEEP_MS) < 0) {
        snprintf(err, errlen, "%s", ym_db_errmsg(j->db));
        return -1;
    }
    return 0;
}

int ym_jobs_add_core(ym_jobs *j)
{
    char err[256];
    if (ym_jobs_add(j, "core.sessions_cleanup", "core", "every 1h", sessions_cleanup, j, NULL, err, sizeof err) < 0 ||
        ym_jobs_add(j, "core.files_cleanup", "core", "daily 03:30", files_cleanup, j, NULL, err, sizeof err) < 0 ||
        ym_jobs_add(j, "core.todos_cleanup", "core", "daily 03:40", todos_cleanup, j, NULL, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "core job not registered", "error=%s", err);
        return -1;
    }
    return 0;
}

/* ---- the database side ---- */

/* A new or changed schedule recomputes next_run (and forgets a pause); an
 * unchanged one keeps it, so a restart neither skips nor repeats a due time. */
static int upsert(ym_db *db, const job *b, int64_t now)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_jobs(name, owner, schedule, next_run) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, schedule = excluded.schedule, "
        "next_run = CASE WHEN core_jobs.schedule = excluded.schedule THEN core_jobs.next_run ELSE excluded.next_run END, "
        "paused = CASE WHEN core_jobs.schedule = excluded.schedule THEN core_jobs.paused ELSE 0 END, "
        "failures = CASE WHEN core_jobs.schedule = excluded.schedule THEN core_jobs.failures ELSE 0 END");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, b->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ym_schedule_first(&b->s, now, ym_calendar_current()));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* A cheap read first: most ticks find nothing due and take no write lock. */
static bool is_due(ym_db *db, const char *name, int64_t now)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_jobs WHERE name = ?1 AND next_run <= ?2 "
                                                 "AND paused = 0 AND lease_until < ?2");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    bool due = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return due;
}

int ym_jobs_claim(ym_db *db, const char *name, int64_t now, const char *by)
{
    if (ym_db_write_now(db) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_jobs SET lease_until = ?1 + ?4, lease_by = ?2 "
                                                 "WHERE name = ?3 AND next_run <= ?1 AND lease_until < ?1 AND paused = 0");
    bool ok = st != NULL;
    int won = 0;
    if (ok) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, YM_JOB_LEASE_MS);
        ok = sqlite3_step(st) == SQLITE_DONE;
        won = ok && sqlite3_changes(ym_db_handle(db)) == 1;
        sqlite3_reset(st);
    }
    return ym_db_commit_now(db, ok) < 0 ? -1 : won;
}

static int failures_of(ym_db *db, const char *name)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT failures FROM core_jobs WHERE name = ?1");
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int f = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    return f;
}

/* The administrators hear of a paused job in their inbox (and through any channel
 * whose min_severity is warning), with the error, in the write that pauses it. */
static void notify_paused(ym_db *db, const char *name, int fails, const char *error)
{
    char title[160], body[1200], why[1001];
    snprintf(why, sizeof why, "%s", error ? error : "failed");
    size_t len = strlen(why);
    if (error && strlen(error) > len) /* cut at a character boundary, not inside one */
        while (len > 0 && ((unsigned char)why[len] & 0xc0) == 0x80)
            why[--len] = 0;
    for (char *c = why; *c; c++) /* the error may hold anything: keep the body printable */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    snprintf(title, sizeof title, "后台任务已暂停：%s", name);
    snprintf(body, sizeof body, "连续失败 %d 次后暂停，修复后在管理页恢复。最后的错误：%s", fails, why);
    ym_notice note = {.severity = "warning", .title = title, .body = body, .link = "#/admin/jobs"};
    ym_notify_admins(db, "core", &note);
}

int ym_jobs_record(ym_db *db, const char *name, const char *by, const ym_schedule *s, int64_t now, bool ok,
                   const char *error)
{
    if (ym_db_write_now(db) < 0)
        return -1;
    int before = ok ? 0 : failures_of(db, name), fails = ok ? 0 : before + 1;
    int64_t backoff = 60000LL << (before < 6 ? before : 6);
    int64_t next = ok ? ym_schedule_next(s, now, ym_calendar_current())
                      : now + (backoff < MAX_BACKOFF_MS ? backoff : MAX_BACKOFF_MS);
    bool pause = fails >= YM_JOB_MAX_FAILURES;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_jobs SET runs = runs + 1, last_run = ?1, next_run = ?2, lease_until = 0, lease_by = '', "
        "failures = ?3, last_error = ?4, paused = ?5 WHERE name = ?6 AND lease_by = ?7");
    bool done = st != NULL;
    int changed = 0;
    if (done) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, next);
        sqlite3_bind_int(st, 3, fails);
        if (ok) sqlite3_bind_null(st, 4);
        else sqlite3_bind_text(st, 4, error ? error : "failed", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, pause);
        sqlite3_bind_text(st, 6, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, by, -1, SQLITE_STATIC);
        done = sqlite3_step(st) == SQLITE_DONE;
        changed = sqlite3_changes(ym_db_handle(db));
        sqlite3_reset(st);
    }
    if (done && changed && pause && !ok)
        notify_paused(db, name, fails, error);
    if (ym_db_commit_now(db, done) < 0)
        return -1;
    if (!changed) /* ran longer than the lease and someone else took it: their record counts */
        ym_log(YM_LOG_WARN, "job lease lost before its run was recorded", "job=%s", name);
    else if (pause)
        ym_log(YM_LOG_WARN, "job paused after repeated failures", "job=%s failures=%d error=%s", name, fails,
               error ? error : "");
    else if (!ok)
        ym_log(YM_LOG_WARN, "job failed, will retry", "job=%s failures=%d error=%s", name, fails, error ? error : "");
    return 0;
}

/* ---- running ---- */

static bool run_one(ym_jobs *j, job *b)
{
    int64_t now = ym_now();
    if (!is_due(j->db, b->name, now) || ym_jobs_claim(j->db, b->name, now, j->by) != 1)
        return false;
    char err[256] = "";
    int rc = b->fn(b->ud, err, sizeof err);
    if (ym_db_in_write(j->db)) { /* a job that forgot its write_end: take its changes back */
        ym_log(YM_LOG_ERROR, "job left a write open", "job=%s", b->name);
        while (ym_db_in_write(j->db))
            ym_db_write_end(j->db, false);
        rc = -1;
        snprintf(err, sizeof err, "left a write open");
    }
    if (rc < 0 && !err[0])
        snprintf(err, sizeof err, "failed");
    if (ym_jobs_record(j->db, b->name, j->by, &b->s, ym_now(), rc == 0, err) < 0)
        ym_log(YM_LOG_ERROR, "job run not recorded", "job=%s error=%s", b->name, ym_db_errmsg(j->db));
    return true;
}

int ym_jobs_run_due_on(ym_jobs *j)
{
    if (!j || !j->db || j->stopped || j->running)
        return 0; /* running: a job that moved the test clock must not re-enter */
    j->running = true;
    int ran = 0;
    for (size_t i = 0; i < j->n; i++)
        ran += run_one(j, &j->v[i]);
    j->running = false;
    return ran;
}

int ym_jobs_run_due(void) { return ym_jobs_run_due_on(g_current); }

static void on_tick(uv_timer_t *t) { ym_jobs_run_due_on(t->data); }

int ym_jobs_start(ym_jobs *j, uv_loop_t *loop, ym_db *db, const struct ym_host *host, char *err, size_t errlen)
{
    for (size_t i = 0; host && i < host->n; i++)
        if (host->v[i].state != YM_PLUGIN_ENABLED)
            ym_jobs_drop_owner(j, host->v[i].name);
    j->db = db;
    int64_t now = ym_now();
    if (ym_db_write_now(db) < 0) {
        snprintf(err, errlen, "jobs: %s", ym_db_errmsg(db));
        return -1;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < j->n; i++)
        ok = upsert(db, &j->v[i], now) == 0;
    if (!ok)
        snprintf(err, errlen, "jobs: %s", ym_db_errmsg(db));
    if (ym_db_commit_now(db, ok) < 0) {
        if (ok)
            snprintf(err, errlen, "jobs: %s", ym_db_errmsg(db));
        return -1;
    }
    if (loop) {
        uv_timer_init(loop, &j->timer);
        j->timer.data = j;
        uv_timer_start(&j->timer, on_tick, 100, 1000); /* first tick soon: what fell due while down */
        uv_unref((uv_handle_t *)&j->timer);
        j->timer_on = true;
    }
    return 0;
}

void ym_jobs_stop(ym_jobs *j)
{
    if (!j)
        return;
    j->stopped = true;
    if (j->timer_on && !uv_is_closing((uv_handle_t *)&j->timer)) {
        uv_timer_stop(&j->timer);
        uv_close((uv_handle_t *)&j->timer, NULL);
    }
}

/* ---- yimen jobs ---- */

static const char *col_time(sqlite3_stmt *st, int c, char *buf, size_t len)
{
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        return "-";
    int64_t ms = sqlite3_column_int64(st, c);
    if (ms == YM_JOB_NEVER)
        return "never";
    ym_time_format(ms, buf, len);
    return buf;
}

int ym_jobs_cli(const char *db_path)
{
    char err[512];
    ym_db_opts o = {.synchronous = "full", .busy_timeout_ms = 5000, .readonly = true};
    ym_db *db;
    if (ym_db_open(db_path, &o, &db, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err);
        return 1;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT name, owner, schedule, next_run, last_run, runs, failures, "
                                                 "paused, last_error FROM core_jobs ORDER BY name");
    if (!st) {
        fprintf(stderr, "yimen: no jobs recorded yet (start the server once): %s\n", ym_db_errmsg(db));
        ym_db_close(db);
        return 1;
    }
    /* tab-separated: schedules and errors contain spaces */
    printf("NAME\tOWNER\tSCHEDULE\tNEXT_RUN\tLAST_RUN\tRUNS\tFAILURES\tPAUSED\tLAST_ERROR\n");
    while (sqlite3_step(st) == SQLITE_ROW) {
        char next[48], last[48];
        const char *e = (const char *)sqlite3_column_text(st, 8);
        printf("%s\t%s\t%s\t%s\t%s\t%lld\t%lld\t%s\t%s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
               sqlite3_column_text(st, 2), col_time(st, 3, next, sizeof next), col_time(st, 4, last, sizeof last),
               (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6),
               sqlite3_column_int(st, 7) ? "yes" : "no", e ? e : "-");
    }
    sqlite3_reset(st);
    ym_db_close(db);
    return 0;
}
