/* http: the HTTP/1.1 server of one worker on libuv: connections, keep-alive,
 * pipelining in order, limits and timeouts, responses, drain on reload. */
#ifndef YM_HTTP_H
#define YM_HTTP_H
#include <uv.h>
#include <jansson.h>
#include "request.h"
#include "router.h"
#include "config.h"
#include "db.h"

typedef struct ym_server ym_server;
typedef struct ym_static ym_static;

ym_server *ym_server_new(uv_loop_t *loop, const ym_config *cfg, ym_router *router, ym_db *db,
                         ym_static *www);
/* Serve on a listening socket inherited from the master. */
int ym_server_listen_fd(ym_server *s, int fd, char *err, size_t errlen);
/* Bind and listen (single-process mode and tests). */
int ym_server_listen_addr(ym_server *s, const ym_listen_addr *a, char *err, size_t errlen);
/* Stop accepting; answer each connection's next response with Connection: close;
 * close idle connections; after timeouts.drain close the rest. done() runs when
 * no connection is left. */
void ym_server_drain(ym_server *s, void (*done)(void *ud), void *ud);
size_t ym_server_connections(const ym_server *s);
/* Close everything; the loop must then run until handles are closed. */
void ym_server_close(ym_server *s);
void ym_server_free(ym_server *s);
ym_db *ym_server_db(const ym_server *s);
const ym_config *ym_server_config(const ym_server *s);
ym_server *ym_req_server(const ym_request *r);
uv_loop_t *ym_server_loop(const ym_server *s);
/* The connection closed before the answer: the handler may skip work. */
bool ym_req_gone(const ym_request *r);

/* ---- responses: exactly one per request ----
 * Answering may free the request at once (unless it waits for the group commit):
 * never touch r, its params or its body after a ym_resp_* call. */

/* extra_headers: zero or more "Name: value\r\n" lines, or NULL. The response waits for
 * the group commit when the request's loop turn wrote to the database. */
void ym_resp_send(ym_request *r, int status, const char *content_type, const char *body, size_t len,
                  const char *extra_headers);
/* Serialises j (and drops the reference). */
void ym_resp_json(ym_request *r, int status, json_t *j);
/* {"error":{"code":code,"message":...}} */
void ym_resp_error(ym_request *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 400 {"error":{"code":"invalid","field":field,"message":...}} */
void ym_resp_invalid(ym_request *r, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The request body as JSON. On failure answers 400 bad_json (with line/column) or
 * 415 and returns NULL. The caller owns the result. */
json_t *ym_req_json(ym_request *r);

const char *ym_http_reason(int status);
/* ---- long-lived responses (Server-Sent Events) ----
 * Answers r with 200, content_type and extra_headers (no Content-Length: the body ends
 * when the connection closes) and turns the connection into a stream: r is freed,
 * anything the client sends after it is dropped, the idle timeout no longer applies.
 * on_close(ud) runs once when the stream ends for any reason (client left, write error,
 * a client too slow to keep under limits.write_buffer, drain, ym_stream_close).
 * Returns NULL (r answered 503 or closed) when the server is draining. */
typedef struct ym_stream ym_stream;
ym_stream *ym_resp_stream(ym_request *r, const char *content_type, const char *extra_headers,
                          void (*on_close)(void *ud), void *ud);
/* Queue bytes on the stream: 0, or -1 when it has ended (on_close has run or runs now). */
int ym_stream_write(ym_stream *st, const char *data, size_t len);
/* Ends the stream after what is queued (on_close runs now). */
void ym_stream_close(ym_stream *st);

#endif
