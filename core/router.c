/* router: a flat table of routes matched segment by segment; a route table is
 * small (hundreds) and matching is a few string compares per route. A :param may
 * carry a fixed suffix ("/lists/:id.xlsx"): the segment must end with it, and the
 * param is what comes before. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "router.h"
#include <stdbool.h>

struct ym_router {
    ym_route *routes;
    size_t n, cap;
};

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

ym_router *ym_router_new(void)
{
    ym_router *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    return r;
}

static void route_free(ym_route *rt)
{
    for (size_t i = 0; i < rt->nsegs; i++)
        free(rt->segs[i]);
    free(rt->segs);
    free(rt->method);
    free(rt->pattern);
    free(rt->permission);
    free(rt->owner);
}

void ym_router_free(ym_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_free(&r->routes[i]);
    free(r->routes);
    free(r);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

/* Splits "/a/b/:c" into {"a","b",":c"}; "/" has zero segments. */
static int split(const char *path, char ***out, size_t *n)
{
    size_t cap = 4, cnt = 0;
    char **v = malloc(cap * sizeof *v);
    if (!v)
        abort();
    const char *p = path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        /* room for this segment and a possible empty one after a trailing slash */
        if (cnt + 2 > cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        v[cnt] = strndup(p, len);
        if (!v[cnt])
            abort();
        cnt++;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p) { /* trailing slash: an empty last segment */
            v[cnt++] = xstrdup("");
            break;
        }
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int method_known(const char *m)
{
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strcmp(m, methods[i]) == 0)
            return 1;
    return 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* "/a/:id" and "/a/:uid" match the same paths: the second could never be reached.
 * "/a/:id.xlsx" (a param with a fixed suffix) is another shape. */
static bool same_shape(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a == ':' && *b == ':') {
            for (a++; name_char(*a); a++)
                ;
            for (b++; name_char(*b); b++)
                ;
            continue;
        }
        if (*a++ != *b++)
            return false;
    }
    return *a == *b;
}

int ym_router_add(ym_router *r, const char *method, const char *pattern, const char *permission,
                  const char *owner, ym_handler h, void *ud, char *err, size_t errlen)
{
    if (!method_known(method)) {
        snprintf(err, errlen, "unknown method %s", method);
        return -1;
    }
    if (!pattern || pattern[0] != '/' || strstr(pattern, "//") || !h || !permission || !*permission) {
        snprintf(err, errlen, "bad route %s %s: pattern must start with '/', handler and permission are required",
                 method, pattern ? pattern : "(null)");
        return -1;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->routes[i].method, method) == 0 && same_shape(r->routes[i].pattern, pattern)) {
            snprintf(err, errlen, "route %s %s is already registered by %s as %s", method, pattern, r->routes[i].owner,
                     r->routes[i].pattern);
            return -1;
        }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        ym_route *nr = realloc(r->routes, r->cap * sizeof *nr);
        if (!nr)
            abort();
        r->routes = nr;
    }
    ym_route *rt = &r->routes[r->n];
    memset(rt, 0, sizeof *rt);
    split(pattern, &rt->segs, &rt->nsegs);
    size_t params = 0;
    for (size_t i = 0; i < rt->nsegs; i++) {
        char *sg = rt->segs[i];
        if (sg[0] != ':')
            continue;
        size_t name = 1;
        while (name_char(sg[name]))
            name++;
        if (++params > YM_MAX_PARAMS || name == 1 || strchr(sg + name, ':')) {
            snprintf(err, errlen, "bad route %s %s: empty, bad or too many :params", method, pattern);
            route_free(rt);
            return -1;
        }
        /* kept as ":name\0suffix\0": the suffix ("" or ".xlsx") follows the name */
        size_t len = strlen(sg);
        char *v = malloc(len + 2);
        if (!v)
            abort();
        memcpy(v, sg, name);
        v[name] = '\0';
        memcpy(v + name + 1, sg + name, len - name + 1);
        free(sg);
        rt->segs[i] = v;
    }
    rt->method = xstrdup(method);
    rt->pattern = xstrdup(pattern);
    rt->permission = xstrdup(permission);
    rt->owner = xstrdup(owner ? owner : "core");
    rt->handler = h;
    rt->ud = ud;
    r->n++;
    return 0;
}

/* A path seen as segments in place: no copy until a route has matched. */
typedef struct seg {
    const char *p;
    size_t len;
} seg;

#define MAX_SEGS 60

/* The same cut as split(): "/" has none, a trailing slash adds an empty one.
 * Returns the count, or MAX_SEGS + 1 when there are more (such a path matches nothing). */
static size_t split_view(const char *path, seg *v)
{
    size_t n = 0;
    const char *p = path + 1;
    while (*p) {
        if (n == MAX_SEGS)
            return MAX_SEGS + 1;
        const char *slash = strchr(p, '/');
        v[n].p = p;
        v[n].len = slash ? (size_t)(slash - p) : strlen(p);
        n++;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p) {
            if (n == MAX_SEGS)
                return MAX_SEGS + 1;
            v[n].p = p;
            v[n++].len = 0;
            break;
        }
    }
    return n;
}

/* The fixed suffix of a :param segment ("" when none). */
static const char *suffix_of(const char *want) { return want + strlen(want) + 1; }

/* Score: one bit per segment, set where the route has a static segment, first
 * segment highest; the larger score is the more specific route. -1 = no match.
 * *sfx gets the same bits for the :params with a suffix, which break a tie: for
 * ".../5.xlsx", "/:id.xlsx" (id "5") beats "/:id" (id "5.xlsx"). */
static long long match_route(const ym_route *rt, const seg *segs, size_t n, long long *sfx)
{
    if (rt->nsegs != n || n > MAX_SEGS)
        return -1;
    long long score = 0;
    *sfx = 0;
    for (size_t i = 0; i < n; i++) {
        const char *want = rt->segs[i];
        *sfx <<= 1;
        if (want[0] == ':') {
            const char *suffix = suffix_of(want);
            size_t sl = strlen(suffix);
            if (segs[i].len <= sl || (sl && memcmp(segs[i].p + segs[i].len - sl, suffix, sl) != 0))
                return -1;
            score <<= 1;
            *sfx |= sl > 0;
        } else if (strncmp(want, segs[i].p, segs[i].len) == 0 && want[segs[i].len] == 0) {
            score = (score << 1) | 1;
        } else {
            return -1;
        }
    }
    return score;
}

static void append_allow(char *allow, size_t len, const char *m)
{
    if (strstr(allow, m))
        return;
    size_t used = strlen(allow);
    snprintf(allow + used, len - used, "%s%s", used ? ", " : "", m);
}

ym_route_rc ym_router_match(ym_router *r, ym_request *req, const ym_route **out, char *allow,
                            size_t allowlen)
{
    seg segs[MAX_SEGS];
    size_t n = split_view(req->path, segs);
    const ym_route *best = NULL;
    long long best_score = -1, best_sfx = -1;
    bool head = strcmp(req->method_name, "HEAD") == 0;
    if (allow && allowlen)
        allow[0] = 0;
    for (int pass = 0; pass < 2 && !best; pass++) {
        const char *want = pass == 0 ? req->method_name : (head ? "GET" : NULL);
        if (!want)
            break;
        for (size_t i = 0; i < r->n; i++) {
            const ym_route *rt = &r->routes[i];
            long long sfx, s = match_route(rt, segs, n, &sfx);
            if (s < 0)
                continue;
            if (strcmp(rt->method, want) != 0) {
                if (pass == 0 && allow) {
                    append_allow(allow, allowlen, rt->method);
                    if (strcmp(rt->method, "GET") == 0)
                        append_allow(allow, allowlen, "HEAD");
                }
                continue;
            }
            if (s > best_score || (s == best_score && sfx > best_sfx)) {
                best = rt;
                best_score = s;
                best_sfx = sfx;
            }
        }
    }
    ym_route_rc rc = YM_ROUTE_NOT_FOUND;
    if (best) {
        req->nparams = 0;
        for (size_t i = 0; i < n; i++)
            if (best->segs[i][0] == ':') {
                req->params[req->nparams].name = best->segs[i] + 1;
                req->params[req->nparams].value = strndup(segs[i].p, segs[i].len - strlen(suffix_of(best->segs[i])));
                if (!req->params[req->nparams].value)
                    abort();
                req->nparams++;
            }
        req->route = best->pattern;
        *out = best;
        rc = YM_ROUTE_FOUND;
    } else if (allow && allow[0]) {
        rc = YM_ROUTE_BAD_METHOD;
    }
    return rc;
}

void ym_router_remove_owner(ym_router *r, const char *owner)
{
    size_t w = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->routes[i].owner, owner) == 0)
            route_free(&r->routes[i]);
        else
            r->routes[w++] = r->routes[i];
    }
    r->n = w;
}

size_t ym_router_count(const ym_router *r) { return r->n; }
const ym_route *ym_router_at(const ym_router *r, size_t i) { return i < r->n ? &r->routes[i] : NULL; }
