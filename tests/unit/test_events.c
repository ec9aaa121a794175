/* test_events: names, payloads and patterns, delivery after commit only, order per
 * source, retries with backoff (test clock), rollback of a failing subscriber, one
 * delivery across two registries, recovery after a crash, and the clean-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "events.h"
#include "clock.h"

typedef struct tmpdb {
    char path[64];
    ym_db *a, *b; /* two connections: two workers */
} tmpdb;

static void tmpdb_open(tmpdb *t)
{
    char err[256] = "";
    snprintf(t->path, sizeof t->path, "/tmp/ym-events-%d.db", (int)getpid());
    unlink(t->path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    assert_int_equal(ym_db_open(t->path, &o, &t->a, err, sizeof err), 0);
    assert_int_equal(ym_db_migrate(t->a, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err), 0);
    o.busy_timeout_ms = 50; /* b meets a's write lock in test_two_registries: give up fast */
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

/* ---- a recording subscriber ---- */

typedef struct rec {
    char log[4096];  /* "name;" per call, in order */
    int calls;
    const char *fail; /* names starting with this fail */
    ym_events *nested; /* delivers on this registry from inside the handler */
    int nested_ran;
} rec;

static int record(void *ud, int64_t id, const char *name, const char *source, const char *payload, char *err,
                  size_t errlen)
{
    rec *r = ud;
    r->calls++;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "%s;", name);
    assert_non_null(payload);
    assert_int_equal(strncmp(name, source, strlen(source)), 0);
    if (r->nested)
        r->nested_ran += ym_events_deliver_due(r->nested);
    if (r->fail && strncmp(name, r->fail, strlen(r->fail)) == 0) {
        snprintf(err, errlen, "told to fail");
        return -1;
    }
    return 0;
}

static ym_db *g_db; /* the connection a writing subscriber writes through */

static int write_then(void *ud, int64_t id, const char *name, const char *source, const char *payload, char *err,
                      size_t errlen)
{
    assert_int_equal(ym_db_state_set_int(g_db, name, 1), 0);
    return record(ud, id, name, source, payload, err, errlen);
}

/* Leaves its write open (a bug): all of it is taken back and the delivery failed. */
static int leak_write(void *ud, int64_t id, const char *name, const char *source, const char *payload, char *err,
                      size_t errlen)
{
    assert_int_equal(ym_db_write_begin(g_db), 0);
    assert_int_equal(ym_db_state_set_int(g_db, name, 1), 0);
    return record(ud, id, name, source, payload, err, errlen);
}

/* Emits a follow-up event from inside the delivery: it is delivered too. */
static int chain(void *ud, int64_t id, const char *name, const char *source, const char *payload, char *err,
                 size_t errlen)
{
    if (strcmp(name, "c.first") == 0) {
        assert_true(ym_events_emit(g_db, "c", "c.second", "{\"from\":1}", err, errlen) > 0);
    }
    return record(ud, id, name, source, payload, err, errlen);
}

/* Emits in its own committed write: the event id. */
static int64_t emit(ym_db *db, const char *source, const char *name, const char *payload)
{
    char err[256] = "";
    assert_int_equal(ym_db_write_begin(db), 0);
    int64_t id = ym_events_emit(db, source, name, payload, err, sizeof err);
    if (id < 0)
        fail_msg("emit %s: %s", name, err);
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
    return id;
}

static ym_events *registry(ym_db *db, const char *owner, const char *pattern, ym_event_fn fn, rec *r)
{
    char err[256] = "";
    ym_events *ev = ym_events_new();
    assert_int_equal(ym_events_subscribe(ev, owner, pattern, fn, r, NULL, err, sizeof err), 0);
    assert_int_equal(ym_events_start(ev, NULL, db, err, sizeof err), 0);
    ym_events_set_current(ev);
    return ev;
}

/* ---- tests ---- */

static void test_refused(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec r = {0};
    ym_events *ev = registry(t.a, "core", "*", record, &r);
    char err[256] = "", big[YM_EVENT_PAYLOAD_MAX + 16], longname[128];
    assert_int_equal(ym_events_emit(t.a, "core", "core.x", NULL, err, sizeof err), -1); /* outside a write */
    assert_non_null(strstr(err, "inside a write"));
    const char *bad_names[] = {"core", "core.", "core..x", "core.X", "core.a-b", "other.x", "corex.y", ".core.x",
                               "core.x.", ""};
    const char *bad_payloads[] = {"[]", "nope", "{", "1", "\"s\"", "{\"a\":1,\"a\":2}"};
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"a\":1", 6);
    big[sizeof big - 2] = '}', big[sizeof big - 1] = 0;
    memset(longname, 'a', sizeof longname);
    memcpy(longname, "core.", 5);
    longname[YM_EVENT_NAME_MAX + 1] = 0; /* 101 bytes */
    assert_int_equal(ym_db_write_begin(t.a), 0);
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        err[0] = 0;
        if (ym_events_emit(t.a, "core", bad_names[i], NULL, err, sizeof err) != -1)
            fail_msg("name \"%s\" accepted", bad_names[i]);
        assert_non_null(strstr(err, "bad event name"));
    }
    assert_int_equal(ym_events_emit(t.a, "core", longname, NULL, err, sizeof err), -1);
    longname[YM_EVENT_NAME_MAX] = 0; /* 100 bytes: fine */
    assert_true(ym_events_emit(t.a, "core", longname, NULL, err, sizeof err) > 0);
    assert_int_equal(ym_events_emit(t.a, "Core", "Core.x", NULL, err, sizeof err), -1);
    for (size_t i = 0; i < sizeof bad_payloads / sizeof *bad_payloads; i++) {
        err[0] = 0;
        if (ym_events_emit(t.a, "core", "core.x", bad_payloads[i], err, sizeof err) != -1)
            fail_msg("payload %s accepted", bad_payloads[i]);
        assert_non_null(strstr(err, "payload"));
    }
    assert_int_equal(ym_events_emit(t.a, "core", "core.x", big, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most"));
    int64_t id = ym_events_emit(t.a, "core", "core.x", NULL, err, sizeof err);
    assert_true(id > 0);
    assert_int_equal(ym_db_write_end(t.a, true), 0);
    assert_int_equal(ym_db_flush(t.a), 0);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_events"), 2);
    assert_int_equal(q(t.a, "SELECT payload = '{}' FROM core_events WHERE name = 'core.x'"), 1);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_event_deliveries WHERE subscriber = 'core:*'"), 2);
    ym_events_free(ev);
    tmpdb_close(&t);
}

static void test_patterns(void **state)
{
    assert_true(ym_event_match("x.*", "x.a.b"));
    assert_true(ym_event_match("x.*", "x.a"));
    assert_false(ym_event_match("x.*", "xy.a"));
    assert_false(ym_event_match("x.*", "x"));
    assert_true(ym_event_match("x.a.*", "x.a.b"));
    assert_false(ym_event_match("x.a.*", "x.ab.c"));
    assert_true(ym_event_match("*", "anything.at_all"));
    assert_true(ym_event_match("m.minutes.published", "m.minutes.published"));
    assert_false(ym_event_match("m.minutes.published", "m.minutes.published2"));
    ym_events *ev = ym_events_new();
    char err[256] = "";
    rec r = {0};
    const char *bad[] = {"", "x", "x*", "*.x", "X.*", "x.", ".*", "x..y", "x.**", "x.*.y", "a-b.c"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ym_events_subscribe(ev, "core", bad[i], record, &r, NULL, err, sizeof err) != -1)
            fail_msg("pattern \"%s\" accepted", bad[i]);
    assert_int_equal(ym_events_subscribe(ev, "core", "x.*", record, &r, NULL, err, sizeof err), 0);
    assert_int_equal(ym_events_subscribe(ev, "core", "x.*", record, &r, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(ym_events_subscribe(ev, "meetings", "x.*", record, &r, NULL, err, sizeof err), 0);
    assert_int_equal(ym_events_subscribe(ev, "Bad", "x.*", record, &r, NULL, err, sizeof err), -1);
    assert_int_equal(ym_events_count(ev), 2);
    ym_events_drop_owner(ev, "meetings");
    assert_int_equal(ym_events_count(ev), 1);
    ym_events_free(ev);
}

static void test_after_commit_only(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec r = {0};
    ym_events *ev = registry(t.a, "core", "x.*", record, &r);
    char err[256] = "";
    assert_int_equal(ym_db_write_begin(t.a), 0);
    assert_true(ym_events_emit(t.a, "x", "x.gone", "{\"a\":1}", err, sizeof err) > 0);
    assert_int_equal(ym_db_write_end(t.a, false), 0); /* the emitter's write failed */
    assert_int_equal(ym_db_flush(t.a), 0);
    assert_int_equal(ym_events_deliver_due(ev), 0);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_events"), 0);
    emit(t.a, "x", "x.a.b", "{\"a\":1}");
    emit(t.a, "xy", "xy.a", NULL); /* no subscriber: no delivery */
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_event_deliveries"), 1);
    assert_int_equal(ym_events_deliver_due(ev), 1);
    assert_string_equal(r.log, "x.a.b;");
    assert_int_equal(ym_events_deliver_due(ev), 0); /* delivered once */
    assert_int_equal(q(t.a, "SELECT state = 'done' AND done_at IS NOT NULL FROM core_event_deliveries"), 1);
    ym_events_free(ev);
    tmpdb_close(&t);
}

static long long attempts_of(ym_db *db, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT d.attempts FROM core_event_deliveries d JOIN core_events e ON e.id = d.event_id "
                              "WHERE e.name = '%s'", name);
    return q(db, sql);
}

static void test_order_and_backoff(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec r = {.fail = "a.one"};
    ym_events *ev = registry(t.a, "core", "*", record, &r);
    emit(t.a, "a", "a.one", NULL);
    emit(t.a, "a", "a.two", NULL);
    emit(t.a, "b", "b.one", NULL);
    emit(t.a, "a", "a.three", NULL);
    emit(t.a, "b", "b.two", NULL);
    assert_int_equal(ym_events_deliver_due(ev), 3); /* a.one fails; a waits behind it; b flows on */
    assert_string_equal(r.log, "a.one;b.one;b.two;");
    assert_int_equal(attempts_of(t.a, "a.one"), 1);
    assert_int_equal(q(t.a, "SELECT next_at - last_attempt_at FROM core_event_deliveries WHERE attempts = 1"), 2000);
    assert_int_equal(q(t.a, "SELECT last_error = 'told to fail' FROM core_event_deliveries WHERE attempts = 1"), 1);
    assert_int_equal(ym_events_deliver_due(ev), 0); /* not due before the backoff */
    ym_clock_set_offset(ym_clock_offset() + 2100);
    assert_int_equal(ym_events_deliver_due(ev), 1);
    assert_int_equal(attempts_of(t.a, "a.one"), 2);
    assert_int_equal(q(t.a, "SELECT next_at - last_attempt_at FROM core_event_deliveries WHERE attempts = 2"), 4000);
    ym_clock_set_offset(ym_clock_offset() + 2100);
    assert_int_equal(ym_events_deliver_due(ev), 0);
    r.fail = NULL;
    r.log[0] = 0;
    ym_clock_set_offset(ym_clock_offset() + 2000);
    assert_int_equal(ym_events_deliver_due(ev), 3);
    assert_string_equal(r.log, "a.one;a.two;a.three;"); /* in order per source */
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_event_deliveries WHERE state = 'pending'"), 0);
    ym_clock_set_offset(0);
    ym_events_free(ev);
    tmpdb_close(&t);
}

static void test_failure_rolls_back(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    g_db = t.a;
    rec r = {.fail = "w.bad"};
    ym_events *ev = registry(t.a, "core", "w.*", write_then, &r);
    emit(t.a, "w", "w.bad", NULL);
    emit(t.a, "w", "w.good", NULL);
    (void)emit(t.b, "w", "w.other", NULL); /* emitted by another connection (worker): delivered here */
    assert_int_equal(ym_events_deliver_due(ev), 1);
    long long v;
    assert_int_equal(ym_db_state_get_int(t.a, "w.bad", &v), 1); /* rolled back with the failure */
    ym_clock_set_offset(ym_clock_offset() + 2100);
    r.fail = NULL;
    assert_int_equal(ym_events_deliver_due(ev), 3);
    assert_int_equal(ym_db_state_get_int(t.a, "w.bad", &v), 0);
    assert_int_equal(ym_db_state_get_int(t.a, "w.good", &v), 0);
    assert_int_equal(ym_db_state_get_int(t.a, "w.other", &v), 0);
    ym_clock_set_offset(0);
    ym_events_free(ev);
    tmpdb_close(&t);
}

static void test_leaked_write_and_chain(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    g_db = t.a;
    rec r = {0};
    ym_events *ev = registry(t.a, "core", "l.*", leak_write, &r);
    emit(t.a, "l", "l.leak", NULL);
    assert_int_equal(ym_events_deliver_due(ev), 1);
    assert_false(ym_db_in_write(t.a));
    long long v;
    assert_int_equal(ym_db_state_get_int(t.a, "l.leak", &v), 1);
    assert_int_equal(q(t.a, "SELECT last_error = 'left a write open' AND attempts = 1 FROM core_event_deliveries"), 1);
    ym_events_free(ev);
    rec c = {0};
    ev = registry(t.a, "core", "c.*", chain, &c);
    emit(t.a, "c", "c.first", NULL);
    assert_int_equal(ym_events_deliver_due(ev), 2);
    assert_string_equal(c.log, "c.first;c.second;");
    ym_events_free(ev);
    tmpdb_close(&t);
}

static void noop_timer(uv_timer_t *t) { (void)t; }

/* The worker's path: after the flush that committed an emit, a 0 ms timer delivers. */
static void test_after_flush_on_loop(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec r = {0};
    char err[256] = "";
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    ym_events *ev = ym_events_new();
    assert_int_equal(ym_events_subscribe(ev, "core", "k.*", record, &r, NULL, err, sizeof err), 0);
    assert_int_equal(ym_events_start(ev, &loop, t.a, err, sizeof err), 0);
    ym_events_set_current(ev);
    ym_events_after_flush(ev); /* nothing committed yet */
    emit(t.a, "k", "k.now", NULL);
    assert_int_equal(r.calls, 0);
    ym_events_after_flush(ev);
    uv_timer_t keep; /* the timers are unref'ed: something must keep the loop alive */
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, noop_timer, 30, 0); /* well before the 100 ms first sweep */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    ym_events_stop(ev);
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(ym_events_deliver_due(ev), 0); /* stopped */
    ym_events_free(ev);
    tmpdb_close(&t);
}

/* Two workers: b's sweep runs from inside a's handler, while a holds the write lock. */
static void test_two_registries(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec ra = {0}, rb = {0};
    ym_events *eb = registry(t.b, "core", "t.*", record, &rb);
    ym_events *ea = registry(t.a, "core", "t.*", record, &ra);
    ra.nested = eb;
    for (int i = 0; i < 20; i++)
        emit(i % 2 ? t.a : t.b, "t", i % 3 ? "t.x" : "t.y", NULL);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_event_deliveries"), 20);
    int n = ym_events_deliver_due(ea);
    assert_int_equal(ra.nested_ran, 0); /* b could not deliver while a held the lock */
    assert_int_equal(n, 20);
    assert_int_equal(ym_events_deliver_due(eb) + ym_events_deliver_due(ea), 0);
    assert_int_equal(ra.calls + rb.calls, 20);
    ym_events_free(ea);
    ym_events_free(eb);
    tmpdb_close(&t);
}

static void test_crash_and_unregistered(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec r1 = {0}, r2 = {0};
    ym_events *e1 = registry(t.a, "plug", "c.*", record, &r1);
    emit(t.a, "c", "c.left", NULL);
    ym_events_free(e1); /* crashed between the commit and the delivery */
    ym_events *other = registry(t.b, "plug", "other.*", record, &r2);
    assert_int_equal(ym_events_deliver_due(other), 0); /* not its subscriber: stays pending */
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_event_deliveries WHERE state = 'pending'"), 1);
    ym_events_free(other);
    ym_events *e2 = registry(t.b, "plug", "c.*", record, &r2);
    assert_int_equal(ym_events_deliver_due(e2), 1);
    assert_string_equal(r2.log, "c.left;");
    ym_events_free(e2);
    tmpdb_close(&t);
}

static void test_batch_and_cleanup(void **state)
{
    tmpdb t;
    tmpdb_open(&t);
    rec r = {0};
    ym_events *ev = registry(t.a, "core", "n.*", record, &r);
    char err[256] = "";
    assert_int_equal(ym_db_write_begin(t.a), 0);
    for (int i = 0; i < YM_EVENT_BATCH + 50; i++)
        assert_true(ym_events_emit(t.a, "n", "n.e", NULL, err, sizeof err) > 0);
    assert_int_equal(ym_db_write_end(t.a, true), 0);
    assert_int_equal(ym_db_flush(t.a), 0);
    assert_int_equal(ym_events_deliver_due(ev), YM_EVENT_BATCH); /* bounded per sweep */
    assert_int_equal(ym_events_deliver_due(ev), 50);
    ym_events_free(ev);
    emit(t.a, "n", "n.kept", NULL); /* no registry now: no delivery, but the event is young */
    ym_events_set_current(NULL);
    assert_int_equal(ym_events_cleanup(t.a, ym_now() - YM_EVENT_KEEP_MS), 0);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_events"), YM_EVENT_BATCH + 51);
    assert_int_equal(ym_db_flush(t.a), 0);
    ym_clock_set_offset(YM_EVENT_KEEP_MS + 60000);
    assert_int_equal(ym_events_cleanup(t.a, ym_now() - YM_EVENT_KEEP_MS), 0);
    assert_int_equal(ym_db_flush(t.a), 0);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_events"), 0);
    assert_int_equal(q(t.a, "SELECT COUNT(*) FROM core_event_deliveries"), 0);
    ym_clock_set_offset(0);
    tmpdb_close(&t);
}

int main(void)
{
    ym_clock_set_timezone("Asia/Shanghai");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused), cmocka_unit_test(test_patterns), cmocka_unit_test(test_after_commit_only),
        cmocka_unit_test(test_order_and_backoff), cmocka_unit_test(test_failure_rolls_back),
        cmocka_unit_test(test_leaked_write_and_chain), cmocka_unit_test(test_after_flush_on_loop), cmocka_unit_test(test_two_registries), cmocka_unit_test(test_crash_and_unregistered),
        cmocka_unit_test(test_batch_and_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
