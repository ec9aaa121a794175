/* http_server: one worker's HTTP server as a whole — its listeners (inherited fds or
 * bound addresses), the graceful drain of a generation, close and free. The connections
 * themselves are http.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include "http.h"
#include "http_int.h"
#include "log.h"
#include "proxy.h"

/* ---------- server ---------- */

ym_server *ym_server_new(uv_loop_t *loop, const ym_config *cfg, ym_router *router, ym_db *db,
                         ym_static *www)
{
    ym_server *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->loop = loop;
    s->cfg = cfg;
    s->router = router;
    s->db = db;
    s->www = www;
    s->lim.uri = cfg->limits.uri;
    s->lim.headers = cfg->limits.headers;
    s->lim.header_count = cfg->limits.header_count;
    s->lim.body = cfg->limits.body;
    s->proxies = ym_proxies_new(&cfg->trusted_proxies);
    s->pid = (unsigned)getpid();
    uv_timer_init(loop, &s->drain_timer);
    s->drain_timer.data = s;
    return s;
}

static int add_listener(ym_server *s, uv_tcp_t *t, char *err, size_t errlen)
{
    t->data = s;
    int rc = uv_listen((uv_stream_t *)t, 1024, ym__http_on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "listen: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)t, (uv_close_cb)free);
        return -1;
    }
    s->listeners[s->nlisteners++] = t;
    return 0;
}

int ym_server_listen_fd(ym_server *s, int fd, char *err, size_t errlen)
{
    if (s->nlisteners == YM_MAX_LISTEN) {
        snprintf(err, errlen, "too many listeners");
        return -1;
    }
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
        abort();
    uv_tcp_init(s->loop, t);
    int rc = uv_tcp_open(t, fd);
    if (rc < 0) {
        snprintf(err, errlen, "listening socket %d: %s", fd, uv_strerror(rc));
        uv_close((uv_handle_t *)t, (uv_close_cb)free);
        return -1;
    }
    return add_listener(s, t, err, errlen);
}

int ym_server_listen_addr(ym_server *s, const ym_listen_addr *a, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "bad listen address %s", a->host);
        return -1;
    }
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
        abort();
    uv_tcp_init(s->loop, t);
    int rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
    if (rc < 0) {
        snprintf(err, errlen, "bind %s:%d: %s", a->host, a->port, uv_strerror(rc));
        uv_close((uv_handle_t *)t, (uv_close_cb)free);
        return -1;
    }
    return add_listener(s, t, err, errlen);
}

void ym__http_check_drained(ym_server *s)
{
    if (s->draining && s->nconns == 0 && s->drain_done) {
        void (*done)(void *) = s->drain_done;
        s->drain_done = NULL;
        uv_timer_stop(&s->drain_timer);
        done(s->drain_ud);
    }
}

static void close_listeners(ym_server *s)
{
    for (size_t i = 0; i < s->nlisteners; i++)
        uv_close((uv_handle_t *)s->listeners[i], (uv_close_cb)free);
    s->nlisteners = 0;
}

static void on_drain_timeout(uv_timer_t *t)
{
    ym_server *s = t->data;
    ym_log(YM_LOG_INFO, "drain deadline reached", "closing=%zu", s->nconns);
    for (conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        ym__http_conn_close(c);
    }
}

void ym_server_drain(ym_server *s, void (*done)(void *ud), void *ud)
{
    if (s->draining)
        return;
    s->draining = true;
    s->drain_done = done;
    s->drain_ud = ud;
    close_listeners(s);
    /* Streams never end by themselves: close them now; their clients reconnect (with
     * Last-Event-ID) to the new generation, which is already accepting. */
    for (conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (c->streaming)
            ym_stream_close((ym_stream *)c);
    }
    /* Idle connections stay until the deadline: a request may already be on the wire,
     * and its answer (with Connection: close) is what lets the client move on cleanly. */
    uv_timer_start(&s->drain_timer, on_drain_timeout, s->cfg->timeouts.drain, 0);
    ym__http_check_drained(s);
}

size_t ym_server_connections(const ym_server *s) { return s->nconns; }
ym_db *ym_server_db(const ym_server *s) { return s->db; }
const ym_config *ym_server_config(const ym_server *s) { return s->cfg; }
ym_server *ym_req_server(const ym_request *r) { return ((conn *)r->conn)->srv; }
uv_loop_t *ym_server_loop(const ym_server *s) { return s->loop; }
bool ym_req_gone(const ym_request *r) { return ((conn *)r->conn)->closing; }

void ym_server_close(ym_server *s)
{
    close_listeners(s);
    for (conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        ym__http_conn_close(c);
    }
    uv_timer_stop(&s->drain_timer);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
}

void ym_server_free(ym_server *s)
{
    ym_proxies_free(s->proxies);
    free(s);
}
