/* router: method + path pattern -> handler. Patterns have static segments and
 * ":param" segments, which may end in a fixed suffix (":id.xlsx": the segment must end
 * with ".xlsx", the param is the rest, at least one character); the most specific
 * match wins (static beats param, left first; then a suffixed param beats a plain one). */
#ifndef YM_ROUTER_H
#define YM_ROUTER_H
#include <stddef.h>
#include "request.h"

typedef void (*ym_handler)(ym_request *req, void *ud);

typedef struct ym_route {
    char *method;        /* "GET", "POST", ... */
    char *pattern;       /* "/api/units/:id" */
    char *permission;    /* declared permission, e.g. "public", "units.read" */
    char *owner;         /* "core" or a plugin name */
    ym_handler handler;
    void *ud;
    char **segs;         /* pattern split on '/' */
    size_t nsegs;
} ym_route;

typedef struct ym_router ym_router;

ym_router *ym_router_new(void);
void ym_router_free(ym_router *r);
/* Returns 0, or -1 with the reason (bad pattern, duplicate method+pattern, bad method). */
int ym_router_add(ym_router *r, const char *method, const char *pattern, const char *permission,
                  const char *owner, ym_handler h, void *ud, char *err, size_t errlen);

typedef enum { YM_ROUTE_FOUND = 0, YM_ROUTE_NOT_FOUND = 404, YM_ROUTE_BAD_METHOD = 405 } ym_route_rc;

/* Matches req->method_name and req->path; on FOUND fills req->params/nparams and
 * req->route and *out. HEAD falls back to GET. On BAD_METHOD, allow gets the
 * comma-separated methods that would match ("GET, HEAD, POST"). */
ym_route_rc ym_router_match(ym_router *r, ym_request *req, const ym_route **out, char *allow,
                            size_t allowlen);

/* Removes every route of an owner (a plugin that failed after registering). */
void ym_router_remove_owner(ym_router *r, const char *owner);
size_t ym_router_count(const ym_router *r);
const ym_route *ym_router_at(const ym_router *r, size_t i);

#endif
