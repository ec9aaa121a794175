/* test_metrics: per-(method, route, status) counters and the latency histogram in a
 * private shared segment, their Prometheus rendering, and the full-table overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "shared.h"

static ym_shared *sh;

static int reset(void **state)
{
    sh = ym_shared_private();
    memset(&sh->metrics, 0, sizeof sh->metrics);
    sh->generation = 0;
    sh->worker_restarts = 0;
    ym_metrics_attach(&sh->metrics);
    ym_metrics_claim(getpid());
    return 0;
}

static char *render(void)
{
    size_t len = 0;
    char *text = ym_metrics_render(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(text, want))
        fail_msg("no line [%s] in:\n%s", line, text);
}

static void expect_no_line(const char *text, const char *prefix)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s", prefix);
    if (strstr(text, want))
        fail_msg("unexpected line [%s...] in:\n%s", prefix, text);
}

/* Number of lines that start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, pl) == 0;
    return n;
}

static void test_counts_by_key(void **state)
{
    ym_metrics_request("GET", "/api/units/:id", 200, 100);
    ym_metrics_request("GET", "/api/units/:id", 200, 100);
    ym_metrics_request("GET", "/api/units/:id", 200, 100);
    ym_metrics_request("GET", "/api/units/:id", 404, 100);
    ym_metrics_request("HEAD", "/api/units/:id", 200, 100);
    ym_metrics_request("POST", "/api/units", 201, 100);
    ym_metrics_request("GET", NULL, 400, 100);
    char *text = render();
    expect_line(text, "yimen_requests_total{method=\"GET\",route=\"/api/units/:id\",status=\"200\"} 3");
    expect_line(text, "yimen_requests_total{method=\"GET\",route=\"/api/units/:id\",status=\"404\"} 1");
    expect_line(text, "yimen_requests_total{method=\"HEAD\",route=\"/api/units/:id\",status=\"200\"} 1");
    expect_line(text, "yimen_requests_total{method=\"POST\",route=\"/api/units\",status=\"201\"} 1");
    expect_line(text, "yimen_requests_total{method=\"GET\",route=\"\",status=\"400\"} 1");
    assert_int_equal(count_lines(text, "yimen_requests_total{"), 5);
    expect_line(text, "# TYPE yimen_requests_total counter");
    expect_line(text, "yimen_metrics_overflow_total 0");
    free(text);
}

static void test_histogram(void **state)
{
    ym_metrics_request("GET", "/h", 200, 400);     /* <= 0.5 ms */
    ym_metrics_request("GET", "/h", 200, 500);     /* boundary: still <= 0.5 ms */
    ym_metrics_request("GET", "/h", 200, 1500);    /* <= 2 ms */
    ym_metrics_request("GET", "/h", 200, 30000);   /* <= 50 ms */
    ym_metrics_request("GET", "/h", 200, 2000000); /* > 1 s */
    char *text = render();
    expect_line(text, "# TYPE yimen_request_duration_seconds histogram");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"0.0005\"} 2");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"0.001\"} 2");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"0.002\"} 3");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"0.025\"} 3");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"0.05\"} 4");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"1\"} 4");
    expect_line(text, "yimen_request_duration_seconds_bucket{le=\"+Inf\"} 5");
    assert_int_equal(count_lines(text, "yimen_request_duration_seconds_bucket{"), YM_METRICS_BUCKETS);
    expect_line(text, "yimen_request_duration_seconds_count 5");
    expect_line(text, "yimen_request_duration_seconds_sum 2.032400");
    expect_line(text, "yimen_requests_total{method=\"GET\",route=\"/h\",status=\"200\"} 5");
    free(text);
}

static void test_gauges_and_shared_fields(void **state)
{
    ym_metrics_connections(3);
    ym_metrics_connections(-1);
    sh->generation = 4;
    sh->worker_restarts = 2;
    char *text = render();
    expect_line(text, "yimen_open_connections 2");
    expect_line(text, "yimen_generation 4");
    expect_line(text, "yimen_worker_restarts_total 2");
    free(text);
    /* a worker that dies takes its connections out of the gauge */
    ym_metrics_release(getpid());
    text = render();
    expect_line(text, "yimen_open_connections 0");
    free(text);
    ym_metrics_claim(getpid());
}

static void test_labels_escaped(void **state)
{
    ym_metrics_request("GET", "/a\"b\\c\nd", 200, 1);
    char *text = render();
    expect_line(text, "yimen_requests_total{method=\"GET\",route=\"/a\\\"b\\\\c\\nd\",status=\"200\"} 1");
    free(text);
}

/* A route pattern as long as the slot's label field still counts into one slot. */
static void test_long_route_one_slot(void **state)
{
    char route[160];
    memset(route, 'r', sizeof route - 1);
    route[0] = '/';
    route[sizeof route - 1] = 0;
    for (int i = 0; i < 3; i++)
        ym_metrics_request("GET", route, 200, 1);
    char *text = render();
    int slots = count_lines(text, "yimen_requests_total{");
    free(text);
    if (slots != 1)
        fail_msg("3 requests for one %zu-byte route used %d slots", strlen(route), slots);
    assert_int_equal(sh->metrics.overflow, 0);
}

static void test_overflow(void **state)
{
    char route[32];
    for (int i = 0; i < YM_METRICS_SLOTS; i++) {
        snprintf(route, sizeof route, "/r/%d", i);
        ym_metrics_request("GET", route, 200, 10);
    }
    assert_int_equal(sh->metrics.overflow, 0);
    /* a known key still counts; a new one overflows */
    ym_metrics_request("GET", "/r/7", 200, 10);
    ym_metrics_request("GET", "/new", 200, 10);
    ym_metrics_request("GET", "/r/7", 500, 10);
    assert_int_equal(sh->metrics.overflow, 2);
    char *text = render();
    expect_line(text, "yimen_metrics_overflow_total 2");
    expect_line(text, "yimen_requests_total{method=\"GET\",route=\"/r/7\",status=\"200\"} 2");
    expect_no_line(text, "yimen_requests_total{method=\"GET\",route=\"/new\"");
    assert_int_equal(count_lines(text, "yimen_requests_total{"), YM_METRICS_SLOTS);
    /* every request is in the histogram, counted by route or not */
    char want[64];
    snprintf(want, sizeof want, "yimen_request_duration_seconds_count %d", YM_METRICS_SLOTS + 3);
    expect_line(text, want);
    free(text);
}

static void test_detached(void **state)
{
    ym_metrics_attach(NULL);
    ym_metrics_request("GET", "/x", 200, 1); /* ignored, no crash */
    ym_metrics_connections(1);
    char *text = render();
    assert_int_equal(count_lines(text, "yimen_requests_total{"), 0);
    expect_line(text, "yimen_open_connections 0");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_counts_by_key, reset),
        cmocka_unit_test_setup(test_histogram, reset),
        cmocka_unit_test_setup(test_gauges_and_shared_fields, reset),
        cmocka_unit_test_setup(test_labels_escaped, reset),
        cmocka_unit_test_setup(test_long_route_one_slot, reset),
        cmocka_unit_test_setup(test_overflow, reset),
        cmocka_unit_test_setup(test_detached, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
