/* lua_api: the private seam between lua_host.c (states, sandbox, lifecycle, dispatch),
 * lua_api.c (the `yimen` module, the request object, storage) and lua_json.c (JSON). */
#ifndef YM_LUA_API_H
#define YM_LUA_API_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <sqlite3.h>
#include <jansson.h>
#include "plugin.h"
#include "request.h"

/* One route of a Lua plugin: the router's ud. */
typedef struct ym_lua_route {
    struct ym_lua *lp;
    int ref;                     /* the handler function in the registry */
    struct ym_lua_route *next;
} ym_lua_route;

/* A growable byte buffer on malloc (never the Lua allocator, so a full state can still
 * answer). oom (out of memory, or past max) is sticky. */
typedef struct ym_lbuf {
    char *p;
    size_t n, cap, max;          /* max: 0 = no limit */
    bool oom;
} ym_lbuf;

/* The state of one Lua plugin in one worker (ym_plugin.lua). */
typedef struct ym_lua {
    lua_State *L;
    ym_plugin *p;
    size_t mem, mem_cap;         /* bytes the state holds, and its cap */
    bool oom;                    /* the allocator refused since the last call began */
    int64_t budget, used;        /* instructions per call from C, and those spent */
    bool over;                   /* budget spent: the hook raises on every instruction */
    bool in_call;                /* Lua runs on behalf of C right now */
    bool may_fail;               /* yimen.fail allowed (top-level chunk, init, start) */
    int def_ref;                 /* the definition table init.lua returned */
    bool answered;               /* the handler's request was answered (and may be freed) */
    sqlite3_stmt *stmt;          /* a statement left mid-step by an error: reset after */
    int auto_writes;             /* writes opened by exec/query on their own, not yet ended */
    ym_lua_route *routes;
    ym_lbuf out;                 /* the response body, reused */
    ym_lbuf tmp;                 /* yimen.json.encode and audit details, reused */
    char helpers[4096];          /* directory of the yimen.* helper modules, or "" */
} ym_lua;

/* Registry keys (their addresses). */
extern const char ym_lua_key_yimen[], ym_lua_key_array[], ym_lua_key_error[], ym_lua_key_req[],
    ym_lua_key_answered[], ym_lua_key_failed[];

static inline ym_lua *ym_lua_of(lua_State *L) { return *(ym_lua **)lua_getextraspace(L); }

/* Builds the yimen module table and the metatables; leaves the module on the stack. */
int ym_lua_open_module(lua_State *L);

/* The request object handed to a handler. */
typedef struct ym_lua_req {
    ym_request *r;               /* NULL once the handler has returned */
} ym_lua_req;
ym_lua_req *ym_lua_push_req(lua_State *L, ym_request *r);
/* The live request at idx (raises when it is not one, or its handler has returned). */
ym_lua_req *ym_lua_check_req(lua_State *L, int idx);
/* The shared services (lua_services.c) into the module table at the top of the stack. */
void ym_lua_open_services(lua_State *L);

/* A structured error raised by yimen.error / yimen.invalid. */
typedef struct ym_lua_error {
    int status;
    char code[48];
    char field[64];
    char message[400];
} ym_lua_error;
/* The yimen.error at idx, or NULL. Never allocates, so it works after any failure. */
ym_lua_error *ym_lua_to_error(lua_State *L, int idx);

/* Lua value at idx -> JSON text appended to b. Never raises and never allocates in Lua
 * (safe after a memory error); 0, or -1 with the reason in err. */
int ym_lua_encode(lua_State *L, int idx, ym_lbuf *b, char *err, size_t errlen);
/* JSON -> Lua value (objects as tables, arrays as yimen.array tables, null as yimen.null). */
void ym_lua_push_json(lua_State *L, json_t *j);

/* Has the value at idx the metatable kept in the registry under key? Never allocates. */
bool ym_lua_has_mt(lua_State *L, int idx, const void *key);
/* Marks the table at the top as a JSON array (yimen.array). */
void ym_lua_set_array_mt(lua_State *L);
/* Is the value at idx a table whose keys are exactly 1..n, n > 0 (a plain Lua sequence)? */
bool ym_lua_is_sequence(lua_State *L, int idx);

void ym_lbuf_put(ym_lbuf *b, const char *s, size_t n);
void ym_lbuf_free(ym_lbuf *b);

/* The route handler every Lua route is registered with (lua_host.c). */
void ym_lua_handle(ym_request *r, void *ud);

#endif
