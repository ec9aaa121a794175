/* events: the event bus and its persistent outbox: subscribers registered per
 * worker, events and their deliveries in core_events / core_event_deliveries,
 * delivered after commit, at least once, once per cluster, in order per source. */
#ifndef YM_EVENTS_H
#define YM_EVENTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "db.h"
#include "router.h"

#define YM_EVENT_NAME_MAX 100
#define YM_EVENT_PAYLOAD_MAX 65536
#define YM_EVENT_BATCH 200              /* deliveries per sweep at most */
#define YM_EVENT_BACKOFF_MS 2000        /* first retry; doubles per failure */
#define YM_EVENT_BACKOFF_MAX_MS 3600000
#define YM_EVENT_KEEP_MS (7 * 86400000LL) /* done deliveries are kept this long */

typedef struct ym_events ym_events;
struct ym_jobs;

/* A subscriber: 0 handled, -1 failed with the reason in err. Runs inside a write
 * transaction (ym_db_write_begin savepoint) that also marks the delivery done, so
 * its database effects and the "delivered" mark commit together. */
typedef int (*ym_event_fn)(void *ud, int64_t event_id, const char *name, const char *source,
                           const char *payload_json, char *err, size_t errlen);

ym_events *ym_events_new(void);
void ym_events_free(ym_events *ev);
void ym_events_set_current(ym_events *ev); /* one registry per worker */
ym_events *ym_events_current(void);

/* Register before ym_events_start. owner: "core" or a plugin name. pattern: an exact
 * event name ("meetings.minutes.published"), a prefix ending in ".*" ("meetings.*"),
 * or "*". The subscriber's durable identity is "<owner>:<pattern>" (unique; a second
 * subscribe with the same owner+pattern is an error). ud_free may be NULL. */
int ym_events_subscribe(ym_events *ev, const char *owner, const char *pattern, ym_event_fn fn, void *ud,
                        void (*ud_free)(void *), char *err, size_t errlen);
void ym_events_drop_owner(ym_events *ev, const char *owner); /* a plugin that failed */
size_t ym_events_count(const ym_events *ev);
/* Does pattern (as ym_events_subscribe takes it) match the event name? */
bool ym_event_match(const char *pattern, const char *name);

/* Inside a write the caller holds: name must be "<source>.<something>" (lower-case
 * letters, digits, '_' and '.'; at most 100 bytes); payload a JSON object text or NULL
 * (stored as {}); at most 64 KiB. Inserts the event and one pending delivery per
 * currently registered subscriber whose pattern matches (the registry of the current
 * worker). Returns the event id, or -1 with the reason in err. */
int64_t ym_events_emit(ym_db *db, const char *source, const char *name, const char *payload_json,
                       char *err, size_t errlen);

/* Starts a 1 s sweep timer (unref'ed) on loop that delivers what is due (retries, and
 * what another worker emitted or a crash left undelivered); loop may be NULL (tests
 * call ym_events_deliver_due themselves). */
int ym_events_start(ym_events *ev, uv_loop_t *loop, ym_db *db, char *err, size_t errlen);
void ym_events_stop(ym_events *ev); /* draining: deliver nothing more */
/* Called by the worker right after every ym_db_flush(): if an emit (or a retry)
 * committed since, schedule delivery at once (a 0 ms timer). */
void ym_events_after_flush(ym_events *ev);
/* Deliver everything due now on this registry (at most YM_EVENT_BATCH; the rest at
 * once on the loop); returns how many deliveries ran. */
int ym_events_deliver_due(ym_events *ev);

/* The core job core.events_cleanup (daily): done deliveries and fully delivered
 * events older than 7 days. */
int ym_events_add_jobs(ym_events *ev, struct ym_jobs *j);
/* The same clean-up alone, for a cutoff (ms): 0, or -1 on a database error. */
int ym_events_cleanup(ym_db *db, int64_t cutoff);

/* GET /api/admin/events, GET /api/admin/events/deliveries,
 * POST /api/admin/events/deliveries/:id/retry (permission admin.plugins). */
int ym_events_routes(ym_router *rt, char *err, size_t errlen);

#endif
