/* test_router: route registration rules (bad and duplicate patterns, too many
 * params) and matching: specificity, params, 404 vs 405 with Allow, HEAD -> GET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

static char err[256];

/* Handlers are never called here; their address tells the routes apart. */
static void h_a(ym_request *r, void *ud) {}
static void h_b(ym_request *r, void *ud) {}

static void add_ok(ym_router *rt, const char *method, const char *pattern)
{
    err[0] = 0;
    if (ym_router_add(rt, method, pattern, "public", "core", h_a, (void *)pattern, err, sizeof err) != 0)
        fail_msg("adding %s %s failed: %s", method, pattern, err);
}

static void add_bad(ym_router *rt, const char *method, const char *pattern, const char *want)
{
    size_t before = ym_router_count(rt);
    err[0] = 0;
    if (ym_router_add(rt, method, pattern, "public", "core", h_a, NULL, err, sizeof err) != -1)
        fail_msg("adding %s %s should fail", method, pattern ? pattern : "(null)");
    if (!strstr(err, want))
        fail_msg("adding %s %s: wanted error containing [%s], got [%s]", method, pattern ? pattern : "(null)",
                 want, err);
    assert_int_equal(ym_router_count(rt), before);
}

/* A request as the parser would hand it over (path already decoded). */
typedef struct match {
    ym_route_rc rc;
    const ym_route *route;
    ym_request *req;
    char allow[128];
} match;

static match do_match(ym_router *rt, const char *method, const char *path)
{
    match m = {0};
    m.req = calloc(1, sizeof *m.req);
    assert_non_null(m.req);
    m.req->method_name = method;
    m.req->path = (char *)path;
    m.req->query = "";
    m.rc = ym_router_match(rt, m.req, &m.route, m.allow, sizeof m.allow);
    return m;
}

static void match_free(match *m) { ym_request_free(m->req); }

static void expect_route(ym_router *rt, const char *method, const char *path, const char *pattern)
{
    match m = do_match(rt, method, path);
    if (m.rc != YM_ROUTE_FOUND)
        fail_msg("%s %s: wanted %s, got rc %d", method, path, pattern, m.rc);
    assert_string_equal(m.route->pattern, pattern);
    assert_string_equal(m.req->route, pattern);
    assert_ptr_equal(m.route->ud, pattern);
    match_free(&m);
}

static void test_add_and_lookup(void **state)
{
    ym_router *rt = ym_router_new();
    assert_int_equal(ym_router_count(rt), 0);
    assert_int_equal(ym_router_add(rt, "POST", "/api/units", "units.write", "identity", h_b, NULL, err, sizeof err), 0);
    add_ok(rt, "GET", "/");
    assert_int_equal(ym_router_count(rt), 2);
    const ym_route *r0 = ym_router_at(rt, 0);
    assert_string_equal(r0->method, "POST");
    assert_string_equal(r0->pattern, "/api/units");
    assert_string_equal(r0->permission, "units.write");
    assert_string_equal(r0->owner, "identity");
    assert_ptr_equal(r0->handler, h_b);
    assert_null(ym_router_at(rt, 2));
    expect_route(rt, "GET", "/", "/");
    ym_router_free(rt);
}

static void test_static_beats_param(void **state)
{
    ym_router *rt = ym_router_new();
    /* registration order must not matter */
    add_ok(rt, "GET", "/api/units/:id");
    add_ok(rt, "GET", "/api/units/new");
    add_ok(rt, "GET", "/api/:plugin/items/:id");
    add_ok(rt, "GET", "/api/docs/:id/:part");
    add_ok(rt, "GET", "/api/docs/items/:id");
    expect_route(rt, "GET", "/api/units/new", "/api/units/new");
    expect_route(rt, "GET", "/api/units/17", "/api/units/:id");
    /* the leftmost static segment decides */
    expect_route(rt, "GET", "/api/docs/items/3", "/api/docs/items/:id");
    expect_route(rt, "GET", "/api/docs/7/3", "/api/docs/:id/:part");
    expect_route(rt, "GET", "/api/meetings/items/3", "/api/:plugin/items/:id");
    ym_router_free(rt);
}

static void test_params(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/api/units/:unit/users/:user");
    match m = do_match(rt, "GET", "/api/units/a b/users/\xe4\xb8\x80%41");
    assert_int_equal(m.rc, YM_ROUTE_FOUND);
    assert_int_equal(m.req->nparams, 2);
    assert_string_equal(ym_req_param(m.req, "unit"), "a b");
    /* the path was decoded once by the parser; the router does not decode again */
    assert_string_equal(ym_req_param(m.req, "user"), "\xe4\xb8\x80%41");
    assert_null(ym_req_param(m.req, "id"));
    assert_string_equal(m.req->params[0].name, "unit");
    match_free(&m);
    /* an empty segment is not a param value */
    m = do_match(rt, "GET", "/api/units//users/1");
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    assert_int_equal(m.req->nparams, 0);
    match_free(&m);
    ym_router_free(rt);
}

static void test_not_found_vs_bad_method(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/api/units/:id");
    add_ok(rt, "DELETE", "/api/units/:id");
    add_ok(rt, "PATCH", "/api/units/:id");
    add_ok(rt, "POST", "/api/units");

    match m = do_match(rt, "GET", "/api/nothing");
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    assert_string_equal(m.allow, "");
    match_free(&m);

    m = do_match(rt, "GET", "/api/units/1/extra");
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    match_free(&m);

    m = do_match(rt, "PUT", "/api/units/1");
    assert_int_equal(m.rc, YM_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, DELETE, PATCH"); /* GET implies HEAD */
    match_free(&m);

    m = do_match(rt, "GET", "/api/units");
    assert_int_equal(m.rc, YM_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "POST");
    match_free(&m);

    m = do_match(rt, "HEAD", "/api/units");
    assert_int_equal(m.rc, YM_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "POST");
    match_free(&m);
    ym_router_free(rt);
}

static void test_head_falls_back_to_get(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/files/:name");
    add_ok(rt, "HEAD", "/only-head");
    add_ok(rt, "GET", "/only-head");
    match m = do_match(rt, "HEAD", "/files/a.txt");
    assert_int_equal(m.rc, YM_ROUTE_FOUND);
    assert_string_equal(m.route->method, "GET");
    assert_string_equal(ym_req_param(m.req, "name"), "a.txt");
    match_free(&m);
    /* an explicit HEAD route wins over the GET fallback */
    m = do_match(rt, "HEAD", "/only-head");
    assert_int_equal(m.rc, YM_ROUTE_FOUND);
    assert_string_equal(m.route->method, "HEAD");
    match_free(&m);
    /* Allow names each method once */
    m = do_match(rt, "DELETE", "/only-head");
    assert_int_equal(m.rc, YM_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "HEAD, GET");
    match_free(&m);
    /* but GET never falls back to HEAD, nor POST to GET */
    m = do_match(rt, "POST", "/files/a.txt");
    assert_int_equal(m.rc, YM_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD");
    match_free(&m);
    ym_router_free(rt);
}

static void test_refused_routes(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/api/units/:id");
    add_bad(rt, "GET", "/api/units/:id", "already registered");
    /* the same shape with another param name could never be reached */
    add_bad(rt, "GET", "/api/units/:uid", "already registered");
    add_ok(rt, "POST", "/api/units/:id"); /* other method: fine */
    add_bad(rt, "BREW", "/coffee", "unknown method");
    add_bad(rt, "get", "/x", "unknown method");
    add_bad(rt, "GET", "", "bad route");
    add_bad(rt, "GET", "api/x", "bad route");
    add_bad(rt, "GET", NULL, "bad route");
    add_bad(rt, "GET", "/a//b", "bad route");
    add_bad(rt, "GET", "/a/:", "bad route");
    err[0] = 0;
    assert_int_equal(ym_router_add(rt, "GET", "/y", "public", "core", NULL, NULL, err, sizeof err), -1);
    assert_int_equal(ym_router_add(rt, "GET", "/y", "", "core", h_a, NULL, err, sizeof err), -1);
    assert_int_equal(ym_router_add(rt, "GET", "/y", NULL, "core", h_a, NULL, err, sizeof err), -1);
    assert_int_equal(ym_router_count(rt), 2);
    ym_router_free(rt);
}

static void test_too_many_params(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h"); /* YM_MAX_PARAMS = 8 */
    add_bad(rt, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i", "too many");
    match m = do_match(rt, "GET", "/1/2/3/4/5/6/7/8");
    assert_int_equal(m.rc, YM_ROUTE_FOUND);
    assert_int_equal(m.req->nparams, 8);
    assert_string_equal(ym_req_param(m.req, "h"), "8");
    match_free(&m);
    ym_router_free(rt);
}

static void test_trailing_slash_distinct(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/docs");
    add_ok(rt, "GET", "/docs/");
    add_ok(rt, "GET", "/only");
    expect_route(rt, "GET", "/docs", "/docs");
    expect_route(rt, "GET", "/docs/", "/docs/");
    match m = do_match(rt, "GET", "/only/");
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    match_free(&m);
    m = do_match(rt, "GET", "/");
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    match_free(&m);
    /* 4, 8, 16 segments then a slash: the empty last segment needs its own room
     * (found by the fuzzer as a heap overflow) */
    add_ok(rt, "GET", "/a/b/c/d/");
    expect_route(rt, "GET", "/a/b/c/d/", "/a/b/c/d/");
    m = do_match(rt, "GET", "/a/b/c/d/e/f/g/h/");
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    match_free(&m);
    ym_router_free(rt);
}

static void test_deep_path_no_match(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/:a");
    char path[512] = "";
    for (int i = 0; i < 100; i++)
        strcat(path, "/x");
    match m = do_match(rt, "GET", path);
    assert_int_equal(m.rc, YM_ROUTE_NOT_FOUND);
    match_free(&m);
    ym_router_free(rt);
}

static void test_suffix_params(void **state)
{
    ym_router *rt = ym_router_new();
    add_ok(rt, "GET", "/api/tasks/lists/:id");
    add_ok(rt, "GET", "/api/tasks/lists/:id.xlsx");      /* another shape than :id */
    add_ok(rt, "GET", "/api/tasks/lists/:id.csv");
    add_ok(rt, "GET", "/api/tasks/lists/export.xlsx");   /* a static segment still wins */
    add_bad(rt, "GET", "/api/tasks/lists/:lid.xlsx", "already registered");
    add_bad(rt, "GET", "/api/x/:.xlsx", "bad route");    /* no name */
    add_bad(rt, "GET", "/api/x/:a:b", "bad route");
    match m = do_match(rt, "GET", "/api/tasks/lists/5.xlsx");
    assert_int_equal(m.rc, YM_ROUTE_FOUND);
    assert_string_equal(m.route->pattern, "/api/tasks/lists/:id.xlsx");
    assert_string_equal(ym_req_param(m.req, "id"), "5");
    match_free(&m);
    m = do_match(rt, "GET", "/api/tasks/lists/5");
    assert_string_equal(m.route->pattern, "/api/tasks/lists/:id");
    assert_string_equal(ym_req_param(m.req, "id"), "5");
    match_free(&m);
    m = do_match(rt, "GET", "/api/tasks/lists/5.pdf");   /* no such suffix: the plain param takes it all */
    assert_string_equal(m.route->pattern, "/api/tasks/lists/:id");
    assert_string_equal(ym_req_param(m.req, "id"), "5.pdf");
    match_free(&m);
    m = do_match(rt, "GET", "/api/tasks/lists/.xlsx");   /* an empty param never matches the suffix */
    assert_string_equal(m.route->pattern, "/api/tasks/lists/:id");
    assert_string_equal(ym_req_param(m.req, "id"), ".xlsx");
    match_free(&m);
    m = do_match(rt, "GET", "/api/tasks/lists/export.xlsx");
    assert_string_equal(m.route->pattern, "/api/tasks/lists/export.xlsx");
    match_free(&m);
    m = do_match(rt, "GET", "/api/tasks/lists/a.b.csv");
    assert_string_equal(m.route->pattern, "/api/tasks/lists/:id.csv");
    assert_string_equal(ym_req_param(m.req, "id"), "a.b");
    match_free(&m);
    m = do_match(rt, "POST", "/api/tasks/lists/5.xlsx");
    assert_int_equal(m.rc, YM_ROUTE_BAD_METHOD);
    match_free(&m);
    ym_router_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_lookup),
        cmocka_unit_test(test_static_beats_param),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_not_found_vs_bad_method),
        cmocka_unit_test(test_head_falls_back_to_get),
        cmocka_unit_test(test_refused_routes),
        cmocka_unit_test(test_too_many_params),
        cmocka_unit_test(test_trailing_slash_distinct),
        cmocka_unit_test(test_deep_path_no_match),
        cmocka_unit_test(test_suffix_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
