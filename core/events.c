/* events: the event bus: subscribers registered per worker, an emit writes the event
 * and its deliveries in the emitter's transaction (the outbox), and a sweep delivers
 * each pending delivery inside the database write lock, marking it done in the same
 * transaction as the subscriber's writes; failures back off and show in admin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "events.h"
#include "jobs.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "clock.h"
#include "log.h"

#define OWNER_MAX 33
#define PATTERN_MAX (YM_EVENT_NAME_MAX + 3)
#define SOURCE_MAX 64

typedef struct sub {
    char owner[OWNER_MAX];
    char pattern[PATTERN_MAX];
    char id[OWNER_MAX + PATTERN_MAX + 1]; /* "<owner>:<pattern>": the durable identity */
    ym_event_fn fn;
    void *ud;
    void (*ud_free)(void *);
} sub;

struct ym_events {
    sub *v;
    size_t n, cap;
    ym_db *db;
    uv_timer_t sweep, kick;
    bool timer_on, stopped, running;
};

static ym_events *g_current;
static bool g_committed; /* an emit or a retry committed since the last after_flush */

/* ---- the registry ---- */

ym_events *ym_events_new(void)
{
    ym_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        abort();
    return ev;
}

static void sub_release(sub *s)
{
    if (s->ud_free)
        s->ud_free(s->ud);
}

void ym_events_free(ym_events *ev)
{
    if (!ev)
        return;
    if (g_current == ev)
        g_current = NULL;
    for (size_t i = 0; i < ev->n; i++)
        sub_release(&ev->v[i]);
    free(ev->v);
    free(ev);
}

void ym_events_set_current(ym_events *ev) { g_current = ev; }
ym_events *ym_events_current(void) { return g_current; }
size_t ym_events_count(const ym_events *ev) { return ev ? ev->n : 0; }

/* Segments of [a-z0-9_] joined by '.', none empty; at least min of them. */
static bool dotted_ok(const char *s, size_t len, int min)
{
    int segs = 0;
    size_t seg = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';
        if (c == '.') {
            if (!seg)
                return false;
            segs++, seg = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            seg++;
        } else {
            return false;
        }
    }
    return segs >= min;
}

static bool pattern_ok(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > YM_EVENT_NAME_MAX + 2)
        return false;
    if (strcmp(p, "*") == 0)
        return true;
    if (n > 2 && strcmp(p + n - 2, ".*") == 0)
        return dotted_ok(p, n - 2, 1);
    return n <= YM_EVENT_NAME_MAX && dotted_ok(p, n, 2);
}

bool ym_event_match(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (strcmp(pattern, "*") == 0)
        return true;
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0) /* "x.*": "x." and at least one more byte */
        return strncmp(name, pattern, n - 1) == 0 && name[n - 1] != 0;
    return strcmp(pattern, name) == 0;
}

static bool owner_ok(const char *owner)
{
    return owner && *owner && strlen(owner) < OWNER_MAX && !strchr(owner, '.') && dotted_ok(owner, strlen(owner), 1);
}

static sub *sub_push(ym_events *ev)
{
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? 2 * ev->cap : 8;
        sub *v = realloc(ev->v, cap * sizeof *v);
        if (!v)
            abort();
        ev->v = v, ev->cap = cap;
    }
    sub *s = &ev->v[ev->n++];
    memset(s, 0, sizeof *s);
    return s;
}

int ym_events_subscribe(ym_events *ev, const char *owner, const char *pattern, ym_event_fn fn, void *ud,
                        void (*ud_free)(void *), char *err, size_t errlen)
{
    if (!ev || !fn || !owner_ok(owner)) {
        snprintf(err, errlen, "a subscriber needs a registry, a function and an owner (a-z, 0-9, _)");
        return -1;
    }
    if (!pattern_ok(pattern)) {
        snprintf(err, errlen, "bad event pattern \"%s\": use an event name (a.b), a prefix ending in .* or *",
                 pattern ? pattern : "(null)");
        return -1;
    }
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->v[i].owner, owner) == 0 && strcmp(ev->v[i].pattern, pattern) == 0) {
            snprintf(err, errlen, "subscriber %s:%s is registered twice", owner, pattern);
            return -1;
        }
    sub *s = sub_push(ev);
    snprintf(s->owner, sizeof s->owner, "%s", owner);
    snprintf(s->pattern, sizeof s->pattern, "%s", pattern);
    snprintf(s->id, sizeof s->id, "%s:%s", owner, pattern);
    s->fn = fn, s->ud = ud, s->ud_free = ud_free;
    return 0;
}

void ym_events_drop_owner(ym_events *ev, const char *owner)
{
    if (!ev || !owner)
        return;
    size_t k = 0;
    for (size_t i = 0; i < ev->n; i++) {
        if (strcmp(ev->v[i].owner, owner) == 0) {
            sub_release(&ev->v[i]);
            continue;
        }
        ev->v[k++] = ev->v[i];
    }
    ev->n = k;
}

static sub *sub_find(ym_events *ev, const char *id)
{
    for (size_t i = 0; ev && i < ev->n; i++)
        if (strcmp(ev->v[i].id, id) == 0)
            return &ev->v[i];
    return NULL;
}

/* ---- emit ---- */

static void on_commit(void *ud, int rc)
{
    if (rc == SQLITE_OK)
        g_committed = true;
}

static bool step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

/* 0, or -1 with the reason in err. */
static int emit_check(ym_db *db, const char *source, const char *name, const char *payload, char *err,
                      size_t errlen)
{
    size_t sn = source ? strlen(source) : 0;
    if (!ym_db_in_write(db)) {
        snprintf(err, errlen, "an event is emitted inside a write (ym_db_write_begin)");
        return -1;
    }
    if (!owner_ok(source) || !name || strlen(name) > YM_EVENT_NAME_MAX || strncmp(name, source, sn) != 0 ||
        name[sn] != '.' || !dotted_ok(name, strlen(name), 2)) {
        snprintf(err, errlen, "bad event name \"%s\": it is %s.<word>[.<word>...] (a-z, 0-9, _; at most %d bytes)",
                 name ? name : "(null)", source ? source : "<source>", YM_EVENT_NAME_MAX);
        return -1;
    }
    if (!payload)
        return 0;
    size_t len = strlen(payload);
    if (len > YM_EVENT_PAYLOAD_MAX) {
        snprintf(err, errlen, "event payload is %zu bytes; at most %d", len, YM_EVENT_PAYLOAD_MAX);
        return -1;
    }
    json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
    bool obj = json_is_object(j);
    json_decref(j);
    if (!obj) {
        snprintf(err, errlen, "event payload must be a JSON object");
        return -1;
    }
    return 0;
}

static int64_t insert_event(ym_db *db, const char *source, const char *name, const char *payload, int64_t now)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "INSERT INTO core_events(source, name, payload, created_at) "
                                                 "VALUES(?1, ?2, ?3, ?4)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, payload ? payload : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    return step_done(st) ? sqlite3_last_insert_rowid(ym_db_handle(db)) : -1;
}

static int insert_deliveries(ym_db *db, int64_t id, const char *source, const char *name, int64_t now)
{
    ym_events *ev = g_current;
    for (size_t i = 0; ev && i < ev->n; i++) {
        if (!ym_event_match(ev->v[i].pattern, name))
            continue;
        sqlite3_stmt *st = ym_db_prepare(db, "core",
            "INSERT INTO core_event_deliveries(event_id, subscriber, source, created_at, next_at) "
            "VALUES(?1, ?2, ?3, ?4, ?4)");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, ev->v[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        if (!step_done(st))
            return -1;
    }
    return 0;
}

int64_t ym_events_emit(ym_db *db, const char *source, const char *name, const char *payload_json, char *err,
                       size_t errlen)
{
    if (emit_check(db, source, name, payload_json, err, errlen) < 0)
        return -1;
    if (ym_db_write_begin(db) < 0) { /* its own savepoint: all of it or none */
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    int64_t now = ym_now(), id = insert_event(db, source, name, payload_json, now);
    bool ok = id > 0 && insert_deliveries(db, id, source, name, now) == 0;
    if (!ok)
        snprintf(err, errlen, "event not stored: %s", ym_db_errmsg(db));
    if (ym_db_write_end(db, ok) < 0 && ok) {
        snprintf(err, errlen, "event not stored: %s", ym_db_errmsg(db));
        ok = false;
    }
    if (ok)
        ym_db_after_commit(db, on_commit, NULL);
    return ok ? id : -1;
}

/* ---- delivery ---- */

typedef struct head {
    int64_t id, event_id, next_at;
    int attempts;
    char name[YM_EVENT_NAME_MAX + 1];
    char *payload;
} head;

/* The oldest pending delivery of (subscriber, source): 1 found, 0 none, -1 error. */
static int head_get(ym_db *db, const char *subscriber, const char *source, head *h, bool with_event)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT d.id, d.event_id, d.next_at, d.attempts, e.name, e.payload FROM core_event_deliveries d "
        "JOIN core_events e ON e.id = d.event_id WHERE d.subscriber = ?1 AND d.source = ?2 "
        "AND d.state = 'pending' ORDER BY d.event_id LIMIT 1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, source, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        h->id = sqlite3_column_int64(st, 0);
        h->event_id = sqlite3_column_int64(st, 1);
        h->next_at = sqlite3_column_int64(st, 2);
        h->attempts = sqlite3_column_int(st, 3);
        snprintf(h->name, sizeof h->name, "%s", (const char *)sqlite3_column_text(st, 4));
        const char *p = (const char *)sqlite3_column_text(st, 5);
        h->payload = with_event ? strdup(p ? p : "{}") : NULL;
        if (with_event && !h->payload)
            abort();
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static bool mark_done(ym_db *db, int64_t id, int64_t now)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_event_deliveries SET state = 'done', done_at = ?1, "
                                                 "last_attempt_at = ?1 WHERE id = ?2 AND state = 'pending'");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    return step_done(st) && sqlite3_changes(ym_db_handle(db)) == 1;
}

static int64_t backoff(int attempts)
{
    int shift = attempts > 1 ? attempts - 1 : 0;
    if (shift > 21)
        return YM_EVENT_BACKOFF_MAX_MS;
    int64_t b = (int64_t)YM_EVENT_BACKOFF_MS << shift;
    return b < YM_EVENT_BACKOFF_MAX_MS ? b : YM_EVENT_BACKOFF_MAX_MS;
}

/* In a fresh savepoint of the same transaction (the handler's was rolled back). */
static bool record_failure(ym_db *db, const head *h, int64_t now, const char *error)
{
    if (ym_db_write_begin(db) < 0)
        return false;
    int attempts = h->attempts + 1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_event_deliveries SET attempts = ?1, next_at = ?2, "
                                                 "last_error = ?3, last_attempt_at = ?4 WHERE id = ?5");
    bool ok = st != NULL;
    if (ok) {
        sqlite3_bind_int(st, 1, attempts);
        sqlite3_bind_int64(st, 2, now + backoff(attempts));
        sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, h->id);
        ok = step_done(st);
    }
    return ym_db_write_end(db, ok) == 0 && ok;
}

/* Runs the handler in the savepoint that also marks the delivery done. A handler that
 * left a write open loses all of its changes and counts as failed. */
static int run_handler(ym_events *ev, sub *s, const char *source, const head *h, int64_t now, char *err,
                       size_t errlen)
{
    int rc = s->fn(s->ud, h->event_id, h->name, source, h->payload, err, errlen);
    if (rc == 0 && !mark_done(ev->db, h->id, now)) {
        rc = -1;
        snprintf(err, errlen, "not marked delivered: %s", ym_db_errmsg(ev->db));
    }
    ym_db_write_end(ev->db, rc == 0);
    if (ym_db_in_write(ev->db)) {
        while (ym_db_in_write(ev->db))
            ym_db_write_end(ev->db, false);
        rc = -1;
        snprintf(err, errlen, "left a write open");
    }
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "failed");
    return rc == 0 ? 0 : -1;
}

/* Delivers the head of (subscriber, source) if it is due: 1 ran, 0 nothing due, -1 error. */
static int deliver_one(ym_events *ev, sub *s, const char *source)
{
    if (ym_db_write_now(ev->db) < 0)
        return -1;
    head h = {0};
    int64_t now = ym_now();
    int found = head_get(ev->db, s->id, source, &h, true);
    if (found <= 0 || h.next_at > now) {
        free(h.payload);
        return ym_db_commit_now(ev->db, found >= 0) < 0 ? -1 : 0;
    }
    char err[512] = "";
    int rc = run_handler(ev, s, source, &h, now, err, sizeof err);
    bool ok = rc == 0 || record_failure(ev->db, &h, now, err);
    if (ym_db_flush(ev->db) < 0 || !ok) {
        ym_log(YM_LOG_ERROR, "event delivery not recorded", "subscriber=%s delivery=%lld error=%s", s->id,
               (long long)h.id, ym_db_errmsg(ev->db));
        free(h.payload);
        return -1;
    }
    if (rc < 0)
        ym_log(YM_LOG_WARN, "event delivery failed, will retry", "subscriber=%s event=%s delivery=%lld attempts=%d "
               "error=%s", s->id, h.name, (long long)h.id, h.attempts + 1, err);
    free(h.payload);
    return 1;
}

/* The first source after prev with a pending delivery for subscriber: 1, 0 none, -1 error. */
static int next_source(ym_db *db, const char *subscriber, char *src, size_t len)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT source FROM core_event_deliveries WHERE subscriber = ?1 "
                                                 "AND state = 'pending' AND source > ?2 ORDER BY source LIMIT 1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, src, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(src, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A cheap read first: most sweeps find nothing due and take no write lock. */
static bool head_due(ym_db *db, const char *subscriber, const char *source)
{
    head h = {0};
    return head_get(db, subscriber, source, &h, false) == 1 && h.next_at <= ym_now();
}

/* Delivers one subscriber's due heads, source by source, within *budget. */
static int deliver_sub(ym_events *ev, size_t i, int *budget)
{
    char src[SOURCE_MAX] = "", id[sizeof ev->v[0].id];
    snprintf(id, sizeof id, "%s", ev->v[i].id);
    int ran = 0;
    while (*budget > 0 && next_source(ev->db, id, src, sizeof src) == 1) {
        while (*budget > 0 && head_due(ev->db, id, src)) {
            sub *s = sub_find(ev, id); /* a handler may not subscribe, but be safe */
            if (!s || deliver_one(ev, s, src) <= 0)
                break;
            ran++, (*budget)--;
        }
    }
    return ran;
}

static void on_kick(uv_timer_t *t);

int ym_events_deliver_due(ym_events *ev)
{
    if (!ev || !ev->db || ev->stopped || ev->running || ym_db_in_write(ev->db))
        return 0;
    ev->running = true;
    int budget = YM_EVENT_BATCH, ran = 0;
    for (size_t i = 0; i < ev->n && budget > 0; i++)
        ran += deliver_sub(ev, i, &budget);
    ev->running = false;
    if (budget == 0 && ev->timer_on && !ev->stopped) /* more may be due: go on after the requests */
        uv_timer_start(&ev->kick, on_kick, 0, 0);
    return ran;
}

static void on_kick(uv_timer_t *t) { ym_events_deliver_due(t->data); }

void ym_events_after_flush(ym_events *ev)
{
    if (!g_committed || !ev || !ev->timer_on || ev->stopped)
        return;
    g_committed = false;
    uv_timer_start(&ev->kick, on_kick, 0, 0);
}

static void timer_init(ym_events *ev, uv_loop_t *loop, uv_timer_t *t)
{
    uv_timer_init(loop, t);
    t->data = ev;
    uv_unref((uv_handle_t *)t);
}

int ym_events_start(ym_events *ev, uv_loop_t *loop, ym_db *db, char *err, size_t errlen)
{
    if (!ev || !db) {
        snprintf(err, errlen, "events: no registry or database");
        return -1;
    }
    ev->db = db;
    if (loop && !ev->timer_on) {
        timer_init(ev, loop, &ev->sweep);
        timer_init(ev, loop, &ev->kick);
        uv_timer_start(&ev->sweep, on_kick, 100, 1000); /* first sweep soon: what a crash left */
        ev->timer_on = true;
    }
    return 0;
}

void ym_events_stop(ym_events *ev)
{
    if (!ev)
        return;
    ev->stopped = true;
    if (!ev->timer_on)
        return;
    uv_timer_t *ts[] = {&ev->sweep, &ev->kick};
    for (int i = 0; i < 2; i++)
        if (!uv_is_closing((uv_handle_t *)ts[i])) {
            uv_timer_stop(ts[i]);
            uv_close((uv_handle_t *)ts[i], NULL);
        }
}

/* ---- clean-up ---- */

int ym_events_cleanup(ym_db *db, int64_t cutoff)
{
    if (ym_db_write_begin(db) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "DELETE FROM core_event_deliveries WHERE state = 'done' "
                                                 "AND done_at < ?1");
    bool ok = st && sqlite3_bind_int64(st, 1, cutoff) == SQLITE_OK && step_done(st);
    st = ok ? ym_db_prepare(db, "core", "DELETE FROM core_events WHERE created_at < ?1 AND NOT EXISTS "
                                        "(SELECT 1 FROM core_event_deliveries d WHERE d.event_id = core_events.id)")
            : NULL;
    ok = st && sqlite3_bind_int64(st, 1, cutoff) == SQLITE_OK && step_done(st);
    return ym_db_write_end(db, ok) == 0 && ok ? 0 : -1;
}

static int cleanup_job(void *ud, char *err, size_t errlen)
{
    ym_events *ev = ud;
    if (!ev->db || ym_events_cleanup(ev->db, ym_now() - YM_EVENT_KEEP_MS) < 0) {
        snprintf(err, errlen, "%s", ev->db ? ym_db_errmsg(ev->db) : "events not started");
        return -1;
    }
    return 0;
}

int ym_events_add_jobs(ym_events *ev, struct ym_jobs *j)
{
    char err[256];
    if (ym_jobs_add(j, "core.events_cleanup", "core", "daily 03:30", cleanup_job, ev, NULL, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "core job not registered", "error=%s", err);
        return -1;
    }
    return 0;
}

/* ---- admin routes ---- */

static json_t *opt_text(sqlite3_stmt *st, int c)
{
    const char *s = (const char *)sqlite3_column_text(st, c);
    return s ? json_string(s) : json_null();
}

static json_t *opt_time(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? json_null() : ym_api_time(sqlite3_column_int64(st, c));
}

static json_t *backlog_row(sqlite3_stmt *st)
{
    const char *subscriber = (const char *)sqlite3_column_text(st, 0);
    return json_pack("{s:s,s:I,s:I,s:o,s:o,s:I,s:b}", "subscriber", subscriber, "pending",
                     (json_int_t)sqlite3_column_int64(st, 1), "failing", (json_int_t)sqlite3_column_int64(st, 2),
                     "oldest_pending_at", opt_time(st, 3), "last_error", opt_text(st, 4), "attempts",
                     (json_int_t)sqlite3_column_int64(st, 5), "registered", sub_find(g_current, subscriber) != NULL);
}

static void backlog(ym_request *r, void *ud)
{
    sqlite3_stmt *st = ym_db_prepare(ym_api_db(r), "core",
        "SELECT subscriber, COUNT(*), SUM(attempts > 0), MIN(created_at), "
        "(SELECT x.last_error FROM core_event_deliveries x WHERE x.subscriber = d.subscriber "
        "AND x.state = 'pending' AND x.last_error IS NOT NULL ORDER BY x.last_attempt_at DESC LIMIT 1), "
        "MAX(attempts) FROM core_event_deliveries d WHERE state = 'pending' GROUP BY subscriber ORDER BY subscriber");
    if (!st) {
        ym_api_busy(r);
        return;
    }
    json_t *items = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(items, backlog_row(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(items);
        ym_api_busy(r);
        return;
    }
    ym_resp_json(r, 200, json_pack("{s:o}", "items", items));
}

#define DELIVERY_COLS "SELECT d.id, d.event_id, d.subscriber, d.source, e.name, d.state, d.attempts, d.created_at, " \
    "d.next_at, d.last_error, d.last_attempt_at, d.done_at, e.payload FROM core_event_deliveries d " \
    "JOIN core_events e ON e.id = d.event_id "

static json_t *delivery_row(sqlite3_stmt *st)
{
    const char *payload = (const char *)sqlite3_column_text(st, 12);
    json_t *p = payload ? json_loads(payload, 0, NULL) : NULL;
    bool pending = strcmp((const char *)sqlite3_column_text(st, 5), "pending") == 0;
    return json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o}",
        "id", (json_int_t)sqlite3_column_int64(st, 0), "event_id", (json_int_t)sqlite3_column_int64(st, 1),
        "subscriber", (const char *)sqlite3_column_text(st, 2), "source", (const char *)sqlite3_column_text(st, 3),
        "name", (const char *)sqlite3_column_text(st, 4), "state", (const char *)sqlite3_column_text(st, 5),
        "attempts", (json_int_t)sqlite3_column_int64(st, 6), "created_at", opt_time(st, 7),
        "next_at", pending ? opt_time(st, 8) : json_null(), "last_error", opt_text(st, 9),
        "last_attempt_at", opt_time(st, 10), "done_at", opt_time(st, 11), "payload", p ? p : json_object());
}

/* ?state=pending (default) | failing: 0 ok, -1 answered. */
static int state_param(ym_request *r, bool *failing)
{
    char *v = ym_req_query(r, "state");
    bool ok = !v || strcmp(v, "pending") == 0 || strcmp(v, "failing") == 0;
    *failing = v && strcmp(v, "failing") == 0;
    free(v);
    if (!ok)
        ym_resp_invalid(r, "state", "state must be pending or failing");
    return ok ? 0 : -1;
}

static void deliveries(ym_request *r, void *ud)
{
    int limit;
    int64_t after;
    bool failing;
    char *subscriber = NULL;
    if (ym_api_page(r, &limit, &after) < 0 || state_param(r, &failing) < 0 ||
        ym_api_query_str(r, "subscriber", OWNER_MAX + PATTERN_MAX, &subscriber) < 0)
        return;
    sqlite3_stmt *st = ym_db_prepare(ym_api_db(r), "core", DELIVERY_COLS
        "WHERE d.id > ?1 AND d.state = 'pending' AND (?2 = 0 OR d.attempts > 0) "
        "AND (?3 IS NULL OR d.subscriber = ?3) ORDER BY d.id LIMIT ?4");
    if (!st) {
        free(subscriber);
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, failing);
    if (subscriber)
        sqlite3_bind_text(st, 3, subscriber, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, limit + 1);
    free(subscriber);
    ym_api_send_rows(r, st, limit, delivery_row);
}

/* The delivery as JSON (NULL when absent; *err on a database error). */
static json_t *delivery_get(ym_db *db, int64_t id, bool *dberr)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", DELIVERY_COLS "WHERE d.id = ?1");
    *dberr = !st;
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    json_t *j = rc == SQLITE_ROW ? delivery_row(st) : NULL;
    *dberr = rc != SQLITE_ROW && rc != SQLITE_DONE;
    sqlite3_reset(st);
    return j;
}

static bool retry_update(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_event_deliveries SET next_at = ?1 "
                                                 "WHERE id = ?2 AND state = 'pending'");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, ym_now());
    sqlite3_bind_int64(st, 2, id);
    return step_done(st) && sqlite3_changes(ym_db_handle(db)) == 1;
}

static void retry(ym_request *r, void *ud)
{
    int64_t id;
    bool dberr;
    ym_db *db = ym_api_db(r);
    if (!ym_api_path_id(r, "id", &id))
        return;
    json_t *j = delivery_get(db, id, &dberr);
    if (!j) {
        if (dberr) ym_api_busy(r);
        else ym_resp_error(r, 404, "not_found", "no such delivery");
        return;
    }
    if (strcmp(json_string_value(json_object_get(j, "state")), "done") == 0) {
        json_decref(j);
        ym_resp_error(r, 409, "conflict", "this delivery is already done");
        return;
    }
    char target[40];
    snprintf(target, sizeof target, "event_delivery:%lld", (long long)id);
    json_t *detail = json_pack("{s:O,s:O}", "subscriber", json_object_get(j, "subscriber"), "name",
                               json_object_get(j, "name"));
    json_decref(j);
    if (ym_db_write_begin(db) < 0) {
        json_decref(detail);
        ym_api_busy(r);
        return;
    }
    bool ok = retry_update(db, id) && ym_audit_req(r, "events.retry", target, "ok", detail) == 0;
    json_decref(detail);
    ym_db_write_end(db, ok);
    j = ok ? delivery_get(db, id, &dberr) : NULL;
    if (!j) {
        ym_resp_error(r, 500, "storage_error", "the retry could not be recorded");
        return;
    }
    ym_db_after_commit(db, on_commit, NULL); /* the worker delivers right after the commit */
    ym_resp_json(r, 200, j);
}

int ym_events_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/admin/events", "admin.plugins", backlog, NULL},
        {"GET", "/api/admin/events/deliveries", "admin.plugins", deliveries, NULL},
        {"POST", "/api/admin/events/deliveries/:id/retry", "admin.plugins", retry, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen);
}
