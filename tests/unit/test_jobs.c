/* test_jobs: schedule parsing and next-run times in Asia/Shanghai (with the shipped
 * 2026 calendar), and the lease claim, backoff and pause on a temporary database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "jobs.h"
#include "clock.h"
#include "calendar.h"

/* Local wall time "YYYY-MM-DDTHH:MM" → ms (the timezone is Asia/Shanghai). */
static int64_t L(const char *s)
{
    struct tm tm = {.tm_isdst = -1};
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M", &tm));
    return (int64_t)mktime(&tm) * 1000;
}

static void expect_next(const char *sched, const char *after, const char *want, const ym_calendar *cal)
{
    ym_schedule s;
    char err[256] = "", got[48];
    if (ym_schedule_parse(sched, &s, err, sizeof err) < 0)
        fail_msg("%s: %s", sched, err);
    int64_t t = ym_schedule_next(&s, L(after), cal);
    if (t == YM_JOB_NEVER)
        snprintf(got, sizeof got, "never");
    else
        ym_time_format(t, got, sizeof got);
    if (strncmp(got, want, strlen(want)) != 0)
        fail_msg("%s after %s: got %s, want %s", sched, after, got, want);
}

static void test_parse(void **state)
{
    const char *good[] = {"every 5m", "every 30s", "every 2h", "every 1d", "daily 09:00", "daily 23:59",
                          "monthly 28 17:00", "monthly 31 00:00", "workday 3 09:00", "at 2026-12-01T09:00", "after 10m", "after 2h"};
    const char *bad[] = {"", "every", "every 5", "every 0m", "every 5x", "every 5mm", "every -1m", "every 400d",
                         "daily 9:00", "daily 24:00", "daily 09:60", "daily 09:00 ", "monthly 0 17:00",
                         "monthly 32 17:00", "monthly 28", "workday 0 09:00", "workday 24 09:00",
                         "at 2026-02-30T09:00", "at 2026-12-01 09:00", "at 2026-12-01T9:00", "weekly 1 09:00",
                         "after", "after 0m", "after 10"};
    ym_schedule s;
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (ym_schedule_parse(good[i], &s, err, sizeof err) < 0)
            fail_msg("%s refused: %s", good[i], err);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        if (ym_schedule_parse(bad[i], &s, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_true(strlen(err) > 10);
    }
    assert_int_equal(ym_schedule_parse("every 2h", &s, err, sizeof err), 0);
    assert_int_equal(s.every_ms, 7200000);
    assert_int_equal(ym_schedule_parse("weekly 1 09:00", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "use every, daily, monthly, workday, at or after"));
    /* "after": once, that long after the first registration, then never */
    assert_int_equal(ym_schedule_parse("after 2h", &s, err, sizeof err), 0);
    assert_int_equal(s.kind, YM_SCHED_AFTER);
    assert_int_equal(ym_schedule_first(&s, 1000, NULL), 1000 + 7200000);
    assert_int_equal(ym_schedule_next(&s, 1000 + 7200000, NULL), YM_JOB_NEVER);
    assert_int_equal(ym_schedule_parse("after 0m", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"after\" and a duration"));
}

static void test_next(void **state)
{
    char err[256] = "";
    ym_calendar *cal = ym_calendar_load("config/calendar", err, sizeof err);
    if (!cal)
        fail_msg("%s", err);
    expect_next("every 5m", "2026-11-27T08:00", "2026-11-27T08:05:00.000+08:00", cal);
    expect_next("daily 09:00", "2026-11-27T08:00", "2026-11-27T09:00:00.000+08:00", cal);
    expect_next("daily 09:00", "2026-11-27T09:00", "2026-11-28T09:00", cal); /* strictly after */
    expect_next("daily 09:00", "2026-12-31T10:00", "2027-01-01T09:00", cal);
    expect_next("monthly 28 17:00", "2026-11-27T08:00", "2026-11-28T17:00", cal);
    expect_next("monthly 28 17:00", "2026-11-28T17:00", "2026-12-28T17:00", cal);
    expect_next("monthly 31 17:00", "2026-01-31T18:00", "2026-02-28T17:00", cal); /* short month: its last day */
    expect_next("monthly 31 17:00", "2026-02-28T17:00", "2026-03-31T17:00", cal);
    expect_next("monthly 30 08:00", "2028-02-01T00:00", "2028-02-29T08:00", cal); /* leap year */
    expect_next("workday 1 09:00", "2026-10-01T00:00", "2026-10-08T09:00", cal); /* after 国庆 */
    expect_next("workday 3 09:00", "2026-10-09T10:00", "2026-10-10T09:00", cal); /* a Saturday worked (调休) */
    expect_next("workday 1 09:00", "2026-10-08T09:00", "2026-11-02T09:00", cal); /* Nov 1 is a Sunday */
    expect_next("at 2026-12-01T09:00", "2026-11-27T08:00", "2026-12-01T09:00", cal);
    expect_next("at 2026-12-01T09:00", "2026-12-01T09:00", "never", cal);
    ym_schedule s;
    assert_int_equal(ym_schedule_parse("at 2026-12-01T09:00", &s, err, sizeof err), 0);
    assert_int_equal(ym_schedule_first(&s, L("2026-12-05T00:00"), cal), L("2026-12-01T09:00")); /* not yet run */
    ym_calendar_free(cal);
}

typedef struct tmpdb {
    char path[64];
    ym_db *a, *b;  /* two connections: two workers */
} tmpdb;

static void tmpdb_open(tmpdb *t)
{
    char err[256] = "";
    snprintf(t->path, sizeof t->path, "/tmp/ym-jobs-%d.db", (int)getpid());
    unlink(t->path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    assert_int_equal(ym_db_open(t->path, &o, &t->a, err, sizeof err), 0);
    assert_int_equal(ym_db_migrate(t->a, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err), 0);
    assert_int_equal(ym_db_open(t->path, &o, &t->b, err, sizeof err), 0);
}

static void tmpdb_close(tmpdb *t)
{
    ym_db_close(t->a);
    ym_db_close(t->b);
    char p[80];
    unlink(t->path);
    snprintf(p, sizeof p, "%s-wal", t->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", t->path);
    unlink(p);
}

static long long q(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

static void exec(ym_db *db, const char *sql)
{
    char err[256] = "";
    if (ym_db_exec(db, sql, err, sizeof err) < 0)
        fail_msg("%s: %s", sql, err);
}

static void test_claim(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    exec(t.a, "INSERT INTO core_jobs(name, owner, schedule, next_run) VALUES('core.t', 'core', 'every 1h', 1000)");
    assert_int_equal(ym_jobs_claim(t.a, "core.t", 2000, "a"), 1);
    assert_int_equal(ym_jobs_claim(t.b, "core.t", 2000, "b"), 0);          /* exactly one wins */
    assert_int_equal(ym_jobs_claim(t.b, "core.t", 2000 + YM_JOB_LEASE_MS, "b"), 0); /* lease still held */
    assert_int_equal(ym_jobs_claim(t.b, "core.t", 2001 + YM_JOB_LEASE_MS, "b"), 1); /* expired: a crashed */
    ym_schedule s;
    char err[256];
    assert_int_equal(ym_schedule_parse("every 1h", &s, err, sizeof err), 0);
    /* a's late record must not clobber b's run */
    assert_int_equal(ym_jobs_record(t.a, "core.t", "a", &s, 70000, true, NULL), 0);
    assert_int_equal(q(t.a, "SELECT runs FROM core_jobs"), 0);
    assert_int_equal(ym_jobs_record(t.b, "core.t", "b", &s, 70000, true, NULL), 0);
    assert_int_equal(q(t.a, "SELECT runs FROM core_jobs"), 1);
    assert_int_equal(q(t.a, "SELECT next_run FROM core_jobs"), 70000 + 3600000);
    assert_int_equal(q(t.a, "SELECT lease_until FROM core_jobs"), 0);
    assert_int_equal(ym_jobs_claim(t.a, "core.t", 80000, "a"), 0);         /* not due yet */
    tmpdb_close(&t);
}

static void test_backoff_and_pause(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    exec(t.a, "INSERT INTO core_jobs(name, owner, schedule, next_run) VALUES('core.t', 'core', 'every 1h', 0)");
    ym_schedule s;
    char err[256];
    assert_int_equal(ym_schedule_parse("every 1h", &s, err, sizeof err), 0);
    int64_t now = 1000000, want[] = {60000, 120000, 240000, 480000, 960000};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ym_jobs_claim(t.a, "core.t", now, "a"), 1);
        assert_int_equal(ym_jobs_record(t.a, "core.t", "a", &s, now, false, "boom"), 0);
        assert_int_equal(q(t.a, "SELECT failures FROM core_jobs"), i + 1);
        assert_int_equal(q(t.a, "SELECT next_run FROM core_jobs") - now, want[i]);
        assert_int_equal(q(t.a, "SELECT paused FROM core_jobs"), i == 4);
        now += want[i];
    }
    assert_int_equal(q(t.a, "SELECT last_error = 'boom' FROM core_jobs"), 1);
    assert_int_equal(ym_jobs_claim(t.a, "core.t", now + 10 * 3600000LL, "a"), 0); /* paused: never claimed */
    tmpdb_close(&t);
}

static int g_calls, g_fail;

static int count_job(void *ud, char *err, size_t errlen)
{
    g_calls++;
    if (g_fail)
        snprintf(err, errlen, "told to fail");
    return g_fail ? -1 : 0;
}

/* Two workers' registries on two connections: one due time, one run. */
static void test_run_due(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    char err[256] = "";
    ym_jobs *ja = ym_jobs_new(), *jb = ym_jobs_new();
    assert_int_equal(ym_jobs_add(ja, "core.count", "core", "every 1h", count_job, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ym_jobs_add(ja, "core.count", "core", "every 1h", count_job, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(ym_jobs_add(ja, "other.x", "core", "every 1h", count_job, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(ym_jobs_add(ja, "core.Bad", "core", "every 1h", count_job, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(ym_jobs_add(ja, "core.y", "core", "hourly", count_job, NULL, NULL, err, sizeof err), -1);
    assert_int_equal(ym_jobs_add(jb, "core.count", "core", "every 1h", count_job, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ym_jobs_start(ja, NULL, t.a, NULL, err, sizeof err), 0);
    long long next = q(t.a, "SELECT next_run FROM core_jobs");
    assert_true(next > ym_now() + 3500000);
    assert_int_equal(ym_jobs_start(jb, NULL, t.b, NULL, err, sizeof err), 0);
    assert_int_equal(q(t.a, "SELECT next_run FROM core_jobs"), next); /* same schedule: kept */
    assert_int_equal(ym_jobs_run_due_on(ja) + ym_jobs_run_due_on(jb), 0);
    exec(t.a, "UPDATE core_jobs SET next_run = 0");                      /* fell due while down */
    assert_int_equal(ym_jobs_run_due_on(ja) + ym_jobs_run_due_on(jb), 1);
    assert_int_equal(g_calls, 1);
    assert_int_equal(q(t.a, "SELECT runs FROM core_jobs"), 1);
    exec(t.a, "UPDATE core_jobs SET next_run = 0");
    g_fail = 1;
    assert_int_equal(ym_jobs_run_due_on(jb), 1);
    assert_int_equal(q(t.a, "SELECT failures FROM core_jobs"), 1);
    ym_jobs_free(ja);
    ym_jobs_free(jb);
    /* a changed schedule recomputes next_run and forgets the failures */
    ym_jobs *jc = ym_jobs_new();
    assert_int_equal(ym_jobs_add(jc, "core.count", "core", "every 2h", count_job, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ym_jobs_start(jc, NULL, t.a, NULL, err, sizeof err), 0);
    assert_true(q(t.a, "SELECT next_run FROM core_jobs") > ym_now() + 7100000);
    assert_int_equal(q(t.a, "SELECT failures FROM core_jobs"), 0);
    ym_jobs_free(jc);
    tmpdb_close(&t);
}

int main(void)
{
    ym_clock_set_timezone("Asia/Shanghai");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse), cmocka_unit_test(test_next), cmocka_unit_test(test_claim),
        cmocka_unit_test(test_backoff_and_pause), cmocka_unit_test(test_run_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
