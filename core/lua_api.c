/* lua_api: the `yimen` module a Lua plugin requires: the services of ym_api (routes,
 * settings, log, the request, storage, audit, yimen.json) over the same core calls. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lua_api.h"
#include "calendar.h"
#include "http.h"
#include "json.h"
#include "auth.h"
#include "clock.h"
#include "system.h"
#include "log.h"

#define MAX_DECODE_DEPTH 128
#define SQL_IN_ERRORS 160        /* how much of a statement an error message quotes */

const char ym_lua_key_yimen[] = "yimen", ym_lua_key_array[] = "array", ym_lua_key_error[] = "error",
           ym_lua_key_req[] = "request", ym_lua_key_answered[] = "answered", ym_lua_key_failed[] = "failed";
static const char key_box[] = "box";

/* A parsed document owned by a userdata, so a memory error while it becomes Lua
 * values cannot leak it: the collector frees what the error interrupted. */
static json_t **push_box(lua_State *L)
{
    json_t **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key_box);
    lua_setmetatable(L, -2);
    return box;
}

static int box_gc(lua_State *L)
{
    json_t **box = lua_touserdata(L, 1);
    json_decref(*box);
    *box = NULL;
    return 0;
}

/* Replaces the box at the top with the Lua value of its document. */
static void unbox(lua_State *L, json_t **box)
{
    ym_lua_push_json(L, *box);
    json_decref(*box);
    *box = NULL;
    lua_remove(L, -2);
}

static int l_json_encode(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    char err[160];
    luaL_checkany(L, 1);
    lp->tmp.n = 0;
    lp->tmp.oom = false;
    if (ym_lua_encode(L, 1, &lp->tmp, err, sizeof err) < 0)
        return luaL_error(L, "yimen.json.encode: %s", err);
    lua_pushlstring(L, lp->tmp.p, lp->tmp.n);
    return 1;
}

static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char err[256];
    json_t **box = push_box(L);
    if (!(*box = ym_json_parse(s, n, MAX_DECODE_DEPTH, err, sizeof err))) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    unbox(L, box);
    return 1;
}

/* ---------- errors ---------- */

ym_lua_error *ym_lua_to_error(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TUSERDATA && ym_lua_has_mt(L, idx, ym_lua_key_error) ? lua_touserdata(L, idx) : NULL;
}

static int raise_error(lua_State *L, int status, const char *code, const char *field, const char *msg)
{
    ym_lua_error *e = lua_newuserdatauv(L, sizeof *e, 0);
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    snprintf(e->message, sizeof e->message, "%s", msg);
    lua_rawgetp(L, LUA_REGISTRYINDEX, ym_lua_key_error);
    lua_setmetatable(L, -2);
    return lua_error(L);
}

/* yimen.error(status, code [, message]) */
static int l_error(lua_State *L)
{
    lua_Integer status = luaL_checkinteger(L, 1);
    const char *code = luaL_checkstring(L, 2);
    luaL_argcheck(L, status >= 400 && status <= 599, 1, "an error status is 400 to 599");
    return raise_error(L, (int)status, code, NULL, luaL_optstring(L, 3, code));
}

/* yimen.invalid(field, message) */
static int l_invalid(lua_State *L)
{
    const char *field = luaL_checkstring(L, 1);
    return raise_error(L, 400, "invalid", field, luaL_optstring(L, 2, "invalid"));
}

/* Lua code that catches one reads e.status, e.code, e.field, e.message. */
static int error_index(lua_State *L)
{
    ym_lua_error *e = lua_touserdata(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "status") == 0)
        lua_pushinteger(L, e->status);
    else if (strcmp(k, "code") == 0 || strcmp(k, "field") == 0 || strcmp(k, "message") == 0)
        lua_pushstring(L, k[0] == 'c' ? e->code : k[0] == 'f' ? e->field : e->message);
    else
        lua_pushnil(L);
    return 1;
}

static int error_tostring(lua_State *L)
{
    ym_lua_error *e = lua_touserdata(L, 1);
    lua_pushfstring(L, "yimen.error %d %s: %s", e->status, e->code, e->message);
    return 1;
}

/* ---------- registration, settings, services ---------- */

static int l_route(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2), *perm = luaL_checkstring(L, 3);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    if (!lp->p->in_init)
        return luaL_error(L, "yimen.route: routes are registered only inside init()");
    lua_pushvalue(L, 4);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    ym_lua_route *rt = calloc(1, sizeof *rt);
    if (rt)
        *rt = (ym_lua_route){lp, ref, lp->routes};
    if (!rt || ym_plugin_add_route(lp->p, method, path, perm, ym_lua_handle, rt) < 0) {
        free(rt);
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "yimen.route %s %s refused: %s", method, path,
                          lp->p->reason[0] ? lp->p->reason : "out of memory");
    }
    lp->routes = rt;
    return 0;
}

static int l_permission(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *name = luaL_checkstring(L, 1);
    if (!lp->p->in_init)
        return luaL_error(L, "yimen.permission: permissions are declared only inside init()");
    if (ym_plugin_add_permission(lp->p, name, luaL_optstring(L, 2, ""), luaL_optstring(L, 3, "")) < 0)
        return luaL_error(L, "yimen.permission %s refused: %s", name, lp->p->reason);
    return 0;
}

/* yimen.setting(key [, default]): the plugin's table in yimen.conf. */
static int l_setting(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    json_t *v = json_object_get(lp->p->settings, luaL_checkstring(L, 1));
    if (!v) {
        lua_settop(L, 2);
        return 1;
    }
    ym_lua_push_json(L, v); /* borrowed from the config: nothing to leak */
    return 1;
}

/* yimen.setting_keys(): every key present, so a plugin can refuse unknown ones. */
static int l_setting_keys(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *k;
    json_t *v;
    lua_Integer i = 0;
    lua_newtable(L);
    if (json_is_object(lp->p->settings))
        json_object_foreach(lp->p->settings, k, v) {
            lua_pushstring(L, k);
            lua_rawseti(L, -2, ++i);
        }
    ym_lua_set_array_mt(L);
    return 1;
}

static int l_fail(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    const char *reason = luaL_checkstring(L, 1);
    if (!lp->may_fail)
        return luaL_error(L, "yimen.fail: only in init() or start(); a handler answers with yimen.error");
    ym_plugin_fail(lp->p, reason);
    lua_pushlightuserdata(L, (void *)ym_lua_key_failed); /* unwinds init(); the reason is the plugin's */
    return lua_error(L);
}

static int l_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int level = luaL_checkoption(L, 1, NULL, levels);
    const char *msg = luaL_tolstring(L, 2, NULL);
    ym_log((ym_log_level)level, msg, "plugin=%s", ym_lua_of(L)->p->name);
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)ym_now());
    return 1;
}

/* yimen.time_format(ms): RFC 3339 in the server's timezone, as the API writes times. */
static int l_time_format(lua_State *L)
{
    char buf[48];
    size_t n = ym_time_format((int64_t)luaL_checkinteger(L, 1), buf, sizeof buf);
    lua_pushlstring(L, buf, n < sizeof buf ? n : strlen(buf));
    return 1;
}

static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    ym_lua_set_array_mt(L);
    return 1;
}

/* yimen.is_array(v): an array decoded from JSON or made by yimen.array (empty too), or a
 * plain Lua sequence {a, b, c} (keys exactly 1..n, n > 0): what yimen.json.encode writes
 * as a JSON array. An empty plain table is not one (it encodes as {}). */
static int l_is_array(lua_State *L)
{
    lua_pushboolean(L, lua_type(L, 1) == LUA_TTABLE &&
                           (ym_lua_has_mt(L, 1, ym_lua_key_array) || ym_lua_is_sequence(L, 1)));
    return 1;
}

/* ---------- the request ---------- */

static ym_lua_req *check_req_ud(lua_State *L, int idx)
{
    ym_lua_req *u = lua_touserdata(L, idx);
    if (!u || !ym_lua_has_mt(L, idx, ym_lua_key_req))
        luaL_typeerror(L, idx, "request");
    if (!u->r)
        luaL_error(L, "this request is over: a req is valid only while its handler runs");
    return u;
}

static ym_request *check_req(lua_State *L, int idx) { return check_req_ud(L, idx)->r; }

ym_lua_req *ym_lua_check_req(lua_State *L, int idx) { return check_req_ud(L, idx); }

ym_lua_req *ym_lua_push_req(lua_State *L, ym_request *r)
{
    ym_lua_req *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->r = r;
    lua_rawgetp(L, LUA_REGISTRYINDEX, ym_lua_key_req);
    lua_setmetatable(L, -2);
    return u;
}

static void push_opt(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

static int req_param(lua_State *L)
{
    ym_request *r = check_req(L, 1);
    push_opt(L, ym_req_param(r, luaL_checkstring(L, 2)));
    return 1;
}

static int req_query(lua_State *L)
{
    ym_request *r = check_req(L, 1);
    char *v = ym_req_query(r, luaL_checkstring(L, 2));
    const char *kept = v ? ym_req_keep(r, v) : NULL; /* in the request's arena: an error cannot leak it */
    free(v);
    push_opt(L, kept);
    return 1;
}

static int req_header(lua_State *L)
{
    ym_request *r = check_req(L, 1);
    push_opt(L, ym_req_header(r, luaL_checkstring(L, 2)));
    return 1;
}

static int req_body(lua_State *L)
{
    ym_request *r = check_req(L, 1);
    lua_pushlstring(L, r->body ? r->body : "", r->body_len);
    return 1;
}

/* The decoded body; on a wrong Content-Type or bad JSON the request is answered (415 or
 * 400 bad_json) and a sentinel error unwinds the handler. */
static int req_json(lua_State *L)
{
    ym_lua_req *u = check_req_ud(L, 1);
    json_t **box = push_box(L);
    if (!(*box = ym_req_json(u->r))) {
        u->r = NULL; /* answered: the request may be freed already, never touch it again */
        ym_lua_of(L)->answered = true;
        lua_pushlightuserdata(L, (void *)ym_lua_key_answered);
        return lua_error(L);
    }
    unbox(L, box);
    return 1;
}

static int req_may(lua_State *L)
{
    ym_request *r = check_req(L, 1);
    const char *perm = luaL_checkstring(L, 2);
    int64_t unit = (int64_t)luaL_optinteger(L, 3, 0);
    int rc = r->who ? ym_may(ym_server_db(ym_req_server(r)), r->who, perm, unit) : 0;
    if (rc < 0)
        return luaL_error(L, "req:may: the permission check failed");
    lua_pushboolean(L, rc == 1);
    return 1;
}

/* req.method, req.path, req.user_id, req.unit_id, req.username, req.id, or a method. */
static int req_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    ym_request *r = check_req(L, 1);
    const char *k = lua_tostring(L, 2);
    const struct ym_principal *w = r->who;
    if (!k)
        lua_pushnil(L);
    else if (strcmp(k, "method") == 0)
        lua_pushstring(L, r->method_name);
    else if (strcmp(k, "path") == 0)
        lua_pushstring(L, r->path);
    else if (strcmp(k, "user_id") == 0)
        lua_pushinteger(L, w ? w->user_id : 0);
    else if (strcmp(k, "unit_id") == 0)
        lua_pushinteger(L, w ? w->unit_id : 0);
    else if (strcmp(k, "username") == 0)
        lua_pushstring(L, w ? w->username : "");
    else if (strcmp(k, "id") == 0)
        lua_pushstring(L, r->id);
    else
        lua_pushnil(L);
    return 1;
}

/* ---------- storage ---------- */

static ym_db *plugin_db(lua_State *L, ym_lua *lp)
{
    ym_db *db = lp->p->host ? lp->p->host->db : NULL;
    if (!db)
        luaL_error(L, "yimen.db: no database here");
    return db;
}

/* The first keyword, past blanks and comments. */
static const char *first_word(const char *s)
{
    for (;;) {
        s += strspn(s, " \t\r\n\f");
        if (s[0] == '-' && s[1] == '-')
            s += strcspn(s, "\n");
        else if (s[0] == '/' && s[1] == '*' && strstr(s + 2, "*/"))
            s = strstr(s + 2, "*/") + 2;
        else
            return s;
    }
}

/* Transactions are the host's (group commit with a savepoint per request): a plugin's
 * COMMIT would end everyone's batch. yimen.db.write is the way to group writes. */
static bool transaction_sql(const char *sql)
{
    static const char *const words[] = {"begin", "commit", "end", "rollback", "savepoint", "release", NULL};
    const char *s = first_word(sql);
    for (int i = 0; words[i]; i++) {
        size_t n = strlen(words[i]);
        if (strncasecmp(s, words[i], n) == 0 && !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                                                  s[n] == '_' || (s[n] >= '0' && s[n] <= '9')))
            return true;
    }
    return false;
}

static void bind_one(lua_State *L, sqlite3_stmt *st, int i, int idx, const char *fn)
{
    int rc;
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: rc = sqlite3_bind_null(st, i); break;
    case LUA_TBOOLEAN: rc = sqlite3_bind_int(st, i, lua_toboolean(L, idx)); break;
    case LUA_TNUMBER:
        rc = lua_isinteger(L, idx) ? sqlite3_bind_int64(st, i, lua_tointeger(L, idx))
                                   : sqlite3_bind_double(st, i, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        rc = sqlite3_bind_text64(st, i, s, n, SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) {
            rc = sqlite3_bind_null(st, i);
            break;
        }
        /* fall through */
    default:
        luaL_error(L, "yimen.db.%s: parameter %d: cannot bind a %s", fn, i, luaL_typename(L, idx));
        return;
    }
    if (rc != SQLITE_OK)
        luaL_error(L, "yimen.db.%s: parameter %d: %s", fn, i, sqlite3_errstr(rc));
}

/* Raises "yimen.db.<fn>: <msg> (SQL: <the start of it>)"; lua_pushfstring has no %.*s. */
static void db_error(lua_State *L, const char *fn, const char *msg, const char *sql)
{
    char buf[512];
    snprintf(buf, sizeof buf, "yimen.db.%s: %s (SQL: %.*s)", fn, msg ? msg : "error", SQL_IN_ERRORS, sql);
    lua_pushstring(L, buf);
    lua_error(L);
}

/* Prepares arg 1 for the plugin (its authorizer applies) and binds args 2..n by position. */
static sqlite3_stmt *prepare(lua_State *L, ym_lua *lp, ym_db *db, const char *fn)
{
    const char *sql = luaL_checkstring(L, 1);
    if (transaction_sql(sql))
        luaL_error(L, "yimen.db.%s: transactions are the host's; group writes with yimen.db.write", fn);
    sqlite3_stmt *st = ym_db_prepare(db, lp->p->name, sql);
    if (!st)
        db_error(L, fn, ym_db_errmsg(db), sql);
    int want = sqlite3_bind_parameter_count(st), have = lua_gettop(L) - 1;
    if (want != have) {
        char msg[96];
        snprintf(msg, sizeof msg, "the statement takes %d parameters, not %d", want, have);
        db_error(L, fn, msg, sql);
    }
    for (int i = 1; i <= have; i++)
        bind_one(L, st, i, i + 1, fn);
    return st;
}

/* A write outside yimen.db.write gets a write of its own, so it joins the group commit
 * and the response waits for it. call_end closes it if an error cuts in. */
static bool auto_begin(lua_State *L, ym_lua *lp, ym_db *db, sqlite3_stmt *st)
{
    if (sqlite3_stmt_readonly(st) || ym_db_in_write(db))
        return false;
    if (ym_db_write_begin(db) < 0)
        luaL_error(L, "yimen.db: cannot begin a write: %s", ym_db_errmsg(db));
    lp->auto_writes++;
    return true;
}

static void auto_end(lua_State *L, ym_lua *lp, ym_db *db, bool ok)
{
    lp->auto_writes--;
    if (ym_db_write_end(db, ok) < 0 && ok)
        luaL_error(L, "yimen.db: the write failed: %s", ym_db_errmsg(db));
}

static void push_column(lua_State *L, sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: lua_pushinteger(L, sqlite3_column_int64(st, c)); break;
    case SQLITE_FLOAT: lua_pushnumber(L, sqlite3_column_double(st, c)); break;
    case SQLITE_NULL: lua_pushlightuserdata(L, NULL); break; /* yimen.null: the key stays */
    default: lua_pushlstring(L, (const char *)sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c));
    }
}

/* yimen.db.query(sql, ...) -> an array of rows, each a table by column name. Steps go
 * through ym_db_step, so a statement SQLite re-prepares is judged for this plugin again. */
static int l_db_query(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    ym_db *db = plugin_db(L, lp);
    sqlite3_stmt *st = prepare(L, lp, db, "query");
    bool own = auto_begin(L, lp, db, st);
    int ncol = sqlite3_column_count(st), rc;
    lua_settop(L, 0);
    luaL_checkstack(L, ncol + 4, "too many columns");
    for (int c = 0; c < ncol; c++)
        lua_pushstring(L, sqlite3_column_name(st, c)); /* once, not per row */
    lua_newtable(L);
    ym_lua_set_array_mt(L); /* no rows is [] */
    lp->stmt = st;
    for (lua_Integer n = 1; (rc = ym_db_step(db, st)) == SQLITE_ROW; n++) {
        lua_createtable(L, 0, ncol);
        for (int c = 0; c < ncol; c++) {
            lua_pushvalue(L, c + 1);
            push_column(L, st, c);
            lua_rawset(L, -3);
        }
        lua_rawseti(L, -2, n);
    }
    sqlite3_reset(st);
    lp->stmt = NULL;
    if (rc != SQLITE_DONE) {
        if (own)
            auto_end(L, lp, db, false);
        db_error(L, "query", ym_db_errmsg(db), sqlite3_sql(st));
    }
    if (own)
        auto_end(L, lp, db, true);
    return 1;
}

/* yimen.db.exec(sql, ...) -> changes, last_insert_id */
static int l_db_exec(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    ym_db *db = plugin_db(L, lp);
    sqlite3_stmt *st = prepare(L, lp, db, "exec");
    bool own = auto_begin(L, lp, db, st);
    int rc;
    while ((rc = ym_db_step(db, st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        if (own)
            auto_end(L, lp, db, false);
        db_error(L, "exec", ym_db_errmsg(db), sqlite3_sql(st));
    }
    sqlite3 *h = ym_db_handle(db);
    lua_Integer changes = sqlite3_changes(h), id = sqlite3_last_insert_rowid(h);
    if (own)
        auto_end(L, lp, db, true);
    lua_pushinteger(L, changes);
    lua_pushinteger(L, id);
    return 2;
}

/* yimen.db.write(fn, ...): fn's writes in one savepoint of the group commit; an error
 * in fn rolls them back and is raised again. Returns what fn returns. */
static int l_db_write(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    ym_db *db = plugin_db(L, lp);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    if (ym_db_write_begin(db) < 0)
        return luaL_error(L, "yimen.db.write: cannot begin: %s", ym_db_errmsg(db));
    int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    int rc = ym_db_write_end(db, st == LUA_OK);
    if (st != LUA_OK)
        return lua_error(L);
    if (rc < 0)
        return luaL_error(L, "yimen.db.write: the write failed: %s", ym_db_errmsg(db));
    return lua_gettop(L);
}

/* yimen.audit(req, action, target, result, detail): action "<plugin>.<...>", so a plugin
 * cannot write rows that look like the core's or another plugin's. */
static int l_audit(lua_State *L)
{
    ym_lua *lp = ym_lua_of(L);
    ym_request *r = check_req(L, 1);
    const char *action = luaL_checkstring(L, 2), *target = luaL_optstring(L, 3, "");
    const char *result = luaL_optstring(L, 4, "ok");
    size_t n = strlen(lp->p->name);
    char err[160];
    if (strncmp(action, lp->p->name, n) != 0 || action[n] != '.' || !action[n + 1])
        return luaL_error(L, "yimen.audit: the action must be named %s.<what>", lp->p->name);
    json_t *detail = NULL;
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        lp->tmp.n = 0;
        lp->tmp.oom = false;
        if (ym_lua_encode(L, 5, &lp->tmp, err, sizeof err) < 0)
            return luaL_error(L, "yimen.audit: detail: %s", err);
        if (!(detail = json_loadb(lp->tmp.p, lp->tmp.n, 0, NULL)) || !json_is_object(detail)) {
            json_decref(detail);
            return luaL_error(L, "yimen.audit: detail must be a table of named values");
        }
    }
    int rc = ym_audit_req(r, action, target, result, detail); /* no Lua between load and decref */
    json_decref(detail);
    if (rc < 0)
        return luaL_error(L, "yimen.audit: the audit row could not be written");
    return 0;
}

/* ---------- the module ---------- */

/* A metatable kept in the registry under key; __metatable hides it from the plugin. */
static void new_mt(lua_State *L, const void *key, const luaL_Reg *fns)
{
    lua_newtable(L);
    luaL_setfuncs(L, fns, 0);
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

static void open_metatables(lua_State *L)
{
    static const luaL_Reg none[] = {{NULL, NULL}};
    static const luaL_Reg box[] = {{"__gc", box_gc}, {NULL, NULL}};
    static const luaL_Reg err[] = {{"__index", error_index}, {"__tostring", error_tostring}, {NULL, NULL}};
    static const luaL_Reg req_methods[] = {{"param", req_param}, {"query", req_query}, {"header", req_header},
                                           {"body", req_body}, {"json", req_json}, {"may", req_may},
                                           {NULL, NULL}};
    new_mt(L, ym_lua_key_array, none);
    new_mt(L, key_box, box);
    new_mt(L, ym_lua_key_error, err);
    new_mt(L, ym_lua_key_req, none);
    lua_rawgetp(L, LUA_REGISTRYINDEX, ym_lua_key_req);
    luaL_newlib(L, req_methods);
    lua_pushcclosure(L, req_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

static void sub_table(lua_State *L, const char *name, const luaL_Reg *fns)
{
    lua_newtable(L);
    luaL_setfuncs(L, fns, 0);
    lua_setfield(L, -2, name);
}

/* yimen.calendar.*: working days from config/calendar, as for C plugins. */
static int32_t check_date(lua_State *L, int i)
{
    int32_t d;
    if (ym_date_parse(luaL_checkstring(L, i), &d) < 0)
        luaL_argerror(L, i, "expected a date \"YYYY-MM-DD\"");
    return d;
}

static int l_cal_is_working_day(lua_State *L)
{
    lua_pushboolean(L, ym_calendar_is_working_day(ym_calendar_current(), check_date(L, 1)));
    return 1;
}

static int l_cal_add_working_days(lua_State *L)
{
    int32_t d = check_date(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > -10000 && n < 10000, 2, "too many days");
    char out[11];
    ym_date_format(ym_calendar_add_working_days(ym_calendar_current(), d, (int)n), out);
    lua_pushstring(L, out);
    return 1;
}

static int l_cal_end_ms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)ym_date_end_ms(check_date(L, 1)));
    return 1;
}

int ym_lua_open_module(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"route", l_route}, {"permission", l_permission}, {"setting", l_setting},
        {"setting_keys", l_setting_keys}, {"fail", l_fail}, {"log", l_log}, {"now", l_now},
        {"time_format", l_time_format}, {"error", l_error}, {"invalid", l_invalid}, {"array", l_array},
        {"is_array", l_is_array},
        {"audit", l_audit}, {NULL, NULL}};
    static const luaL_Reg json[] = {{"encode", l_json_encode}, {"decode", l_json_decode}, {NULL, NULL}};
    static const luaL_Reg db[] = {{"query", l_db_query}, {"exec", l_db_exec}, {"write", l_db_write}, {NULL, NULL}};
    static const luaL_Reg cal[] = {{"is_working_day", l_cal_is_working_day},
                                   {"add_working_days", l_cal_add_working_days}, {"end_ms", l_cal_end_ms},
                                   {NULL, NULL}};
    open_metatables(L);
    luaL_newlib(L, fns);
    sub_table(L, "json", json);
    sub_table(L, "db", db);
    sub_table(L, "calendar", cal);
    ym_lua_open_services(L);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, ym_lua_of(L)->p->name);
    lua_setfield(L, -2, "name");
    lua_pushliteral(L, YM_VERSION);
    lua_setfield(L, -2, "core_version");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, ym_lua_key_yimen);
    return 1;
}
