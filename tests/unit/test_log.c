/* test_log: logfmt lines: the fixed head (time, level, pid, role, generation),
 * value quoting, the numeric conversions, the request id, truncation and level names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char line[1024];

static int fmt(ym_log_level level, const char *msg, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(ym_log_level level, const char *msg, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = ym_log_format(line, sizeof line, level, msg, f, ap);
    va_end(ap);
    return n;
}

/* What follows " msg=": the part a caller controls. */
static const char *tail(void)
{
    const char *p = strstr(line, " msg=");
    assert_non_null(p);
    return p + 1;
}

static void test_head(void **state)
{
    ym_log_init(YM_LOG_INFO, "worker", 3);
    int n = fmt(YM_LOG_WARN, "hello", "");
    assert_int_equal(n, (int)strlen(line));
    char want[128];
    snprintf(want, sizeof want, " level=warn pid=%d role=worker gen=3 msg=hello", (int)getpid());
    if (!strstr(line, want))
        fail_msg("line [%s] lacks [%s]", line, want);
    /* time=2026-11-27T03:24:31.123Z */
    assert_memory_equal(line, "time=", 5);
    assert_int_equal(strlen("time=2026-11-27T03:24:31.123Z"), (size_t)(strchr(line, ' ') - line));
    assert_int_equal(line[15], 'T');
    assert_int_equal(line[28], 'Z');
    ym_log_init(YM_LOG_INFO, NULL, 0);
    fmt(YM_LOG_DEBUG, "m", NULL);
    assert_non_null(strstr(line, " level=debug pid="));
    assert_non_null(strstr(line, " role=cli gen=0 msg=m"));
    assert_string_equal(tail(), "msg=m");
}

static void test_quoting(void **state)
{
    ym_log_init(YM_LOG_INFO, "cli", 0);
    struct { const char *in, *out; } cases[] = {
        {"plain", "k=plain"},
        {"two words", "k=\"two words\""},
        {"say \"hi\"", "k=\"say \\\"hi\\\"\""},
        {"a=b", "k=\"a=b\""},
        {"line1\nline2", "k=\"line1\\nline2\""},
        {"tab\there", "k=\"tab\\there\""},
        {"back\\slash", "k=\"back\\\\slash\""},
        {"bell\a", "k=\"bell\\x07\""},
        {"", "k=\"\""},
        {NULL, "k=\"\""},
        {"/api/units/7", "k=/api/units/7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fmt(YM_LOG_INFO, "m", "k=%s", cases[i].in);
        const char *t = tail() + strlen("msg=m ");
        if (strcmp(t, cases[i].out) != 0)
            fail_msg("value [%s]: wanted [%s], got [%s]", cases[i].in ? cases[i].in : "(null)", cases[i].out, t);
    }
    /* the message itself is always written as a logfmt value */
    fmt(YM_LOG_INFO, "request failed: bad = input", "");
    assert_string_equal(tail(), "msg=\"request failed: bad = input\"");
    /* a line can never be split by what it logs */
    fmt(YM_LOG_INFO, "a\nb", "x=%s y=%s", "c\r\nd", "e\n");
    assert_null(strchr(line, '\n'));
    assert_null(strchr(line, '\r'));
}

static void test_numbers(void **state)
{
    fmt(YM_LOG_INFO, "n", "i=%d neg=%d u=%u z=%zu ll=%lld ull=%llu l=%ld x=%x f=%.3f f1=%.1f g=%f pct=100%% s=%s",
        42, -7, 4000000000u, (size_t)123456789012ull, -9000000000000ll, 18000000000000000000ull, -5L, 255u,
        3.14159, 2.26, 0.5, "end");
    assert_string_equal(tail(), "msg=n i=42 neg=-7 u=4000000000 z=123456789012 ll=-9000000000000 "
                                "ull=18000000000000000000 l=-5 x=ff f=3.142 f1=2.3 g=0.500000 pct=100% s=end");
}

static void test_request_id(void **state)
{
    ym_log_set_request_id("4d2-1f");
    fmt(YM_LOG_INFO, "inside", "");
    assert_non_null(strstr(line, " rid=4d2-1f msg=inside"));
    ym_log_set_request_id(NULL);
    fmt(YM_LOG_INFO, "outside", "");
    assert_null(strstr(line, "rid="));
    assert_non_null(strstr(line, " gen=0 msg=outside"));
    ym_log_set_request_id("with space");
    fmt(YM_LOG_INFO, "q", "");
    assert_non_null(strstr(line, " rid=\"with space\" msg=q"));
    ym_log_set_request_id("");
    fmt(YM_LOG_INFO, "q", "");
    assert_null(strstr(line, "rid="));
}

static void test_truncation(void **state)
{
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    fmt(YM_LOG_INFO, "m", "k=%s", big);
    assert_true(strlen(line) < sizeof line);
    int n = fmt(YM_LOG_INFO, big, "k=%s", big);
    assert_int_equal(n, (int)strlen(line));
    assert_int_equal(strlen(line), sizeof line - 1);
}

static void test_parse_level(void **state)
{
    ym_log_level l = YM_LOG_ERROR;
    assert_int_equal(ym_log_parse_level("debug", &l), 0);
    assert_int_equal(l, YM_LOG_DEBUG);
    assert_int_equal(ym_log_parse_level("info", &l), 0);
    assert_int_equal(l, YM_LOG_INFO);
    assert_int_equal(ym_log_parse_level("warn", &l), 0);
    assert_int_equal(l, YM_LOG_WARN);
    assert_int_equal(ym_log_parse_level("error", &l), 0);
    assert_int_equal(l, YM_LOG_ERROR);
    l = YM_LOG_WARN;
    assert_int_equal(ym_log_parse_level("verbose", &l), -1);
    assert_int_equal(ym_log_parse_level("", &l), -1);
    assert_int_equal(ym_log_parse_level("INFO ", &l), -1);
    assert_int_equal(l, YM_LOG_WARN); /* untouched on error */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_parse_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
