/* test_http: an in-process server on its own loop, driven by a blocking client thread:
 * responses, keep-alive, pipelining with an async handler, errors, limits, timeouts, drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "http.h"
#include "static.h"
#include "log.h"

/* ---------- the harness: server on the main thread, client script on another ---------- */

enum { CMD_NONE, CMD_DRAIN, CMD_QUERY, CMD_DONE };

typedef struct harness harness;
typedef void (*script_fn)(harness *h);

struct harness {
    uv_loop_t loop;
    ym_config *cfg;
    ym_router *rt;
    ym_static *www;
    ym_server *srv;
    int port;
    uv_async_t wake;     /* client -> loop: run h->cmd */
    uv_sem_t ack;        /* loop -> client: the command ran */
    int cmd;
    bool closed;
    /* what the loop thread reports back on CMD_QUERY */
    size_t q_conns;
    bool q_drained;
    /* set on the loop thread */
    bool drained;
    int slow_started;
    script_fn script;
    uv_thread_t thread;
    char failure[512];   /* first failed check of the client script */
};

/* A failed check in the client thread: remember the first one; CHECK returns. */
static void client_fail(harness *h, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void client_fail(harness *h, int line, const char *fmt, ...)
{
    if (h->failure[0])
        return;
    int n = snprintf(h->failure, sizeof h->failure, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->failure + n, sizeof h->failure - (size_t)n, fmt, ap);
    va_end(ap);
}

#define CHECK(cond, ...)                              \
    do {                                              \
        if (!(cond)) {                                \
            client_fail(h, __LINE__, __VA_ARGS__);    \
            return;                                   \
        }                                             \
    } while (0)

static void on_drained(void *ud)
{
    harness *h = ud;
    h->drained = true;
}

static void on_wake(uv_async_t *a)
{
    harness *h = a->data;
    int cmd = h->cmd;
    h->cmd = CMD_NONE;
    if (cmd == CMD_DRAIN) {
        ym_server_drain(h->srv, on_drained, h);
    } else if (cmd == CMD_QUERY) {
        h->q_conns = ym_server_connections(h->srv);
        h->q_drained = h->drained;
    } else if (cmd == CMD_DONE) {
        ym_server_close(h->srv);
        uv_close((uv_handle_t *)&h->wake, NULL);
        h->closed = true;
    }
    if (cmd != CMD_NONE)
        uv_sem_post(&h->ack);
}

/* Called from the client thread: run cmd on the loop and wait until it ran. */
static void command(harness *h, int cmd)
{
    h->cmd = cmd;
    uv_async_send(&h->wake);
    uv_sem_wait(&h->ack);
}

static size_t server_connections(harness *h)
{
    command(h, CMD_QUERY);
    return h->q_conns;
}

static bool wait_drained(harness *h, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        command(h, CMD_QUERY);
        if (h->q_drained)
            return true;
        usleep(10000);
    }
    return false;
}

static bool wait_connections(harness *h, size_t n, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (server_connections(h) == n)
            return true;
        usleep(10000);
    }
    return false;
}

/* ---------- handlers ---------- */

static void h_hello(ym_request *r, void *ud)
{
    ym_resp_json(r, 200, json_pack("{s:s}", "hello", "world"));
}

static void h_item(ym_request *r, void *ud)
{
    ym_resp_json(r, 200, json_pack("{s:s}", "id", ym_req_param(r, "id")));
}

static void h_echo(ym_request *r, void *ud)
{
    ym_resp_send(r, 200, "text/plain; charset=utf-8", r->body, r->body_len, "X-Echo: yes\r\n");
}

typedef struct later {
    uv_timer_t t;
    ym_request *r;
} later;

static void later_fire(uv_timer_t *t)
{
    later *l = t->data;
    ym_resp_json(l->r, 200, json_pack("{s:b}", "slow", 1));
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* Answers 60 ms later from a timer: the response leaves after the handler returned. */
static void h_slow(ym_request *r, void *ud)
{
    harness *h = ud;
    later *l = calloc(1, sizeof *l);
    l->r = r;
    uv_timer_init(&h->loop, &l->t);
    l->t.data = l;
    uv_timer_start(&l->t, later_fire, 60, 0);
    h->slow_started++;
}

/* ---------- setup and run ---------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void add_route(harness *h, const char *method, const char *pattern, ym_handler fn)
{
    char err[256];
    if (ym_router_add(h->rt, method, pattern, "public", "core", fn, h, err, sizeof err) < 0)
        fail_msg("route %s %s: %s", method, pattern, err);
}

static void harness_start(harness *h, const char *extra_config, const char *www_root)
{
    memset(h, 0, sizeof *h);
    h->port = free_port();
    char text[1024], err[512];
    snprintf(text, sizeof text,
             "listen = \"127.0.0.1:%d\"\n"
             "data_dir = \"/tmp/yimen-test-http-unused\"\n"
             "log_level = \"error\"\n"
             "%s\n",
             h->port, extra_config ? extra_config
                                   : "limits = { body = 1024 }\ntimeouts = { drain = \"5s\" }");
    if (ym_config_load_string(text, strlen(text), "/tmp/yimen-test-http/yimen.conf", &h->cfg, err, sizeof err) < 0)
        fail_msg("config: %s", err);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    h->rt = ym_router_new();
    add_route(h, "GET", "/hello", h_hello);
    add_route(h, "GET", "/items/:id", h_item);
    add_route(h, "POST", "/echo", h_echo);
    add_route(h, "GET", "/slow", h_slow);
    if (www_root) {
        h->www = ym_static_load(www_root, 1 << 20, err, sizeof err);
        assert_non_null(h->www);
    }
    h->srv = ym_server_new(&h->loop, h->cfg, h->rt, NULL, h->www);
    assert_non_null(h->srv);
    if (ym_server_listen_addr(h->srv, &h->cfg->listen[0], err, sizeof err) < 0)
        fail_msg("listen: %s", err);
    assert_int_equal(uv_async_init(&h->loop, &h->wake, on_wake), 0);
    h->wake.data = h;
    assert_int_equal(uv_sem_init(&h->ack, 0), 0);
}

static void client_main(void *arg)
{
    harness *h = arg;
    h->script(h);
    command(h, CMD_DONE);
}

/* Runs the client script against the server and fails the test if it failed. */
static void run(harness *h, script_fn script)
{
    h->script = script;
    assert_int_equal(uv_thread_create(&h->thread, client_main, h), 0);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_thread_join(&h->thread), 0);
    assert_true(h->closed);
    ym_server_free(h->srv);
    ym_router_free(h->rt);
    ym_static_free(h->www);
    ym_config_free(h->cfg);
    uv_sem_destroy(&h->ack);
    assert_int_equal(uv_loop_close(&h->loop), 0); /* every handle was closed */
    if (h->failure[0])
        fail_msg("%s", h->failure);
}

/* ---------- a small blocking HTTP client ---------- */

typedef struct client {
    int fd;
    char buf[65536];
    size_t len;
} client;

typedef struct resp {
    int status;
    char head[4096];
    char body[16384];
    size_t body_len;
} resp;

static int cl_open(client *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {3, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        errno = e;
        return -1;
    }
    return 0;
}

static void cl_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int cl_send(client *c, const char *data)
{
    size_t len = strlen(data);
    return send(c->fd, data, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int cl_fill(client *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return (int)n;
}

/* Value of a response header (case-insensitive), or NULL. */
static const char *header(const resp *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)(e - v), v);
            return out;
        }
    }
    return NULL;
}

/* Reads one response; no body for HEAD requests and 1xx/204/304. */
static int cl_response(client *c, resp *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (cl_fill(c) <= 0)
            return -1;
    size_t hl = (size_t)(end + 4 - c->buf);
    if (hl >= sizeof r->head)
        return -1;
    memcpy(r->head, c->buf, hl);
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
        return -1;
    char v[64];
    size_t blen = header(r, "content-length", v, sizeof v) ? strtoul(v, NULL, 10) : 0;
    if (head_request || r->status < 200 || r->status == 204 || r->status == 304)
        blen = 0;
    if (blen >= sizeof r->body)
        return -1;
    while (c->len < hl + blen)
        if (cl_fill(c) <= 0)
            return -1;
    memcpy(r->body, c->buf + hl, blen);
    r->body_len = blen;
    memmove(c->buf, c->buf + hl + blen, c->len - hl - blen);
    c->len -= hl + blen;
    return 0;
}

/* The server closed the connection (EOF or reset) with nothing more to read. */
static bool cl_closed(client *c)
{
    if (c->len > 0)
        return false;
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Sends one request and reads its response. */
static int cl_request(client *c, const char *req, resp *r)
{
    if (cl_send(c, req) < 0)
        return -1;
    return cl_response(c, r, strncmp(req, "HEAD ", 5) == 0);
}

static bool has_header(const resp *r, const char *name, const char *value)
{
    char v[256];
    return header(r, name, v, sizeof v) && (!value || strcmp(v, value) == 0);
}

/* The body is the JSON error shape with this code. */
static bool is_error(const resp *r, const char *code)
{
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    bool ok = json_is_object(e) && json_is_string(json_object_get(e, "code")) &&
              strcmp(json_string_value(json_object_get(e, "code")), code) == 0 &&
              json_is_string(json_object_get(e, "message")) && json_object_size(j) == 1;
    json_decref(j);
    return ok && has_header(r, "content-type", "application/json");
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* ---------- scripts ---------- */

static void script_simple(harness *h)
{
    client c;
    resp r;
    char v[128];
    CHECK(cl_open(&c, h->port) == 0, "connect: %s", strerror(errno));
    CHECK(cl_request(&c, GET("/hello"), &r) == 0, "no response");
    CHECK(r.status == 200, "status %d", r.status);
    CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0, "status line: %.40s", r.head);
    CHECK(has_header(&r, "content-type", "application/json"), "content type: %s", r.head);
    CHECK(has_header(&r, "content-length", "17"), "content length: %s", r.head);
    CHECK(strcmp(r.body, "{\"hello\":\"world\"}") == 0, "body %s", r.body);
    CHECK(header(&r, "x-request-id", v, sizeof v) && strlen(v) > 2, "request id: %s", r.head);
    CHECK(has_header(&r, "date", NULL) && has_header(&r, "server", "yimen"), "head: %s", r.head);
    CHECK(!has_header(&r, "connection", NULL), "1.1 keep-alive needs no Connection header: %s", r.head);

    /* HEAD: the GET handler's headers, no body; the next response follows directly */
    CHECK(cl_request(&c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 0, "HEAD: no response");
    CHECK(r.status == 200 && has_header(&r, "content-length", "17"), "HEAD: %s", r.head);
    CHECK(cl_request(&c, GET("/items/x%20y"), &r) == 0, "after HEAD: no response");
    CHECK(r.status == 200 && strcmp(r.body, "{\"id\":\"x y\"}") == 0, "param: %d %s", r.status, r.body);

    /* a body in, echoed out with an extra header */
    CHECK(cl_request(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", &r) == 0, "echo");
    CHECK(r.status == 200 && strcmp(r.body, "hello") == 0, "echo: %d %s", r.status, r.body);
    CHECK(has_header(&r, "x-echo", "yes"), "extra header: %s", r.head);
    cl_close(&c);

    /* HTTP/1.0 without keep-alive: answered, then closed */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, "GET /hello HTTP/1.0\r\n\r\n", &r) == 0, "1.0: no response");
    CHECK(r.status == 200 && has_header(&r, "connection", "close"), "1.0: %s", r.head);
    CHECK(cl_closed(&c), "1.0 connection left open");
    cl_close(&c);

    /* Connection: close from a 1.1 client */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r) == 0, "close");
    CHECK(r.status == 200 && has_header(&r, "connection", "close"), "close: %s", r.head);
    CHECK(cl_closed(&c), "connection left open after Connection: close");
    cl_close(&c);
}

static void script_keep_alive(harness *h)
{
    client c;
    resp r;
    char id1[64] = "", id2[64] = "";
    CHECK(cl_open(&c, h->port) == 0, "connect");
    for (int i = 0; i < 5; i++) {
        CHECK(cl_request(&c, GET("/hello"), &r) == 0, "request %d: no response", i);
        CHECK(r.status == 200, "request %d: status %d", i, r.status);
        header(&r, "x-request-id", i == 0 ? id1 : id2, sizeof id1);
    }
    CHECK(strcmp(id1, id2) != 0, "request ids repeat: %s", id1);
    CHECK(server_connections(h) == 1, "one connection expected, server has %zu", server_connections(h));
    /* HTTP/1.0 with keep-alive is kept too, and says so */
    client d;
    CHECK(cl_open(&d, h->port) == 0, "connect");
    CHECK(cl_request(&d, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) == 0, "1.0 ka");
    CHECK(has_header(&r, "connection", "keep-alive"), "1.0 keep-alive: %s", r.head);
    CHECK(cl_request(&d, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) == 0, "1.0 ka again");
    CHECK(wait_connections(h, 2, 1000), "two connections expected");
    cl_close(&d);
    cl_close(&c);
    CHECK(wait_connections(h, 0, 2000), "closed connections still counted: %zu", server_connections(h));
}

static void script_pipelining(harness *h)
{
    client c;
    resp r;
    CHECK(cl_open(&c, h->port) == 0, "connect");
    /* one write: the async answer must come first, the rest in order after it */
    CHECK(cl_send(&c, GET("/slow") GET("/hello") GET("/items/1") GET("/slow")
                      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" GET("/items/2")) == 0,
          "send");
    const char *want[] = {"{\"slow\":true}", "{\"hello\":\"world\"}", "{\"id\":\"1\"}", "{\"slow\":true}",
                          "abc", "{\"id\":\"2\"}"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        CHECK(cl_response(&c, &r, false) == 0, "response %zu missing", i);
        CHECK(r.status == 200 && strcmp(r.body, want[i]) == 0, "response %zu: wanted %s, got %d %s", i, want[i],
              r.status, r.body);
    }
    /* separate writes while the async request is pending */
    CHECK(cl_send(&c, GET("/slow")) == 0, "send");
    usleep(10000);
    CHECK(cl_send(&c, GET("/items/3")) == 0, "send");
    CHECK(cl_response(&c, &r, false) == 0 && strcmp(r.body, "{\"slow\":true}") == 0, "first: %s", r.body);
    CHECK(cl_response(&c, &r, false) == 0 && strcmp(r.body, "{\"id\":\"3\"}") == 0, "second: %s", r.body);
    cl_close(&c);

    /* Connection: close ends the pipeline: what follows it is not answered */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_send(&c, GET("/items/5") "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                      GET("/items/6")) == 0, "send");
    CHECK(cl_response(&c, &r, false) == 0 && strcmp(r.body, "{\"id\":\"5\"}") == 0, "first: %s", r.body);
    CHECK(cl_response(&c, &r, false) == 0 && r.status == 200 && has_header(&r, "connection", "close"),
          "second: %s", r.head);
    CHECK(cl_closed(&c), "a request after Connection: close was answered");
    cl_close(&c);

    /* a client that leaves while its async request is pending */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_send(&c, GET("/slow") GET("/hello")) == 0, "send");
    usleep(10000);
    cl_close(&c);
    usleep(150000); /* the timer fires and answers into a closed connection */
    CHECK(cl_open(&c, h->port) == 0, "connect after abandoned request");
    CHECK(cl_request(&c, GET("/hello"), &r) == 0 && r.status == 200, "server still serves");
    cl_close(&c);
    CHECK(wait_connections(h, 0, 2000), "connections left: %zu", server_connections(h));
}

static void script_errors(harness *h)
{
    client c;
    resp r;
    char v[128];
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, GET("/nope"), &r) == 0, "404: no response");
    CHECK(r.status == 404, "status %d", r.status);
    CHECK(is_error(&r, "not_found"), "404 body: %s", r.body);
    CHECK(!has_header(&r, "connection", "close"), "404 keeps the connection: %s", r.head);

    CHECK(cl_request(&c, "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r) == 0, "405");
    CHECK(r.status == 405, "status %d", r.status);
    CHECK(header(&r, "allow", v, sizeof v) && strcmp(v, "GET, HEAD") == 0, "Allow: %s", r.head);
    CHECK(is_error(&r, "method_not_allowed"), "405 body: %s", r.body);

    CHECK(cl_request(&c, "DELETE /items/4 HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 0, "405 param");
    CHECK(r.status == 405 && has_header(&r, "allow", "GET, HEAD"), "405 param: %s", r.head);

    /* a method llhttp knows but yimen does not serve */
    CHECK(cl_request(&c, "PROPFIND /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 0, "501: no response");
    CHECK(r.status == 501 && is_error(&r, "not_implemented"), "501: %d %s", r.status, r.body);
    CHECK(cl_request(&c, GET("/hello"), &r) == 0 && r.status == 200, "connection unusable after 501");
    cl_close(&c);

    /* a malformed request: 400 JSON, then closed */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, "GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 0, "400: no response");
    CHECK(r.status == 400 && is_error(&r, "bad_request"), "400: %d %s", r.status, r.body);
    CHECK(has_header(&r, "connection", "close") && cl_closed(&c), "400 must close");
    cl_close(&c);

    /* missing Host */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, "GET /hello HTTP/1.1\r\n\r\n", &r) == 0, "no host: no response");
    CHECK(r.status == 400, "no host: %d", r.status);
    cl_close(&c);
}

static void script_body_limit(harness *h)
{
    client c;
    resp r;
    /* only the headers are sent: the 413 comes without waiting for the body */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n") == 0, "send");
    CHECK(cl_response(&c, &r, false) == 0, "no early answer");
    CHECK(r.status == 413, "status %d", r.status);
    CHECK(is_error(&r, "body_too_large"), "413 body: %s", r.body);
    CHECK(has_header(&r, "connection", "close"), "413 must close: %s", r.head);
    /* the client may still be sending: the server reads and drops it, then closes */
    char junk[4096];
    memset(junk, 'x', sizeof junk - 1);
    junk[sizeof junk - 1] = 0;
    cl_send(&c, junk);
    CHECK(cl_closed(&c), "413 connection not closed");
    cl_close(&c);

    /* Expect: 100-continue within the limit: interim 100, then the answer */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n") == 0,
          "send");
    CHECK(cl_response(&c, &r, false) == 0 && r.status == 100, "no 100 Continue: %d", r.status);
    CHECK(cl_send(&c, "body") == 0, "send body");
    CHECK(cl_response(&c, &r, false) == 0 && r.status == 200 && strcmp(r.body, "body") == 0, "after 100: %d %s",
          r.status, r.body);
    /* and over the limit: 413 instead of 100 */
    CHECK(cl_send(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n") == 0,
          "send");
    CHECK(cl_response(&c, &r, false) == 0 && r.status == 413, "expect over limit: %d", r.status);
    cl_close(&c);

    /* chunked over the limit */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    char req[4096];
    int n = snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
    memset(req + n, 'y', 2048);
    snprintf(req + n + 2048, sizeof req - (size_t)n - 2048, "\r\n0\r\n\r\n");
    CHECK(cl_send(&c, req) == 0, "send");
    CHECK(cl_response(&c, &r, false) == 0 && r.status == 413, "chunked over limit: %d", r.status);
    cl_close(&c);
}

static void script_drain(harness *h)
{
    client a, b, c;
    resp r;
    CHECK(cl_open(&a, h->port) == 0, "connect a");
    CHECK(cl_request(&a, GET("/hello"), &r) == 0 && r.status == 200, "a before drain");
    CHECK(cl_open(&c, h->port) == 0, "connect c");
    CHECK(cl_request(&c, GET("/hello"), &r) == 0 && r.status == 200, "c before drain");
    CHECK(cl_open(&b, h->port) == 0, "connect b");
    CHECK(wait_connections(h, 3, 2000), "3 connections expected, have %zu", server_connections(h));

    command(h, CMD_DRAIN);
    /* new connections are refused: the listener is closed */
    client d;
    CHECK(cl_open(&d, h->port) < 0 && errno == ECONNREFUSED, "connect after drain should be refused");

    /* a request already on its way still gets its answer, with Connection: close */
    CHECK(cl_request(&b, GET("/items/b"), &r) == 0, "b after drain: no response");
    CHECK(r.status == 200 && strcmp(r.body, "{\"id\":\"b\"}") == 0, "b after drain: %d %s", r.status, r.body);
    CHECK(has_header(&r, "connection", "close"), "b after drain: %s", r.head);
    CHECK(cl_closed(&b), "b not closed after its last response");
    cl_close(&b);
    CHECK(cl_request(&a, GET("/hello"), &r) == 0, "a after drain: no response");
    CHECK(r.status == 200 && has_header(&r, "connection", "close"), "a after drain: %d %s", r.status, r.head);
    CHECK(cl_closed(&a), "a not closed after its last response");
    cl_close(&a);
    CHECK(wait_connections(h, 1, 2000), "only c should be left, have %zu", server_connections(h));
    command(h, CMD_QUERY);
    CHECK(!h->q_drained, "drain done while c is still open");

    /* c stays until the client closes it; then the drain is complete */
    cl_close(&c);
    CHECK(wait_drained(h, 3000), "drain callback did not fire after the last client left");
    CHECK(server_connections(h) == 0, "connections left: %zu", server_connections(h));
}

/* With a short timeouts.drain, idle connections are closed at the deadline. */
static void script_drain_deadline(harness *h)
{
    client a, b;
    resp r;
    CHECK(cl_open(&a, h->port) == 0, "connect a");
    CHECK(cl_request(&a, GET("/hello"), &r) == 0 && r.status == 200, "a before drain");
    CHECK(cl_open(&b, h->port) == 0, "connect b");
    CHECK(wait_connections(h, 2, 2000), "2 connections expected, have %zu", server_connections(h));
    uint64_t t0 = uv_hrtime();
    command(h, CMD_DRAIN);
    CHECK(cl_closed(&a) && cl_closed(&b), "idle connections not closed at the drain deadline");
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    CHECK(ms >= 200 && ms < 2500, "closed after %llu ms", (unsigned long long)ms);
    CHECK(wait_drained(h, 1000), "drain callback did not fire at the deadline");
    cl_close(&a);
    cl_close(&b);
}

static void script_header_timeout(harness *h)
{
    client c;
    resp r;
    /* headers that never finish: 408 after timeouts.header */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_send(&c, "GET /hello HTTP/1.1\r\nHo") == 0, "send");
    uint64_t t0 = uv_hrtime();
    CHECK(cl_response(&c, &r, false) == 0, "no 408");
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    CHECK(r.status == 408 && is_error(&r, "timeout"), "header timeout: %d %s", r.status, r.body);
    CHECK(ms >= 150 && ms < 2000, "408 after %llu ms", (unsigned long long)ms);
    CHECK(cl_closed(&c), "408 connection not closed");
    cl_close(&c);

    /* trickling a byte at a time does not extend it (slowloris) */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    t0 = uv_hrtime();
    const char *slow = "GET /hello HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (const char *p = slow; *p; p++) {
        char one[2] = {*p, 0}, peek;
        if (cl_send(&c, one) < 0)
            break;
        usleep(40000);
        if (recv(c.fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) /* an answer or EOF */
            break;
    }
    CHECK(cl_response(&c, &r, false) == 0 && r.status == 408, "trickled headers: no 408");
    ms = (uv_hrtime() - t0) / 1000000;
    CHECK(ms < 1000, "trickled headers kept the connection for %llu ms", (unsigned long long)ms);
    cl_close(&c);
}

static void script_idle_timeout(harness *h)
{
    client c;
    resp r;
    /* a connection that never sends anything */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    uint64_t t0 = uv_hrtime();
    CHECK(cl_closed(&c), "silent connection not closed");
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    CHECK(ms >= 200 && ms < 2000, "silent connection closed after %llu ms", (unsigned long long)ms);
    cl_close(&c);

    /* keep-alive after an asynchronous answer */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, GET("/slow"), &r) == 0 && r.status == 200, "request");
    t0 = uv_hrtime();
    CHECK(cl_closed(&c), "idle connection not closed after an async response");
    ms = (uv_hrtime() - t0) / 1000000;
    CHECK(ms >= 200 && ms < 2000, "idle close after %llu ms", (unsigned long long)ms);
    cl_close(&c);

    /* keep-alive after a synchronous answer: the same idle timeout applies */
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, GET("/hello"), &r) == 0 && r.status == 200, "request");
    t0 = uv_hrtime();
    CHECK(cl_closed(&c), "idle keep-alive connection not closed %d ms after a synchronous response "
                         "(timeouts.idle = 300ms)", 3000);
    ms = (uv_hrtime() - t0) / 1000000;
    CHECK(ms >= 200 && ms < 2000, "idle close after %llu ms", (unsigned long long)ms);
    cl_close(&c);
}

static void script_static(harness *h)
{
    client c;
    resp r;
    char etag[128], req[512];
    CHECK(cl_open(&c, h->port) == 0, "connect");
    CHECK(cl_request(&c, GET("/"), &r) == 0, "GET /");
    CHECK(r.status == 200 && strcmp(r.body, "<h1>yimen</h1>") == 0, "index: %d %s", r.status, r.body);
    CHECK(has_header(&r, "content-type", "text/html; charset=utf-8"), "type: %s", r.head);
    CHECK(header(&r, "etag", etag, sizeof etag) && etag[0] == '"', "etag: %s", r.head);
    snprintf(req, sizeof req, "GET /index.html HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n", etag);
    CHECK(cl_request(&c, req, &r) == 0 && r.status == 304 && r.body_len == 0, "conditional: %d", r.status);
    CHECK(has_header(&r, "etag", etag), "304 keeps the ETag: %s", r.head);
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\", W/%s\r\n\r\n", etag);
    CHECK(cl_request(&c, req, &r) == 0 && r.status == 304, "list with a weak match: %d", r.status);
    CHECK(cl_request(&c, "GET / HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\n\r\n", &r) == 0 &&
              r.status == 200 && r.body_len == 14,
          "no match: %d", r.status);
    CHECK(cl_request(&c, GET("/ui/app.js"), &r) == 0 && r.status == 200, "nested: %d", r.status);
    CHECK(has_header(&r, "content-type", "text/javascript; charset=utf-8"), "js type: %s", r.head);
    CHECK(cl_request(&c, GET("/.env"), &r) == 0 && r.status == 404 && is_error(&r, "not_found"), "dotfile: %d",
          r.status);
    CHECK(cl_request(&c, GET("/ui/..%2Findex.html"), &r) == 0 && r.status == 404, "traversal: %d", r.status);
    CHECK(cl_request(&c, GET("/api/index.html"), &r) == 0 && r.status == 404, "/api is never static: %d",
          r.status);
    CHECK(cl_request(&c, "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", &r) == 0 &&
              r.status == 404,
          "POST to a file: %d", r.status);
    cl_close(&c);
}

/* ---------- tests ---------- */

static void test_simple_requests(void **state)
{
    harness h;
    harness_start(&h, NULL, NULL);
    run(&h, script_simple);
}

static void test_keep_alive(void **state)
{
    harness h;
    harness_start(&h, NULL, NULL);
    run(&h, script_keep_alive);
}

static void test_pipelining_in_order(void **state)
{
    harness h;
    harness_start(&h, NULL, NULL);
    run(&h, script_pipelining);
    assert_int_equal(h.slow_started, 4);
}

static void test_error_responses(void **state)
{
    harness h;
    harness_start(&h, NULL, NULL);
    run(&h, script_errors);
}

static void test_body_limits(void **state)
{
    harness h;
    harness_start(&h, NULL, NULL);
    run(&h, script_body_limit);
}

static void test_drain(void **state)
{
    harness h;
    harness_start(&h, NULL, NULL);
    run(&h, script_drain);
    assert_true(h.drained);
}

static void test_drain_deadline(void **state)
{
    harness h;
    harness_start(&h, "timeouts = { drain = \"300ms\" }", NULL);
    run(&h, script_drain_deadline);
    assert_true(h.drained);
}

static void test_header_timeout(void **state)
{
    harness h;
    harness_start(&h, "timeouts = { header = \"300ms\", drain = \"5s\" }", NULL);
    run(&h, script_header_timeout);
}

static void test_idle_timeout(void **state)
{
    harness h;
    harness_start(&h, "timeouts = { idle = \"300ms\", drain = \"5s\" }", NULL);
    run(&h, script_idle_timeout);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_static_files(void **state)
{
    char root[] = "/tmp/yimen-http-www-XXXXXX", path[PATH_MAX];
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/index.html", root);
    write_file(path, "<h1>yimen</h1>");
    snprintf(path, sizeof path, "%s/.env", root);
    write_file(path, "SECRET=1");
    snprintf(path, sizeof path, "%s/ui", root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/ui/app.js", root);
    write_file(path, "1");
    harness h;
    harness_start(&h, NULL, root);
    assert_int_equal(ym_static_count(h.www), 2);
    run(&h, script_static);
    nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_reason_phrases(void **state)
{
    assert_string_equal(ym_http_reason(200), "OK");
    assert_string_equal(ym_http_reason(404), "Not Found");
    assert_string_equal(ym_http_reason(413), "Content Too Large");
    assert_string_equal(ym_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(ym_http_reason(599), "Unknown");
}

int main(void)
{
    ym_log_set_level(YM_LOG_ERROR);
    alarm(120); /* a hung client or loop fails the run instead of blocking it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_requests),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelining_in_order),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_drain_deadline),
        cmocka_unit_test(test_header_timeout),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_reason_phrases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
