/* jobs: the persistent scheduler: jobs registered per worker, their schedule and
 * state in core_jobs, claimed by a lease so one worker runs each due time. */
#ifndef YM_JOBS_H
#define YM_JOBS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "db.h"
#include "calendar.h"

/* next_run of a one-shot job that has run: it never becomes due again. */
#define YM_JOB_NEVER INT64_MAX
#define YM_JOB_LEASE_MS 60000
#define YM_JOB_MAX_FAILURES 5

typedef enum { YM_SCHED_EVERY, YM_SCHED_DAILY, YM_SCHED_MONTHLY, YM_SCHED_WORKDAY, YM_SCHED_AT, YM_SCHED_AFTER } ym_sched_kind;

typedef struct ym_schedule {
    ym_sched_kind kind;
    int64_t every_ms;      /* EVERY; AFTER: the delay */
    int day;               /* MONTHLY: day of month 1..31; WORKDAY: n-th working day 1..20 */
    int hour, minute;      /* DAILY, MONTHLY, WORKDAY, AT (local time) */
    int32_t date;          /* AT: days since 1970-01-01 */
} ym_schedule;

/* A core job: 0 done, -1 failed with the reason in err. */
typedef int (*ym_job_fn)(void *ud, char *err, size_t errlen);

typedef struct ym_jobs ym_jobs;
struct ym_host;

/* "every 5m", "daily 09:00", "monthly 28 17:00", "workday 3 09:00",
 * "at 2026-12-01T09:00", "after 2h" (once, that long after the job is first registered).
 * 0, or -1 with what is wrong in err. */
int ym_schedule_parse(const char *s, ym_schedule *out, char *err, size_t errlen);
/* The first run time strictly after after_ms (YM_JOB_NEVER for a past "at");
 * cal decides working days (NULL: weekends only). */
int64_t ym_schedule_next(const ym_schedule *s, int64_t after_ms, const ym_calendar *cal);
/* next_run of a job first registered at now: like ym_schedule_next, except that an
 * "at" in the past is due at once (it has not run yet). */
int64_t ym_schedule_first(const ym_schedule *s, int64_t now_ms, const ym_calendar *cal);

ym_jobs *ym_jobs_new(void);
void ym_jobs_free(ym_jobs *j);
/* The registry that plugins' api->job and the test clock use (one per worker). */
void ym_jobs_set_current(ym_jobs *j);
ym_jobs *ym_jobs_current(void);
/* Register before ym_jobs_start. owner is "core" or a plugin name; ud_free (may be
 * NULL) frees ud with the registry. -1 with the reason on a bad name or schedule. */
int ym_jobs_add(ym_jobs *j, const char *name, const char *owner, const char *schedule, ym_job_fn fn, void *ud,
                void (*ud_free)(void *), char *err, size_t errlen);
/* The core's own jobs (core.sessions_cleanup). */
int ym_jobs_add_core(ym_jobs *j);
size_t ym_jobs_count(const ym_jobs *j);
/* Drop the jobs of an owner (a plugin that failed to init or start). */
void ym_jobs_drop_owner(ym_jobs *j, const char *owner);

/* Drops the jobs of plugins that are not enabled (host may be NULL), upserts
 * core_jobs rows for the rest and starts a 1 s timer (unref'ed) on loop; loop may
 * be NULL (tests call ym_jobs_run_due_on themselves). */
int ym_jobs_start(ym_jobs *j, uv_loop_t *loop, ym_db *db, const struct ym_host *host, char *err, size_t errlen);
/* Stops the timer: a draining worker starts no job. */
void ym_jobs_stop(ym_jobs *j);
/* Runs every registered job that is due and wins its claim; returns how many ran. */
int ym_jobs_run_due_on(ym_jobs *j);
/* The same on the current registry (after the test clock moved); 0 without one. */
int ym_jobs_run_due(void);

/* The claim, alone (tests use two connections): 1 won, 0 lost, -1 error. */
int ym_jobs_claim(ym_db *db, const char *name, int64_t now, const char *by);
/* Record the end of a claimed run: success schedules next_run; failure backs off
 * and pauses after YM_JOB_MAX_FAILURES in a row. 0, or -1 on a database error. */
int ym_jobs_record(ym_db *db, const char *name, const char *by, const ym_schedule *s, int64_t now, bool ok,
                   const char *error);

/* `yimen jobs`: the table of core_jobs on stdout; 0, or 1 with a message. */
int ym_jobs_cli(const char *db_path);

#endif
