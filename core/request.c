/* request: builds ym_request objects from bytes with llhttp, enforcing the limits
 * llhttp does not (URI, header bytes and count, body) and the header rules it lets pass. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <ctype.h>
#include "request.h"

/* Strings of a request live in chunks that never move, so pointers stay valid. */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct arena {
    chunk *chunks;
    char *tmp;           /* the fragment being assembled (URL, field or value) */
    size_t tmp_len, tmp_cap;
    const char *field;   /* committed name of the header whose value is arriving */
    size_t hcap;
    size_t body_cap;
    bool headers_done;
    bool in_block;            /* allocated with its request (request_new), not alone */
    chunk *inline_chunk;      /* the first chunk, inside the same allocation */
    ym_header *inline_headers;
} arena;

/* A request, its arena, room for 16 headers and 1 KiB of strings in one malloc:
 * most requests need no other allocation. */
#define INLINE_HEADERS 16
#define INLINE_CHUNK 1024
typedef struct block {
    ym_request r;   /* first: the request's address is the block's */
    arena a;
    ym_header h[INLINE_HEADERS];
} block;

static char *arena_store(arena *a, const char *s, size_t n)
{
    if (!a->chunks || a->chunks->cap - a->chunks->used < n + 1) {
        size_t cap = n + 1 > 1024 ? n + 1 : 1024;
        chunk *c = malloc(sizeof *c + cap);
        if (!c)
            abort();
        c->next = a->chunks;
        c->used = 0;
        c->cap = cap;
        a->chunks = c;
    }
    char *p = a->chunks->data + a->chunks->used;
    memcpy(p, s, n);
    p[n] = 0;
    a->chunks->used += n + 1;
    return p;
}

static int tmp_append(arena *a, const char *s, size_t n)
{
    if (a->tmp_len + n + 1 > a->tmp_cap) {
        size_t cap = a->tmp_cap ? a->tmp_cap : 256;
        while (cap < a->tmp_len + n + 1)
            cap *= 2;
        char *p = realloc(a->tmp, cap);
        if (!p)
            abort();
        a->tmp = p;
        a->tmp_cap = cap;
    }
    memcpy(a->tmp + a->tmp_len, s, n);
    a->tmp_len += n;
    a->tmp[a->tmp_len] = 0;
    return 0;
}

static char *tmp_commit(arena *a)
{
    char *p = arena_store(a, a->tmp ? a->tmp : "", a->tmp_len);
    a->tmp_len = 0;
    return p;
}

void ym_request_free(ym_request *r)
{
    if (!r)
        return;
    if (r->who && r->who_free)
        r->who_free(r->who);
    arena *a = r->arena;
    ym_header *inline_h = a ? a->inline_headers : NULL;
    if (a) {
        for (chunk *c = a->chunks, *n; c; c = n) {
            n = c->next;
            if (c != a->inline_chunk)
                free(c);
        }
        free(a->tmp);
        if (!a->in_block)
            free(a);
    }
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i].value);
    if (r->headers != inline_h)
        free(r->headers);
    free(r->body);
    free(r);
}

static ym_request *request_new(void)
{
    block *b = malloc(sizeof *b + sizeof(chunk) + INLINE_CHUNK);
    if (!b)
        abort();
    memset(&b->r, 0, sizeof b->r);
    memset(&b->a, 0, sizeof b->a);
    chunk *c = (chunk *)(b + 1);
    c->next = NULL;
    c->used = 0;
    c->cap = INLINE_CHUNK;
    ym_request *r = &b->r;
    r->arena = &b->a;
    b->a.in_block = true;
    b->a.chunks = b->a.inline_chunk = c;
    b->a.inline_headers = r->headers = b->h;
    b->a.hcap = INLINE_HEADERS;
    r->query = "";
    r->path = "";
    r->target = "";
    return r;
}

const char *ym_req_keep(ym_request *r, const char *s)
{
    if (!r->arena) {
        r->arena = calloc(1, sizeof(arena));
        if (!r->arena)
            abort();
    }
    return arena_store(r->arena, s, strlen(s));
}

const char *ym_req_header(const ym_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

const char *ym_req_param(const ym_request *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ym_url_decode(char *s, bool plus_space)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '%') {
            int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
            if (h < 0 || l < 0)
                return -1;
            char c = (char)(h * 16 + l);
            if (c == 0)
                return -1;
            *w++ = c;
            p += 2;
        } else if (*p == '+' && plus_space) {
            *w++ = ' ';
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return 0;
}

char *ym_form_value(const char *encoded, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *end = encoded ? encoded + len : NULL;
    for (const char *p = encoded; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t seg = amp ? (size_t)(amp - p) : (size_t)(end - p);
        const char *eq = memchr(p, '=', seg);
        size_t kl = eq ? (size_t)(eq - p) : seg;
        char *key = strndup(p, kl);
        if (!key)
            abort();
        int ok = ym_url_decode(key, true) == 0 && strlen(key) == nl && memcmp(key, name, nl) == 0;
        free(key);
        if (ok) {
            char *v = eq ? strndup(eq + 1, seg - kl - 1) : strdup("");
            if (!v)
                abort();
            if (ym_url_decode(v, true) < 0) {
                free(v);
                return NULL;
            }
            return v;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

char *ym_req_query(const ym_request *r, const char *name)
{
    return r->query ? ym_form_value(r->query, strlen(r->query), name) : NULL;
}

/* ---- llhttp callbacks ---- */

#define PS(p) ((ym_parser *)(p)->data)

static int fail(ym_parser *ps, int status, const char *code, const char *msg)
{
    ps->err_status = status;
    ps->err_code = code;
    snprintf(ps->err_msg, sizeof ps->err_msg, "%s", msg);
    return -1;
}

static int on_message_begin(llhttp_t *p)
{
    ym_parser *ps = PS(p);
    ym_request_free(ps->req);
    ps->req = request_new();
    ps->header_bytes = 0;
    ps->seen_host = false;
    ps->in_message = true;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    ym_parser *ps = PS(p);
    arena *a = ps->req->arena;
    if (a->tmp_len + len > ps->lim.uri)
        return fail(ps, 414, "uri_too_long", "request URI is longer than the configured limit");
    return tmp_append(a, at, len);
}

/* Splits the target into path and query and decodes the path exactly once. */
static int on_url_complete(llhttp_t *p)
{
    ym_parser *ps = PS(p);
    ym_request *r = ps->req;
    arena *a = r->arena;
    r->target = tmp_commit(a);
    const char *t = r->target;
    /* absolute-form (RFC 9112 §3.2.2), as proxies send it: the path is what counts */
    if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
        const char *auth = strstr(t, "//") + 2, *slash = strchr(auth, '/');
        t = slash ? slash : "/";
    }
    if (t[0] != '/')
        return fail(ps, 400, "bad_request", "request target must be an absolute path");
    char *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    r->path = arena_store(a, t, plen);
    r->query = q ? arena_store(a, q + 1, strlen(q + 1)) : "";
    if (ym_url_decode(r->path, false) < 0)
        return fail(ps, 400, "bad_request", "bad percent-encoding in path");
    return 0;
}

static int count_header_bytes(ym_parser *ps, size_t len)
{
    ps->header_bytes += len;
    if (ps->header_bytes > ps->lim.headers)
        return fail(ps, 431, "headers_too_large", "request headers are larger than the configured limit");
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    ym_parser *ps = PS(p);
    if (count_header_bytes(ps, len) < 0)
        return -1;
    arena *a = ps->req->arena;
    if (a->headers_done) /* trailer fields are counted, not kept */
        return 0;
    return tmp_append(a, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    ym_parser *ps = PS(p);
    if (count_header_bytes(ps, 4) < 0) /* ": " and CRLF, once per field however it arrived */
        return -1;
    arena *a = ps->req->arena;
    if (a->headers_done)
        return 0;
    if (a->tmp_len && (a->tmp[a->tmp_len - 1] == ' ' || a->tmp[a->tmp_len - 1] == '\t'))
        return fail(ps, 400, "bad_request", "whitespace between header name and colon");
    if (ps->req->nheaders + 1 > ps->lim.header_count)
        return fail(ps, 431, "headers_too_large", "too many request headers");
    a->field = tmp_commit(a);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    ym_parser *ps = PS(p);
    if (count_header_bytes(ps, len) < 0)
        return -1;
    arena *a = ps->req->arena;
    if (a->headers_done)
        return 0;
    return tmp_append(a, at, len);
}

static int add_header(ym_parser *ps, const char *name, const char *value)
{
    ym_request *r = ps->req;
    arena *a = r->arena;
    if (r->nheaders == a->hcap) {
        a->hcap = a->hcap ? a->hcap * 2 : 16;
        bool inline_h = r->headers == a->inline_headers;
        ym_header *h = inline_h ? malloc(a->hcap * sizeof *h) : realloc(r->headers, a->hcap * sizeof *h);
        if (!h)
            abort();
        if (inline_h)
            memcpy(h, r->headers, r->nheaders * sizeof *h);
        r->headers = h;
    }
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = value;
    r->nheaders++;
    if (strcasecmp(name, "host") == 0) {
        if (ps->seen_host)
            return fail(ps, 400, "bad_request", "more than one Host header");
        ps->seen_host = true;
    }
    return 0;
}

/* uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986): reg-name or IPv4 characters, or
 * an IP literal in brackets; the port is digits. */
static bool host_ok(const char *h)
{
    const char *end = h + strlen(h), *port = NULL;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close)
            return false;
        for (const char *c = h + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return false;
        if (close[1] && close[1] != ':')
            return false;
        port = close[1] ? close + 2 : NULL;
    } else {
        const char *colon = strchr(h, ':');
        const char *hend = colon ? colon : end;
        for (const char *c = h; c < hend; c++)
            if (!isalnum((unsigned char)*c) && !strchr("-._~%!$&'()*+,;=", *c))
                return false;
        port = colon ? colon + 1 : NULL;
    }
    if (port) {
        if (!*port || strlen(port) > 5)
            return false;
        for (const char *c = port; *c; c++)
            if (!isdigit((unsigned char)*c))
                return false;
    }
    return true;
}

static int on_header_value_complete(llhttp_t *p)
{
    ym_parser *ps = PS(p);
    arena *a = ps->req->arena;
    if (a->headers_done)
        return 0;
    /* obs-fold (a line continued with leading whitespace) reaches us as CR/LF in the value */
    if (memchr(a->tmp ? a->tmp : "", '\r', a->tmp_len) || memchr(a->tmp ? a->tmp : "", '\n', a->tmp_len))
        return fail(ps, 400, "bad_request", "folded header line (obs-fold) is not accepted");
    size_t s = 0, e = a->tmp_len;
    while (s < e && (a->tmp[s] == ' ' || a->tmp[s] == '\t'))
        s++;
    while (e > s && (a->tmp[e - 1] == ' ' || a->tmp[e - 1] == '\t'))
        e--;
    const char *v = arena_store(a, a->tmp ? a->tmp + s : "", e - s);
    a->tmp_len = 0;
    const char *name = a->field;
    a->field = NULL;
    if (!name || !*name)
        return fail(ps, 400, "bad_request", "empty header name");
    if (strcasecmp(name, "host") == 0 && !host_ok(v))
        return fail(ps, 400, "bad_request", "malformed Host header");
    return add_header(ps, name, v);
}

static int on_headers_complete(llhttp_t *p)
{
    ym_parser *ps = PS(p);
    ym_request *r = ps->req;
    arena *a = r->arena;
    a->headers_done = true;
    r->method = p->method;
    r->method_name = llhttp_method_name((llhttp_method_t)p->method);
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->keep_alive = llhttp_should_keep_alive(p);
    if (p->http_major != 1)
        return fail(ps, 505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are spoken here");
    if (!ps->seen_host && p->http_minor >= 1)
        return fail(ps, 400, "bad_request", "missing Host header");
    bool chunked = (p->flags & F_CHUNKED) != 0;
    /* HTTP/1.0 has no chunked framing: Transfer-Encoding there is a smuggling attempt */
    if (p->http_minor == 0 && ym_req_header(r, "transfer-encoding"))
        return fail(ps, 400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request");
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > ps->lim.body)
        return fail(ps, 413, "body_too_large", "request body is larger than the configured limit");
    const char *expect = p->http_minor >= 1 ? ym_req_header(r, "expect") : NULL; /* 1.0 ignores it */
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(ps, 417, "expectation_failed", "only Expect: 100-continue is supported");
        r->expect_continue = true;
        if (chunked || p->content_length > 0)
            return HPE_PAUSED;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    ym_parser *ps = PS(p);
    ym_request *r = ps->req;
    arena *a = r->arena;
    if (r->body_len + len > ps->lim.body)
        return fail(ps, 413, "body_too_large", "request body is larger than the configured limit");
    if (r->body_len + len + 1 > a->body_cap) {
        size_t cap = a->body_cap ? a->body_cap : 1024;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            abort();
        r->body = b;
        a->body_cap = cap;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = 0;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    ym_parser *ps = PS(p);
    ps->in_message = false;
    ps->scan_headers = false;
    if (!ps->req->body) {
        ps->req->body = strdup("");
        if (!ps->req->body)
            abort();
    }
    return HPE_PAUSED;
}

void ym_parser_init(ym_parser *ps, const ym_http_limits *lim)
{
    memset(ps, 0, sizeof *ps);
    ps->lim = *lim;
    llhttp_settings_init(&ps->settings);
    ps->settings.on_message_begin = on_message_begin;
    ps->settings.on_url = on_url;
    ps->settings.on_url_complete = on_url_complete;
    ps->settings.on_header_field = on_header_field;
    ps->settings.on_header_field_complete = on_header_field_complete;
    ps->settings.on_header_value = on_header_value;
    ps->settings.on_header_value_complete = on_header_value_complete;
    ps->settings.on_headers_complete = on_headers_complete;
    ps->settings.on_body = on_body;
    ps->settings.on_message_complete = on_message_complete;
    llhttp_init(&ps->p, HTTP_REQUEST, &ps->settings);
    ps->p.data = ps;
}

void ym_parser_reset(ym_parser *ps)
{
    ym_request_free(ps->req);
    ps->req = NULL;
}

/* llhttp 8.1 joins an obs-fold continuation line into the value, so the callbacks
 * never see it: watch the raw header bytes for a line that starts with SP or HT. */
static int fold_scan(ym_parser *ps, const char *data, size_t len)
{
    if (!ps->in_message && !ps->scan_headers) { /* a new message starts here */
        ps->scan_headers = true;
        ps->line_start = false;
        ps->first_line = true;
    }
    for (size_t i = 0; i < len && ps->scan_headers; i++) {
        char c = data[i];
        if (ps->line_start) {
            if (c == '\r' || c == '\n') {
                ps->scan_headers = false; /* the blank line: headers end */
                break;
            }
            if ((c == ' ' || c == '\t') && !ps->first_line)
                return fail(ps, 400, "bad_request", "folded header line (obs-fold) is not accepted");
            ps->line_start = false;
            ps->first_line = false;
        }
        if (c == '\n')
            ps->line_start = true;
    }
    return 0;
}

ym_parse_rc ym_parser_feed(ym_parser *ps, const char *data, size_t len, size_t *consumed)
{
    if (fold_scan(ps, data, len) < 0) {
        *consumed = len;
        return YM_PARSE_ERROR;
    }
    llhttp_errno_t e = llhttp_execute(&ps->p, data, len);
    if (e == HPE_OK) {
        *consumed = len;
        return YM_PARSE_MORE;
    }
    if (e == HPE_PAUSED) {
        *consumed = (size_t)(llhttp_get_error_pos(&ps->p) - data);
        return ps->in_message ? YM_PARSE_CONTINUE : YM_PARSE_DONE;
    }
    *consumed = len;
    if (!ps->err_status) {
        ps->err_status = 400;
        ps->err_code = "bad_request";
        snprintf(ps->err_msg, sizeof ps->err_msg, "malformed request: %s", llhttp_get_error_reason(&ps->p));
    }
    return YM_PARSE_ERROR;
}

ym_request *ym_parser_take(ym_parser *ps)
{
    ym_request *r = ps->req;
    ps->req = NULL;
    return r;
}

void ym_parser_resume(ym_parser *ps)
{
    if (llhttp_get_errno(&ps->p) == HPE_PAUSED)
        llhttp_resume(&ps->p);
}

bool ym_parser_mid_message(const ym_parser *ps) { return ps->in_message; }

int ym_parser_eof(ym_parser *ps)
{
    return ps->in_message ? 1 : 0;
}
