/* test_dispatch: the dispatch engine on a migrated temporary database: create with its
 * receipts, to-dos and notifications; read, sign, reply (validated against the form),
 * return and their refusals from the wrong state; who may act, see and see the board
 * (outsiders get "not found"); forwarding down the subtree only, with the tree on the
 * board; withdrawal; the escalation ladder at its times (the clock moved), each step once
 * per receipt; and 573 recipients in one write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "identity.h"
#include "clock.h"
#include "dispatch.h"
#include "live.h"
#include "channels.h"
#include "todo.h"

static char g_path[64];

typedef struct fixture {
    ym_db *db;
    int64_t root, a, a1, a2, b;                 /* county, township A with villages A1 A2, township B */
    int64_t sender, duty, clerk_a, clerk_a1, clerk_b, staff_a, outsider, person;
} fixture;

static void begin(ym_db *db) { assert_int_equal(ym_db_write_begin(db), 0); }

static void end(ym_db *db)
{
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
}

static void exec(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st || sqlite3_step(st) != SQLITE_DONE)
        fail_msg("%s: %s", sql, ym_db_errmsg(db));
    sqlite3_reset(st);
}

static long long count(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        fail_msg("%s: %s", sql, ym_db_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

static int64_t unit(ym_db *db, int64_t parent, const char *kind, const char *name)
{
    char field[64], err[256];
    int64_t id = ym_unit_create(db, parent, kind, name, NULL, NULL, 0, field, sizeof field, err, sizeof err);
    if (id <= 0)
        fail_msg("unit %s: %s", name, err);
    return id;
}

static int64_t user(ym_db *db, const char *name, int64_t u, const char *role)
{
    char field[64], err[256];
    int64_t id = ym_user_create(db, name, name, u, "", "", NULL, false, field, sizeof field, err, sizeof err);
    if (id <= 0)
        fail_msg("user %s: %s", name, err);
    if (role && ym_grant_create(db, id, role, u, false, 0, err, sizeof err) < 0)
        fail_msg("grant %s: %s", name, err);
    return id;
}

static void setup(fixture *f)
{
    char err[256] = "";
    snprintf(g_path, sizeof g_path, "/tmp/ym-dispatch-%d.db", (int)getpid());
    unlink(g_path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    assert_int_equal(ym_db_open(g_path, &o, &f->db, err, sizeof err), 0);
    if (ym_db_migrate(f->db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err) < 0)
        fail_msg("migrate: %s", err);
    begin(f->db);
    if (ym_identity_bootstrap(f->db, "云溪县", "not-a-real-hash", false, err, sizeof err) < 0)
        fail_msg("bootstrap: %s", err);
    f->root = ym_root_unit(f->db);
    f->a = unit(f->db, f->root, "township", "甲镇");
    f->a1 = unit(f->db, f->a, "village", "甲一村");
    f->a2 = unit(f->db, f->a, "village", "甲二村");
    f->b = unit(f->db, f->root, "township", "乙镇");
    exec(f->db, "INSERT INTO core_roles (key, name, created_at, updated_at) VALUES ('sender', '发文', 0, 0)");
    exec(f->db, "INSERT INTO core_role_permissions (role_id, permission) "
                "SELECT id, 'test.send' FROM core_roles WHERE key = 'sender'");
    f->sender = user(f->db, "sender", f->root, "sender");
    f->duty = user(f->db, "duty", f->root, "duty_officer");
    f->clerk_a = user(f->db, "clerka", f->a, "clerk");
    f->clerk_a1 = user(f->db, "clerka1", f->a1, "clerk");
    f->clerk_b = user(f->db, "clerkb", f->b, "clerk");
    f->staff_a = user(f->db, "staffa", f->a, "staff");
    f->outsider = user(f->db, "outsider", f->a2, "clerk");
    f->person = user(f->db, "person", f->root, NULL);
    end(f->db);
    ym_live_init(NULL, f->db, 25000, 1800000);
    ym_clock_set_offset(0);
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
    ym_clock_set_offset(0);
}

static ym_principal who(int64_t uid)
{
    ym_principal p = {.user_id = uid};
    return p;
}

static const char *FORM = "{\"fields\":[{\"name\":\"attending\",\"type\":\"boolean\",\"required\":true},"
                          "{\"name\":\"attendees\",\"type\":\"list\",\"columns\":[\"name\",\"post\"]}]}";

static int64_t create(fixture *f, const ym_dispatch_recipient *rs, size_t n, const char *form, int64_t deadline,
                      const ym_escalation_step *ladder, size_t nl)
{
    ym_dispatch_spec s = {.source = "test", .record = "test_doc:1", .sender_unit = f->root, .sender_user = f->sender,
                          .title = "关于防汛的紧急通知", .urgency = "very_urgent", .recipients = rs, .nrecipients = n,
                          .reply_form_json = form, .deadline_ms = deadline, .ladder = ladder, .nladder = nl};
    char err[256] = "";
    begin(f->db);
    int64_t id = ym_dispatch_create(f->db, &s, err, sizeof err);
    if (id <= 0)
        fail_msg("create: %s", err);
    end(f->db);
    return id;
}

/* Runs one transition in its own write; returns its outcome. */
#define ACT(f, call)                                   \
    ({                                                 \
        begin((f)->db);                                \
        int64_t rc_ = (call);                          \
        assert_int_equal(ym_db_write_end((f)->db, rc_ >= 0), 0); \
        assert_int_equal(ym_db_flush((f)->db), 0);     \
        rc_;                                           \
    })

static long long state_count(fixture *f, int64_t id, const char *state)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM core_dispatch_receipts WHERE dispatch_id = %lld AND state = '%s'",
             (long long)id, state);
    return count(f->db, sql);
}

static void test_create_sign_reply_return(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_dispatch_recipient rs[] = {{.unit_id = f.a}, {.unit_id = f.b}, {.user_id = f.person, .kind = "copy"}};
    int64_t id = create(&f, rs, 3, FORM, 0, NULL, 0);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_dispatch_receipts"), 3);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_dispatch_receipts WHERE reply_owed = 1"), 2);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL"), 3);
    /* the clerks of A and B and the person; very_urgent: severity warning */
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE type = 'notification' "
                                 "AND severity = 'warning'"), 3);
    int64_t total = 0, overdue = 0;
    assert_int_equal(ym_todo_count(f.db, f.clerk_a, ym_now(), &total, &overdue), 0);
    assert_int_equal(total, 1);

    ym_principal ca = who(f.clerk_a), cb = who(f.clerk_b), sa = who(f.staff_a), out = who(f.outsider),
                 pe = who(f.person), se = who(f.sender);
    ym_dispatch_err e;
    /* views: recipients, the sender side; not the outsider (a village of A) */
    assert_int_equal(ym_dispatch_may_view(f.db, &sa, id), 1);
    assert_int_equal(ym_dispatch_may_view(f.db, &se, id), 1);
    assert_int_equal(ym_dispatch_may_view(f.db, &out, id), 0);
    assert_int_equal(ym_dispatch_sender_side(f.db, &se, id), 1);
    assert_int_equal(ym_dispatch_sender_side(f.db, &ca, id), 0);
    /* read on first open */
    assert_int_equal(ACT(&f, ym_dispatch_mark_read(f.db, &sa, id)), 1);
    assert_int_equal(ACT(&f, ym_dispatch_mark_read(f.db, &sa, id)), 0);
    assert_int_equal(state_count(&f, id, "read"), 1);
    /* sign: the clerk yes, the plain staff 403, the outsider 404, twice 409 */
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &sa, id, 0, &e)), YM_DISPATCH_FORBIDDEN);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &out, id, 0, &e)), YM_DISPATCH_NOT_FOUND);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &out, id, f.a, &e)), YM_DISPATCH_NOT_FOUND);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &ca, id, 0, &e)), YM_DISPATCH_OK);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &ca, id, 0, &e)), YM_DISPATCH_CONFLICT);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &pe, id, 0, &e)), YM_DISPATCH_OK);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &ca, 999999, 0, &e)), YM_DISPATCH_NOT_FOUND);
    /* the to-do of A turned into "reply"; the person's (copy) is resolved */
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL AND kind = 'reply'"), 1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL"), 2);
    /* replies: validated against the form */
    json_t *bad1 = json_pack("{s:s}", "attending", "yes"), *bad2 = json_pack("{s:b,s:i}", "attending", 1, "x", 1);
    json_t *bad3 = json_object(), *good = json_pack("{s:b,s:[{s:s,s:s}]}", "attending", 1, "attendees", "name", "张三",
                                                    "post", "镇长");
    assert_int_equal(ACT(&f, ym_dispatch_reply(f.db, &ca, id, 0, bad1, &e)), YM_DISPATCH_INVALID);
    assert_string_equal(e.field, "answers");
    assert_int_equal(ACT(&f, ym_dispatch_reply(f.db, &ca, id, 0, bad2, &e)), YM_DISPATCH_INVALID);
    assert_int_equal(ACT(&f, ym_dispatch_reply(f.db, &ca, id, 0, bad3, &e)), YM_DISPATCH_INVALID);
    assert_int_equal(ACT(&f, ym_dispatch_reply(f.db, &pe, id, 0, good, &e)), YM_DISPATCH_CONFLICT); /* copy */
    assert_int_equal(ACT(&f, ym_dispatch_reply(f.db, &ca, id, 0, good, &e)), YM_DISPATCH_OK);
    assert_int_equal(ACT(&f, ym_dispatch_reply(f.db, &ca, id, 0, good, &e)), YM_DISPATCH_CONFLICT);
    json_decref(bad1);
    json_decref(bad2);
    json_decref(bad3);
    json_decref(good);
    /* return: a reason is required; not after the reply */
    assert_int_equal(ACT(&f, ym_dispatch_return(f.db, &cb, id, 0, "", &e)), YM_DISPATCH_INVALID);
    assert_int_equal(ACT(&f, ym_dispatch_return(f.db, &cb, id, 0, "不属本镇", &e)), YM_DISPATCH_OK);
    assert_int_equal(ACT(&f, ym_dispatch_return(f.db, &cb, id, 0, "再退", &e)), YM_DISPATCH_CONFLICT);
    assert_int_equal(ACT(&f, ym_dispatch_return(f.db, &ca, id, 0, "晚了", &e)), YM_DISPATCH_CONFLICT);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL"), 0);
    /* the board */
    json_t *b = ym_dispatch_board(f.db, id);
    assert_non_null(b);
    json_t *c = json_object_get(b, "counts");
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(c, "replied")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "signed")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "returned")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "missing")), 0);
    assert_true(json_is_integer(json_object_get(b, "time_to_full_receipt_ms")));
    json_decref(b);
    /* live events went to the sender */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM core_notifications WHERE user_id = %lld AND type = "
                              "'core.dispatch.receipt'", (long long)f.sender);
    assert_true(count(f.db, sql) >= 5);
    teardown(&f);
}

static void test_forward_and_tree(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_dispatch_recipient rs[] = {{.unit_id = f.a}, {.unit_id = f.b}};
    int64_t id = create(&f, rs, 2, NULL, 0, NULL, 0);
    ym_principal ca = who(f.clerk_a), ca1 = who(f.clerk_a1), se = who(f.sender), cb = who(f.clerk_b);
    ym_dispatch_err e;
    int64_t to[] = {f.a1, f.a2}, wrong[] = {f.b}, self[] = {f.a};
    assert_int_equal(ACT(&f, ym_dispatch_forward(f.db, &ca, id, 0, to, 2, NULL, &e)), YM_DISPATCH_CONFLICT);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &ca, id, 0, &e)), YM_DISPATCH_OK);
    assert_int_equal(ACT(&f, ym_dispatch_forward(f.db, &ca, id, 0, wrong, 1, NULL, &e)), YM_DISPATCH_INVALID);
    assert_string_equal(e.field, "unit_ids");
    assert_int_equal(ACT(&f, ym_dispatch_forward(f.db, &ca, id, 0, self, 1, NULL, &e)), YM_DISPATCH_INVALID);
    assert_int_equal(ACT(&f, ym_dispatch_forward(f.db, &cb, id, 0, to, 2, NULL, &e)), YM_DISPATCH_CONFLICT);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_dispatches"), 1);
    int64_t child = ACT(&f, ym_dispatch_forward(f.db, &ca, id, 0, to, 2, "转发：关于防汛的紧急通知", &e));
    assert_true(child > id);
    /* the village sees the child, not the original; A's clerk is the child's sender side */
    assert_int_equal(ym_dispatch_may_view(f.db, &ca1, child), 1);
    assert_int_equal(ym_dispatch_may_view(f.db, &ca1, id), 0);
    assert_int_equal(ym_dispatch_sender_side(f.db, &ca, child), 1);
    assert_int_equal(ym_dispatch_sender_side(f.db, &ca, id), 0);
    assert_int_equal(ym_dispatch_sender_side(f.db, &se, child), 1); /* the original sender sees the tree */
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &ca1, child, 0, &e)), YM_DISPATCH_OK);
    json_t *b = ym_dispatch_board(f.db, id);
    json_t *kids = json_object_get(b, "children");
    assert_int_equal(json_array_size(kids), 1);
    json_t *k = json_array_get(kids, 0);
    assert_int_equal(json_integer_value(json_object_get(k, "id")), child);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(k, "counts"), "signed")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(k, "counts"), "delivered")), 1);
    json_decref(b);
    /* withdrawing the original closes the child too */
    assert_int_equal(ACT(&f, ym_dispatch_withdraw(f.db, &ca, id, &e)), YM_DISPATCH_FORBIDDEN);
    assert_int_equal(ACT(&f, ym_dispatch_withdraw(f.db, &se, id, &e)), YM_DISPATCH_OK);
    assert_int_equal(ACT(&f, ym_dispatch_withdraw(f.db, &se, id, &e)), YM_DISPATCH_CONFLICT);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_dispatches WHERE state = 'withdrawn'"), 2);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL"), 0);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &cb, id, 0, &e)), YM_DISPATCH_CONFLICT);
    teardown(&f);
}

static void test_validation(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_dispatch_recipient ok[] = {{.unit_id = f.a}}, dup[] = {{.unit_id = f.a}, {.unit_id = f.a}},
                          both[] = {{.unit_id = f.a, .user_id = f.person}}, none[] = {{.unit_id = 999999}},
                          kind[] = {{.unit_id = f.a, .kind = "bcc"}};
    ym_escalation_step late[] = {{.offset_ms = 1000, .before_deadline = true, .action = "remind"}};
    ym_escalation_step order[] = {{.offset_ms = 2000, .action = "remind"}, {.offset_ms = 1000, .action = "call"}};
    ym_escalation_step what[] = {{.offset_ms = 1000, .action = "shout"}};
    struct { ym_dispatch_spec s; const char *field; } cases[] = {
        {{.source = "Test", .title = "t", .recipients = ok, .nrecipients = 1}, "source"},
        {{.source = "test", .title = "", .recipients = ok, .nrecipients = 1}, "title"},
        {{.source = "test", .title = "t", .urgency = "now", .recipients = ok, .nrecipients = 1}, "urgency"},
        {{.source = "test", .title = "t", .link = "http://x", .recipients = ok, .nrecipients = 1}, "link"},
        {{.source = "test", .title = "t", .recipients = ok, .nrecipients = 0}, "recipients"},
        {{.source = "test", .title = "t", .recipients = dup, .nrecipients = 2}, "recipients"},
        {{.source = "test", .title = "t", .recipients = both, .nrecipients = 1}, "recipients"},
        {{.source = "test", .title = "t", .recipients = none, .nrecipients = 1}, "recipients"},
        {{.source = "test", .title = "t", .recipients = kind, .nrecipients = 1}, "recipients"},
        {{.source = "test", .title = "t", .recipients = ok, .nrecipients = 1, .reply_form_json = "{\"fields\":[]}"},
         "reply_form"},
        {{.source = "test", .title = "t", .recipients = ok, .nrecipients = 1, .reply_form_json = "nope"}, "reply_form"},
        {{.source = "test", .title = "t", .recipients = ok, .nrecipients = 1, .ladder = late, .nladder = 1}, "ladder"},
        {{.source = "test", .title = "t", .recipients = ok, .nrecipients = 1, .ladder = order, .nladder = 2}, "ladder"},
        {{.source = "test", .title = "t", .recipients = ok, .nrecipients = 1, .ladder = what, .nladder = 1}, "ladder"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cases[i].s.sender_unit = f.root;
        ym_dispatch_err e = {{0}, {0}};
        begin(f.db);
        int64_t id = ym_dispatch_create_ex(f.db, &cases[i].s, &e);
        assert_int_equal(ym_db_write_end(f.db, false), 0);
        if (id != YM_DISPATCH_INVALID || strcmp(e.field, cases[i].field))
            fail_msg("case %zu: %lld field %s (%s)", i, (long long)id, e.field, e.msg);
    }
    /* outside a write */
    char err[256];
    ym_dispatch_spec s = {.source = "test", .title = "t", .sender_unit = f.root, .recipients = ok, .nrecipients = 1};
    assert_int_equal(ym_dispatch_create(f.db, &s, err, sizeof err), -1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_dispatches"), 0);
    teardown(&f);
}

static void test_escalation_timing(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_dispatch_recipient rs[] = {{.unit_id = f.a}, {.unit_id = f.b}};
    ym_escalation_step ladder[] = {{.offset_ms = 10 * 60000, .action = "remind"},
                                   {.offset_ms = 20 * 60000, .action = "channel"},
                                   {.offset_ms = 30 * 60000, .before_deadline = true, .action = "call"}};
    int64_t id = create(&f, rs, 2, NULL, ym_now() + 2 * 3600000, ladder, 3);
    ym_principal ca = who(f.clerk_a);
    ym_dispatch_err e;
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &ca, id, 0, &e)), YM_DISPATCH_OK);
    ym_clock_set_offset(9 * 60000);
    assert_int_equal(ym_dispatch_escalate(f.db), 0);
    ym_clock_set_offset(11 * 60000);
    assert_int_equal(ym_dispatch_escalate(f.db), 1); /* B only: A signed */
    assert_int_equal(ym_dispatch_escalate(f.db), 0);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE severity = 'reminder'"), 1);
    ym_clock_set_offset(100 * 60000);                /* the channel and the call at once, in order */
    assert_int_equal(ym_dispatch_escalate(f.db), 2);
    assert_int_equal(ym_dispatch_escalate(f.db), 0);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE severity = 'urgent'"), 1);
    int64_t total = 0, overdue = 0;
    assert_int_equal(ym_todo_count(f.db, f.duty, ym_now(), &total, &overdue), 0);
    assert_int_equal(total, 1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_dispatch_escalations"), 3);
    assert_int_equal(count(f.db, "SELECT count(DISTINCT idx) FROM core_dispatch_escalations"), 3);
    /* B signs: the duty officer's call is resolved */
    ym_principal cb = who(f.clerk_b);
    assert_int_equal(ACT(&f, ym_dispatch_sign(f.db, &cb, id, 0, &e)), YM_DISPATCH_OK);
    assert_int_equal(ym_todo_count(f.db, f.duty, ym_now(), &total, &overdue), 0);
    assert_int_equal(total, 0);
    teardown(&f);
}

static void test_573_recipients_one_write(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    enum { N = 573 };
    static ym_dispatch_recipient rs[N];
    begin(f.db);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "村%d", i);
        int64_t u = unit(f.db, f.b, "village", name);
        snprintf(name, sizeof name, "clerk%d", i);
        user(f.db, name, u, "clerk");
        rs[i] = (ym_dispatch_recipient){.unit_id = u};
    }
    end(f.db);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t id = create(&f, rs, N, FORM, 0, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("573 recipients in one write: %.1f ms\n", ms);
    assert_int_equal(state_count(&f, id, "delivered"), N);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL"), N);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_notifications WHERE type = 'notification'"), N);
    json_t *b = ym_dispatch_board(f.db, id);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "counts"), "missing")), N);
    json_decref(b);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_sign_reply_return), cmocka_unit_test(test_forward_and_tree),
        cmocka_unit_test(test_validation),               cmocka_unit_test(test_escalation_timing),
        cmocka_unit_test(test_573_recipients_one_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
