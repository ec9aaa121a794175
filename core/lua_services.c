/* lua_services: the shared services in the `yimen` Lua module, over the same functions
 * as the C API (plugin_services.c): yimen.job, yimen.subscribe, yimen.emit,
 * yimen.notify, yimen.notify_unit, yimen.push, yimen.todo.*, yimen.search.*,
 * yimen.files.*, yimen.sheets.*, and the engines yimen.items.* and yimen.dispatch.*.
 * A misuse raises a Lua error naming the function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lua_api.h"
#include "lua_host.h"
#include "plugin_services.h"
#include "jobs.h"
#include "totp.h"
#include "log.h"
#include "yimen.h"

/* The table at idx as JSON text (lp->tmp; valid until the next encode). */
static const char *encode(lua_State *L, int idx, const char *fn)
{
    ym_lua *lp = ym_lua_of(L);
    char err[160];
    if (lua_isnoneornil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    lp->tmp.n = 0;
    lp->tmp.oom = false;
    if (ym_lua_encode(L, idx, &lp->tmp, err, sizeof err) < 0)
        luaL_error(L, "%s: %s", fn, err);
    return lp->tmp.p;
}

static int raise_ps(lua_State *L, const char *fn)
{
    return luaL_error(L, "%s: %s", fn, ym_lua_of(L)->p->error);
}

/* Optional string field of the table at idx (nil when absent). */
static const char *opt_field(lua_State *L, int idx, const char *k)
{
    int t = lua_getfield(L, idx, k);
    const char *s = t == LUA_TNIL ? NULL : lua_tostring(L, -1);
    if (t != LUA_TNIL && t != LUA_TSTRING)
        luaL_error(L, "field %s must be a string", k);
    lua_pop(L, 1); /* the string stays alive: it is referenced by the table */
    return s;
}

static lua_Integer opt_int_field(lua_State *L, int idx, const char *k, lua_Integer def)
{
    int t = lua_getfield(L, idx, k);
    int isnum = 0;
    lua_Integer v = t == LUA_TNIL ? def : lua_tointegerx(L, -1, &isnum);
    if (t != LUA_TNIL && !isnum)
        luaL_error(L, "field %s must be an integer", k);
    lua_pop(L, 1);
    return v;
}

/* ---------- registration: jobs and subscribers (only inside init) ---------- */

typedef struct lua_cb {
    ym_plugin *p;
    int ref;
    char name[64];
} lua_cb;

static lua_cb *new_cb(lua_State *L, int fn_idx, const char *name)
{
    lua_cb *c = calloc(1, sizeof *c);
    if (!c)
        luaL_error(L, "out of memory");
    c->p = ym_lua_of(L)->p;
    lua_pushvalue(L, fn_idx);
    c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

static int run_job(void *ud, char *err, size_t errlen)
{
    lua_cb *c = ud;
    return ym_lua_call_ref(c->p, c->ref, c->name, NULL, err, errlen);
}

/* yimen.job(name, schedule, fn): fn(name) runs at the schedule; false or an error is a failure. */
static int l_job(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *name = luaL_checkstring(L, 1), *sched = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    ym_jobs *j = ym_jobs_current();
    char err[256];
    if (!lp->p->in_init)
        return luaL_error(L, "yimen.job: jobs are registered only inside init()");
    if (!j)
        return luaL_error(L, "yimen.job: this process runs no jobs");
    lua_cb *c = new_cb(L, 3, name);
    if (ym_jobs_add(j, name, lp->p->name, sched, run_job, c, free, err, sizeof err) < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
        free(c);
        return luaL_error(L, "yimen.job: %s", err);
    }
    return 0;
}

static int run_sub(void *ud, int64_t event_id, const char *name, const char *source, const char *payload,
                   char *err, size_t errlen)
{
    lua_cb *c = ud;
    return ym_lua_call_ref(c->p, c->ref, name, payload ? payload : "{}", err, errlen);
}

/* yimen.subscribe(pattern, fn): fn(name, payload) after each matching event's commit. */
static int l_subscribe(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *pattern = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!lp->p->in_init)
        return luaL_error(L, "yimen.subscribe: subscriptions are made only inside init()");
    lua_cb *c = new_cb(L, 2, pattern);
    if (ym_ps_subscribe(lp->p, pattern, run_sub, c, free) < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
        free(c);
        return raise_ps(L, "yimen.subscribe");
    }
    return 0;
}

/* ---------- writers ---------- */

/* yimen.emit(name [, payload]) */
static int l_emit(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *name = luaL_checkstring(L, 1), *payload = encode(L, 2, "yimen.emit");
    if (ym_ps_emit(lp->p, name, payload) < 0)
        return raise_ps(L, "yimen.emit");
    return 0;
}

/* {severity, title, body, link, channels = {...}} at idx; names must hold 17 entries. */
static void notice_of(lua_State *L, int idx, ym_notice *n, const char **names)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    n->severity = opt_field(L, idx, "severity");
    n->title = opt_field(L, idx, "title");
    n->body = opt_field(L, idx, "body");
    n->link = opt_field(L, idx, "link");
    if (lua_getfield(L, idx, "channels") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
        if (len > 16)
            luaL_error(L, "at most 16 channels");
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, -1, i);
            names[i - 1] = lua_tostring(L, -1);
            if (!names[i - 1])
                luaL_error(L, "channels must be names");
            lua_pop(L, 1); /* kept alive by the channels table, which the notice table holds */
        }
        names[len] = NULL;
        n->channels = names;
    }
    lua_pop(L, 1);
}

/* yimen.notify(user_id, {severity=, title=, body=, link=, channels=}) -> id */
static int l_notify(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    lua_Integer user = luaL_checkinteger(L, 1);
    ym_notice n = {0};
    const char *names[17];
    notice_of(L, 2, &n, names);
    int64_t id = ym_ps_notify(lp->p, user, &n);
    if (id < 0)
        return raise_ps(L, "yimen.notify");
    lua_pushinteger(L, id);
    return 1;
}

/* yimen.notify_unit(unit_id, {..., subtree = true}) -> how many users */
static int l_notify_unit(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    lua_Integer unit = luaL_checkinteger(L, 1);
    ym_notice n = {0};
    const char *names[17];
    notice_of(L, 2, &n, names);
    lua_getfield(L, 2, "subtree");
    bool subtree = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
    int64_t count = ym_ps_notify_unit(lp->p, unit, subtree, &n);
    if (count < 0)
        return raise_ps(L, "yimen.notify_unit");
    lua_pushinteger(L, count);
    return 1;
}

/* yimen.push(user_id, type, data) -> id */
static int l_push(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    lua_Integer user = luaL_checkinteger(L, 1);
    const char *type = luaL_checkstring(L, 2), *data = encode(L, 3, "yimen.push");
    int64_t id = ym_ps_push(lp->p, user, type, data);
    if (id < 0)
        return raise_ps(L, "yimen.push");
    lua_pushinteger(L, id);
    return 1;
}

/* yimen.todo.put(key, {user_id= | unit_id=, role=, title=, link=, due=ms, kind=}) -> id */
static int l_todo_put(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *key = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    ym_todo t = {.user_id = opt_int_field(L, 2, "user_id", 0), .unit_id = opt_int_field(L, 2, "unit_id", 0),
                 .role_key = opt_field(L, 2, "role"), .title = opt_field(L, 2, "title"),
                 .link = opt_field(L, 2, "link"), .due_ms = opt_int_field(L, 2, "due", 0),
                 .kind = opt_field(L, 2, "kind")};
    int64_t id = ym_ps_todo_put(lp->p, key, &t);
    if (id < 0)
        return raise_ps(L, "yimen.todo.put");
    lua_pushinteger(L, id);
    return 1;
}

static int todo_resolve(lua_State *L, bool prefix)
{
    ym_lua *lp = ym_lua_of(L);
    int n = ym_ps_todo_resolve(lp->p, luaL_checkstring(L, 1), luaL_optinteger(L, 2, 0), prefix);
    if (n < 0)
        return raise_ps(L, prefix ? "yimen.todo.resolve_prefix" : "yimen.todo.resolve");
    lua_pushinteger(L, n);
    return 1;
}

static int l_todo_resolve(lua_State *L) { return todo_resolve(L, false); }
static int l_todo_resolve_prefix(lua_State *L) { return todo_resolve(L, true); }

/* yimen.search.put{kind=, ref=, title=, body=, unit_id=, permission=} */
static int l_search_put(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (ym_ps_search_put(lp->p, opt_field(L, 1, "kind"), opt_field(L, 1, "ref"), opt_field(L, 1, "title"),
                         opt_field(L, 1, "body"), opt_int_field(L, 1, "unit_id", 0), opt_field(L, 1, "permission")) < 0)
        return raise_ps(L, "yimen.search.put");
    return 0;
}

/* yimen.search.remove(kind, ref) -> true when there was one */
static int l_search_remove(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    int rc = ym_ps_search_del(lp->p, luaL_checkstring(L, 1), luaL_checkstring(L, 2));
    if (rc < 0)
        return raise_ps(L, "yimen.search.remove");
    lua_pushboolean(L, rc > 0);
    return 1;
}

/* yimen.files.attach(req, file_id, owner_ref) -> true, or false and the reason */
static int l_files_attach(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    ym_request *r = ym_lua_check_req(L, 1)->r;
    if (ym_ps_file_attach(lp->p, r, luaL_checkinteger(L, 2), luaL_checkstring(L, 3)) < 0) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, lp->p->error);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_files_detach(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    int n = ym_ps_file_detach(lp->p, luaL_checkstring(L, 1));
    if (n < 0)
        return raise_ps(L, "yimen.files.detach");
    lua_pushinteger(L, n);
    return 1;
}

/* ---------- spreadsheets ---------- */

/* yimen.sheets.xlsx(req, filename, {name=, header=, rows=}): answers req with the file;
 * the handler then returns nothing more. */
static int l_sheets_xlsx(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    ym_lua_req *u = ym_lua_check_req(L, 1);
    const char *filename = luaL_checkstring(L, 2), *text = encode(L, 3, "yimen.sheets.xlsx");
    json_t *sheet = text ? json_loads(text, 0, NULL) : NULL;
    if (!sheet)
        return luaL_error(L, "yimen.sheets.xlsx: a sheet table is needed");
    ym_request *r = u->r;
    u->r = NULL; /* answered: never touch it again */
    lp->answered = true;
    int rc = ym_ps_send_xlsx(lp->p, r, filename, sheet);
    json_decref(sheet);
    if (rc < 0)
        ym_log(YM_LOG_ERROR, "yimen.sheets.xlsx failed", "plugin=%s error=%s", lp->p->name, lp->p->error);
    return 0;
}

/* yimen.sheets.rows(bytes) -> {{cell, ...}, ...}, or nil and the reason */
static int l_sheets_rows(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    json_t *rows = ym_ps_xlsx_rows(lp->p, data, len);
    if (!rows) {
        lua_pushnil(L);
        lua_pushstring(L, lp->p->error);
        return 2;
    }
    ym_lua_push_json(L, rows);
    json_decref(rows);
    return 1;
}

/* ---------- the engines ---------- */

/* An engine's refusal is an answer, not a bug: nil, the reason, and the code a route
 * answers with ("invalid", "not_found", "wrong_state", "lag_reason_required",
 * "storage_busy", "forbidden"; HTTP 400, 404, 409, 409, 503, 403). */
static int engine_fail(lua_State *L, int64_t rc)
{
    static const char *const codes[] = {"invalid", "not_found", "wrong_state", "lag_reason_required", "storage_busy",
                                        "forbidden"};
    lua_pushnil(L);
    lua_pushstring(L, ym_lua_of(L)->p->error);
    lua_pushstring(L, rc <= -1 && rc >= -6 ? codes[-rc - 1] : "invalid");
    return 3;
}

/* yimen.items.create(by_user, spec) -> id, or nil, reason, code */
static int l_items_create(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    lua_Integer by = luaL_checkinteger(L, 1);
    const char *spec = encode(L, 2, "yimen.items.create");
    int64_t id = ym_ps_item_create(lp->p, by, spec);
    if (id < 0)
        return engine_fail(L, id);
    lua_pushinteger(L, id);
    return 1;
}

/* yimen.items.act(id, action, by_user [, args]) -> the id it made or 0; or nil, reason, code */
static int l_items_act(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    lua_Integer id = luaL_checkinteger(L, 1), by = luaL_checkinteger(L, 3);
    const char *action = luaL_checkstring(L, 2), *args = encode(L, 4, "yimen.items.act");
    int64_t rc = ym_ps_item_act(lp->p, id, action, by, args);
    if (rc < 0)
        return engine_fail(L, rc);
    lua_pushinteger(L, rc);
    return 1;
}

/* yimen.items.get(id) -> the item as a table, or nil, reason, "not_found" */
static int l_items_get(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    json_t *o = ym_ps_item_get(lp->p, luaL_checkinteger(L, 1));
    if (!o)
        return engine_fail(L, YM_E_NOTFOUND);
    ym_lua_push_json(L, o);
    json_decref(o);
    return 1;
}

/* yimen.dispatch.create(spec) -> id, or nil, reason, code */
static int l_dispatch_create(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    int64_t id = ym_ps_dispatch_create(lp->p, encode(L, 1, "yimen.dispatch.create"));
    if (id < 0)
        return engine_fail(L, id);
    lua_pushinteger(L, id);
    return 1;
}

/* yimen.dispatch.act(id, action, by_user, unit_id [, args]) -> a child id or 0; or nil, reason, code */
static int l_dispatch_act(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    lua_Integer id = luaL_checkinteger(L, 1), by = luaL_checkinteger(L, 3), unit = luaL_optinteger(L, 4, 0);
    const char *action = luaL_checkstring(L, 2), *args = encode(L, 5, "yimen.dispatch.act");
    int64_t rc = ym_ps_dispatch_act(lp->p, id, action, by, unit, args);
    if (rc < 0)
        return engine_fail(L, rc);
    lua_pushinteger(L, rc);
    return 1;
}

/* yimen.dispatch.board(id) -> the board, or nil, reason, "not_found" */
static int l_dispatch_board(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    json_t *o = ym_ps_dispatch_board(lp->p, luaL_checkinteger(L, 1));
    if (!o)
        return engine_fail(L, YM_E_NOTFOUND);
    ym_lua_push_json(L, o);
    json_decref(o);
    return 1;
}

/* yimen.qr_svg(text) -> an SVG document of the QR code */
static int l_qr_svg(lua_State *L)
{
    char *svg = ym_qr_svg(luaL_checkstring(L, 1));
    if (!svg)
        return luaL_error(L, "yimen.qr_svg: the text does not fit a QR code");
    lua_pushstring(L, svg);
    free(svg);
    return 1;
}

static void sub(lua_State *L, const char *name, const luaL_Reg *fns)
{
    lua_newtable(L);
    luaL_setfuncs(L, fns, 0);
    lua_setfield(L, -2, name);
}

void ym_lua_open_services(lua_State *L)
{
    static const luaL_Reg top[] = {{"job", l_job}, {"subscribe", l_subscribe}, {"emit", l_emit},
                                   {"notify", l_notify}, {"notify_unit", l_notify_unit}, {"push", l_push},
                                   {"qr_svg", l_qr_svg}, {NULL, NULL}};
    static const luaL_Reg todo[] = {{"put", l_todo_put}, {"resolve", l_todo_resolve},
                                    {"resolve_prefix", l_todo_resolve_prefix}, {NULL, NULL}};
    static const luaL_Reg search[] = {{"put", l_search_put}, {"remove", l_search_remove}, {NULL, NULL}};
    static const luaL_Reg files[] = {{"attach", l_files_attach}, {"detach", l_files_detach}, {NULL, NULL}};
    static const luaL_Reg sheets[] = {{"xlsx", l_sheets_xlsx}, {"rows", l_sheets_rows}, {NULL, NULL}};
    static const luaL_Reg items[] = {{"create", l_items_create}, {"act", l_items_act}, {"get", l_items_get},
                                     {NULL, NULL}};
    luaL_setfuncs(L, top, 0);
    sub(L, "todo", todo);
    sub(L, "search", search);
    sub(L, "files", files);
    sub(L, "sheets", sheets);
    sub(L, "items", items);
    static const luaL_Reg dispatch[] = {{"create", l_dispatch_create}, {"act", l_dispatch_act},
                                        {"board", l_dispatch_board}, {NULL, NULL}};
    sub(L, "dispatch", dispatch);
}
