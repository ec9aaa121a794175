/* test_system: the kernel's own routes: /healthz and /metrics always, and the test
 * clock route only when YIMEN_TEST_CLOCK=1; registering them twice is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "system.h"
#include "router.h"

static ym_route_rc lookup(ym_router *rt, const char *method, const char *path, const ym_route **out)
{
    ym_request *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->method_name = method;
    r->path = (char *)path;
    r->query = "";
    char allow[64];
    *out = NULL;
    ym_route_rc rc = ym_router_match(rt, r, out, allow, sizeof allow);
    ym_request_free(r);
    return rc;
}

static void test_routes_without_test_clock(void **state)
{
    unsetenv("YIMEN_TEST_CLOCK");
    ym_router *rt = ym_router_new();
    char err[256] = "";
    if (ym_system_routes(rt, err, sizeof err) != 0)
        fail_msg("system routes: %s", err);
    assert_int_equal(ym_router_count(rt), 2);
    const ym_route *r;
    assert_int_equal(lookup(rt, "GET", "/healthz", &r), YM_ROUTE_FOUND);
    assert_string_equal(r->permission, "public");
    assert_string_equal(r->owner, "core");
    assert_non_null(r->handler);
    assert_int_equal(lookup(rt, "HEAD", "/healthz", &r), YM_ROUTE_FOUND);
    assert_int_equal(lookup(rt, "GET", "/metrics", &r), YM_ROUTE_FOUND);
    assert_string_equal(r->owner, "core");
    assert_int_equal(lookup(rt, "POST", "/healthz", &r), YM_ROUTE_BAD_METHOD);
    assert_int_equal(lookup(rt, "POST", "/api/test/clock", &r), YM_ROUTE_NOT_FOUND);
    ym_router_free(rt);
}

static void test_routes_with_test_clock(void **state)
{
    setenv("YIMEN_TEST_CLOCK", "1", 1);
    ym_router *rt = ym_router_new();
    char err[256] = "";
    if (ym_system_routes(rt, err, sizeof err) != 0)
        fail_msg("system routes: %s", err);
    assert_int_equal(ym_router_count(rt), 3);
    const ym_route *r;
    assert_int_equal(lookup(rt, "POST", "/api/test/clock", &r), YM_ROUTE_FOUND);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->permission, "test.clock");
    assert_string_equal(r->owner, "core");
    assert_int_equal(lookup(rt, "GET", "/api/test/clock", &r), YM_ROUTE_BAD_METHOD);
    assert_int_equal(lookup(rt, "GET", "/healthz", &r), YM_ROUTE_FOUND);
    ym_router_free(rt);
    unsetenv("YIMEN_TEST_CLOCK");
}

static void test_routes_twice_refused(void **state)
{
    ym_router *rt = ym_router_new();
    char err[256] = "";
    assert_int_equal(ym_system_routes(rt, err, sizeof err), 0);
    err[0] = 0;
    assert_int_equal(ym_system_routes(rt, err, sizeof err), -1);
    assert_non_null(strstr(err, "/healthz"));
    ym_router_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_without_test_clock),
        cmocka_unit_test(test_routes_with_test_clock),
        cmocka_unit_test(test_routes_twice_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
