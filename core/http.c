/* http: one worker's HTTP/1.1 connections on libuv: accept under a connection cap,
 * parse with request.c, answer pipelined requests in order, enforce timeouts; the server
 * as a whole (listeners, drain) is http_server.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "http.h"
#include "static.h"
#include "log.h"
#include "clock.h"
#include "metrics.h"
#include "auth.h"
#include "proxy.h"
#include "http_int.h"

#define LINGER_MS 2000
#define PENDING_MAX (64 * 1024) /* pipelined bytes held while a request runs */

typedef struct wreq {
    uv_write_t w;
    conn *c;
    size_t len;
    char data[];
} wreq;

static void conn_close(conn *c);
static void conn_process(conn *c);
static void accept_one(ym_server *s, uv_stream_t *server);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* ---------- small helpers ---------- */

const char *ym_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static const char *http_date(ym_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = now;
    }
    return s->date;
}

static void peer_name(conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(c->peer, sizeof c->peer, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, c->peer, sizeof c->peer);
        c->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, c->peer, sizeof c->peer);
        c->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                      (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    }
}

/* ---------- timers ---------- */

static void on_timer(uv_timer_t *t);

static void timer_set(conn *c, int state)
{
    const ym_config *cfg = c->srv->cfg;
    uint64_t ms = 0;
    switch (state) {
    case T_IDLE: ms = c->srv->draining ? cfg->timeouts.drain : cfg->timeouts.idle; break;
    case T_HEADER: ms = cfg->timeouts.header; break;
    case T_BODY: ms = cfg->timeouts.body; break;
    case T_LINGER: ms = LINGER_MS; break;
    default: break;
    }
    /* the header timeout runs from a request's first byte: trickling bytes cannot extend it */
    if (state == T_HEADER && c->tstate == T_HEADER)
        return;
    c->tstate = state;
    if (state == T_NONE)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---------- writing ---------- */

static void start_reading(conn *c)
{
    if (!c->reading && !c->closing && !c->eof) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0)
            c->reading = true;
    }
}

static void stop_reading(conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    c->wbytes -= wr->len;
    free(wr);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->read_paused && c->wbytes < c->srv->cfg->limits.write_buffer / 2) {
        c->read_paused = false;
        if (!c->cur)
            start_reading(c);
    }
}

/* Most answers fit the socket buffer: try to write them at once (no copy, no
 * write request, no poller change); queue only what the kernel did not take. */
static int conn_write(conn *c, const char *head, size_t hlen, const char *body, size_t blen)
{
    if (c->closing)
        return -1;
    size_t done = 0;
    if (c->wbytes == 0) { /* nothing queued before us: order is safe */
        uv_buf_t bufs[2] = {uv_buf_init((char *)head, (unsigned)hlen), uv_buf_init((char *)body, (unsigned)blen)};
        int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, blen ? 2 : 1);
        if (n > 0)
            done = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return -1;
        }
        if (done == hlen + blen)
            return 0;
    }
    size_t left = hlen + blen - done;
    wreq *wr = malloc(sizeof *wr + left);
    if (!wr)
        abort();
    wr->c = c;
    wr->len = left;
    size_t hpart = done < hlen ? hlen - done : 0;
    if (hpart)
        memcpy(wr->data, head + done, hpart);
    memcpy(wr->data + hpart, body + (done > hlen ? done - hlen : 0), left - hpart);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)wr->len);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(wr);
        conn_close(c);
        return -1;
    }
    c->wbytes += wr->len;
    if (c->wbytes > c->srv->cfg->limits.write_buffer) {
        c->read_paused = true; /* backpressure: a client that does not read stops being read */
        stop_reading(c);
    }
    return 0;
}

/* ---------- closing ---------- */

static void conn_free_if_done(conn *c)
{
    if (c->handles > 0 || c->cur)
        return;
    ym_parser_reset(&c->ps);
    free(c->pending);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    c->handles--;
    conn_free_if_done(c);
}


static void stream_closed(conn *c)
{
    void (*fn)(void *) = c->on_close;
    c->on_close = NULL;
    if (fn)
        fn(c->close_ud);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    stream_closed(c);
    ym_server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    ym_metrics_connections(-1);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    /* room under the cap again: take a connection that waited */
    for (size_t i = 0; i < s->nlisteners; i++) {
        if (s->listener_waiting[i] && !s->draining) {
            s->listener_waiting[i] = false;
            accept_one(s, (uv_stream_t *)s->listeners[i]);
            break;
        }
    }
    ym__http_check_drained(s);
}

/* Lingering close (as nginx does): stop writing, then read and discard what the
 * client is still sending for a moment, so it sees our answer instead of a reset. */
static void on_linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0)
        conn_close(st->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    timer_set(c, T_LINGER);
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_linger_read) == 0;
    if (!c->reading)
        conn_close(c);
}

static void conn_close_after_writes(conn *c)
{
    if (c->closing || c->close_after)
        return;
    c->close_after = true;
    stop_reading(c);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

/* ---------- responses ---------- */

typedef struct pending_resp {
    ym_request *r;
    int status;
    char *ctype, *body, *extra;
    size_t len;
} pending_resp;

static void access_log(conn *c, ym_request *r, size_t bytes)
{
    uint64_t us = (uint64_t)(uv_hrtime() / 1000) - r->t_start_us;
    ym_metrics_request(r->method_name ? r->method_name : "-", r->route ? r->route : "(none)", r->status, us);
    ym_log_set_request_id(r->id);
    ym_log(YM_LOG_INFO, "request", "method=%s path=%s status=%d bytes=%zu ms=%.3f peer=%s",
           r->method_name ? r->method_name : "-", r->path, r->status, bytes, us / 1000.0, r->peer[0] ? r->peer : c->peer);
    ym_log_set_request_id(NULL);
}

/* After the response is queued: next pipelined request, or wait for one. */
static void request_done(conn *c, ym_request *r, bool close)
{
    c->cur = NULL;
    ym_request_free(r);
    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    if (close) {
        conn_close_after_writes(c);
        return;
    }
    if (!c->in_feed)
        conn_process(c);
}

/* Response head assembly without printf: this runs for every answer. */
typedef struct hb {
    char *p;
    size_t len, cap;
} hb;

static void hb_put(hb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n > b->cap)
        n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void write_response(ym_request *r, int status, const char *ctype, const char *body, size_t len,
                           const char *extra)
{
    conn *c = r->conn;
    ym_server *s = c->srv;
    bool head = r->method_name && strcmp(r->method_name, "HEAD") == 0;
    bool close = !r->keep_alive || s->draining || status == 400 || status == 408 || status == 413 ||
                 status == 414 || status == 431 || status == 505 || c->eof;
    /* RFC 9110: no Content-Length on 204; on 304 it would describe the cached file */
    bool no_length = status == 204 || status == 304;
    char hdr[1024], num[24];
    hb b = {hdr, 0, sizeof hdr - 64}; /* the fixed lines are short; ctype and id are bounded */
    hb_put(&b, "HTTP/1.1 ");
    snprintf(num, sizeof num, "%d ", status);
    hb_put(&b, num);
    hb_put(&b, ym_http_reason(status));
    hb_put(&b, "\r\nServer: yimen\r\nDate: ");
    hb_put(&b, http_date(s));
    hb_put(&b, "\r\nX-Request-Id: ");
    hb_put(&b, r->id);
    hb_put(&b, "\r\n");
    if (ctype) {
        hb_put(&b, "Content-Type: ");
        hb_put(&b, ctype);
        hb_put(&b, "\r\n");
    }
    if (!no_length) {
        snprintf(num, sizeof num, "%zu", len);
        hb_put(&b, "Content-Length: ");
        hb_put(&b, num);
        hb_put(&b, "\r\n");
    }
    hb_put(&b, close ? "Connection: close\r\n" : (r->http_minor == 0 ? "Connection: keep-alive\r\n" : ""));
    int n = (int)b.len;
    size_t elen = extra ? strlen(extra) : 0;
    char *head_buf = hdr;
    if ((size_t)n + elen + 3 > sizeof hdr) {
        head_buf = malloc((size_t)n + elen + 3);
        if (!head_buf)
            abort();
        memcpy(head_buf, hdr, (size_t)n);
    }
    if (elen)
        memcpy(head_buf + n, extra, elen);
    memcpy(head_buf + n + elen, "\r\n", 3);
    size_t blen = (head || status == 204 || status == 304) ? 0 : len;
    r->status = status;
    conn_write(c, head_buf, (size_t)n + elen + 2, body, blen);
    if (head_buf != hdr)
        free(head_buf);
    access_log(c, r, blen);
    request_done(c, r, close);
}

static void on_committed(void *ud, int rc)
{
    pending_resp *p = ud;
    ym_request *r = p->r;
    conn *c = r->conn;
    if (c->closing) {
        /* the client left before the commit: the write stands, nobody to tell */
        r->status = p->status;
        request_done(c, r, true);
    } else if (rc != 0 && p->status < 400) {
        static const char fail[] = "{\"error\":{\"code\":\"storage_error\",\"message\":\"the change could not be saved\"}}";
        ym_log(YM_LOG_ERROR, "commit failed", "rc=%d", rc);
        write_response(r, 500, "application/json", fail, sizeof fail - 1, NULL);
    } else {
        write_response(r, p->status, p->ctype, p->body, p->len, p->extra);
    }
    free(p->ctype);
    free(p->body);
    free(p->extra);
    free(p);
}

static char *dup_or_null(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = malloc(n + 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void ym_resp_send(ym_request *r, int status, const char *content_type, const char *body, size_t len,
                  const char *extra_headers)
{
    if (r->answered) {
        ym_log(YM_LOG_ERROR, "second response for one request ignored", "path=%s", r->path);
        return;
    }
    r->answered = true;
    conn *c = r->conn;
    ym_db *db = c->srv->db;
    if (!db || !ym_db_in_batch(db)) {
        write_response(r, status, content_type, body, len, extra_headers);
        return;
    }
    /* This turn wrote to the database: the response leaves after the group COMMIT. */
    pending_resp *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->r = r;
    p->status = status;
    p->ctype = dup_or_null(content_type, content_type ? strlen(content_type) : 0);
    p->body = dup_or_null(body ? body : "", len);
    p->len = len;
    p->extra = dup_or_null(extra_headers, extra_headers ? strlen(extra_headers) : 0);
    r->write_pending = true;
    ym_db_after_commit(db, on_committed, p);
}

/* ---------- streams (Server-Sent Events) ---------- */

ym_stream *ym_resp_stream(ym_request *r, const char *content_type, const char *extra_headers,
                          void (*on_close)(void *ud), void *ud)
{
    conn *c = r->conn;
    if (r->answered || c->closing || c->close_after || c->srv->draining) {
        if (!r->answered)
            ym_resp_error(r, 503, "draining", "the server is restarting; reconnect");
        return NULL;
    }
    r->answered = true;
    r->status = 200;
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nServer: yimen\r\nDate: %s\r\nX-Request-Id: %s\r\n"
                     "Content-Type: %s\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
                     "Connection: close\r\n%s\r\n",
                     http_date(c->srv), r->id, content_type, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head || conn_write(c, head, (size_t)n, NULL, 0) < 0) {
        request_done(c, r, true);
        return NULL;
    }
    access_log(c, r, 0);
    /* the connection now belongs to the stream: no pipelined request will be answered */
    c->streaming = true;
    c->on_close = on_close;
    c->close_ud = ud;
    c->cur = NULL;
    ym_request_free(r);
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_cap = 0;
    timer_set(c, T_NONE);
    start_reading(c); /* to notice the client leaving */
    return (ym_stream *)c;
}

int ym_stream_write(ym_stream *st, const char *data, size_t len)
{
    conn *c = (conn *)st;
    if (c->closing || c->close_after)
        return -1;
    if (conn_write(c, data, len, NULL, 0) < 0)
        return -1;
    if (c->wbytes > c->srv->cfg->limits.write_buffer) {
        /* a client this far behind reconnects and catches up from the database */
        conn_close(c);
        return -1;
    }
    return 0;
}

void ym_stream_close(ym_stream *st)
{
    conn *c = (conn *)st;
    stream_closed(c);
    conn_close_after_writes(c);
}

/* ---------- requests ---------- */

static bool method_supported(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(m, ok[i]) == 0)
            return true;
    return false;
}

static void dispatch(conn *c, ym_request *r)
{
    ym_server *s = c->srv;
    c->cur = r;
    r->conn = c;
    r->t_start_us = uv_hrtime() / 1000;
    snprintf(r->id, sizeof r->id, "%x-%llx", s->pid, (unsigned long long)++s->req_seq);
    ym_client_addr(s->proxies, c->peer, ym_req_header(r, "x-forwarded-for"), r->peer, sizeof r->peer);
    r->peer_loopback = c->loopback && strcmp(r->peer, c->peer) == 0;
    c->requests++;
    ym_log_set_request_id(r->id);
    const ym_route *rt = NULL;
    char allow[96];
    if (!method_supported(r->method_name)) {
        ym_resp_error(r, 501, "not_implemented", "method %s is not supported", r->method_name);
    } else {
        ym_route_rc rc = ym_router_match(s->router, r, &rt, allow, sizeof allow);
        if (rc == YM_ROUTE_FOUND) {
            /* signed-in routes read the session and more: one read transaction for all */
            bool reads = s->db && strcmp(rt->permission, "public") != 0 && ym_db_read_begin(s->db) == 0;
            if (ym_auth_route(r, rt) == 0)
                rt->handler(r, rt->ud);
            if (reads)
                ym_db_read_end(s->db);
        } else if (rc == YM_ROUTE_BAD_METHOD) {
            char hdr[128];
            snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
            static const char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not allowed for this path\"}}";
            r->route = "(405)";
            ym_resp_send(r, 405, "application/json", body, sizeof body - 1, hdr);
        } else if ((strcmp(r->method_name, "GET") == 0 || strcmp(r->method_name, "HEAD") == 0) &&
                   strncmp(r->path, "/api/", 5) != 0 && s->www && ym_static_serve(s->www, r)) {
            /* answered from www */
        } else {
            r->route = "(404)";
            ym_resp_error(r, 404, "not_found", "no route or file for this path");
        }
    }
    ym_log_set_request_id(NULL);
}

static void send_parse_error(conn *c)
{
    ym_parser *ps = &c->ps;
    ym_request *r = ym_parser_take(ps);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            abort();
        r->path = r->query = r->target = "";
    }
    r->keep_alive = false;
    r->route = "(error)";
    c->cur = r;
    r->conn = c;
    r->t_start_us = uv_hrtime() / 1000;
    snprintf(r->id, sizeof r->id, "%x-%llx", c->srv->pid, (unsigned long long)++c->srv->req_seq);
    if (!r->method_name)
        r->method_name = "-";
    /* a refused request never reaches the router: answer it without the database */
    r->answered = true;
    char body[256];
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", ps->err_code, "message", ps->err_msg);
    char *txt = json_dumps(j, JSON_COMPACT);
    snprintf(body, sizeof body, "%s", txt ? txt : "{}");
    free(txt);
    json_decref(j);
    write_response(r, ps->err_status, "application/json", body, strlen(body), NULL);
}

/* Bytes that arrived behind the request being answered wait here, in order; past
 * PENDING_MAX the connection is not read until they are parsed. */
static void pending_append(conn *c, const char *data, size_t len)
{
    if (c->pending_len + len > c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap : 4096;
        while (cap < c->pending_len + len)
            cap *= 2;
        char *p = realloc(c->pending, cap);
        if (!p)
            abort();
        c->pending = p;
        c->pending_cap = cap;
    }
    memmove(c->pending + c->pending_len, data, len);
    c->pending_len += len;
    if (c->pending_len > PENDING_MAX)
        stop_reading(c);
}

/* Parse what has arrived, one request at a time; stops while a request is answered. */
static void feed(conn *c, const char *data, size_t len)
{
    c->in_feed = true;
    while (len > 0 && !c->cur && !c->closing && !c->close_after && !c->streaming) {
        size_t used = 0;
        ym_parse_rc rc = ym_parser_feed(&c->ps, data, len, &used);
        data += used;
        len -= used;
        if (rc == YM_PARSE_MORE) {
            bool headers = c->ps.req && c->ps.req->method_name;
            timer_set(c, headers ? T_BODY : T_HEADER);
        } else if (rc == YM_PARSE_CONTINUE) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write(c, cont, sizeof cont - 1, NULL, 0);
            ym_parser_resume(&c->ps);
            timer_set(c, T_BODY);
        } else if (rc == YM_PARSE_DONE) {
            ym_request *r = ym_parser_take(&c->ps);
            ym_parser_resume(&c->ps);
            timer_set(c, T_NONE);
            dispatch(c, r);
        } else {
            timer_set(c, T_NONE);
            send_parse_error(c);
            len = 0;
        }
    }
    /* keep what is left for after the current response */
    if (len > 0 && !c->closing && !c->close_after && !c->streaming)
        pending_append(c, data, len);
    c->in_feed = false;
    /* answered at once and nothing more arrived: wait for the next request */
    if (!c->cur && !c->closing && !c->close_after && !c->streaming && !c->pending_len &&
        !ym_parser_mid_message(&c->ps))
        timer_set(c, T_IDLE);
}

/* Continue with pipelined bytes once the current request is answered. */
static void conn_process(conn *c)
{
    if (c->streaming)
        return;
    while (!c->cur && !c->closing && !c->close_after && c->pending_len > 0) {
        size_t n = c->pending_len;
        char *buf = c->pending;
        c->pending = NULL;
        c->pending_len = c->pending_cap = 0;
        feed(c, buf, n);
        free(buf);
    }
    if (c->cur || c->closing || c->close_after)
        return;
    if (c->eof) {
        conn_close(c);
        return;
    }
    if (!ym_parser_mid_message(&c->ps)) {
        if (c->srv->draining && c->requests > 0) {
            conn_close(c);
            return;
        }
        timer_set(c, T_IDLE);
    }
    if (!c->read_paused)
        start_reading(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* one buffer per loop: a read callback consumes or copies what it needs */
    static char slab[64 * 1024];
    buf->base = slab;
    buf->len = sizeof slab;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (nread == 0)
        return;
    if (c->streaming) { /* a stream's client has nothing more to say: input is dropped */
        if (nread < 0)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        c->eof = true;
        stop_reading(c);
        if (!c->cur)
            conn_close(c); /* a request cut off mid-way has nobody to answer */
        return;
    }
    if (c->cur) { /* pipelined while answering: keep in order */
        pending_append(c, buf->base, (size_t)nread);
        return;
    }
    feed(c, buf->base, (size_t)nread);
    if (!c->cur && !c->closing && !c->close_after && c->pending_len)
        conn_process(c);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    int st = c->tstate;
    c->tstate = T_NONE;
    if (st == T_HEADER || st == T_BODY) {
        c->ps.err_status = 408;
        c->ps.err_code = "timeout";
        snprintf(c->ps.err_msg, sizeof c->ps.err_msg, "%s",
                 st == T_HEADER ? "request headers took too long" : "request body stalled");
        stop_reading(c);
        send_parse_error(c);
    } else if (st == T_IDLE || st == T_LINGER) {
        conn_close(c);
    }
}

/* ---------- accepting ---------- */

static void accept_one(ym_server *s, uv_stream_t *server)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    ym_parser_init(&c->ps, &s->lim);
    peer_name(c);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    ym_metrics_connections(1);
    timer_set(c, T_IDLE);
    start_reading(c);
}

void ym__http_on_connection(uv_stream_t *server, int status)
{
    ym_server *s = server->data;
    if (status < 0) {
        ym_log(YM_LOG_WARN, "accept failed", "error=%s", uv_strerror(status));
        return;
    }
    size_t idx = 0;
    while (idx < s->nlisteners && (uv_stream_t *)s->listeners[idx] != server)
        idx++;
    if (s->nconns >= s->cfg->limits.connections) {
        /* leave it unaccepted: libuv stops polling this listener until we take it */
        s->listener_waiting[idx] = true;
        return;
    }
    accept_one(s, server);
}

void ym__http_conn_close(conn *c) { conn_close(c); }
