/* config_eval: the sandbox yimen.conf runs in. An empty _ENV whose __newindex keeps each
 * assignment, and the line it starts on, in side tables; an allocator with a cap; an
 * instruction hook. What the file assigned then goes to config.c, in line order. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include "config_eval.h"

#define SANDBOX_MEM (4u << 20)   /* a config is a few KiB: the cap only stops bombs */
#define SANDBOX_INSNS 1000000    /* plain data takes a few thousand instructions */
#define HOOK_STEP 1000
#define CHUNK "=conf"            /* short, so Lua never truncates it; replaced by the path */

typedef struct eval_ctx {
    const char *file;            /* as the caller named it, for messages */
    char *err;
    size_t errlen;
    ym_conf_apply_fn apply;
    void *ud;
    size_t mem, mem_cap;
    long insns;
    int cur_line;                /* last line the sandbox ran */
    int rc;
    const char *text;            /* the source, to find where an assignment starts */
    size_t len, *line_off;       /* line_off[i]: first byte of line i+1; NULL if no memory */
    int nlines, prev_store;
} eval_ctx;

static __attribute__((format(printf, 2, 3))) void set_err(eval_ctx *p, const char *fmt, ...)
{
    va_list ap;
    if (!p->err || !p->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    eval_ctx *p = ud;
    size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag, not a size */
    if (nsize == 0) {
        free(ptr);
        p->mem -= old;
        return NULL;
    }
    if (nsize > old && p->mem - old + nsize > p->mem_cap)
        return NULL; /* Lua collects and retries once, then raises LUA_ERRMEM */
    void *np = realloc(ptr, nsize);
    if (np)
        p->mem = p->mem - old + nsize;
    return np;
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    eval_ctx *p = *(eval_ctx **)lua_getextraspace(L);
    if (ar->event == LUA_HOOKLINE) { /* for the memory error, which has no line of its own */
        p->cur_line = ar->currentline;
    } else if ((p->insns += HOOK_STEP) > SANDBOX_INSNS) {
        lua_getinfo(L, "l", ar);
        lua_pushfstring(L, "conf:%d: instruction limit of %d exceeded: the config must be "
                        "plain data", ar->currentline, SANDBOX_INSNS);
        lua_error(L);
    }
}

static bool line_assigns(const char *s, const char *end, const char *name, size_t n)
{
    s += strspn(s, " \t");
    if (s + n > end || memcmp(s, name, n) != 0)
        return false;
    for (s += n; s < end && (*s == ' ' || *s == '\t');)
        s++;
    return s < end && *s == '=' && (s + 1 == end || s[1] != '=');
}

/* Lua gives the line of the store, which for a table spread over lines is its closing
 * brace; the reader wants the line where `name =` starts, between the previous store and
 * this one. Without such a line (`_ENV.x = 1`, two on a line) the store's line stands. */
static int statement_line(eval_ctx *p, const char *name, size_t n, int line)
{
    int lo = p->prev_store > 0 && p->prev_store <= line ? p->prev_store : 1;
    p->prev_store = line;
    for (int l = line; p->line_off && l >= lo && l <= p->nlines; l--) {
        const char *b = p->text + p->line_off[l - 1], *e = memchr(b, '\n', (size_t)(p->text + p->len - b));
        p->insns++; /* charged to the budget, or a loop could make this scan quadratic */
        if (line_assigns(b, e ? e : p->text + p->len, name, n))
            return l;
    }
    return line;
}

/* __newindex of the empty _ENV: keep the value and the line of its assignment. Keeping
 * values elsewhere makes every assignment, even a repeated one, come through here. */
static int env_newindex(lua_State *L)
{
    lua_Debug ar;
    size_t n;
    int line = lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) ? ar.currentline : 0;
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *name = lua_tolstring(L, 2, &n);
        line = statement_line(*(eval_ctx **)lua_getextraspace(L), name, n, line);
    }
    lua_settop(L, 3);
    lua_pushvalue(L, 2);
    lua_pushinteger(L, line);
    lua_rawset(L, lua_upvalueindex(2));
    lua_rawset(L, lua_upvalueindex(1));
    return 0;
}

/* Lua says "conf:7: msg"; the reader wants "<file>:7: msg". */
static void lua_failure(eval_ctx *p, lua_State *L, int status)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error";
    size_t cl = strlen(CHUNK) - 1;
    if (status == LUA_ERRMEM && p->cur_line > 0)
        set_err(p, "%s:%d: memory limit of %u MiB exceeded: the config must be plain data",
                p->file, p->cur_line, SANDBOX_MEM >> 20);
    else if (status == LUA_ERRMEM)
        set_err(p, "%s: memory limit of %u MiB exceeded", p->file, SANDBOX_MEM >> 20);
    else if (!strncmp(msg, &CHUNK[1], cl) && msg[cl] == ':')
        set_err(p, "%s%s", p->file, msg + cl);
    else
        set_err(p, "%s: %s", p->file, msg);
}

static int cmp_line(const void *a, const void *b)
{
    const ym_conf_key *x = a, *y = b;
    return x->line != y->line ? (x->line > y->line) - (x->line < y->line) : strcmp(x->name, y->name);
}

/* The assignments, in line order so that the error reported is the first in the file.
 * The array is a userdata: a Lua error raised by the callback cannot leak it. */
static int hand_over(eval_ctx *p, lua_State *L, int values, int lines)
{
    size_t n = 0, i = 0, len;
    for (lua_pushnil(L); lua_next(L, values); lua_pop(L, 1))
        n++;
    ym_conf_key *keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof *keys, 0);
    for (lua_pushnil(L); lua_next(L, values); lua_pop(L, 1)) {
        lua_pushvalue(L, -2);
        lua_rawget(L, lines);
        int line = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (!name || strlen(name) != len) { /* only reachable through _ENV[...] */
            if (line > 0)
                set_err(p, "%s:%d: _ENV: top-level keys must be names", p->file, line);
            else
                set_err(p, "%s: _ENV: top-level keys must be names", p->file);
            return -1;
        }
        if (i < n)
            keys[i++] = (ym_conf_key){name, line};
    }
    if (i)
        qsort(keys, i, sizeof *keys, cmp_line);
    return p->apply(p->ud, L, values, keys, i);
}

/* Under lua_pcall, so running out of memory anywhere is an error, not a panic.
 * Arguments: the ctx; stack 1 = values, 2 = lines, 3 = the chunk. */
static int sandbox_run(lua_State *L)
{
    eval_ctx *p = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_newtable(L);
    lua_newtable(L);
    int status = luaL_loadbufferx(L, p->text, p->len, CHUNK, "t");
    if (status != LUA_OK) { /* report here: re-raising would turn LUA_ERRMEM into a string */
        lua_failure(p, L, status);
        return p->rc = -1, 0;
    }
    lua_newtable(L); /* _ENV */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "__index"); /* `limits.body = 1` after `limits = {}` works */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, env_newindex, 2);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setupvalue(L, 3, 1);
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT | LUA_MASKLINE, HOOK_STEP);
    lua_call(L, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    p->mem_cap = SIZE_MAX; /* the file ran; checking it must not fail for lack of room */
    p->rc = hand_over(p, L, 1, 2);
    return 0;
}

int ym_conf_eval(const char *text, size_t len, const char *file, char *err, size_t errlen,
                 ym_conf_apply_fn apply, void *ud)
{
    eval_ctx ctx = {.file = file, .err = err, .errlen = errlen, .apply = apply, .ud = ud,
                    .mem_cap = SANDBOX_MEM, .text = text, .len = len}, *p = &ctx;
    int n = 1, status = LUA_ERRMEM;
    for (size_t i = 0; i < p->len; i++)
        n += p->text[i] == '\n';
    if ((p->line_off = malloc((size_t)n * sizeof *p->line_off))) {
        p->line_off[p->nlines++] = 0;
        for (size_t i = 0; i < p->len; i++)
            if (p->text[i] == '\n')
                p->line_off[p->nlines++] = i + 1;
    }
    lua_State *L = lua_newstate(sandbox_alloc, p);
    if (L) {
        *(eval_ctx **)lua_getextraspace(L) = p;
        lua_pushcfunction(L, sandbox_run);
        lua_pushlightuserdata(L, p);
        if ((status = lua_pcall(L, 1, 0, 0)) != LUA_OK)
            lua_failure(p, L, status);
        lua_close(L);
    } else {
        set_err(p, "%s: cannot create a Lua state", p->file);
    }
    free(p->line_off);
    return status != LUA_OK ? -1 : p->rc;
}
