/* test_request: the incremental HTTP parser fed whole and byte by byte, path and
 * query decoding, the URI/header/body limits and the header rules llhttp lets pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"

static const ym_http_limits default_lim = {.uri = 8192, .headers = 16384, .header_count = 100, .body = 1 << 20};

/* One parse: the final rc, the request (after DONE), the error and bytes used. */
typedef struct result {
    ym_parse_rc rc;
    ym_request *req;
    int err_status;
    char err_code[32];
    size_t consumed;   /* total bytes consumed by the parser */
    int continues;     /* YM_PARSE_CONTINUE seen (and resumed) */
} result;

static void result_free(result *r)
{
    ym_request_free(r->req);
    r->req = NULL;
}

/* Feeds text in pieces of `step` bytes (0 = all at once) until DONE or ERROR or
 * the end; CONTINUE is resumed like the server does. */
static result parse_with(const ym_http_limits *lim, const char *text, size_t len, size_t step)
{
    ym_parser ps;
    ym_parser_init(&ps, lim);
    result res = {.rc = YM_PARSE_MORE};
    size_t off = 0;
    while (off < len) {
        size_t n = step ? (len - off < step ? len - off : step) : len - off;
        size_t used = 0;
        ym_parse_rc rc = ym_parser_feed(&ps, text + off, n, &used);
        assert_true(used <= n);
        off += used;
        res.rc = rc;
        if (rc == YM_PARSE_CONTINUE) {
            res.continues++;
            ym_parser_resume(&ps);
            continue;
        }
        if (rc == YM_PARSE_DONE) {
            res.req = ym_parser_take(&ps);
            break;
        }
        if (rc == YM_PARSE_ERROR) {
            res.err_status = ps.err_status;
            snprintf(res.err_code, sizeof res.err_code, "%s", ps.err_code ? ps.err_code : "");
            break;
        }
        assert_int_equal(used, n); /* MORE consumes everything */
    }
    res.consumed = off;
    ym_parser_reset(&ps);
    return res;
}

static result parse(const char *text) { return parse_with(&default_lim, text, strlen(text), 0); }

/* Parses whole and byte by byte; both must agree on rc, status and the request. */
static result parse_both(const ym_http_limits *lim, const char *text)
{
    size_t len = strlen(text);
    result whole = parse_with(lim, text, len, 0);
    result bytes = parse_with(lim, text, len, 1);
    if (whole.rc != bytes.rc || whole.err_status != bytes.err_status) {
        result_free(&whole);
        result_free(&bytes);
        fail_msg("whole: rc=%d status=%d, byte by byte: rc=%d status=%d for:\n%s", whole.rc, whole.err_status,
                 bytes.rc, bytes.err_status, text);
    }
    if (whole.rc != YM_PARSE_ERROR) /* after an error the rest of the read is dropped anyway */
        assert_int_equal(whole.consumed, bytes.consumed);
    assert_int_equal(whole.continues, bytes.continues);
    if (whole.req) {
        ym_request *a = whole.req, *b = bytes.req;
        assert_non_null(b);
        assert_string_equal(a->method_name, b->method_name);
        assert_string_equal(a->target, b->target);
        assert_string_equal(a->path, b->path);
        assert_string_equal(a->query, b->query);
        assert_int_equal(a->nheaders, b->nheaders);
        for (size_t i = 0; i < a->nheaders; i++) {
            assert_string_equal(a->headers[i].name, b->headers[i].name);
            assert_string_equal(a->headers[i].value, b->headers[i].value);
        }
        assert_int_equal(a->body_len, b->body_len);
        assert_memory_equal(a->body, b->body, a->body_len);
        assert_int_equal(a->keep_alive, b->keep_alive);
    }
    result_free(&bytes);
    return whole;
}

static void expect_error(const ym_http_limits *lim, const char *text, int status)
{
    result r = parse_both(lim ? lim : &default_lim, text);
    result_free(&r);
    if (r.rc != YM_PARSE_ERROR || r.err_status != status)
        fail_msg("wanted error %d, got rc=%d status=%d for:\n%s", status, r.rc, r.err_status, text);
}

/* ---------- whole requests ---------- */

static void test_simple_get(void **state)
{
    const char *text = "GET /api/units/7?x=1&y=two HTTP/1.1\r\n"
                       "Host: example.org\r\n"
                       "User-Agent:   curl/8  \r\n"
                       "X-Empty:\r\n"
                       "\r\n";
    result r = parse_both(&default_lim, text);
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_int_equal(r.consumed, strlen(text));
    ym_request *q = r.req;
    assert_int_equal(q->method, HTTP_GET);
    assert_string_equal(q->method_name, "GET");
    assert_string_equal(q->target, "/api/units/7?x=1&y=two");
    assert_string_equal(q->path, "/api/units/7");
    assert_string_equal(q->query, "x=1&y=two");
    assert_int_equal(q->nheaders, 3);
    assert_string_equal(ym_req_header(q, "host"), "example.org");
    assert_string_equal(ym_req_header(q, "USER-AGENT"), "curl/8"); /* OWS trimmed */
    assert_string_equal(ym_req_header(q, "x-empty"), "");
    assert_null(ym_req_header(q, "cookie"));
    assert_string_equal(q->headers[1].name, "User-Agent"); /* as received */
    assert_int_equal(q->http_major, 1);
    assert_int_equal(q->http_minor, 1);
    assert_true(q->keep_alive);
    assert_false(q->expect_continue);
    assert_non_null(q->body);
    assert_int_equal(q->body_len, 0);
    assert_string_equal(q->body, "");
    result_free(&r);
}

static void test_post_with_body(void **state)
{
    const char *text = "POST /api/echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                       "Content-Length: 13\r\n\r\n{\"a\":[1,2,3]}";
    result r = parse_both(&default_lim, text);
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_int_equal(r.req->method, HTTP_POST);
    assert_string_equal(r.req->method_name, "POST");
    assert_string_equal(r.req->query, "");
    assert_int_equal(r.req->body_len, 13);
    assert_string_equal(r.req->body, "{\"a\":[1,2,3]}");
    assert_string_equal(ym_req_header(r.req, "content-type"), "application/json");
    result_free(&r);
}

static void test_chunked_body(void **state)
{
    const char *text = "PUT /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n"
                       "1;ext=1\r\n,\r\n"
                       "6\r\n world\r\n"
                       "0\r\nX-Trailer: t\r\n\r\n";
    result r = parse_both(&default_lim, text);
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_int_equal(r.consumed, strlen(text));
    assert_int_equal(r.req->body_len, 12);
    assert_string_equal(r.req->body, "hello, world");
    /* trailer fields are not kept as headers */
    assert_null(ym_req_header(r.req, "x-trailer"));
    assert_int_equal(r.req->nheaders, 2);
    result_free(&r);
}

static void test_keep_alive_flags(void **state)
{
    struct { const char *text; bool keep; } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        result r = parse_both(&default_lim, cases[i].text);
        assert_int_equal(r.rc, YM_PARSE_DONE);
        if (r.req->keep_alive != cases[i].keep)
            fail_msg("keep_alive=%d for %s", r.req->keep_alive, cases[i].text);
        result_free(&r);
    }
}

/* ---------- path and query decoding ---------- */

static void test_path_decoded_once(void **state)
{
    struct { const char *target, *path, *query; } ok[] = {
        {"/a%20b", "/a b", ""},
        {"/a%2Fb", "/a/b", ""},         /* %2F decodes to '/' (no second meaning) */
        {"/a%2541", "/a%41", ""},       /* decoded exactly once */
        {"/a+b", "/a+b", ""},           /* '+' is literal in a path */
        {"/%E4%B8%80", "/\xe4\xb8\x80", ""},
        {"/x?q=%41&r", "/x", "q=%41&r"}, /* the query stays raw */
        {"/x?", "/x", ""},
        {"http://h/x?y=1", "/x", "y=1"}, /* absolute-form: the path and query count */
        {"HTTPS://h", "/", ""},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[256];
        snprintf(text, sizeof text, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", ok[i].target);
        result r = parse_both(&default_lim, text);
        assert_int_equal(r.rc, YM_PARSE_DONE);
        assert_string_equal(r.req->target, ok[i].target);
        assert_string_equal(r.req->path, ok[i].path);
        assert_string_equal(r.req->query, ok[i].query);
        result_free(&r);
    }
    const char *bad[] = {"/a%00b", "/a%zz", "/a%4", "/a%", "/a%g1", "*", "ftp://h/x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[256];
        snprintf(text, sizeof text, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", bad[i]);
        expect_error(NULL, text, 400);
    }
}

static void test_url_decode(void **state)
{
    char a[] = "a+b%20c%2b";
    assert_int_equal(ym_url_decode(a, false), 0);
    assert_string_equal(a, "a+b c+");
    char b[] = "a+b%20c";
    assert_int_equal(ym_url_decode(b, true), 0);
    assert_string_equal(b, "a b c");
    char c[] = "%00";
    assert_int_equal(ym_url_decode(c, true), -1);
    char d[] = "ab%";
    assert_int_equal(ym_url_decode(d, true), -1);
    char e[] = "%fF%Aa";
    assert_int_equal(ym_url_decode(e, false), 0);
    assert_string_equal(e, "\xff\xaa");
}

static void test_query_params(void **state)
{
    result r = parse("GET /s?q=hello+world&empty=&bare&enc=%E4%B8%80%26x&a%62c=1&dup=1&dup=2&bad=%zz"
                     " HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(r.rc, YM_PARSE_DONE);
    struct { const char *name, *want; } cases[] = {
        {"q", "hello world"}, {"empty", ""}, {"bare", ""}, {"enc", "\xe4\xb8\x80&x"},
        {"abc", "1"},   /* the key is decoded too */
        {"dup", "1"},   /* the first one wins */
        {"missing", NULL}, {"bad", NULL}, {"qq", NULL}, {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *v = ym_req_query(r.req, cases[i].name);
        if (!cases[i].want) {
            if (v)
                fail_msg("query %s: wanted NULL, got [%s]", cases[i].name, v);
        } else {
            if (!v)
                fail_msg("query %s: wanted [%s], got NULL", cases[i].name, cases[i].want);
            assert_string_equal(v, cases[i].want);
        }
        free(v);
    }
    result_free(&r);

    r = parse("GET /s HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_null(ym_req_query(r.req, "q"));
    result_free(&r);
}

/* ---------- limits ---------- */

static void test_uri_limit(void **state)
{
    ym_http_limits lim = default_lim;
    lim.uri = 32;
    char ok[128], text[256];
    memset(ok, 'a', 31);
    ok[0] = '/';
    ok[31] = 0;
    snprintf(text, sizeof text, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", ok);
    result r = parse_both(&lim, text);
    assert_int_equal(r.rc, YM_PARSE_DONE);
    result_free(&r);
    snprintf(text, sizeof text, "GET %sbc HTTP/1.1\r\nHost: h\r\n\r\n", ok);
    expect_error(&lim, text, 414);
}

static void test_header_bytes_limit(void **state)
{
    ym_http_limits lim = default_lim;
    lim.headers = 200;
    char big[512], text[1024];
    memset(big, 'v', 300);
    big[300] = 0;
    snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n", big);
    expect_error(&lim, text, 431);
    /* a request well under the limit passes */
    big[100] = 0;
    snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n", big);
    result r = parse_both(&lim, text);
    assert_int_equal(r.rc, YM_PARSE_DONE);
    result_free(&r);
}

/* The header-byte budget counts what was received, so it must not depend on how
 * the bytes were split into reads: "Host: h\r\n" is 9 bytes whether it arrives in
 * one read or in nine. */
static void test_header_bytes_independent_of_split(void **state)
{
    const char *text = "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Request-Name: abcdefghij\r\n\r\n";
    /* header lines: Host 9 bytes + Accept 13 + X-Request-Name 28 = 50 (name, ": ", value, CRLF) */
    ym_http_limits lim = default_lim;
    lim.headers = 50;
    result whole = parse_with(&lim, text, strlen(text), 0);
    assert_int_equal(whole.rc, YM_PARSE_DONE);
    result_free(&whole);
    for (size_t step = 1; step <= 7; step++) {
        result r = parse_with(&lim, text, strlen(text), step);
        result_free(&r);
        if (r.rc != YM_PARSE_DONE)
            fail_msg("fed in %zu-byte pieces: rc=%d status=%d (whole: DONE)", step, r.rc, r.err_status);
    }
}

static void test_header_count_limit(void **state)
{
    ym_http_limits lim = default_lim;
    lim.header_count = 5;
    const char *ok = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    result r = parse_both(&lim, ok);
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_int_equal(r.req->nheaders, 5);
    result_free(&r);
    expect_error(&lim, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431);
}

static void test_body_limit_at_headers(void **state)
{
    ym_http_limits lim = default_lim;
    lim.body = 10;
    /* only the headers have arrived: refused before any body byte */
    const char *head = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
    result r = parse_both(&lim, head);
    assert_int_equal(r.rc, YM_PARSE_ERROR);
    assert_int_equal(r.err_status, 413);
    assert_string_equal(r.err_code, "body_too_large");
    /* exactly at the limit is fine */
    r = parse_both(&lim, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789");
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_int_equal(r.req->body_len, 10);
    result_free(&r);
}

static void test_chunked_over_limit(void **state)
{
    ym_http_limits lim = default_lim;
    lim.body = 10;
    expect_error(&lim, "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n", 413);
    result r = parse_both(&lim, "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n");
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_string_equal(r.req->body, "abcdefghij");
    result_free(&r);
}

/* ---------- header rules ---------- */

static void test_header_rules(void **state)
{
    /* whitespace between name and colon */
    expect_error(NULL, "GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 400);
    expect_error(NULL, "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    /* obs-fold */
    expect_error(NULL, "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n", 400);
    expect_error(NULL, "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
    /* Host: required by HTTP/1.1, once */
    expect_error(NULL, "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400);
    expect_error(NULL, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    expect_error(NULL, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
    result r = parse_both(&default_lim, "GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(r.rc, YM_PARSE_DONE);
    assert_int_equal(r.req->http_minor, 0);
    result_free(&r);
    /* Content-Length together with Transfer-Encoding: request smuggling */
    r = parse_both(&default_lim, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_int_equal(r.rc, YM_PARSE_ERROR);
    assert_true(r.err_status >= 400 && r.err_status < 500);
    /* two different Content-Lengths */
    r = parse_both(&default_lim, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
    assert_int_equal(r.rc, YM_PARSE_ERROR);
    assert_int_equal(r.err_status, 400);
}

/* ---------- Expect ---------- */

static void test_expect_continue(void **state)
{
    const char *head = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    char text[256];
    snprintf(text, sizeof text, "%shello", head);
    ym_parser ps;
    ym_parser_init(&ps, &default_lim);
    size_t used = 0;
    /* the headers alone: CONTINUE, with every header byte consumed */
    assert_int_equal(ym_parser_feed(&ps, text, strlen(head), &used), YM_PARSE_CONTINUE);
    assert_int_equal(used, strlen(head));
    assert_true(ym_parser_mid_message(&ps));
    assert_true(ps.req->expect_continue);
    ym_parser_resume(&ps);
    assert_int_equal(ym_parser_feed(&ps, text + used, 5, &used), YM_PARSE_DONE);
    assert_int_equal(used, 5);
    ym_request *r = ym_parser_take(&ps);
    assert_string_equal(r->body, "hello");
    assert_true(r->expect_continue);
    assert_false(ym_parser_mid_message(&ps));
    ym_request_free(r);
    ym_parser_reset(&ps);

    /* headers and body in one buffer: CONTINUE stops right after the headers */
    ym_parser_init(&ps, &default_lim);
    assert_int_equal(ym_parser_feed(&ps, text, strlen(text), &used), YM_PARSE_CONTINUE);
    assert_int_equal(used, strlen(head));
    ym_parser_resume(&ps);
    size_t used2 = 0;
    assert_int_equal(ym_parser_feed(&ps, text + used, strlen(text) - used, &used2), YM_PARSE_DONE);
    assert_int_equal(used + used2, strlen(text));
    r = ym_parser_take(&ps);
    assert_string_equal(r->body, "hello");
    ym_request_free(r);
    ym_parser_reset(&ps);

    /* the same through the byte-by-byte comparison */
    result res = parse_both(&default_lim, text);
    assert_int_equal(res.rc, YM_PARSE_DONE);
    assert_int_equal(res.continues, 1);
    result_free(&res);

    /* no body: nothing to wait for */
    res = parse_both(&default_lim, "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
    assert_int_equal(res.rc, YM_PARSE_DONE);
    assert_int_equal(res.continues, 0);
    result_free(&res);
}

static void test_expect_unknown(void **state)
{
    result r = parse_both(&default_lim, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: foo\r\n\r\nx");
    assert_int_equal(r.rc, YM_PARSE_ERROR);
    assert_int_equal(r.err_status, 417);
    assert_string_equal(r.err_code, "expectation_failed");
}

/* ---------- pipelining ---------- */

static void test_pipelined(void **state)
{
    const char *one = "POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    const char *two = "GET /two?x=2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", one, two);
    size_t len = strlen(buf), used = 0;
    ym_parser ps;
    ym_parser_init(&ps, &default_lim);
    assert_int_equal(ym_parser_feed(&ps, buf, len, &used), YM_PARSE_DONE);
    assert_int_equal(used, strlen(one));
    assert_true(used < len);
    ym_request *a = ym_parser_take(&ps);
    assert_null(ym_parser_take(&ps));
    ym_parser_resume(&ps);
    size_t used2 = 0;
    assert_int_equal(ym_parser_feed(&ps, buf + used, len - used, &used2), YM_PARSE_DONE);
    assert_int_equal(used2, len - used);
    ym_request *b = ym_parser_take(&ps);
    assert_string_equal(a->path, "/one");
    assert_string_equal(a->body, "abc");
    assert_true(a->keep_alive);
    assert_string_equal(b->path, "/two");
    assert_string_equal(b->query, "x=2");
    assert_int_equal(b->body_len, 0);
    assert_false(b->keep_alive);
    /* the first request's strings are untouched by parsing the second */
    assert_string_equal(ym_req_header(a, "content-length"), "3");
    ym_request_free(a);
    ym_request_free(b);
    ym_parser_reset(&ps);
}

static void test_eof_mid_message(void **state)
{
    ym_parser ps;
    ym_parser_init(&ps, &default_lim);
    size_t used;
    assert_false(ym_parser_mid_message(&ps));
    assert_int_equal(ym_parser_eof(&ps), 0);
    const char *part = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc";
    assert_int_equal(ym_parser_feed(&ps, part, strlen(part), &used), YM_PARSE_MORE);
    assert_int_equal(used, strlen(part));
    assert_true(ym_parser_mid_message(&ps));
    assert_int_equal(ym_parser_eof(&ps), 1);
    ym_parser_reset(&ps);
}

static void test_malformed(void **state)
{
    expect_error(NULL, "GET / HTTP/1.1\nHost: h\n\n", 400); /* bare LF */
    expect_error(NULL, "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_error(NULL, "GET / HTTP/9.9\r\nHost: h\r\n\r\n", 400);
    expect_error(NULL, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_post_with_body),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_keep_alive_flags),
        cmocka_unit_test(test_path_decoded_once),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_query_params),
        cmocka_unit_test(test_uri_limit),
        cmocka_unit_test(test_header_bytes_limit),
        cmocka_unit_test(test_header_bytes_independent_of_split),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_body_limit_at_headers),
        cmocka_unit_test(test_chunked_over_limit),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_expect_unknown),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_eof_mid_message),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
