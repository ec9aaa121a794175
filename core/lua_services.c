/* lua_services: the shared services in the `yimen` Lua module, over the same functions
 * as the C API (plugin_services.c): yimen.job, yimen.subscribe, yimen.emit,
 * yimen.notify, yimen.notify_unit, yimen.push, yimen.todo.*, yimen.search.*,
 * yimen.files.*, yimen.sheets.*, and the engines yimen.items.* and yimen.dispatch.*;
 * and the functions yimen.text.* (UTF-8 aware: Chinese text counted in characters) and
 * yimen.date.* ("YYYY-MM-DD" dates, day numbers, working days of the core calendar).
 * A misuse raises a Lua error naming the function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lauxlib.h>
#include "lua_api.h"
#include "calendar.h"
#include "clock.h"
#include "files.h"
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
 * "storage_busy", "forbidden"; HTTP 400, 404, 409, 409, 503, 403), and for "invalid"
 * the field the reason names ("deadline: expected YYYY-MM-DD" gives "deadline"). */
static int engine_fail(lua_State *L, int64_t rc)
{
    static const char *const codes[] = {"invalid", "not_found", "wrong_state", "lag_reason_required", "storage_busy",
                                        "forbidden"};
    const char *why = ym_lua_of(L)->p->error;
    lua_pushnil(L);
    lua_pushstring(L, why);
    lua_pushstring(L, rc <= -1 && rc >= -6 ? codes[-rc - 1] : "invalid");
    size_t n = strspn(why, "abcdefghijklmnopqrstuvwxyz_");
    if ((rc == YM_E_INVALID || rc < -6 || rc > -1) && n > 0 && n <= 64 && why[n] == ':' && why[n + 1] == ' ') {
        lua_pushlstring(L, why, n);
        return 4;
    }
    return 3;
}

/* yimen.items.create(by_user, spec) -> id, or nil, reason, code [, field] */
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

/* yimen.items.act(id, action, by_user [, args]) -> the id it made or 0; or nil, reason, code [, field].
 * action as for item_act in yimen.h, "update" and "withdraw" included. */
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

/* ---------- yimen.text: UTF-8 text counted in characters ---------- */

/* The string at i, which must be valid UTF-8. */
static const char *check_utf8(lua_State *L, int i, size_t *n, const char *fn)
{
    const char *s = luaL_checklstring(L, i, n);
    if (!ym_files_utf8_ok(s, *n))
        luaL_error(L, "%s: argument %d is not valid UTF-8", fn, i);
    return s;
}

static size_t char_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

/* yimen.text.len(s) -> characters, or nil when s is not a string of valid UTF-8 */
static int l_text_len(lua_State *L)
{
    size_t n, chars = 0;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    if (!s || !ym_files_utf8_ok(s, n)) {
        lua_pushnil(L);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    lua_pushinteger(L, (lua_Integer)chars);
    return 1;
}

/* yimen.text.truncate(s, n [, mark = "…"]) -> s when it has at most n characters, else
 * its first characters and mark, n characters in all (a character is never cut). */
static int l_text_truncate(lua_State *L)
{
    size_t n, mlen;
    const char *s = check_utf8(L, 1, &n, "yimen.text.truncate");
    lua_Integer max = luaL_checkinteger(L, 2);
    const char *mark = luaL_optlstring(L, 3, "\u2026", &mlen);
    luaL_argcheck(L, max >= 0, 2, "a number of characters");
    size_t mchars = 0, i = 0, chars = 0;
    for (size_t k = 0; k < mlen; k++)
        mchars += ((unsigned char)mark[k] & 0xc0) != 0x80;
    while (i < n && chars < (size_t)max) {
        i += char_len((unsigned char)s[i]);
        chars++;
    }
    if (i >= n) { /* it fits */
        lua_settop(L, 1);
        return 1;
    }
    size_t keep = (size_t)max > mchars ? (size_t)max - mchars : 0;
    for (i = 0, chars = 0; chars < keep; chars++)
        i += char_len((unsigned char)s[i]);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, i);
    if ((size_t)max >= mchars)
        luaL_addlstring(&b, mark, mlen);
    luaL_pushresult(&b);
    return 1;
}

/* Is the character at s (len bytes) one of seps (whole UTF-8 characters)? */
static bool is_sep(const char *s, size_t len, const char *seps, size_t nseps)
{
    for (size_t i = 0; i < nseps; i += char_len((unsigned char)seps[i]))
        if (char_len((unsigned char)seps[i]) == len && memcmp(seps + i, s, len) == 0)
            return true;
    return false;
}

#define TEXT_SPACES " \t\r\n\v\f\u3000"   /* ASCII white space and the ideographic space */

static void trimmed(const char *s, size_t n, size_t *from, size_t *to)
{
    static const char sp[] = TEXT_SPACES;
    size_t a = 0, b = n;
    while (a < b && is_sep(s + a, char_len((unsigned char)s[a]), sp, sizeof sp - 1))
        a += char_len((unsigned char)s[a]);
    while (b > a) {
        size_t k = b - 1;
        while (k > a && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
        if (!is_sep(s + k, b - k, sp, sizeof sp - 1))
            break;
        b = k;
    }
    *from = a;
    *to = b;
}

/* yimen.text.trim(s) -> s without white space (also U+3000 全角空格) at either end */
static int l_text_trim(lua_State *L)
{
    size_t n, a, b;
    const char *s = check_utf8(L, 1, &n, "yimen.text.trim");
    trimmed(s, n, &a, &b);
    lua_pushlstring(L, s + a, b - a);
    return 1;
}

/* yimen.text.split(s [, seps = "、，,；;"]) -> a yimen.array of the trimmed, non-empty
 * pieces between any of the characters of seps */
static int l_text_split(lua_State *L)
{
    size_t n, nseps;
    const char *s = check_utf8(L, 1, &n, "yimen.text.split");
    const char *seps = lua_isnoneornil(L, 2) ? "\u3001\uff0c,\uff1b;" : check_utf8(L, 2, &nseps, "yimen.text.split");
    if (lua_isnoneornil(L, 2))
        nseps = strlen(seps);
    lua_newtable(L);
    lua_Integer k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n;) {
        size_t len = i < n ? char_len((unsigned char)s[i]) : 0;
        if (i == n || is_sep(s + i, len, seps, nseps)) {
            size_t a, b;
            trimmed(s + start, i - start, &a, &b);
            if (b > a) {
                lua_pushlstring(L, s + start + a, b - a);
                lua_rawseti(L, -2, ++k);
            }
            if (i == n)
                break;
            start = i + len;
        }
        i += len;
    }
    ym_lua_set_array_mt(L);
    return 1;
}

/* ---------- yimen.date: "YYYY-MM-DD" dates and day numbers (days since 1970-01-01) ---------- */

static int32_t check_day(lua_State *L, int i, const char *fn)
{
    int32_t d;
    if (ym_date_parse(luaL_checkstring(L, i), &d) < 0)
        luaL_error(L, "%s: argument %d must be a date YYYY-MM-DD", fn, i);
    return d;
}

static int push_day(lua_State *L, int64_t d, const char *fn)
{
    char out[11];
    int32_t lo, hi;
    ym_date_parse("1970-01-01", &lo);
    ym_date_parse("2169-12-31", &hi);
    if (d < lo || d > hi)
        return luaL_error(L, "%s: the date falls outside 1970 to 2169", fn);
    ym_date_format((int32_t)d, out);
    lua_pushstring(L, out);
    return 1;
}

/* yimen.date.parse(s) -> the day number of a real date "YYYY-MM-DD" (1970..2169), else nil */
static int l_date_parse(lua_State *L)
{
    int32_t d;
    if (lua_type(L, 1) == LUA_TSTRING && ym_date_parse(lua_tostring(L, 1), &d) == 0)
        lua_pushinteger(L, d);
    else
        lua_pushnil(L);
    return 1;
}

/* yimen.date.valid(s) -> s when it is a real date "YYYY-MM-DD", else nil */
static int l_date_valid(lua_State *L)
{
    int32_t d;
    if (lua_type(L, 1) == LUA_TSTRING && ym_date_parse(lua_tostring(L, 1), &d) == 0)
        lua_settop(L, 1);
    else
        lua_pushnil(L);
    return 1;
}

/* Digits at *p (1..max of them) as a number, or -1. */
static int digits(const char **p, int max)
{
    int v = 0, n = 0;
    while (n < max && **p >= '0' && **p <= '9')
        v = v * 10 + (*(*p)++ - '0'), n++;
    return n ? v : -1;
}

/* Skips one of the separators at *p (whole UTF-8 characters): true when one was there. */
static bool skip_sep(const char **p, const char *const *seps)
{
    for (; *seps; seps++)
        if (strncmp(*p, *seps, strlen(*seps)) == 0) {
            *p += strlen(*seps);
            return true;
        }
    return false;
}

/* yimen.date.read(s) -> "YYYY-MM-DD" from the usual written forms "2026-12-31",
 * "2026/1/5", "2026.1.5", "2026年1月5日" (white space around ignored), or nil */
static int l_date_read(lua_State *L)
{
    static const char *const ysep[] = {"-", "/", ".", "\u5e74", NULL}, *const msep[] = {"-", "/", ".", "\u6708", NULL};
    size_t n, a, b;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    if (!s || n > 64 || !ym_files_utf8_ok(s, n)) {
        lua_pushnil(L);
        return 1;
    }
    trimmed(s, n, &a, &b);
    char buf[72], out[16];
    snprintf(buf, sizeof buf, "%.*s", (int)(b - a), s + a);
    const char *p = buf;
    int y = digits(&p, 4), m = -1, d = -1;
    if (y >= 0 && p - buf == 4 && skip_sep(&p, ysep) && (m = digits(&p, 2)) >= 0 && skip_sep(&p, msep))
        d = digits(&p, 2);
    skip_sep(&p, (const char *const[]){"\u65e5", NULL});
    int32_t day;
    if (d < 0 || *p || snprintf(out, sizeof out, "%04d-%02d-%02d", y, m, d) != 10 || ym_date_parse(out, &day) < 0)
        lua_pushnil(L);
    else
        lua_pushstring(L, out);
    return 1;
}

/* yimen.date.format(day) -> "YYYY-MM-DD" */
static int l_date_format(lua_State *L) { return push_day(L, luaL_checkinteger(L, 1), "yimen.date.format"); }

/* yimen.date.today() -> today in the server's time zone (the test clock moves it) */
static int l_date_today(lua_State *L)
{
    time_t t = (time_t)(ym_now() / 1000);
    struct tm tm;
    char out[16];
    localtime_r(&t, &tm);
    snprintf(out, sizeof out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    lua_pushstring(L, out);
    return 1;
}

/* yimen.date.add_days(date, n) -> the date n days later (n < 0: earlier) */
static int l_date_add_days(lua_State *L)
{
    int32_t d = check_day(L, 1, "yimen.date.add_days");
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > -100000 && n < 100000, 2, "too many days");
    return push_day(L, (int64_t)d + n, "yimen.date.add_days");
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : days[m - 1];
}

/* yimen.date.add_months(date, n) -> the same day n months later, the month's last day
 * when it has fewer days (01-31 + 1 month = 02-28 or 02-29) */
static int l_date_add_months(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    check_day(L, 1, "yimen.date.add_months");
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > -10000 && n < 10000, 2, "too many months");
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    int64_t months = (int64_t)y * 12 + (m - 1) + n;
    y = (int)(months / 12);
    m = (int)(months % 12) + 1;
    if (y < 1970 || y > 2169)
        return luaL_error(L, "yimen.date.add_months: the date falls outside 1970 to 2169");
    char out[11];
    snprintf(out, sizeof out, "%04d-%02d-%02d", y, m, d < month_days(y, m) ? d : month_days(y, m));
    lua_pushstring(L, out);
    return 1;
}

/* yimen.date.days_in_month(year, month) -> 28..31 */
static int l_date_days_in_month(lua_State *L)
{
    lua_Integer y = luaL_checkinteger(L, 1), m = luaL_checkinteger(L, 2);
    luaL_argcheck(L, y >= 1970 && y <= 2169, 1, "a year from 1970 to 2169");
    luaL_argcheck(L, m >= 1 && m <= 12, 2, "a month from 1 to 12");
    lua_pushinteger(L, month_days((int)y, (int)m));
    return 1;
}

/* yimen.date.diff(a, b) -> days from date a to date b (negative when b is earlier) */
static int l_date_diff(lua_State *L)
{
    int32_t a = check_day(L, 1, "yimen.date.diff"), b = check_day(L, 2, "yimen.date.diff");
    lua_pushinteger(L, (lua_Integer)b - a);
    return 1;
}

/* yimen.date.is_working_day and yimen.date.add_working_days are those of yimen.calendar
 * (the core calendar: holidays and 调休), copied from the module table at -1. */
static void date_working_days(lua_State *L)
{
    if (lua_getfield(L, -1, "calendar") == LUA_TTABLE) {
        lua_getfield(L, -2, "date");
        static const char *const names[] = {"is_working_day", "add_working_days", NULL};
        for (const char *const *k = names; *k; k++) {
            lua_getfield(L, -2, *k);
            lua_setfield(L, -2, *k);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
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
    static const luaL_Reg text[] = {{"len", l_text_len}, {"truncate", l_text_truncate}, {"trim", l_text_trim},
                                    {"split", l_text_split}, {NULL, NULL}};
    static const luaL_Reg date[] = {{"parse", l_date_parse}, {"valid", l_date_valid}, {"read", l_date_read},
                                    {"format", l_date_format},
                                    {"today", l_date_today}, {"add_days", l_date_add_days},
                                    {"add_months", l_date_add_months}, {"days_in_month", l_date_days_in_month},
                                    {"diff", l_date_diff}, {NULL, NULL}};
    sub(L, "text", text);
    sub(L, "date", date);
    date_working_days(L);
}
