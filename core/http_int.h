/* http_int: what http.c (connections, requests, responses, streams) and http_server.c
 * (listeners, drain) share: the connection and the server. Not for other files. */
#ifndef YM_HTTP_INT_H
#define YM_HTTP_INT_H
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>
#include "http.h"
#include "request.h"
#include "static.h"
#include "proxy.h"

enum { T_NONE, T_IDLE, T_HEADER, T_BODY, T_LINGER };

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    ym_server *srv;
    ym_parser ps;
    struct conn *prev, *next;
    char *pending;             /* received, not yet parsed (pipelined) */
    size_t pending_len, pending_cap;
    ym_request *cur;           /* the request being answered; one at a time */
    size_t wbytes;             /* bytes queued for writing */
    int tstate;
    int handles;               /* open libuv handles; freed at 0 with no request */
    bool reading, read_paused, closing, close_after, in_feed, eof;
    uint64_t requests;
    char peer[48];
    bool loopback;
    bool streaming;            /* handed to ym_resp_stream: no more requests on it */
    void (*on_close)(void *ud);
    void *close_ud;
} conn;

struct ym_server {
    uv_loop_t *loop;
    const ym_config *cfg;
    ym_router *router;
    ym_db *db;
    ym_static *www;
    ym_proxies *proxies;
    ym_http_limits lim;
    uv_tcp_t *listeners[YM_MAX_LISTEN];
    bool listener_waiting[YM_MAX_LISTEN]; /* a connection waits for room under the cap */
    size_t nlisteners;
    conn *conns;
    size_t nconns;
    bool draining;
    uv_timer_t drain_timer;
    void (*drain_done)(void *);
    void *drain_ud;
    uint64_t req_seq;
    unsigned pid;               /* for request ids: getpid() is a system call each time */
    time_t date_sec;
    char date[40];
};

/* http.c */
void ym__http_on_connection(uv_stream_t *server, int status);   /* the listeners' callback */
void ym__http_conn_close(conn *c);
/* http_server.c: the drain's end once no connection is left */
void ym__http_check_drained(ym_server *s);

#endif
