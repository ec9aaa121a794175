/* test_calendar: dates, the shipped 2026 calendar (holidays and 调休 make-up days),
 * working-day arithmetic across the National Day holiday, and bad calendar files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "calendar.h"
#include "clock.h"
#include "plugin.h"

#ifndef SRC_CALENDAR
#define SRC_CALENDAR "config/calendar"
#endif

static int32_t D(const char *s)
{
    int32_t d;
    assert_int_equal(ym_date_parse(s, &d), 0);
    return d;
}

static void expect(const ym_calendar *c, const char *from, int n, const char *want)
{
    char out[11];
    ym_date_format(ym_calendar_add_working_days(c, D(from), n), out);
    if (strcmp(out, want) != 0)
        fail_msg("%s %+d working days: got %s, want %s", from, n, out, want);
}

static void test_dates(void **state)
{
    char out[11];
    assert_int_equal(D("1970-01-01"), 0);
    ym_date_format(D("2026-11-27"), out);
    assert_string_equal(out, "2026-11-27");
    assert_int_equal(ym_date_weekday(D("2026-11-27")), 5); /* a Friday */
    assert_int_equal(ym_date_weekday(D("2026-10-10")), 6); /* a Saturday */
    assert_int_equal(ym_date_year(D("2028-02-29")), 2028);
    int32_t d;
    const char *bad[] = {"2026-02-29", "2026-13-01", "2026-1-01", "26-01-01", "2026-01-01x", "", "2026/01/01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ym_date_parse(bad[i], &d), -1);
}

static void test_shipped_2026(void **state)
{
    char err[256] = "";
    ym_calendar *c = ym_calendar_load(SRC_CALENDAR, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_true(ym_calendar_has_year(c, 2026));
    assert_false(ym_calendar_is_working_day(c, D("2026-10-01")));   /* 国庆节 */
    assert_false(ym_calendar_is_working_day(c, D("2026-10-07")));
    assert_true(ym_calendar_is_working_day(c, D("2026-10-10")));    /* a Saturday worked (调休) */
    assert_true(ym_calendar_is_working_day(c, D("2026-02-14")));
    assert_false(ym_calendar_is_working_day(c, D("2026-02-16")));   /* 春节, a Monday */
    assert_false(ym_calendar_is_working_day(c, D("2026-11-28")));   /* an ordinary Saturday */
    assert_true(ym_calendar_is_working_day(c, D("2026-11-27")));    /* an ordinary Friday */
    /* a deadline over the National Day holiday */
    expect(c, "2026-09-30", 1, "2026-10-08");
    expect(c, "2026-09-30", 3, "2026-10-10");
    expect(c, "2026-09-30", 4, "2026-10-12");
    expect(c, "2026-09-24", 7, "2026-10-12");   /* 9/25-27 and 10/1-7 off, 10/10 worked, 10/11 not */
    expect(c, "2026-10-01", 0, "2026-10-08");
    expect(c, "2026-10-08", -1, "2026-09-30");
    expect(c, "2026-01-01", 1, "2026-01-04");   /* a Sunday worked after 元旦 */
    ym_calendar_free(c);
}

static void test_year_without_file(void **state)
{
    ym_calendar *c = ym_calendar_load("/nonexistent", NULL, 0);
    assert_non_null(c);
    assert_false(ym_calendar_has_year(c, 2031));
    expect(c, "2031-01-03", 1, "2031-01-06");   /* Friday + 1: Monday */
    assert_false(ym_calendar_is_working_day(c, D("2031-01-04")));
    ym_calendar_free(c);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_files(void **state)
{
    struct { const char *text, *want; } cases[] = {
        {"holidays = { { \"2027-01-01\", \"2027-13-01\" } }", "holidays[1]"},
        {"holidays = { { \"2026-01-01\", \"2026-01-02\" } }", "not in this file's year"},
        {"workdays = { 20270104 }", "workdays[1]"},
        {"holiday = {}", "unknown key"},
        {"holidays = { { \"2027-01-03\", \"2027-01-01\" } }", "ends before it starts"},
        {"holidays = {", "expected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char dir[] = "/tmp/yimen-cal-XXXXXX", err[256] = "";
        assert_non_null(mkdtemp(dir));
        write_file(dir, "2027.conf", cases[i].text);
        ym_calendar *c = ym_calendar_load(dir, err, sizeof err);
        assert_null(c);
        if (!strstr(err, cases[i].want) || !strstr(err, "2027.conf:"))
            fail_msg("case %zu: %s", i, err);
        char path[256];
        snprintf(path, sizeof path, "%s/2027.conf", dir);
        unlink(path);
        rmdir(dir);
    }
}

static void test_end_of_day(void **state)
{
    ym_clock_set_timezone("Asia/Shanghai");
    char buf[48];
    ym_time_format(ym_date_end_ms(D("2026-10-08")), buf, sizeof buf);
    assert_string_equal(buf, "2026-10-08T23:59:59.999+08:00");
}

/* The same services as C plugins see them through ym_api. */
static void test_plugin_api(void **state)
{
    char err[256] = "", out[11];
    ym_calendar *c = ym_calendar_load(SRC_CALENDAR, err, sizeof err);
    assert_non_null(c);
    ym_calendar_set_current(c);
    const ym_api *api = ym_plugin_api();
    assert_int_equal(api->date_is_working_day("2026-10-01"), 0);
    assert_int_equal(api->date_is_working_day("2026-10-10"), 1);
    assert_int_equal(api->date_is_working_day("2026-02-30"), -1);
    assert_int_equal(api->date_add_working_days("2026-09-30", 1, out), 0);
    assert_string_equal(out, "2026-10-08");
    assert_int_equal(api->date_add_working_days("bad", 1, out), -1);
    assert_true(api->date_end_ms("2026-10-08") > 0);
    assert_int_equal(api->date_end_ms("x"), -1);
    ym_calendar_set_current(NULL);
    ym_calendar_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates), cmocka_unit_test(test_shipped_2026), cmocka_unit_test(test_year_without_file),
        cmocka_unit_test(test_bad_files), cmocka_unit_test(test_end_of_day), cmocka_unit_test(test_plugin_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
