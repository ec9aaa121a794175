/* request: the parsed HTTP request as handlers see it, and the incremental
 * parser that builds it from bytes (llhttp plus yimen's own limits). */
#ifndef YM_REQUEST_H
#define YM_REQUEST_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <llhttp.h>

#define YM_MAX_PARAMS 8

typedef struct ym_header {
    const char *name;   /* as received; compare case-insensitively */
    const char *value;  /* OWS trimmed */
} ym_header;

typedef struct ym_param {
    const char *name;
    char *value;        /* percent-decoded */
} ym_param;

typedef struct ym_request {
    int method;                 /* llhttp_method_t */
    const char *method_name;    /* "GET" */
    char *target;               /* raw request-target */
    char *path;                 /* decoded once; never contains NUL */
    char *query;                /* raw query string without '?', "" if none */
    ym_header *headers;
    size_t nheaders;
    char *body;                 /* NUL-terminated for convenience; body_len excludes it */
    size_t body_len;
    unsigned http_major, http_minor;
    bool keep_alive;            /* as the client asked */
    bool expect_continue;

    /* Set by the server around dispatch. */
    char id[24];                /* request id (also X-Request-Id) */
    char peer[48];              /* client address (after trusted_proxies) */
    bool peer_loopback;
    uint64_t t_start_us;
    const char *route;          /* matched pattern, for logs and metrics */
    ym_param params[YM_MAX_PARAMS];
    size_t nparams;
    void *conn;                 /* owning connection (http.c) */
    void *arena;                /* string storage (request.c) */
    struct ym_principal *who;   /* the authenticated user, NULL on public routes */
    void (*who_free)(struct ym_principal *); /* set with who */
    int status;                 /* response status once answered, else 0 */
    bool answered;
    bool write_pending;         /* response waits for the group commit */
} ym_request;

const char *ym_req_header(const ym_request *r, const char *name);
const char *ym_req_param(const ym_request *r, const char *name);
/* Decoded value of a query parameter (malloc'ed, caller frees), NULL if absent. */
char *ym_req_query(const ym_request *r, const char *name);
/* Decoded value of a field of an application/x-www-form-urlencoded text (query or
 * body, len bytes; '+' is a space), malloc'ed; NULL if absent or badly encoded. */
char *ym_form_value(const char *encoded, size_t len, const char *name);
void ym_request_free(ym_request *r);
/* A copy of s that lives as long as the request. */
const char *ym_req_keep(ym_request *r, const char *s);

/* Percent-decode in place; '+' untouched (paths) or space (query when plus_space).
 * Returns -1 for a bad escape or an encoded NUL. */
int ym_url_decode(char *s, bool plus_space);

/* ---- parser ---- */

typedef struct ym_http_limits {
    size_t uri, headers, header_count, body;
} ym_http_limits;

typedef enum {
    YM_PARSE_MORE = 0,    /* all bytes consumed, request not complete */
    YM_PARSE_DONE,        /* a request is complete: ym_parser_take() it */
    YM_PARSE_CONTINUE,    /* headers accepted and the client expects 100 Continue */
    YM_PARSE_ERROR        /* err_status/err_code/err_msg say why; close after answering */
} ym_parse_rc;

typedef struct ym_parser {
    llhttp_t p;
    llhttp_settings_t settings;
    ym_http_limits lim;
    ym_request *req;            /* being built */
    size_t header_bytes;
    int hstate;                 /* 0 none, 1 in field, 2 in value */
    bool seen_host;
    bool in_message;
    bool scan_headers, line_start, first_line; /* obs-fold watch over the raw header bytes */
    int err_status;
    const char *err_code;
    char err_msg[160];
} ym_parser;

void ym_parser_init(ym_parser *ps, const ym_http_limits *lim);
void ym_parser_reset(ym_parser *ps);   /* frees any partial request */
/* Feed bytes; *consumed says how many were used (less than len after DONE or CONTINUE:
 * feed the rest after ym_parser_take / ym_parser_resume). */
ym_parse_rc ym_parser_feed(ym_parser *ps, const char *data, size_t len, size_t *consumed);
ym_request *ym_parser_take(ym_parser *ps);  /* after DONE: the request, now the caller's */
void ym_parser_resume(ym_parser *ps);       /* after CONTINUE, or before feeding after DONE */
bool ym_parser_mid_message(const ym_parser *ps); /* some bytes of a request have arrived */
/* The connection closed: was a request cut off mid-way? (1 yes, 0 no) */
int ym_parser_eof(ym_parser *ps);

#endif
