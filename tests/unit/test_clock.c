/* test_clock: ym_now against the system clock, the test offset (local and in a
 * shared cell), RFC 3339 formatting in configured zones, and the YIMEN_TEST_CLOCK switch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static void test_now_follows_system_clock(void **state)
{
    ym_clock_set_offset(0);
    time_t before = time(NULL);
    int64_t now = ym_now();
    time_t after = time(NULL);
    assert_true(now / 1000 >= (int64_t)before - 1);
    assert_true(now / 1000 <= (int64_t)after + 1);
    int64_t again = ym_now();
    assert_true(again >= now);
    uint64_t m1 = ym_mono_ms();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t m2 = ym_mono_ms();
    assert_true(m2 - m1 >= 19 && m2 - m1 < 2000);
}

static void test_offset_shifts_now(void **state)
{
    assert_int_equal(ym_clock_offset(), 0);
    int64_t base = ym_now();
    ym_clock_set_offset(86400000); /* one day ahead */
    assert_int_equal(ym_clock_offset(), 86400000);
    int64_t later = ym_now();
    assert_true(later - base >= 86400000 && later - base < 86400000 + 2000);
    ym_clock_set_offset(-3600000);
    int64_t earlier = ym_now();
    assert_true(base - earlier > 3600000 - 2000 && base - earlier <= 3600000 + 2000);
    /* the monotonic clock never moves with the offset */
    uint64_t m = ym_mono_ms();
    ym_clock_set_offset(10 * 86400000LL);
    assert_true(ym_mono_ms() - m < 1000);
    ym_clock_set_offset(0);
    assert_true(ym_now() - base < 2000);
}

static void test_offset_in_shared_cell(void **state)
{
    int64_t cell = 0;
    ym_clock_set_offset(0);
    ym_clock_attach(&cell);
    ym_clock_set_offset(5000);
    assert_int_equal(cell, 5000);
    cell = 7000; /* another process moved it */
    assert_int_equal(ym_clock_offset(), 7000);
    ym_clock_attach(NULL); /* back to the process-local cell, still 0 */
    assert_int_equal(ym_clock_offset(), 0);
    assert_int_equal(cell, 7000);
}

static void check_format(const char *tz, int64_t ms, const char *want)
{
    ym_clock_set_timezone(tz);
    char buf[64];
    size_t n = ym_time_format(ms, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("%s at %lld: wanted %s, got %s", tz, (long long)ms, want, buf);
    assert_int_equal(n, strlen(want));
}

static void test_time_format(void **state)
{
    /* 2025-11-27T03:24:31.123Z */
    const int64_t t = 1764213871123LL;
    check_format("Asia/Shanghai", t, "2025-11-27T11:24:31.123+08:00");
    check_format("UTC", t, "2025-11-27T03:24:31.123+00:00");
    check_format("America/New_York", t, "2025-11-26T22:24:31.123-05:00");
    check_format("Asia/Kolkata", t, "2025-11-27T08:54:31.123+05:30");
    /* summer time in New York: -04:00 */
    check_format("America/New_York", 1751000000000LL, "2025-06-27T00:53:20.000-04:00");
    /* local midnight in Shanghai is 16:00 UTC the day before */
    check_format("Asia/Shanghai", 1767196800000LL, "2026-01-01T00:00:00.000+08:00");
    check_format("Asia/Shanghai", 0, "1970-01-01T08:00:00.000+08:00");
    /* an empty or NULL zone leaves the current one */
    ym_clock_set_timezone("");
    ym_clock_set_timezone(NULL);
    char buf[64];
    ym_time_format(t, buf, sizeof buf);
    assert_string_equal(buf, "2025-11-27T11:24:31.123+08:00");
}

static void test_time_format_before_epoch(void **state)
{
    /* one millisecond before the epoch */
    check_format("UTC", -1, "1969-12-31T23:59:59.999+00:00");
    check_format("Asia/Shanghai", -1500, "1970-01-01T07:59:58.500+08:00");
}

static void test_time_format_small_buffer(void **state)
{
    ym_clock_set_timezone("Asia/Shanghai");
    char buf[11];
    memset(buf, 'x', sizeof buf);
    ym_time_format(1764213871123LL, buf, sizeof buf);
    assert_string_equal(buf, "2025-11-27");
}

static void test_test_clock_switch(void **state)
{
    unsetenv("YIMEN_TEST_CLOCK");
    assert_int_equal(ym_clock_test_enabled(), 0);
    setenv("YIMEN_TEST_CLOCK", "1", 1);
    assert_int_equal(ym_clock_test_enabled(), 1);
    setenv("YIMEN_TEST_CLOCK", "0", 1);
    assert_int_equal(ym_clock_test_enabled(), 0);
    setenv("YIMEN_TEST_CLOCK", "yes", 1);
    assert_int_equal(ym_clock_test_enabled(), 0);
    setenv("YIMEN_TEST_CLOCK", "", 1);
    assert_int_equal(ym_clock_test_enabled(), 0);
    unsetenv("YIMEN_TEST_CLOCK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_follows_system_clock),
        cmocka_unit_test(test_offset_shifts_now),
        cmocka_unit_test(test_offset_in_shared_cell),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_format_before_epoch),
        cmocka_unit_test(test_time_format_small_buffer),
        cmocka_unit_test(test_test_clock_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
