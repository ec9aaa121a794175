/* lua_host: Lua 5.4 plugins: one sandboxed lua_State per plugin per worker (allocator
 * cap, instruction budget, no way out to the OS), its lifecycle, and route dispatch.
 *
 * The Lua plugin contract (lua/hello_lua is the worked example):
 *
 *   -- <plugin_paths>/<name>/init.lua
 *   local yimen = require "yimen"
 *   local M = { name = "<name>", version = "1.0.0", core_min = "0.1", requires = {} }
 *   function M.init()  yimen.permission(...); yimen.route(method, path, perm, fn) end
 *   function M.start() end                -- optional: the worker is about to serve
 *   function M.stop(deadline_ms) end      -- optional: the worker drains
 *   return M
 *
 * init.lua runs once per worker; the table it returns must carry the directory's name
 * and a version; init() registers routes and permissions (only there), reads settings
 * with yimen.setting and refuses bad ones with yimen.fail(reason). A handler
 * fn(req) returns `status, body`: body a table (sent as JSON; yimen.array(t) forces an
 * array, yimen.null is null), a string (sent as JSON text as is), or nothing (204).
 * yimen.error(status, code, message) and yimen.invalid(field, message) answer the
 * DESIGN §5 error JSON; any other error answers 500 "the <name> plugin failed" and logs
 * the Lua message (never to the client). lua_api.c has the rest of the `yimen` module.
 *
 * The sandbox: base (without dofile, loadfile; collectgarbage only "count"; load only
 * of text; setmetatable without __gc, because finalizers run with hooks off), string
 * (without dump), table, math, utf8, coroutine, os.time/clock/date/difftime; require
 * only of the plugin's own modules ("a.b" -> <dir>/a/b.lua) and of "yimen"/"yimen.*".
 * Settings `memory` (bytes or "32MiB"; default 64MiB) caps the state's memory, and
 * `instructions` (default 10 million) each call from C into Lua. Past the budget the
 * count hook raises on every instruction, and pcall, xpcall, coroutine.resume/close
 * re-raise it, so nothing swallows it; the request gets a 500 (503 for memory), the
 * next one a fresh budget. xpcall's handler runs once the error has unwound, and every
 * coroutine body runs under a pcall, because Lua runs code with hooks off after an
 * error raised inside a hook (see co_body). Known gap: one C function call, such as a
 * pathological string.find pattern, runs without counting instructions. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lua_host.h"
#include "lua_api.h"
#include "http.h"
#include "clock.h"
#include "system.h"
#include "log.h"

#define DEFAULT_MEMORY ((size_t)64 << 20)
#define MIN_MEMORY ((size_t)1 << 20)
#define DEFAULT_INSNS 10000000
#define MIN_INSNS 1000
#define HOOK_STEP 1000
#define MAX_SOURCE (4 << 20)
#define MAX_MODULE_NAME 128

static const char key_loaded[] = "loaded";   /* registry: modules already required */
static const char key_budget[] = "budget";   /* registry: the instruction-limit message */

/* ---------- memory and instructions ---------- */

static void *state_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ym_lua *lp = ud;
    size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        lp->mem -= old;
        return NULL;
    }
    if (nsize > old && lp->mem - old + nsize > lp->mem_cap) {
        lp->oom = true; /* Lua collects and retries once, then raises LUA_ERRMEM */
        return NULL;
    }
    void *np = realloc(ptr, nsize);
    if (np)
        lp->mem = lp->mem - old + nsize;
    else
        lp->oom = true;
    return np;
}

/* The instruction-limit message was made at open: raising it allocates nothing. */
static int raise_budget(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key_budget);
    return lua_error(L);
}

/* Every HOOK_STEP instructions of any thread. Past the budget it re-arms itself on
 * every instruction, so a pcall that catches the error fails again at once, up to the
 * C call that began it. A coroutine still armed at 1 from an earlier overrun is put
 * back to HOOK_STEP, and the count it reports is what it really ran. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    ym_lua *lp = ym_lua_of(L);
    int step = lua_gethookcount(L);
    if (!lp->over) {
        if (step != HOOK_STEP)
            lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
        if ((lp->used += step) <= lp->budget)
            return;
        lp->over = true;
    }
    if (step != 1)
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    if (L != lp->L && lua_gethookcount(lp->L) != 1) /* the main thread too, when a coroutine overran */
        lua_sethook(lp->L, count_hook, LUA_MASKCOUNT, 1);
    raise_budget(L);
}

/* Protected calls in the sandbox re-raise an overrun as soon as they return: the hook
 * alone would let a thread that caught another thread's overrun (a coroutine's) run on
 * until its own next count. Each has a continuation, so a yield inside still works. */
static int pcall_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    if (ym_lua_of(L)->over)
        return raise_budget(L);
    if (status == LUA_OK || status == LUA_YIELD)
        return lua_gettop(L); /* true, results */
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2; /* false, error */
}

static int sb_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return pcall_k(L, lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, pcall_k), 0);
}

/* xpcall(f, msgh, ...) calls msgh once f's error has unwound, not at the point of the
 * error as Lua's does: for an error the count hook raises, hooks are off there, and a
 * looping msgh could never be stopped. Without the debug library a handler cannot look
 * at the stack anyway. */
static int xpcall_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    if (ym_lua_of(L)->over)
        return raise_budget(L);
    if (status == LUA_OK || status == LUA_YIELD) {
        lua_pushboolean(L, 1);
        lua_replace(L, 1); /* msgh's slot */
        return lua_gettop(L);
    }
    lua_pcall(L, 1, 1, 0); /* msgh(error), or the error msgh raised */
    if (ym_lua_of(L)->over)
        return raise_budget(L);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    lua_replace(L, 2);
    lua_replace(L, 1); /* msgh, f, args */
    return xpcall_k(L, lua_pcallk(L, n - 2, LUA_MULTRET, 0, 0, xpcall_k), 0);
}

/* coroutine.resume and coroutine.close (the original is upvalue 1). */
static int guard_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    return ym_lua_of(L)->over ? raise_budget(L) : lua_gettop(L);
}

static int sb_guarded(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, guard_k);
    return guard_k(L, LUA_OK, 0);
}

static int co_body_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    if (status != LUA_OK && status != LUA_YIELD)
        return lua_error(L); /* again, from ordinary code: see co_body */
    return lua_gettop(L);
}

/* The body of every coroutine: f under a pcall. An error the count hook raises leaves
 * the thread's hooks off; a coroutine that died of it would then run its <close>
 * handlers with no budget to stop them. A pcall frame in the coroutine turns hooks back
 * on (Lua's precover) before anything else runs. */
static int co_body(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    return co_body_k(L, lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, co_body_k), 0);
}

/* coroutine.create(f) and coroutine.wrap(f) of co_body(f) (the original is upvalue 1). */
static int sb_cocreate(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_pushcclosure(L, co_body, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* ---------- the sandbox ---------- */

static int sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage: only \"count\" is allowed in a plugin");
    lua_pushnumber(L, (lua_Number)ym_lua_of(L)->mem / 1024.0);
    return 1;
}

/* load(chunk [, chunkname [, mode [, env]]]) of text only: mode "b" is refused and any
 * other mode becomes "t", so bytecode (which can break the VM) never loads. */
static int sb_load(lua_State *L)
{
    const char *mode = luaL_optstring(L, 3, "t");
    if (strchr(mode, 'b') && !strchr(mode, 't')) {
        luaL_pushfail(L);
        lua_pushliteral(L, "binary chunks are not allowed in a plugin");
        return 2;
    }
    int n = lua_gettop(L);
    while (lua_gettop(L) < 3)
        lua_pushnil(L);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n > 3 ? n : 3, LUA_MULTRET); /* env stays absent unless given */
    return lua_gettop(L);
}

/* Finalizers run with hooks off (lgc.c), where no budget could stop a loop: refused. */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc is not allowed in a plugin");
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* print goes to the log, not to the worker's stdout. */
static int sb_print(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    ym_log(YM_LOG_INFO, "plugin print", "plugin=%s text=%s", ym_lua_of(L)->p->name, lua_tostring(L, -1));
    return 0;
}

/* os.time() follows the server's clock (the test clock too), like yimen.now(). */
static int sb_os_time(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_pushinteger(L, (lua_Integer)(ym_now() / 1000));
        return 1;
    }
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static char *read_source(const char *path, size_t *len)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size <= MAX_SOURCE && (buf = malloc((size_t)st.st_size + 1)) &&
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)st.st_size : 0;
    return buf;
}

/* Loads path as text under chunkname; leaves the function, or raises. */
static void load_file(lua_State *L, const char *path, const char *chunkname)
{
    size_t len = 0;
    errno = 0;
    char *src = read_source(path, &len);
    if (!src)
        luaL_error(L, "cannot read %s: %s", chunkname + 1, errno ? strerror(errno) : "too large");
    int st = luaL_loadbufferx(L, src, len, chunkname, "t");
    free(src);
    if (st != LUA_OK)
        lua_error(L);
}

/* "a.b" -> "a/b": names of letters, digits and '_' between single dots, so no ".."
 * or absolute path can be spelled. */
static bool module_path(const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n > MAX_MODULE_NAME || n + 1 > len || name[0] == '.' || name[n - 1] == '.')
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        if (c == '.' && name[i + 1] == '.')
            return false;
        if (c && c != '.' && c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
            !(c >= '0' && c <= '9'))
            return false;
        out[i] = c == '.' ? '/' : c;
    }
    return true;
}

/* The file must resolve inside base: a symbolic link may not lead out of it. */
static bool inside(const char *base, const char *path)
{
    char rb[PATH_MAX], rp[PATH_MAX];
    if (!realpath(base, rb) || !realpath(path, rp))
        return false;
    size_t n = strlen(rb);
    return strncmp(rp, rb, n) == 0 && rp[n] == '/';
}

static int sb_require(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, key_loaded);
    if (lua_getfield(L, 2, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    bool helper = strncmp(name, "yimen.", 6) == 0;
    const char *base = helper ? lp->helpers : lp->p->dir;
    char rel[MAX_MODULE_NAME + 1], path[PATH_MAX], chunk[MAX_MODULE_NAME + 48];
    if (!module_path(helper ? name + 6 : name, rel, sizeof rel) || !base[0])
        return luaL_error(L, "module '%s' not found: a plugin requires only \"yimen\", \"yimen.*\" "
                          "and modules of its own folder", name);
    snprintf(path, sizeof path, "%s/%s.lua", base, rel);
    snprintf(chunk, sizeof chunk, "@%s/%s.lua", helper ? "yimen" : lp->p->name, rel);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !inside(base, path))
        return luaL_error(L, "module '%s' not found (no %s)", name, chunk + 1);
    load_file(L, path, chunk);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

/* Replaces global name with f, whose upvalue is the original. */
static void wrap_global(lua_State *L, const char *name, lua_CFunction f)
{
    lua_getglobal(L, name);
    lua_pushcclosure(L, f, 1);
    lua_setglobal(L, name);
}

/* Replaces field name of the table at the top with f, whose upvalue is the original. */
static void wrap_field(lua_State *L, const char *name, lua_CFunction f)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

static void open_os(lua_State *L)
{
    static const char *const keep[] = {"clock", "date", "difftime", NULL};
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_createtable(L, 0, 4);
    for (int i = 0; keep[i]; i++) {
        lua_getfield(L, -2, keep[i]);
        lua_setfield(L, -2, keep[i]);
    }
    lua_getfield(L, -2, "time");
    lua_pushcclosure(L, sb_os_time, 1);
    lua_setfield(L, -2, "time");
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_pop(L, 1);
}

static void open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    open_os(L);
    static const char *const drop[] = {"dofile", "loadfile", "warn", NULL};
    for (int i = 0; drop[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    wrap_global(L, "load", sb_load);
    lua_register(L, "pcall", sb_pcall);
    lua_register(L, "xpcall", sb_xpcall);
    lua_getglobal(L, LUA_COLIBNAME);
    wrap_field(L, "resume", sb_guarded);
    wrap_field(L, "close", sb_guarded);
    wrap_field(L, "create", sb_cocreate);
    wrap_field(L, "wrap", sb_cocreate);
    lua_pop(L, 1);
    wrap_global(L, "setmetatable", sb_setmetatable);
    lua_register(L, "collectgarbage", sb_collectgarbage);
    lua_register(L, "print", sb_print);
    lua_register(L, "require", sb_require);
    lua_newtable(L);
    ym_lua_open_module(L);
    lua_setfield(L, -2, "yimen");
    lua_rawsetp(L, LUA_REGISTRYINDEX, key_loaded);
}

/* ---------- settings and the definition ---------- */

static int read_limits(ym_lua *lp, json_t *settings, char *err, size_t errlen)
{
    json_t *m = json_object_get(settings, "memory"), *i = json_object_get(settings, "instructions");
    size_t v = DEFAULT_MEMORY;
    if (m && !(json_is_integer(m) && json_integer_value(m) > 0 && (v = (size_t)json_integer_value(m))) &&
        !(json_is_string(m) && ym_parse_size(json_string_value(m), &v) == 0)) {
        snprintf(err, errlen, "setting memory: expected bytes or a size like \"32MiB\"");
        return -1;
    }
    if (v < MIN_MEMORY) {
        snprintf(err, errlen, "setting memory: at least 1MiB");
        return -1;
    }
    if (i && (!json_is_integer(i) || json_integer_value(i) < MIN_INSNS)) {
        snprintf(err, errlen, "setting instructions: expected an integer of at least %d", MIN_INSNS);
        return -1;
    }
    lp->mem_cap = v;
    lp->budget = i ? (int64_t)json_integer_value(i) : DEFAULT_INSNS;
    return 0;
}

/* Field k of the definition at idx, which must have type t (or be nil when optional). */
static void def_field(lua_State *L, int idx, const char *k, int t, bool optional)
{
    int got = lua_getfield(L, idx, k);
    if (got != t && !(optional && got == LUA_TNIL))
        luaL_error(L, "init.lua: the definition's %s must be a %s%s, not a %s", k, lua_typename(L, t),
                   optional ? " or nil" : "", luaL_typename(L, -1));
}

static void check_definition(lua_State *L, ym_lua *lp, int d)
{
    ym_plugin *p = lp->p;
    if (lua_type(L, d) != LUA_TTABLE)
        luaL_error(L, "init.lua must return the plugin's definition table, not a %s", luaL_typename(L, d));
    def_field(L, d, "name", LUA_TSTRING, false);
    if (strcmp(lua_tostring(L, -1), p->name) != 0)
        luaL_error(L, "init.lua: the definition names it \"%s\" but its directory is %s", lua_tostring(L, -1), p->name);
    def_field(L, d, "version", LUA_TSTRING, false);
    size_t vlen;
    const char *v = lua_tolstring(L, -1, &vlen);
    if (vlen == 0 || vlen >= sizeof p->version)
        luaL_error(L, "init.lua: the definition's version must have 1 to %d characters", (int)sizeof p->version - 1);
    snprintf(p->version, sizeof p->version, "%s", v);
    def_field(L, d, "core_min", LUA_TSTRING, true);
    if (lua_isstring(L, -1) && ym_version_cmp(lua_tostring(L, -1), YM_VERSION) > 0)
        luaL_error(L, "needs yimen %s or newer; this is %s", lua_tostring(L, -1), YM_VERSION);
    def_field(L, d, "requires", LUA_TTABLE, true);
    for (lua_Integer i = 1; lua_istable(L, -1) && lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "init.lua: requires must list plugin names (strings)");
        if (p->requires)
            json_array_append_new(p->requires, json_string(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    def_field(L, d, "init", LUA_TFUNCTION, false);
    def_field(L, d, "start", LUA_TFUNCTION, true);
    def_field(L, d, "stop", LUA_TFUNCTION, true);
    lua_settop(L, d);
    lp->def_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Protected: the sandbox, then init.lua, then its definition. */
static int open_state(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    char chunk[64];
    open_sandbox(L);
    lua_pushfstring(L, "instruction limit of %I exceeded", (lua_Integer)lp->budget);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key_budget);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP); /* coroutines inherit it */
    snprintf(chunk, sizeof chunk, "@%s/init.lua", lp->p->name);
    load_file(L, lp->p->file, chunk);
    lua_call(L, 0, 1);
    check_definition(L, lp, lua_gettop(L));
    return 0;
}

/* The yimen.* helpers: <bindir>/../lua/yimen (the source and the installed tree), else
 * a yimen/ folder in one of the plugin_paths. */
static void find_helpers(ym_lua *lp)
{
    const ym_config *cfg = lp->p->host ? lp->p->host->cfg : NULL;
    const char *bin = ym_config_bindir();
    struct stat st;
    snprintf(lp->helpers, sizeof lp->helpers, "%s/../lua/yimen", bin ? bin : ".");
    if (stat(lp->helpers, &st) == 0 && S_ISDIR(st.st_mode))
        return;
    for (size_t i = 0; cfg && i < cfg->plugin_paths.n; i++) {
        snprintf(lp->helpers, sizeof lp->helpers, "%s/yimen", cfg->plugin_paths.v[i]);
        if (stat(lp->helpers, &st) == 0 && S_ISDIR(st.st_mode))
            return;
    }
    lp->helpers[0] = '\0';
}

/* ---------- calls from C into Lua ---------- */

static ym_db *host_db(const ym_lua *lp) { return lp->p->host ? lp->p->host->db : NULL; }

static void call_begin(ym_lua *lp)
{
    lp->used = 0;
    lp->over = lp->oom = lp->answered = false;
    lp->in_call = true;
}

/* Whatever the call left behind is undone here, outside Lua: a statement mid-step, a
 * write an error cut short, the hook left firing on every instruction, garbage. */
static void call_end(ym_lua *lp)
{
    lua_settop(lp->L, 0);
    if (lp->stmt)
        sqlite3_reset(lp->stmt);
    lp->stmt = NULL;
    for (; lp->auto_writes > 0; lp->auto_writes--)
        ym_db_write_end(host_db(lp), false);
    if (lp->over || lua_gethookcount(lp->L) != HOOK_STEP)
        lua_sethook(lp->L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
    if (lp->oom)
        lua_gc(lp->L, LUA_GCCOLLECT);
    lp->over = lp->oom = lp->in_call = false;
    if (lp->out.cap > (1u << 20)) /* one big answer should not pin its buffer forever */
        ym_lbuf_free(&lp->out);
}

static bool is_oom(ym_lua *lp, int status, int idx)
{
    if (status == LUA_ERRMEM)
        return true; /* re-raised by a pcall in C, the message is still Lua's own */
    return lp->oom && lua_type(lp->L, idx) == LUA_TSTRING && strcmp(lua_tostring(lp->L, idx), "not enough memory") == 0;
}

/* The error at idx in words, without allocating (lua_tostring of a number would). */
static void error_text(ym_lua *lp, int status, int idx, char *out, size_t len)
{
    lua_State *L = lp->L;
    ym_lua_error *e = ym_lua_to_error(L, idx);
    if (is_oom(lp, status, idx))
        snprintf(out, len, "memory limit of %zu bytes exceeded", lp->mem_cap);
    else if (lua_touserdata(L, idx) == (void *)ym_lua_key_failed)
        snprintf(out, len, "%s", lp->p->reason[0] ? lp->p->reason : "failed");
    else if (e)
        snprintf(out, len, "yimen.error %d %s: %s", e->status, e->code, e->message);
    else if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(out, len, "%s", lua_tostring(L, idx));
    else
        snprintf(out, len, "(error object is a %s value)", lua_typename(L, lua_type(L, idx)));
}

typedef struct field_call {
    const char *field;
    int nargs;
    int64_t arg;
} field_call;

/* Protected: calls definition[field](arg) when the definition has it. */
static int call_field(lua_State *L)
{
    field_call *c = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ym_lua_of(L)->def_ref);
    if (lua_getfield(L, -1, c->field) == LUA_TNIL)
        return 0;
    if (c->nargs)
        lua_pushinteger(L, (lua_Integer)c->arg);
    lua_call(L, c->nargs, 0);
    return 0;
}

/* Runs f(ud) protected with a fresh budget. 0, or -1 with the reason in err. */
static int run(ym_lua *lp, lua_CFunction f, void *ud, char *err, size_t errlen)
{
    lua_State *L = lp->L;
    call_begin(lp);
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    int st = lua_pcall(L, 1, 0, 0);
    if (st != LUA_OK)
        error_text(lp, st, -1, err, errlen);
    call_end(lp);
    return st == LUA_OK ? 0 : -1;
}

/* Protected: registry[ref](name [, payload as a table]); ok unless it returned false. */
typedef struct ref_call {
    int ref;
    const char *name, *payload;
    bool ok;
} ref_call;

static int call_ref(lua_State *L)
{
    ref_call *c = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    lua_pushstring(L, c->name);
    int nargs = 1;
    if (c->payload) {
        json_t *j = json_loads(c->payload, 0, NULL);
        if (j)
            ym_lua_push_json(L, j); /* copies: the JSON is freed right after */
        else
            lua_pushnil(L);
        json_decref(j);
        nargs = 2;
    }
    lua_call(L, nargs, 1);
    c->ok = !(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
    return 0;
}

int ym_lua_call_ref(ym_plugin *p, int ref, const char *name, const char *payload, char *err, size_t errlen)
{
    ym_lua *lp = p->lua;
    if (!lp || lp->in_call) {
        snprintf(err, errlen, "the %s plugin is %s", p->name, lp ? "busy" : "not loaded");
        return -1;
    }
    ref_call c = {ref, name, payload, false};
    if (run(lp, call_ref, &c, err, errlen) < 0)
        return -1;
    if (!c.ok)
        snprintf(err, errlen, "%s returned false", name);
    return c.ok ? 0 : -1;
}

/* ---------- lifecycle ---------- */

/* Every call into Lua is protected, so this means a bug in the host: say whose state. */
static int on_panic(lua_State *L)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)";
    ym_log(YM_LOG_ERROR, "lua panic", "plugin=%s error=%s", ym_lua_of(L)->p->name, msg);
    abort();
}

int ym_lua_open(ym_plugin *p, char *err, size_t errlen)
{
    ym_lua_free(p);
    if (!p->settings && p->host && p->host->cfg)
        p->settings = json_object_get(p->host->cfg->plugin_settings, p->name);
    ym_lua *lp = calloc(1, sizeof *lp);
    if (!lp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lp->p = p;
    lp->def_ref = LUA_NOREF;
    if (read_limits(lp, p->settings, err, errlen) < 0) {
        free(lp);
        return -1;
    }
    find_helpers(lp);
    if (!(lp->L = lua_newstate(state_alloc, lp))) {
        snprintf(err, errlen, "cannot create a Lua state");
        free(lp);
        return -1;
    }
    *(ym_lua **)lua_getextraspace(lp->L) = lp;
    lua_atpanic(lp->L, on_panic);
    p->lua = lp;
    lp->may_fail = true; /* yimen.fail in the top-level chunk refuses bad settings early */
    int rc = run(lp, open_state, NULL, err, errlen);
    lp->may_fail = false;
    if (rc < 0)
        ym_lua_free(p);
    return rc;
}

int ym_lua_init(ym_plugin *p, char *err, size_t errlen)
{
    ym_lua *lp = p->lua;
    if (!lp) {
        snprintf(err, errlen, "the Lua state is not open");
        return -1;
    }
    field_call c = {"init", 0, 0};
    lp->may_fail = true;
    int rc = run(lp, call_field, &c, err, errlen);
    lp->may_fail = false;
    if (rc == 0 && p->state == YM_PLUGIN_FAILED) {
        snprintf(err, errlen, "%s", p->reason);
        rc = -1;
    }
    return rc;
}

int ym_lua_start(ym_plugin *p)
{
    ym_lua *lp = p->lua;
    char err[256];
    if (!lp)
        return -1;
    field_call c = {"start", 0, 0};
    lp->may_fail = true;
    int rc = run(lp, call_field, &c, err, sizeof err);
    lp->may_fail = false;
    if (rc < 0)
        ym_plugin_fail(p, err);
    return rc < 0 || p->state == YM_PLUGIN_FAILED ? -1 : 0;
}

void ym_lua_stop(ym_plugin *p, int64_t deadline_ms)
{
    ym_lua *lp = p->lua;
    char err[256];
    field_call c = {"stop", 1, deadline_ms};
    if (lp && run(lp, call_field, &c, err, sizeof err) < 0)
        ym_log(YM_LOG_ERROR, "plugin stop failed", "plugin=%s error=%s", p->name, err);
}

void ym_lua_free(ym_plugin *p)
{
    ym_lua *lp = p->lua;
    if (!lp)
        return;
    if (lp->L)
        lua_close(lp->L); /* no plugin code runs here: plugins cannot set __gc */
    for (ym_lua_route *rt = lp->routes, *next; rt; rt = next) {
        next = rt->next;
        free(rt);
    }
    ym_lbuf_free(&lp->out);
    ym_lbuf_free(&lp->tmp);
    free(lp);
    p->lua = NULL;
}

/* ---------- requests ---------- */

typedef struct handler_call {
    ym_lua_route *rt;
    ym_request *r;
    int status;                  /* of the handler itself, before a re-raise changed it */
} handler_call;

/* status, body -> the response. Raises on a bad status or a body JSON cannot hold. */
static void respond(lua_State *L, ym_lua *lp, ym_request *r, int base)
{
    char err[160];
    if (lp->answered) /* req:json() answered 400/415 and the handler caught the error */
        return;
    int bt = lua_type(L, base + 1);
    lua_Integer status = 204;
    const char *ctype = "application/json", *body = "{}";
    size_t len = 2;
    if (lua_type(L, base) != LUA_TNIL || bt != LUA_TNIL) {
        if (!lua_isinteger(L, base))
            luaL_error(L, "the handler must return an HTTP status (an integer) and a body, not a %s",
                       luaL_typename(L, base));
        if ((status = lua_tointeger(L, base)) < 200 || status > 599)
            luaL_error(L, "the handler returned status %I; a status is 200 to 599", status);
    }
    if (status == 204 || status == 304) {
        ctype = NULL, body = "", len = 0;
    } else if (bt == LUA_TSTRING) {
        body = lua_tolstring(L, base + 1, &len); /* JSON text as the handler wrote it */
    } else if (bt != LUA_TNIL) {
        lp->out.n = 0;
        lp->out.oom = false;
        if (ym_lua_encode(L, base + 1, &lp->out, err, sizeof err) < 0)
            luaL_error(L, "the handler's body cannot be JSON: %s", err);
        body = lp->out.p, len = lp->out.n;
    }
    lp->answered = true;
    ym_resp_send(r, (int)status, ctype, body, len, NULL);
}

/* Protected: the request object, the handler (under its own pcall, so the object is
 * disowned however the handler ends), then the response. */
static int run_handler(lua_State *L)
{
    handler_call *h = lua_touserdata(L, 1);
    ym_lua_req *u = ym_lua_push_req(L, h->r);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->rt->ref);
    lua_pushvalue(L, 2);
    h->status = lua_pcall(L, 1, 2, 0);
    u->r = NULL;
    if (h->status != LUA_OK)
        return lua_error(L);
    respond(L, h->rt->lp, h->r, 3);
    return 0;
}

static void answer_failure(ym_lua *lp, ym_request *r, const char *route, int status)
{
    lua_State *L = lp->L;
    ym_plugin *p = lp->p;
    char text[512];
    ym_lua_error *e = ym_lua_to_error(L, -1);
    error_text(lp, status, -1, text, sizeof text);
    if (lp->answered) { /* r may be freed: log without it */
        if (lua_touserdata(L, -1) != (void *)ym_lua_key_answered) /* an error after the answer */
            ym_log(YM_LOG_ERROR, "lua handler failed after answering", "plugin=%s route=%s error=%s", p->name,
                   route, text);
    } else if (lp->over) {
        ym_log(YM_LOG_ERROR, "lua handler stopped", "plugin=%s route=%s error=%s", p->name, route, text);
        ym_resp_error(r, 500, "internal", "the %s plugin failed", p->name);
    } else if (is_oom(lp, status, -1)) {
        ym_log(YM_LOG_ERROR, "lua handler stopped", "plugin=%s route=%s error=%s", p->name, route, text);
        ym_resp_error(r, 503, "out_of_memory", "the plugin ran out of memory");
    } else if (e && strcmp(e->code, "invalid") == 0 && e->status == 400) {
        ym_resp_invalid(r, e->field, "%s", e->message);
    } else if (e) {
        ym_resp_error(r, e->status, e->code, "%s", e->message);
    } else {
        ym_log(YM_LOG_ERROR, "lua handler failed", "plugin=%s route=%s error=%s", p->name, route, text);
        ym_resp_error(r, 500, "internal", "the %s plugin failed", p->name);
    }
}

void ym_lua_handle(ym_request *r, void *ud)
{
    ym_lua_route *rt = ud;
    ym_lua *lp = rt->lp;
    lua_State *L = lp->L;
    if (lp->in_call) { /* nothing calls back into a plugin mid-call today; never reenter */
        ym_resp_error(r, 503, "busy", "the %s plugin is busy", lp->p->name);
        return;
    }
    handler_call h = {rt, r, LUA_OK};
    const char *route = r->route; /* the router's: outlives r, which answering may free */
    call_begin(lp);
    lua_pushcfunction(L, run_handler);
    lua_pushlightuserdata(L, &h);
    int st = lua_pcall(L, 1, 0, 0);
    if (st != LUA_OK)
        answer_failure(lp, r, route, h.status != LUA_OK ? h.status : st);
    call_end(lp);
}
