/* libFuzzer target: bytes -> ym_parser (in chunks) -> router, query, static path
 * check, JSON body parse. Build and run with tests/fuzz/Makefile.
 *
 * Input layout: byte 0 and byte 1 choose how the rest is cut into chunks, so
 * incremental parsing (a token, header or chunk-size line split across feeds)
 * is exercised:
 *   byte 0 == 0       the whole rest in one feed
 *   otherwise         chunk sizes are drawn from [1, byte0] with a small PRNG
 *                     seeded by byte 1
 * Every chunk is copied into its own exactly-sized heap buffer that is freed
 * right after it has been fed, so ASan reports any pointer the parser keeps into
 * a previous chunk or any read past the end of the one it was given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "request.h"
#include "router.h"
#include "static.h"
#include "json.h"
#include "http.h"
#include "log.h"

/* ---- link stubs -------------------------------------------------------------
 * static.c (ym_static_serve) and json.c (ym_req_json, ym_resp_json, ...) refer to
 * the response and server functions of http.c. This harness never serves a file
 * nor sends a response: it only calls ym_static_path_ok and ym_json_parse. These
 * definitions exist only to satisfy the linker and trap if ever reached. */
void ym_resp_send(ym_request *r, int status, const char *content_type, const char *body, size_t len,
                  const char *extra_headers)
{
    (void)r; (void)status; (void)content_type; (void)body; (void)len; (void)extra_headers;
    fprintf(stderr, "fuzz stub ym_resp_send reached\n");
    abort();
}

ym_server *ym_req_server(const ym_request *r)
{
    (void)r;
    fprintf(stderr, "fuzz stub ym_req_server reached\n");
    abort();
}

const ym_config *ym_server_config(const ym_server *s)
{
    (void)s;
    fprintf(stderr, "fuzz stub ym_server_config reached\n");
    abort();
}
/* ---- end of link stubs ---- */

static ym_router *g_router;

static void nop_handler(ym_request *req, void *ud)
{
    (void)req; (void)ud;
}

static void add_route(const char *method, const char *pattern)
{
    char err[256];
    if (ym_router_add(g_router, method, pattern, "public", "fuzz", nop_handler, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    ym_log_init(YM_LOG_ERROR, "fuzz", 0);
    json_object_seed(1); /* deterministic jansson hashing */
    g_router = ym_router_new();
    if (!g_router)
        abort();
    add_route("GET", "/api/units/:id");
    add_route("PUT", "/api/units/:id");
    add_route("GET", "/api/units");
    add_route("POST", "/api/units");
    add_route("GET", "/healthz");
    add_route("GET", "/api/:a/:b/x");
    return 0;
}

/* Exercises everything a worker does with a complete request before dispatch. */
static void use_request(ym_request *r)
{
    const ym_route *rt = NULL;
    char allow[128];
    ym_route_rc rc = ym_router_match(g_router, r, &rt, allow, sizeof allow);
    if (rc == YM_ROUTE_FOUND) {
        if (!rt || r->nparams > YM_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < r->nparams; i++)
            if (!r->params[i].name || !r->params[i].value)
                abort();
        (void)ym_req_param(r, "id");
        (void)ym_req_param(r, "b");
    } else if (rc == YM_ROUTE_BAD_METHOD) {
        (void)strlen(allow); /* must be a NUL-terminated list (ASan checks the read) */
    }

    static const char *const names[] = {"q", "page", "a b", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        free(ym_req_query(r, names[i]));

    /* The raw query through the decoder the handlers use. */
    char *q = strdup(r->query ? r->query : "");
    if (!q)
        abort();
    (void)ym_url_decode(q, true);
    free(q);

    (void)ym_req_header(r, "host");
    (void)ym_req_header(r, "content-type");
    (void)ym_static_path_ok(r->path);

    char err[256];
    json_t *j = ym_json_parse(r->body ? r->body : "", r->body_len, 16, err, sizeof err);
    json_decref(j);

    ym_request_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t maxchunk = data[0];
    uint32_t rng = 0x9e3779b9u ^ data[1];
    data += 2;
    size -= 2;

    static const ym_http_limits lim = {.uri = 256, .headers = 1024, .header_count = 16, .body = 4096};
    ym_parser ps;
    ym_parser_init(&ps, &lim);

    int stop = 0;
    size_t pos = 0;
    while (pos < size && !stop) {
        size_t n = size - pos;
        if (maxchunk) {
            rng = rng * 1103515245u + 12345u;
            size_t want = 1 + (rng >> 16) % maxchunk;
            if (want < n)
                n = want;
        }
        char *buf = malloc(n);
        if (!buf)
            abort();
        memcpy(buf, data + pos, n);
        pos += n;

        size_t off = 0;
        unsigned stalls = 0;
        while (off < n) {
            size_t used = 0;
            ym_parse_rc rc = ym_parser_feed(&ps, buf + off, n - off, &used);
            if (used > n - off) {
                fprintf(stderr, "ym_parser_feed consumed %zu of %zu bytes\n", used, n - off);
                abort();
            }
            off += used;
            /* A parser that returns DONE/CONTINUE forever without consuming
             * anything would hang a connection: report it as a crash. */
            stalls = used ? 0 : stalls + 1;
            if (stalls > 8) {
                fprintf(stderr, "ym_parser_feed made no progress (rc=%d)\n", (int)rc);
                abort();
            }
            if (rc == YM_PARSE_DONE) {
                ym_request *r = ym_parser_take(&ps);
                if (!r)
                    abort();
                use_request(r);
                ym_parser_resume(&ps);
            } else if (rc == YM_PARSE_CONTINUE) {
                ym_parser_resume(&ps);
            } else if (rc == YM_PARSE_ERROR) {
                if (ps.err_status < 400 || ps.err_status > 599 || !ps.err_code)
                    abort();
                stop = 1;
                break;
            } else { /* YM_PARSE_MORE: everything consumed */
                break;
            }
        }
        free(buf);
    }
    (void)ym_parser_mid_message(&ps);
    (void)ym_parser_eof(&ps);
    ym_parser_reset(&ps);
    return 0;
}
