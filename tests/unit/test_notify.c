/* test_notify: notifications on a migrated temporary database: the notice checks, the
 * writers (one user, a unit with or without its subtree, the administrators, live
 * events), refusal outside a write and rollback; the channels: config validation,
 * template expansion with escaping, queueing by severity or by name, and delivery
 * through a log channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "identity.h"
#include "notify.h"
#include "channels.h"
#include "live.h"

static char g_path[64];

typedef struct fixture {
    ym_db *db;
    int64_t root, a, village, b;
    int64_t ua, uv, ub, off, admin;
} fixture;

static void exec(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st || sqlite3_step(st) != SQLITE_DONE)
        fail_msg("%s: %s", sql, ym_db_errmsg(db));
    sqlite3_reset(st);
}

static int64_t count(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

static void begin(ym_db *db) { assert_int_equal(ym_db_write_begin(db), 0); }

static void end(ym_db *db, bool ok)
{
    assert_int_equal(ym_db_write_end(db, ok), 0);
    assert_int_equal(ym_db_flush(db), 0);
}

static int64_t unit(ym_db *db, int64_t parent, const char *kind, const char *name)
{
    char field[64], err[256];
    int64_t id = ym_unit_create(db, parent, kind, name, NULL, NULL, 0, field, sizeof field, err, sizeof err);
    if (id <= 0)
        fail_msg("unit %s: %s", name, err);
    return id;
}

static int64_t user(ym_db *db, const char *name, int64_t u)
{
    char field[64], err[256];
    int64_t id = ym_user_create(db, name, name, u, "", "13900000000", NULL, false, field, sizeof field, err, sizeof err);
    if (id <= 0)
        fail_msg("user %s: %s", name, err);
    return id;
}

static void setup(fixture *f)
{
    char err[256] = "";
    snprintf(g_path, sizeof g_path, "/tmp/ym-notify-%d.db", (int)getpid());
    unlink(g_path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    assert_int_equal(ym_db_open(g_path, &o, &f->db, err, sizeof err), 0);
    if (ym_db_migrate(f->db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err) < 0)
        fail_msg("migrate: %s", err);
    begin(f->db);
    if (ym_identity_bootstrap(f->db, "本县", "not-a-real-hash", false, err, sizeof err) < 0)
        fail_msg("bootstrap: %s", err);
    f->root = ym_root_unit(f->db);
    f->a = unit(f->db, f->root, "township", "甲镇");
    f->village = unit(f->db, f->a, "village", "甲村");
    f->b = unit(f->db, f->root, "township", "乙镇");
    f->ua = user(f->db, "ua", f->a);
    f->uv = user(f->db, "uv", f->village);
    f->ub = user(f->db, "ub", f->b);
    f->off = user(f->db, "off", f->a);
    exec(f->db, "UPDATE core_users SET status = 'disabled' WHERE username = 'off'");
    f->admin = 1;
    end(f->db, true);
    ym_live_init(NULL, f->db, 25000, 1800000);
}

static void teardown(fixture *f)
{
    ym_live_free();
    ym_channels_free();
    ym_db_close(f->db);
    char p[80];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
}

static void test_check(void **state)
{
    char err[256];
    ym_notice ok = {.title = "会议通知", .body = "第一行\n第二行", .link = "#/meetings/1"};
    assert_null(ym_notify_check(&ok, err, sizeof err));
    ym_notice n = ok;
    n.severity = "loud";
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "severity");
    n = ok;
    n.title = "";
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "title");
    n.title = "two\nlines";
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "title");
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    n.title = big;
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "title");
    n.title = "\xff\xfe";
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "title");
    n = ok;
    n.link = "https://elsewhere.example/";
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "link");
    n.link = "//elsewhere.example/";
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "link");
    n.link = "/api/files/1";
    assert_null(ym_notify_check(&n, err, sizeof err));
    const char *names[] = {"nosuch", NULL};
    n = ok;
    n.channels = names;
    assert_string_equal(ym_notify_check(&n, err, sizeof err), "channels");
    assert_int_equal(ym_notify_severity_rank(NULL), 0);
    assert_int_equal(ym_notify_severity_rank("urgent"), 3);
    assert_int_equal(ym_notify_severity_rank("URGENT"), -1);
}

static void test_writers(void **state)
{
    fixture f;
    setup(&f);
    char err[256];
    ym_notice n = {.severity = "reminder", .title = "请签收", .link = "#/documents/9"};
    /* outside a write: refused, nothing written */
    assert_int_equal(ym_notify_user(f.db, "core", f.ua, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "write"));
    begin(f.db);
    int64_t id = ym_notify_user(f.db, "documents", f.ua, &n, err, sizeof err);
    assert_true(id > 0);
    assert_int_equal(ym_notify_user(f.db, "documents", 99999, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "no user"));
    /* the unit alone, then with its subtree; a disabled user is left out */
    assert_int_equal(ym_notify_unit(f.db, "core", f.a, false, &n, err, sizeof err), 1);
    assert_int_equal(ym_notify_unit(f.db, "core", f.a, true, &n, err, sizeof err), 2);
    assert_int_equal(ym_notify_unit(f.db, "core", 99999, true, &n, err, sizeof err), -1);
    assert_int_equal(ym_notify_admins(f.db, "core", &n), 1);
    end(f.db, true);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE user_id = 2"), 3);  /* ua */
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE user_id = 5"), 0);  /* off */
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE source = 'documents' "
                                 "AND severity = 'reminder' AND link = '#/documents/9'"), 1);
    /* a rolled-back write leaves nothing */
    int64_t before = count(f.db, "SELECT count(*) FROM core_notifications");
    begin(f.db);
    assert_true(ym_notify_unit(f.db, "core", f.root, true, &n, err, sizeof err) > 0);
    end(f.db, false);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications"), before);
    teardown(&f);
}

static void test_push(void **state)
{
    fixture f;
    setup(&f);
    char err[256];
    begin(f.db);
    assert_true(ym_notify_push(f.db, "meetings", f.ua, "meetings.board", "{\"signed\":3}", err, sizeof err) > 0);
    assert_int_equal(ym_notify_push(f.db, "meetings", f.ua, "documents.board", "{}", err, sizeof err), -1);
    assert_int_equal(ym_notify_push(f.db, "meetings", f.ua, "meetings", "{}", err, sizeof err), -1);
    assert_int_equal(ym_notify_push(f.db, "meetings", f.ua, "meetings.Board", "{}", err, sizeof err), -1);
    assert_int_equal(ym_notify_push(f.db, "meetings", f.ua, "meetings.board", "[1]", err, sizeof err), -1);
    assert_int_equal(ym_notify_push(f.db, "meetings", f.ua, "meetings.board", "{", err, sizeof err), -1);
    assert_int_equal(ym_notify_push(f.db, "meetings", 99999, "meetings.board", "{}", err, sizeof err), -1);
    char *big = malloc(YM_NOTIFY_DATA_MAX + 32);
    snprintf(big, YM_NOTIFY_DATA_MAX + 32, "{\"x\":\"%0*d\"}", YM_NOTIFY_DATA_MAX, 0);
    assert_int_equal(ym_notify_push(f.db, "meetings", f.ua, "meetings.board", big, err, sizeof err), -1);
    free(big);
    end(f.db, true);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE type = 'meetings.board' "
                                 "AND data = '{\"signed\":3}'"), 1);
    teardown(&f);
}

static json_t *channels_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

static void expect_bad(const char *text, const char *key, const char *fragment)
{
    char k[96], err[200];
    json_t *j = channels_json(text);
    assert_int_equal(ym_channels_check(j, k, sizeof k, err, sizeof err), -1);
    if (strcmp(k, key) != 0 || !strstr(err, fragment))
        fail_msg("%s: got key %s, error %s", text, k, err);
    json_decref(j);
}

static void test_channels_check(void **state)
{
    char k[96], err[200];
    json_t *good = channels_json("{\"sms\":{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/x\",\"template\":\"{{title}}\","
                                 "\"min_severity\":\"warning\",\"timeout\":\"2s\",\"max_attempts\":3,"
                                 "\"headers\":{\"X-Token\":\"abc\"}},\"dev\":{\"type\":\"log\"}}");
    assert_int_equal(ym_channels_check(good, k, sizeof k, err, sizeof err), 0);
    json_decref(good);
    expect_bad("{\"sms\":{\"type\":\"webhook\"}}", "sms.url", "http://");
    expect_bad("{\"sms\":{\"type\":\"webhook\",\"url\":\"ftp://x/\"}}", "sms.url", "http://");
    expect_bad("{\"sms\":{\"type\":\"pigeon\"}}", "sms.type", "webhook");
    expect_bad("{\"sms\":{\"type\":\"log\",\"colour\":1}}", "sms.colour", "unknown key");
    expect_bad("{\"sms\":{\"type\":\"log\",\"url\":\"http://x/\"}}", "sms.url", "no url");
    expect_bad("{\"sms\":{\"type\":\"log\",\"min_severity\":\"loud\"}}", "sms.min_severity", "urgent");
    expect_bad("{\"sms\":{\"type\":\"log\",\"timeout\":\"5ms\"}}", "sms.timeout", "100ms");
    expect_bad("{\"sms\":{\"type\":\"log\",\"max_attempts\":0}}", "sms.max_attempts", "1 to 50");
    expect_bad("{\"sms\":{\"type\":\"log\",\"headers\":{\"Bad Name\":\"v\"}}}", "sms.headers.Bad Name", "header");
    expect_bad("{\"sms\":{\"type\":\"log\",\"headers\":{\"X\":\"a\\r\\nInjected: 1\"}}}", "sms.headers.X", "header");
    expect_bad("{\"Bad\":{\"type\":\"log\"}}", "Bad", "a-z");
    expect_bad("{\"sms\":1}", "sms", "table");
}

static void test_expand(void **state)
{
    const char *vars[] = {"title", "防汛 \"紧急\"\n", "phone", "13900000000", "body", "a&b=c", NULL};
    char *s = ym_channels_expand("{\"t\":\"{{title}}\",\"p\":\"{{phone}}\",\"x\":\"{{nope}}\"}", "application/json", vars);
    assert_string_equal(s, "{\"t\":\"防汛 \\\"紧急\\\"\\u000a\",\"p\":\"13900000000\",\"x\":\"\"}");
    free(s);
    s = ym_channels_expand("to={{phone}}&text={{body}}", "application/x-www-form-urlencoded", vars);
    assert_string_equal(s, "to=13900000000&text=a%26b%3Dc");
    free(s);
    s = ym_channels_expand("{{body}} {{title", "text/plain", vars);
    assert_string_equal(s, "a&b=c {{title");
    free(s);
    char *big = malloc(YM_CHANNEL_BODY_MAX + 2);
    memset(big, 'y', YM_CHANNEL_BODY_MAX + 1);
    big[YM_CHANNEL_BODY_MAX + 1] = 0;
    const char *bv[] = {"body", big, NULL};
    assert_null(ym_channels_expand("{{body}}", "text/plain", bv));
    free(big);
}

static void test_queue_and_log_delivery(void **state)
{
    fixture f;
    setup(&f);
    char err[256];
    json_t *ch = channels_json("{\"dev\":{\"type\":\"log\",\"min_severity\":\"warning\"},"
                               "\"sms\":{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/\"}}");
    ym_channels_init(NULL, f.db, ch, "https://oa.example.test");
    json_decref(ch);
    assert_true(ym_channels_known("dev") && ym_channels_known("sms") && !ym_channels_known("x"));
    begin(f.db);
    ym_notice info = {.title = "普通"}, warn = {.severity = "warning", .title = "注意"};
    const char *only_sms[] = {"sms", NULL}, *none[] = {NULL};
    ym_notice named = {.title = "点名", .channels = only_sms}, silent = {.severity = "urgent", .title = "不发", .channels = none};
    assert_true(ym_notify_user(f.db, "core", f.ua, &info, err, sizeof err) > 0);     /* below both */
    assert_true(ym_notify_user(f.db, "core", f.ua, &warn, err, sizeof err) > 0);     /* dev only */
    assert_true(ym_notify_user(f.db, "core", f.ua, &named, err, sizeof err) > 0);    /* sms only */
    assert_true(ym_notify_user(f.db, "core", f.ua, &silent, err, sizeof err) > 0);   /* none */
    end(f.db, true);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notify_outbox WHERE channel = 'dev'"), 1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notify_outbox WHERE channel = 'sms'"), 1);
    /* without an event loop the log channel delivers at once; a webhook cannot */
    assert_int_equal(ym_channels_deliver_due(), 2);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notify_outbox WHERE channel = 'dev' AND state = 'sent'"), 1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notify_outbox WHERE channel = 'sms' AND state = 'pending' "
                                 "AND attempts = 1 AND last_error IS NOT NULL"), 1);
    assert_int_equal(ym_channels_deliver_due(), 0); /* backing off */
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),          cmocka_unit_test(test_writers),
        cmocka_unit_test(test_push),           cmocka_unit_test(test_channels_check),
        cmocka_unit_test(test_expand),         cmocka_unit_test(test_queue_and_log_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
