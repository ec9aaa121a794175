/* test_todo: the to-do service on a migrated temporary database: put, update and re-open
 * by (owner, key), resolve, resolve by key prefix, each validation error, refusal outside
 * a write, role targeting (exactly the unit of the grant), the counts with overdue items,
 * and the cleanup of items resolved long ago. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "identity.h"
#include "clock.h"
#include "todo.h"

static char g_path[64];

typedef struct fixture {
    ym_db *db;
    int64_t root, a, b;          /* the county, townships A and B */
    int64_t clerk_a, clerk_b;    /* clerks of A and of B */
    int64_t plain_a;             /* in A, no role */
    int64_t upper;               /* clerk on the county, with descendants */
} fixture;

static ym_db *open_db(void)
{
    char err[256] = "";
    snprintf(g_path, sizeof g_path, "/tmp/ym-todo-%d.db", (int)getpid());
    unlink(g_path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    ym_db *db = NULL;
    assert_int_equal(ym_db_open(g_path, &o, &db, err, sizeof err), 0);
    if (ym_db_migrate(db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err) < 0)
        fail_msg("migrate: %s", err);
    return db;
}

static void close_db(ym_db *db)
{
    ym_db_close(db);
    char p[80];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
}

static void begin(ym_db *db) { assert_int_equal(ym_db_write_begin(db), 0); }

static void end(ym_db *db)
{
    assert_int_equal(ym_db_write_end(db, true), 0);
    assert_int_equal(ym_db_flush(db), 0);
}

static int64_t user(ym_db *db, const char *name, int64_t unit)
{
    char field[64], err[256];
    int64_t id = ym_user_create(db, name, name, unit, "", "", NULL, false, field, sizeof field, err, sizeof err);
    if (id <= 0)
        fail_msg("user %s: %s", name, err);
    return id;
}

static void exec(ym_db *db, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st || sqlite3_step(st) != SQLITE_DONE)
        fail_msg("%s: %s", sql, ym_db_errmsg(db));
    sqlite3_reset(st);
}

static void setup(fixture *f)
{
    char err[256] = "", field[64];
    f->db = open_db();
    begin(f->db);
    if (ym_identity_bootstrap(f->db, "云溪县", "not-a-real-hash", false, err, sizeof err) < 0)
        fail_msg("bootstrap: %s", err);
    f->root = ym_root_unit(f->db);
    assert_true(ym_role_id(f->db, "clerk") > 0); /* built in */
    f->a = ym_unit_create(f->db, f->root, "township", "甲镇", NULL, NULL, 0, field, sizeof field, err, sizeof err);
    f->b = ym_unit_create(f->db, f->root, "township", "乙镇", NULL, NULL, 0, field, sizeof field, err, sizeof err);
    assert_true(f->a > 0 && f->b > 0);
    f->clerk_a = user(f->db, "clerka", f->a);
    f->clerk_b = user(f->db, "clerkb", f->b);
    f->plain_a = user(f->db, "plaina", f->a);
    f->upper = user(f->db, "upper", f->root);
    assert_int_equal(ym_grant_create(f->db, f->clerk_a, "clerk", f->a, false, 0, err, sizeof err), 0);
    assert_int_equal(ym_grant_create(f->db, f->clerk_b, "clerk", f->b, false, 0, err, sizeof err), 0);
    assert_int_equal(ym_grant_create(f->db, f->upper, "clerk", f->root, true, 0, err, sizeof err), 0);
    end(f->db);
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

static int64_t open_for(ym_db *db, int64_t uid)
{
    int64_t total = -1, overdue = -1;
    assert_int_equal(ym_todo_count(db, uid, ym_now(), &total, &overdue), 0);
    return total;
}

static int64_t put(ym_db *db, const char *key, const ym_todo *t)
{
    char err[256] = "";
    begin(db);
    int64_t id = ym_todo_put(db, "documents", key, t, err, sizeof err);
    if (id <= 0)
        fail_msg("put %s: %s", key, err);
    end(db);
    return id;
}

static void test_put_update_resolve(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_todo t = {.user_id = f.clerk_a, .title = "签收《关于防汛的通知》", .link = "#/documents/17", .kind = "sign"};
    int64_t id = put(f.db, "doc:17:user", &t);
    assert_int_equal(open_for(f.db, f.clerk_a), 1);
    assert_int_equal(open_for(f.db, f.plain_a), 0);

    /* the same key updates the row */
    t.title = "签收《关于防汛的紧急通知》";
    t.due_ms = ym_now() + 3600000;
    assert_int_equal(put(f.db, "doc:17:user", &t), id);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos"), 1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE title = '签收《关于防汛的紧急通知》' "
                                 "AND due_at IS NOT NULL AND kind = 'sign' AND link = '#/documents/17'"), 1);

    /* resolve: once; then there is nothing open */
    begin(f.db);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "doc:17:user", f.clerk_a), 1);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "doc:17:user", f.clerk_a), 0);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "doc:99", 0), 0);
    assert_int_equal(ym_todo_resolve(f.db, "meetings", "doc:17:user", 0), 0); /* another owner's key */
    end(f.db);
    assert_int_equal(open_for(f.db, f.clerk_a), 0);
    assert_int_equal(count(f.db, "SELECT resolved_by FROM core_todos"), f.clerk_a);

    /* put again re-opens it, with the same id */
    assert_int_equal(put(f.db, "doc:17:user", &t), id);
    assert_int_equal(open_for(f.db, f.clerk_a), 1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL AND resolved_by IS NULL"), 1);

    /* the system resolves it: resolved_by NULL */
    begin(f.db);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "doc:17:user", 0), 1);
    end(f.db);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NOT NULL AND resolved_by IS NULL"), 1);
    close_db(f.db);
}

static void test_resolve_prefix(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_todo t = {.unit_id = f.a, .role_key = "clerk", .title = "签收"};
    put(f.db, "doc:17:unit:1", &t);
    put(f.db, "doc:17:unit:2", &t);
    put(f.db, "doc:170:unit:1", &t); /* "doc:17" is a prefix of it, "doc:17:" is not */
    put(f.db, "doc:18:unit:1", &t);
    begin(f.db);
    assert_int_equal(ym_todo_put(f.db, "meetings", "doc:17:unit:1", &t, NULL, 0) > 0, 1);
    end(f.db);
    assert_int_equal(open_for(f.db, f.clerk_a), 5);

    begin(f.db);
    assert_int_equal(ym_todo_resolve_prefix(f.db, "documents", "doc:17:", 0), 2);
    assert_int_equal(ym_todo_resolve_prefix(f.db, "documents", "doc:17:", 0), 0);
    assert_int_equal(ym_todo_resolve_prefix(f.db, "documents", "", 0), -1); /* not "everything" */
    assert_int_equal(ym_todo_resolve_prefix(f.db, "documents", "doc%", 0), 0); /* no LIKE wildcards */
    end(f.db);
    assert_int_equal(open_for(f.db, f.clerk_a), 3);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE resolved_at IS NULL AND owner = 'meetings'"), 1);
    begin(f.db);
    assert_int_equal(ym_todo_resolve_prefix(f.db, "documents", "doc:1", 0), 2);
    end(f.db);
    assert_int_equal(open_for(f.db, f.clerk_a), 1);
    close_db(f.db);
}

static void expect_refused(ym_db *db, const char *owner, const char *key, const ym_todo *t, const char *why)
{
    char err[256] = "";
    begin(db);
    assert_int_equal(ym_todo_put(db, owner, key, t, err, sizeof err), -1);
    end(db);
    if (!strstr(err, why))
        fail_msg("expected \"%s\" in \"%s\"", why, err);
}

static void test_validation(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_db *db = f.db;
    char big[YM_TODO_TITLE_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ym_todo ok = {.user_id = f.clerk_a, .title = "t"};
    ym_todo t;

    t = ok; t.title = NULL;
    expect_refused(db, "documents", "k", &t, "title is required");
    t = ok; t.title = "";
    expect_refused(db, "documents", "k", &t, "title is required");
    t = ok; t.title = big;
    expect_refused(db, "documents", "k", &t, "title must be");
    t = ok; t.title = "\xff\xfe";
    expect_refused(db, "documents", "k", &t, "title must be");
    t = ok; t.unit_id = f.a; t.role_key = "clerk";
    expect_refused(db, "documents", "k", &t, "not both");
    t = ok; t.user_id = 0;
    expect_refused(db, "documents", "k", &t, "needs a user");
    t = ok; t.user_id = 0; t.unit_id = f.a;
    expect_refused(db, "documents", "k", &t, "both the unit and the role");
    t = ok; t.user_id = 0; t.role_key = "clerk";
    expect_refused(db, "documents", "k", &t, "both the unit and the role");
    t = ok; t.user_id = 9999;
    expect_refused(db, "documents", "k", &t, "no such user");
    t = ok; t.user_id = 0; t.unit_id = 9999; t.role_key = "clerk";
    expect_refused(db, "documents", "k", &t, "no such unit");
    t = ok; t.user_id = 0; t.unit_id = f.a; t.role_key = "nobody";
    expect_refused(db, "documents", "k", &t, "no such role");
    const char *bad_links[] = {"http://evil.example/", "//evil.example/", "documents/17", "#documents", "/\\evil",
                               "#/a\nb"};
    for (size_t i = 0; i < sizeof bad_links / sizeof bad_links[0]; i++) {
        t = ok; t.link = bad_links[i];
        expect_refused(db, "documents", "k", &t, "link must");
    }
    t = ok; t.kind = "Sign Here";
    expect_refused(db, "documents", "k", &t, "kind is");
    t = ok; t.due_ms = -5;
    expect_refused(db, "documents", "k", &t, "due_ms");
    expect_refused(db, "", "k", &ok, "owner is required");
    expect_refused(db, NULL, "k", &ok, "owner is required");
    expect_refused(db, "documents", "", &ok, "key is required");
    expect_refused(db, "documents", NULL, &ok, "key is required");
    char bigkey[YM_TODO_KEY_MAX + 2];
    memset(bigkey, 'k', sizeof bigkey - 1);
    bigkey[sizeof bigkey - 1] = 0;
    expect_refused(db, "documents", bigkey, &ok, "key is required");
    assert_int_equal(count(db, "SELECT count(*) FROM core_todos"), 0);

    /* accepted: both link forms, the longest title, no kind */
    t = ok; t.link = "/api/files/3"; t.title = big + 1;
    put(db, "k1", &t);
    t = ok; t.link = "#/documents/17";
    put(db, "k2", &t);
    assert_int_equal(count(db, "SELECT count(*) FROM core_todos"), 2);
    close_db(db);
}

static void test_outside_write_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    char err[256] = "";
    ym_todo t = {.user_id = f.clerk_a, .title = "t"};
    assert_int_equal(ym_todo_put(f.db, "documents", "k", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "inside a write"));
    assert_int_equal(ym_todo_resolve(f.db, "documents", "k", 0), -1);
    assert_int_equal(ym_todo_resolve_prefix(f.db, "documents", "k", 0), -1);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos"), 0);
    close_db(f.db);
}

static void test_role_targeting(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    int64_t now = ym_now();
    ym_todo t = {.unit_id = f.a, .role_key = "clerk", .title = "甲镇签收", .due_ms = now - 1000};
    put(f.db, "doc:1:unit:a", &t);
    ym_todo p = {.user_id = f.plain_a, .title = "个人", .due_ms = now + 3600000};
    put(f.db, "doc:1:user", &p);

    assert_int_equal(open_for(f.db, f.clerk_a), 1);   /* the role in that unit */
    assert_int_equal(open_for(f.db, f.clerk_b), 0);   /* the role in another unit */
    assert_int_equal(open_for(f.db, f.plain_a), 1);   /* in that unit without the role: only their own */
    assert_int_equal(open_for(f.db, f.upper), 0);     /* the role above, with descendants: exact unit only */
    int64_t total = 0, overdue = 0;
    assert_int_equal(ym_todo_count(f.db, f.clerk_a, now, &total, &overdue), 0);
    assert_int_equal(total, 1);
    assert_int_equal(overdue, 1);
    assert_int_equal(ym_todo_count(f.db, f.plain_a, now, &total, &overdue), 0);
    assert_int_equal(total, 1);
    assert_int_equal(overdue, 0);

    /* a second clerk of A sees it too; resolved by one, gone for both */
    char err[256], field[64];
    begin(f.db);
    int64_t clerk_a2 = ym_user_create(f.db, "clerka2", "clerka2", f.b, "", "", NULL, false, field, sizeof field, err,
                                      sizeof err);
    assert_true(clerk_a2 > 0);
    assert_int_equal(ym_grant_create(f.db, clerk_a2, "clerk", f.a, false, 0, err, sizeof err), 0);
    end(f.db);
    assert_int_equal(open_for(f.db, clerk_a2), 1);
    begin(f.db);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "doc:1:unit:a", clerk_a2), 1);
    end(f.db);
    assert_int_equal(open_for(f.db, clerk_a2), 0);
    assert_int_equal(open_for(f.db, f.clerk_a), 0);
    close_db(f.db);
}

static void test_cleanup(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    ym_todo t = {.user_id = f.clerk_a, .title = "t"};
    put(f.db, "old", &t);
    put(f.db, "recent", &t);
    put(f.db, "open", &t);
    begin(f.db);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "old", 0), 1);
    assert_int_equal(ym_todo_resolve(f.db, "documents", "recent", 0), 1);
    end(f.db);
    begin(f.db);
    exec(f.db, "UPDATE core_todos SET resolved_at = resolved_at - 31 * 86400000 WHERE key = 'old'");
    end(f.db);
    assert_int_equal(ym_todo_cleanup(f.db, ym_now() - YM_TODO_KEEP_MS), 1);
    assert_int_equal(ym_db_flush(f.db), 0);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos"), 2);
    assert_int_equal(count(f.db, "SELECT count(*) FROM core_todos WHERE key = 'old'"), 0);
    assert_int_equal(ym_todo_cleanup(f.db, ym_now() - YM_TODO_KEEP_MS), 0);
    assert_int_equal(ym_db_flush(f.db), 0);
    close_db(f.db);
}

/* Both halves of the caller's query use a partial index of open items. */
static void test_query_plan(void **state)
{
    (void)state;
    fixture f;
    setup(&f);
    sqlite3_stmt *st = ym_db_prepare(f.db, "core",
        "EXPLAIN QUERY PLAN SELECT count(*) FROM ("
        "SELECT t.id FROM core_todos t WHERE t.user_id = ?1 AND t.resolved_at IS NULL UNION ALL "
        "SELECT t.id FROM core_grants g JOIN core_todos t ON t.unit_id = g.unit_id AND t.role_id = g.role_id "
        "WHERE g.user_id = ?1 AND t.unit_id IS NOT NULL AND t.resolved_at IS NULL)");
    assert_non_null(st);
    char plan[2048] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        strncat(plan, (const char *)sqlite3_column_text(st, 3), sizeof plan - strlen(plan) - 2);
        strcat(plan, "\n");
    }
    sqlite3_reset(st);
    if (!strstr(plan, "core_todos_user_open") || !strstr(plan, "core_todos_role_open"))
        fail_msg("plan:\n%s", plan);
    close_db(f.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_update_resolve), cmocka_unit_test(test_resolve_prefix),
        cmocka_unit_test(test_validation),         cmocka_unit_test(test_outside_write_refused),
        cmocka_unit_test(test_role_targeting),     cmocka_unit_test(test_cleanup),
        cmocka_unit_test(test_query_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
