/* live: GET /api/events (Server-Sent Events). One registry of open streams per worker,
 * hashed by user; new rows of core_notifications are read once per worker and written to
 * the streams of their user. Across workers the signal is a counter in shared memory
 * that a committing writer raises and workers with streams poll every YM_LIVE_POLL_MS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "live.h"
#include "strbuf.h"
#include "notify.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "shared.h"
#include "clock.h"
#include "log.h"

#define BUCKETS 1024
#define PUMP_BATCH 2000

typedef struct stream {
    ym_stream *st;
    int64_t user_id, session_id, token_id;
    int64_t last_id;                 /* rows up to this id are sent (or not this stream's) */
    uint64_t next_beat;              /* loop time of its next heartbeat and session check */
    struct stream *unext, *uprev;    /* the user's bucket */
    struct stream *next, *prev;      /* all streams, oldest last */
} stream;

static struct {
    uv_loop_t *loop;
    ym_db *db;
    uv_timer_t poll, heartbeat;
    bool timers_on, inited;
    uint64_t heartbeat_ms, idle_ms;
    uint64_t seen_epoch;             /* the shared counter when this worker last read rows */
    int64_t pushed;                  /* rows up to this id are pushed by this worker */
    stream *all;
    size_t n;
    stream *bucket[BUCKETS];
    bool commit_queued;
} L;

static int64_t local_epoch; /* without shared memory (unit tests) */

static volatile uint64_t *epoch_cell(void)
{
    ym_shared *sh = ym_shared_get();
    return sh ? (volatile uint64_t *)&sh->live_seq : (volatile uint64_t *)&local_epoch;
}

static uint64_t loop_ms(void) { return L.loop ? uv_now(L.loop) : 0; }

static size_t slot(int64_t uid) { return (size_t)((uint64_t)uid * 0x9E3779B97F4A7C15ull >> 54) % BUCKETS; }

/* ---------- writing frames ---------- */

/* "id: N\nevent: TYPE\ndata: JSON\n\n" of the row st is on (YM_NOTIFY_COLS). */
static char *frame(sqlite3_stmt *st, size_t *len)
{
    json_t *o = ym_notify_row_json(st);
    char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!data)
        return NULL;
    size_t n = strlen(data) + 160;
    char *f = malloc(n);
    if (f)
        *len = (size_t)snprintf(f, n, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)sqlite3_column_int64(st, 0),
                                (const char *)sqlite3_column_text(st, 2), data);
    free(data);
    return f;
}

static void timers_update(void);

static void on_stream_closed(void *ud)
{
    stream *s = ud;
    if (s->uprev) s->uprev->unext = s->unext;
    else L.bucket[slot(s->user_id)] = s->unext;
    if (s->unext) s->unext->uprev = s->uprev;
    if (s->prev) s->prev->next = s->next;
    else L.all = s->next;
    if (s->next) s->next->prev = s->prev;
    L.n--;
    free(s);
    timers_update();
}

/* Row by row to the streams of its user; the JSON is built only when someone listens. */
static int push_rows(int64_t after, int64_t *last)
{
    sqlite3_stmt *st = ym_db_prepare(L.db, "core", "SELECT " YM_NOTIFY_COLS " FROM core_notifications "
                                                   "WHERE id > ?1 ORDER BY id LIMIT ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, PUMP_BATCH);
    int rows = 0;
    *last = after;
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        int64_t id = sqlite3_column_int64(st, 0), uid = sqlite3_column_int64(st, 1);
        *last = id;
        char *f = NULL;
        size_t len = 0;
        for (stream *s = L.bucket[slot(uid)], *nx; s; s = nx) {
            nx = s->unext;
            if (s->user_id != uid || s->last_id >= id)
                continue;
            if (!f && !(f = frame(st, &len)))
                break;
            s->last_id = id;
            s->next_beat = loop_ms() + L.heartbeat_ms;
            ym_stream_write(s->st, f, len); /* a failure closes it (and unlinks it) */
        }
        free(f);
    }
    sqlite3_reset(st);
    return rows;
}

int ym_live_pump(void)
{
    if (!L.inited || !L.n || ym_db_in_batch(L.db))
        return 0;
    L.seen_epoch = __atomic_load_n(epoch_cell(), __ATOMIC_ACQUIRE);
    int total = 0, rows;
    int64_t last;
    while ((rows = push_rows(L.pushed, &last)) > 0) {
        L.pushed = last;
        total += rows;
        if (rows < PUMP_BATCH || !L.n)
            break;
    }
    return total;
}

static void on_committed(void *ud, int rc)
{
    L.commit_queued = false;
    if (rc != 0)
        return;
    __atomic_add_fetch(epoch_cell(), 1, __ATOMIC_RELEASE);
    ym_live_pump();
}

void ym_live_written(ym_db *db, int64_t id)
{
    (void)id;
    if (!L.commit_queued && ym_db_after_commit(db, on_committed, NULL) == 0)
        L.commit_queued = true;
}

/* ---------- timers ---------- */

static void on_poll(uv_timer_t *t)
{
    if (__atomic_load_n(epoch_cell(), __ATOMIC_ACQUIRE) != L.seen_epoch)
        ym_live_pump();
}

/* Is the session (or token) behind a stream still good? Signed out, expired, idle past
 * auth.idle_timeout or a disabled account ends the stream; its reconnect then gets 401. */
static bool still_valid(const stream *s, int64_t now)
{
    sqlite3_stmt *st = s->token_id
        ? ym_db_prepare(L.db, "core", "SELECT 1 FROM core_api_tokens t JOIN core_users u ON u.id = t.user_id "
                                      "WHERE t.id = ?1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR "
                                      "t.expires_at > ?2) AND u.status = 'active' AND ?3 = ?3")
        : ym_db_prepare(L.db, "core", "SELECT 1 FROM core_sessions x JOIN core_users u ON u.id = x.user_id "
                                      "WHERE x.id = ?1 AND x.revoked_at IS NULL AND x.expires_at > ?2 "
                                      "AND x.last_seen > ?3 AND u.status = 'active'");
    if (!st)
        return true; /* a busy database is no reason to drop everyone */
    sqlite3_bind_int64(st, 1, s->token_id ? s->token_id : s->session_id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, now - (int64_t)L.idle_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc != SQLITE_DONE;
}

/* Every second, the streams whose heartbeat is due: each stream's falls heartbeat_ms
 * after it opened or was last written to, so the session checks spread over the
 * interval instead of coming in one burst, and a busy stream needs no heartbeat. */
static void on_heartbeat(uv_timer_t *t)
{
    static const char beat[] = ":\n\n";
    int64_t now = ym_now();
    uint64_t mono = loop_ms();
    for (stream *s = L.all, *nx; s; s = nx) {
        nx = s->next;
        if (s->next_beat > mono)
            continue;
        s->next_beat = mono + L.heartbeat_ms;
        if (!still_valid(s, now))
            ym_stream_close(s->st);
        else
            ym_stream_write(s->st, beat, sizeof beat - 1);
    }
}

static void timers_update(void)
{
    if (!L.loop)
        return;
    if (L.n && !L.timers_on) {
        uv_timer_start(&L.poll, on_poll, YM_LIVE_POLL_MS, YM_LIVE_POLL_MS);
        uv_timer_start(&L.heartbeat, on_heartbeat, 1000, 1000);
        L.timers_on = true;
    } else if (!L.n && L.timers_on) {
        uv_timer_stop(&L.poll);
        uv_timer_stop(&L.heartbeat);
        L.timers_on = false;
    }
}

int ym_live_init(uv_loop_t *loop, ym_db *db, uint64_t heartbeat_ms, uint64_t idle_timeout_ms)
{
    memset(&L, 0, sizeof L);
    L.loop = loop;
    L.db = db;
    L.heartbeat_ms = heartbeat_ms ? heartbeat_ms : 25000;
    L.idle_ms = idle_timeout_ms;
    L.inited = true;
    if (loop) {
        uv_timer_init(loop, &L.poll);
        uv_timer_init(loop, &L.heartbeat);
        uv_unref((uv_handle_t *)&L.poll);
        uv_unref((uv_handle_t *)&L.heartbeat);
    }
    return 0;
}

void ym_live_free(void)
{
    /* the server closed the connections (and so the streams) before */
    while (L.all)
        on_stream_closed(L.all);
    L.inited = false;
    L.db = NULL;
}

size_t ym_live_streams(void) { return L.n; }

/* ---------- GET /api/events ---------- */

/* Last-Event-ID (or ?last_event_id= for clients that cannot set headers): 0 absent,
 * 1 set, -1 answered 400. */
static int last_event_id(ym_request *r, int64_t *out)
{
    const char *h = ym_req_header(r, "last-event-id");
    char *q = h ? NULL : ym_req_query(r, "last_event_id");
    const char *v = h ? h : q;
    int rc = 0;
    if (v) {
        char *end;
        long long n = strtoll(v, &end, 10);
        rc = *v >= '0' && *v <= '9' && !*end && n >= 0 ? 1 : -1;
        *out = n;
    }
    free(q);
    if (rc < 0)
        ym_resp_invalid(r, "Last-Event-ID", "Last-Event-ID must be the id of an event (a whole number)");
    return rc;
}

/* What a reconnecting user missed, from the table; *last = the newest id covered. */
static int replay(ym_db *db, int64_t uid, int64_t after, ym_strbuf *b, int64_t *last)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT " YM_NOTIFY_COLS " FROM core_notifications "
                                                 "WHERE user_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, YM_LIVE_RESUME_MAX);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len;
        char *f = frame(st, &len);
        if (f)
            ym_strbuf_add(b, f, len);
        free(f);
        *last = sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (n == YM_LIVE_RESUME_MAX) { /* too far behind: the client reloads what it shows */
        static const char resync[] = "event: resync\ndata: {\"reason\":\"too many missed events\"}\n\n";
        ym_strbuf_add(b, resync, sizeof resync - 1);
    }
    return n;
}

/* A user with many tabs on one worker: the oldest stream makes room. */
static void cap_user(int64_t uid)
{
    size_t count = 0;
    stream *oldest = NULL;
    for (stream *s = L.bucket[slot(uid)]; s; s = s->unext)
        if (s->user_id == uid) {
            count++;
            oldest = s; /* pushed at the head: the last one found is the oldest */
        }
    if (count >= YM_LIVE_PER_USER && oldest)
        ym_stream_close(oldest->st);
}

static void events(ym_request *r, void *ud)
{
    static const char ctype[] = "text/event-stream; charset=utf-8";
    if (strcmp(r->method_name, "HEAD") == 0) {
        ym_resp_send(r, 200, ctype, "", 0, "Cache-Control: no-store\r\n");
        return;
    }
    if (!L.inited) {
        ym_resp_error(r, 503, "unavailable", "live events are not running on this server");
        return;
    }
    int64_t after = 0;
    int has = last_event_id(r, &after);
    if (has < 0)
        return;
    ym_db *db = ym_api_db(r);
    ym_strbuf b = {0};
    ym_strbuf_add(&b, "retry: 3000\n\n", 13);
    int64_t last = ym_notify_max_id(db);
    if (last < 0 || (has && replay(db, r->who->user_id, after, &b, &last) < 0)) {
        free(b.p);
        ym_api_busy(r);
        return;
    }
    if (has && last < after)
        last = after;
    int64_t uid = r->who->user_id, sid = r->who->session_id, tid = r->who->token_id;
    stream *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    cap_user(uid);
    ym_stream *st = ym_resp_stream(r, ctype, NULL, on_stream_closed, s);
    if (!st) {
        free(s);
        free(b.p);
        return;
    }
    if (!L.n && L.pushed < last)
        L.pushed = last; /* nobody listened before: older rows are nobody's to push */
    if (!L.n)
        L.seen_epoch = __atomic_load_n(epoch_cell(), __ATOMIC_ACQUIRE);
    s->st = st;
    s->user_id = uid;
    s->session_id = sid;
    s->token_id = tid;
    s->last_id = last;
    s->next_beat = loop_ms() + L.heartbeat_ms;
    size_t k = slot(uid);
    s->unext = L.bucket[k];
    if (s->unext)
        s->unext->uprev = s;
    L.bucket[k] = s;
    s->next = L.all;
    if (s->next)
        s->next->prev = s;
    L.all = s;
    L.n++;
    timers_update();
    ym_stream_write(st, b.p, b.len);
    free(b.p);
}

int ym_live_routes(ym_router *rt, char *err, size_t errlen)
{
    return ym_router_add(rt, "GET", "/api/events", YM_PERM_USER, "core", events, NULL, err, errlen);
}
