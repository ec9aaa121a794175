/* test_items: tracked items on a migrated temporary database with the 2026 calendar:
 * the flow through every state and refusals of wrong transitions, a deadline of N
 * working days across the National Day holiday, colours at the right days across it,
 * the lag reason required when late, co-unit reports, extensions approved and denied,
 * and the colour rules chosen by effective date. */
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
#include "calendar.h"
#include "items.h"

static char g_path[64];
static ym_db *g_db;
static int64_t g_sup, g_lead, g_co1, g_co2, g_user;
static ym_calendar *g_cal;

static int64_t day_ms(const char *day, int hour)
{
    int32_t d;
    assert_int_equal(ym_date_parse(day, &d), 0);
    return ym_date_end_ms(d - 1) + 1 + (int64_t)hour * 3600000; /* local midnight + hours */
}

/* The clock at day, hour. */
static void at(const char *day, int hour)
{
    ym_clock_set_offset(0);
    ym_clock_set_offset(day_ms(day, hour) - ym_now());
}

static void begin(void) { assert_int_equal(ym_db_write_begin(g_db), 0); }
static void end(void)
{
    assert_int_equal(ym_db_write_end(g_db, true), 0);
    assert_int_equal(ym_db_flush(g_db), 0);
}

static int setup(void **state)
{
    (void)state;
    char err[256] = "", field[64];
    ym_clock_set_timezone("Asia/Shanghai");
    g_cal = ym_calendar_load("config/calendar", err, sizeof err);
    assert_non_null(g_cal);
    ym_calendar_set_current(g_cal);
    ym_items_configure(NULL, NULL, NULL);
    snprintf(g_path, sizeof g_path, "/tmp/ym-items-%d.db", (int)getpid());
    unlink(g_path);
    ym_db_opts o = {.synchronous = "normal", .busy_timeout_ms = 2000};
    assert_int_equal(ym_db_open(g_path, &o, &g_db, err, sizeof err), 0);
    if (ym_db_migrate(g_db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err) < 0)
        fail_msg("migrate: %s", err);
    begin();
    assert_true(ym_identity_bootstrap(g_db, "云溪县", "x", false, err, sizeof err) >= 0);
    int64_t root = ym_root_unit(g_db);
    g_sup = ym_unit_create(g_db, root, "department", "督查室", NULL, NULL, 0, field, sizeof field, err, sizeof err);
    g_lead = ym_unit_create(g_db, root, "township", "甲镇", NULL, NULL, 0, field, sizeof field, err, sizeof err);
    g_co1 = ym_unit_create(g_db, root, "department", "财政局", NULL, NULL, 0, field, sizeof field, err, sizeof err);
    g_co2 = ym_unit_create(g_db, root, "department", "资规局", NULL, NULL, 0, field, sizeof field, err, sizeof err);
    g_user = ym_user_create(g_db, "u1", "u1", g_lead, "", "", NULL, false, field, sizeof field, err, sizeof err);
    assert_true(g_sup > 0 && g_lead > 0 && g_co1 > 0 && g_co2 > 0 && g_user > 0);
    end();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ym_db_close(g_db);
    char p[80];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
    ym_calendar_set_current(NULL);
    ym_calendar_free(g_cal);
    ym_clock_set_offset(0);
    return 0;
}

static int64_t make(const char *deadline, int workdays, const char *nodes)
{
    char err[256] = "";
    int64_t co[] = {g_co1, g_co2};
    ym_item_spec s = {.source = "supervision", .source_kind = "instruction", .title = "修缮县道",
                      .supervisor_unit = g_sup, .lead_unit = g_lead, .co_units = co, .nco = 2,
                      .deadline = deadline, .deadline_workdays = workdays, .nodes_json = nodes, .created_by = g_user};
    int64_t id = ym_item_create(g_db, &s, err, sizeof err);
    if (id <= 0)
        fail_msg("create: %s", err);
    return id;
}

static char *field_of(int64_t id, const char *key, char *buf, size_t len)
{
    json_t *j = ym_item_json(g_db, id);
    assert_non_null(j);
    json_t *v = json_object_get(j, key);
    snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "null" : "?");
    json_decref(j);
    return buf;
}

static void test_flow_and_refusals(void **state)
{
    (void)state;
    char err[256], b[32];
    at("2026-09-28", 10);
    begin();
    int64_t id = make(NULL, 5, "[{\"title\":\"方案\",\"deadline\":\"2026-10-09\"}]");
    assert_int_equal(ym_item_accept(g_db, id, g_user, err, sizeof err), YM_ITEM_ESTATE);
    assert_int_equal(ym_item_assign(g_db, id, g_user, err, sizeof err), 0);
    /* 9/29, 9/30, 10/8, 10/9 and the make-up Saturday 10/10 */
    assert_string_equal(field_of(id, "deadline", b, sizeof b), "2026-10-10");
    assert_int_equal(ym_item_return(g_db, id, g_user, "", err, sizeof err), YM_ITEM_EINVAL);
    assert_int_equal(ym_item_return(g_db, id, g_user, "不属本单位", err, sizeof err), 0);
    assert_int_equal(ym_item_assign(g_db, id, g_user, err, sizeof err), 0);
    assert_int_equal(ym_item_accept(g_db, id, g_user, err, sizeof err), 0);
    ym_item_report_args co = {.text = "配合", .percent = 40};
    assert_true(ym_item_report(g_db, id, g_user, g_co1, &co, err, sizeof err) > 0);
    assert_int_equal(ym_item_report(g_db, id, g_user, g_sup, &co, err, sizeof err), YM_ITEM_ESTATE);
    assert_string_equal(field_of(id, "state", b, sizeof b), "in_progress");
    assert_int_equal(ym_item_close(g_db, id, g_user, err, sizeof err), YM_ITEM_ESTATE);
    assert_true(ym_item_complete(g_db, id, g_user, "完成", NULL, 0, err, sizeof err) > 0);
    assert_int_equal(ym_item_review(g_db, id, g_user, false, NULL, err, sizeof err), YM_ITEM_EINVAL);
    assert_int_equal(ym_item_review(g_db, id, g_user, false, "缺材料", err, sizeof err), 0);
    assert_true(ym_item_complete(g_db, id, g_user, "补齐", NULL, 0, err, sizeof err) > 0);
    assert_int_equal(ym_item_review(g_db, id, g_user, true, NULL, err, sizeof err), 0);
    assert_int_equal(ym_item_close(g_db, id, g_user, err, sizeof err), 0);
    assert_string_equal(field_of(id, "state", b, sizeof b), "closed");
    assert_true(ym_item_report(g_db, id, g_user, g_lead, &co, err, sizeof err) == YM_ITEM_ESTATE);
    assert_int_equal(ym_item_accept(g_db, 999999, g_user, err, sizeof err), YM_ITEM_ENOTFOUND);
    end();
}

static const char *colour_on(int64_t id, const char *day, char *b, size_t len)
{
    at(day, 10);
    begin();
    assert_true(ym_item_recolour(g_db, id, ym_now()) >= 0);
    end();
    return field_of(id, "colour", b, len);
}

static void test_colours_holiday_and_lag_reason(void **state)
{
    (void)state;
    char err[256], b[32];
    at("2026-09-21", 10);
    begin();
    int64_t id = make("2026-09-30", 0, NULL);
    assert_int_equal(ym_item_assign(g_db, id, g_user, err, sizeof err), 0);
    assert_int_equal(ym_item_accept(g_db, id, g_user, err, sizeof err), 0);
    end();
    assert_string_equal(colour_on(id, "2026-09-21", b, sizeof b), "green");
    assert_string_equal(colour_on(id, "2026-09-25", b, sizeof b), "blue"); /* 9/28, 9/29, 9/30 */
    assert_string_equal(colour_on(id, "2026-10-01", b, sizeof b), "orange");
    assert_string_equal(colour_on(id, "2026-10-13", b, sizeof b), "orange"); /* 5 working days over */
    ym_item_report_args lead = {.text = "进展", .percent = -1};
    begin();
    assert_int_equal(ym_item_report(g_db, id, g_user, g_lead, &lead, err, sizeof err), YM_ITEM_ELAG);
    assert_true(ym_item_report(g_db, id, g_user, g_co1, &lead, err, sizeof err) > 0); /* co-units are not held */
    assert_int_equal(ym_item_reason_add(g_db, id, g_user, "bogus", "x", err, sizeof err), YM_ITEM_EINVAL);
    assert_true(ym_item_reason_add(g_db, id, g_user, "funding", "资金未到位", err, sizeof err) > 0);
    assert_true(ym_item_report(g_db, id, g_user, g_lead, &lead, err, sizeof err) > 0);
    end();
    assert_string_equal(colour_on(id, "2026-10-14", b, sizeof b), "red");
}

static void test_node_late_is_yellow(void **state)
{
    (void)state;
    char err[256], b[32];
    at("2026-09-21", 10);
    begin();
    int64_t id = make("2026-10-30", 0, "[{\"title\":\"方案\",\"deadline\":\"2026-09-22\"}]");
    assert_int_equal(ym_item_assign(g_db, id, g_user, err, sizeof err), 0);
    end();
    assert_string_equal(colour_on(id, "2026-09-23", b, sizeof b), "yellow");
}

static void test_extension(void **state)
{
    (void)state;
    char err[256], b[32];
    at("2026-10-08", 10);
    begin();
    int64_t id = make("2026-10-09", 0, NULL);
    assert_int_equal(ym_item_assign(g_db, id, g_user, err, sizeof err), 0);
    end();
    assert_string_equal(colour_on(id, "2026-10-08", b, sizeof b), "blue");
    begin();
    assert_int_equal(ym_item_extend_request(g_db, id, g_user, "2026-10-01", "x", err, sizeof err), YM_ITEM_EINVAL);
    int64_t e1 = ym_item_extend_request(g_db, id, g_user, "2026-10-30", "需要时间", err, sizeof err);
    assert_true(e1 > 0);
    assert_int_equal(ym_item_extend_request(g_db, id, g_user, "2026-11-30", "再延", err, sizeof err), YM_ITEM_ESTATE);
    assert_int_equal(ym_item_extend_decide(g_db, id, e1, g_user, true, "同意", err, sizeof err), 0);
    assert_string_equal(field_of(id, "deadline", b, sizeof b), "2026-10-30");
    assert_string_equal(field_of(id, "colour", b, sizeof b), "green");
    int64_t e2 = ym_item_extend_request(g_db, id, g_user, "2026-11-30", "再延", err, sizeof err);
    assert_int_equal(ym_item_extend_decide(g_db, id, e2, g_user, false, NULL, err, sizeof err), 0);
    assert_string_equal(field_of(id, "deadline", b, sizeof b), "2026-10-30");
    assert_int_equal(ym_item_extend_decide(g_db, id, e2, g_user, true, NULL, err, sizeof err), YM_ITEM_ESTATE);
    end();
}

static void test_rules_by_date(void **state)
{
    (void)state;
    char sub[64], why[200];
    json_t *c = json_loads("[{\"from\":\"2026-01-01\",\"blue_within\":3,\"red_after\":5},"
                           "{\"from\":\"2026-10-01\",\"blue_within\":7,\"red_after\":2}]", 0, NULL);
    assert_int_equal(ym_items_config_check("colours", c, sub, sizeof sub, why, sizeof why), 0);
    int b, r;
    ym_items_configure(c, NULL, NULL);
    int32_t d;
    ym_date_parse("2026-09-30", &d);
    ym_items_rule_at(d, &b, &r);
    assert_int_equal(b, 3);
    assert_int_equal(r, 5);
    ym_items_rule_at(d + 1, &b, &r);
    assert_int_equal(b, 7);
    assert_int_equal(r, 2);
    ym_items_configure(NULL, NULL, NULL);
    json_decref(c);
    json_t *bad = json_loads("[{\"from\":\"2026-10-01\",\"blue_within\":3,\"red_after\":5},"
                             "{\"from\":\"2026-01-01\",\"blue_within\":3,\"red_after\":5}]", 0, NULL);
    assert_int_equal(ym_items_config_check("colours", bad, sub, sizeof sub, why, sizeof why), -1);
    assert_string_equal(sub, "[2].from");
    json_decref(bad);
    bad = json_loads("[{\"from\":\"2026-10-01\",\"blue_within\":3}]", 0, NULL);
    assert_int_equal(ym_items_config_check("colours", bad, sub, sizeof sub, why, sizeof why), -1);
    assert_string_equal(sub, "[1].red_after");
    json_decref(bad);
    bad = json_loads("[\"purple\"]", 0, NULL);
    assert_int_equal(ym_items_config_check("auto_urge", bad, sub, sizeof sub, why, sizeof why), -1);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_and_refusals), cmocka_unit_test(test_colours_holiday_and_lag_reason),
        cmocka_unit_test(test_node_late_is_yellow), cmocka_unit_test(test_extension),
        cmocka_unit_test(test_rules_by_date),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
