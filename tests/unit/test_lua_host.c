/* test_lua_host: the Lua plugin host without HTTP: open/init/start of a plugin, the
 * sandbox (no way out to the OS or to bytecode), instruction and memory caps, settings,
 * JSON both ways, and storage under the table-ownership authorizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lua_host.h"
#include "plugin.h"
#include "router.h"
#include "db.h"
#include "log.h"
#include "events.h"
#include "jobs.h"

static char tmpdir[] = "/tmp/ym_test_lua_XXXXXX";
static char lua_dir[PATH_MAX];        /* the repository's lua/ (hello_lua, yimen helpers) */
static char *paths[1];
static ym_config cfg;
static ym_host host;
static char err[512];
static int seq;

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *owner_of(void *ud, const char *table)
{
    (void)ud;
    static const char *const owners[] = {"core", "dbt", "other", NULL};
    for (int i = 0; owners[i]; i++) {
        size_t n = strlen(owners[i]);
        if (strncmp(table, owners[i], n) == 0 && table[n] == '_')
            return owners[i];
    }
    return NULL;
}

static void plugin_init_struct(ym_plugin *p, const char *name, const char *dir, const char *settings)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->file, sizeof p->file, "%s/init.lua", dir);
    p->kind = YM_PLUGIN_LUA;
    p->state = YM_PLUGIN_ENABLED;
    p->host = &host;
    p->routes = json_array();
    p->permissions = json_array();
    p->requires = json_array();
    if (settings) {
        p->settings = json_loads(settings, 0, NULL);
        assert_non_null(p->settings);
    }
}

/* A plugin in the temporary directory whose init.lua is code; the name is fresh. */
static void make_plugin(ym_plugin *p, const char *code, const char *settings)
{
    char name[32], dir[PATH_MAX], file[PATH_MAX + 16];
    snprintf(name, sizeof name, "t%d", seq++);
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/init.lua", dir);
    write_file(file, code);
    plugin_init_struct(p, name, dir, settings);
}

/* init.lua = prelude, body (top-level code), then a definition with init and start. */
static void make_def(ym_plugin *p, const char *top, const char *init, const char *start, const char *settings)
{
    char code[16384];
    char name[32];
    snprintf(name, sizeof name, "t%d", seq);
    snprintf(code, sizeof code,
             "local yimen = require 'yimen'\n%s\n"
             "local M = { name = '%s', version = '1.0.0' }\n"
             "function M.init()\n%s\nend\n"
             "function M.start()\n%s\nend\n"
             "return M\n",
             top ? top : "", name, init ? init : "", start ? start : "");
    make_plugin(p, code, settings);
}

static void plugin_done(ym_plugin *p)
{
    ym_lua_free(p);
    json_decref(p->routes);
    json_decref(p->permissions);
    json_decref(p->requires);
    json_decref(p->settings);
}

static int open_it(ym_plugin *p)
{
    err[0] = 0;
    return ym_lua_open(p, err, sizeof err);
}

static int init_it(ym_plugin *p)
{
    err[0] = 0;
    p->in_init = true;
    int rc = ym_lua_init(p, err, sizeof err);
    p->in_init = false;
    return rc;
}

/* Opens, inits and starts; each must succeed. */
static void run_ok(const char *top, const char *init, const char *start, const char *settings)
{
    ym_plugin p;
    make_def(&p, top, init, start, settings);
    if (open_it(&p) != 0)
        fail_msg("open failed: %s", err);
    if (init_it(&p) != 0)
        fail_msg("init failed: %s", err);
    if (ym_lua_start(&p) != 0)
        fail_msg("start failed: %s", p.reason);
    plugin_done(&p);
}

/* The top-level chunk must fail with an error containing want. */
static void open_fails(const char *top, const char *settings, const char *want, const char *not_want)
{
    ym_plugin p;
    make_def(&p, top, NULL, NULL, settings);
    if (open_it(&p) == 0)
        fail_msg("open should fail with [%s]", want);
    if (!strstr(err, want))
        fail_msg("wanted an error containing [%s], got [%s]", want, err);
    if (not_want && strstr(err, not_want))
        fail_msg("the error [%s] shows [%s]", err, not_want);
    assert_null(p.lua);
    plugin_done(&p);
}

static int setup(void **state)
{
    (void)state;
    char here[PATH_MAX];
    ym_log_init(YM_LOG_ERROR, "cli", 0);
    assert_non_null(mkdtemp(tmpdir));
    assert_non_null(realpath(".", here));
    snprintf(lua_dir, sizeof lua_dir, "%s/lua", here); /* make unit runs from the repository */
    paths[0] = lua_dir;
    cfg.plugin_paths.v = paths;
    cfg.plugin_paths.n = 1;
    cfg.plugin_settings = json_object();
    char dbpath[PATH_MAX + 16];
    snprintf(dbpath, sizeof dbpath, "%s/t.db", tmpdir);
    ym_db_opts o = {.synchronous = "off", .busy_timeout_ms = 1000};
    assert_int_equal(ym_db_open(dbpath, &o, &host.db, err, sizeof err), 0);
    assert_int_equal(ym_db_migrate(host.db, "core", ym_core_migrations, ym_core_migrations_count, err, sizeof err), 0);
    ym_db_set_owner_resolver(host.db, owner_of, NULL);
    host.cfg = &cfg;
    host.router = ym_router_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    ym_router_free(host.router);
    ym_db_close(host.db);
    json_decref(cfg.plugin_settings);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

/* ---- the teaching plugin ---- */

static void test_hello_lua_loads(void **state)
{
    (void)state;
    ym_plugin p;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/hello_lua", lua_dir);
    plugin_init_struct(&p, "hello_lua", dir, "{\"max_greetings\": 5, \"memory\": \"32MiB\"}");
    /* its init subscribes to events and registers a job: a worker has both */
    ym_events *ev = ym_events_new();
    ym_jobs *jobs = ym_jobs_new();
    assert_non_null(ev);
    assert_non_null(jobs);
    ym_events_set_current(ev);
    ym_jobs_set_current(jobs);
    if (open_it(&p) != 0)
        fail_msg("open: %s", err);
    assert_string_equal(p.version, "1.0.0");
    if (init_it(&p) != 0)
        fail_msg("init: %s", err);
    assert_int_equal(json_array_size(p.routes), 16);
    assert_int_equal(json_array_size(p.permissions), 6);
    assert_int_equal(ym_lua_start(&p), 0);
    ym_lua_stop(&p, 0);
    ym_events_set_current(NULL);
    ym_jobs_set_current(NULL);
    ym_events_free(ev);
    ym_jobs_free(jobs);
    plugin_done(&p);
}

static void test_hello_lua_refuses_bad_settings(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"max_greetings\": \"many\"}", "{\"max_greeting\": 5}", NULL};
    for (int i = 0; bad[i]; i++) {
        ym_plugin p;
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/hello_lua", lua_dir);
        plugin_init_struct(&p, "hello_lua", dir, bad[i]);
        assert_int_equal(open_it(&p), 0);
        assert_int_equal(init_it(&p), -1);
        assert_int_equal(p.state, YM_PLUGIN_FAILED);
        assert_non_null(strstr(err, "hello_lua"));
        assert_string_equal(err, p.reason);
        plugin_done(&p);
    }
}

/* ---- the definition ---- */

static void test_definition_checked(void **state)
{
    (void)state;
    ym_plugin p;
    make_plugin(&p, "return { name = 'someone_else', version = '1', init = function() end }", NULL);
    assert_int_equal(open_it(&p), -1);
    assert_non_null(strstr(err, "its directory is"));
    plugin_done(&p);

    make_plugin(&p, "return 42", NULL);
    assert_int_equal(open_it(&p), -1);
    assert_non_null(strstr(err, "must return the plugin's definition"));
    plugin_done(&p);

    char code[256];
    snprintf(code, sizeof code, "return { name = 't%d', version = '1' }", seq);
    make_plugin(&p, code, NULL);
    assert_int_equal(open_it(&p), -1);
    assert_non_null(strstr(err, "init must be a function"));
    plugin_done(&p);

    snprintf(code, sizeof code, "return { name = 't%d', version = '1', core_min = '99.0', init = print }", seq);
    make_plugin(&p, code, NULL);
    assert_int_equal(open_it(&p), -1);
    assert_non_null(strstr(err, "needs yimen 99.0"));
    plugin_done(&p);

    snprintf(code, sizeof code, "return { name = 't%d', version = '2.1.0', requires = {'a', 'b'}, init = print }", seq);
    make_plugin(&p, code, NULL);
    assert_int_equal(open_it(&p), 0);
    assert_string_equal(p.version, "2.1.0");
    assert_int_equal(json_array_size(p.requires), 2);
    assert_string_equal(json_string_value(json_array_get(p.requires, 1)), "b");
    plugin_done(&p);

    make_plugin(&p, "return {", NULL);
    assert_int_equal(open_it(&p), -1);
    assert_non_null(strstr(err, "/init.lua:1:"));
    plugin_done(&p);
}

static void test_registration_rules(void **state)
{
    (void)state;
    open_fails("yimen.route('GET', '/api/x', 'public', print)", NULL, "only inside init()", NULL);
    ym_plugin p;
    make_def(&p, NULL, "yimen.route('GET', '/api/core/x', 'public', function() end)", NULL, NULL);
    assert_int_equal(open_it(&p), 0);
    assert_int_equal(init_it(&p), -1);
    assert_non_null(strstr(err, "outside"));
    plugin_done(&p);

    char init[512];
    snprintf(init, sizeof init,
             "yimen.permission('t%d.read', '读', 'read')\n"
             "yimen.route('GET', '/api/t%d/things', 't%d.read', function(req) return 200, {} end)\n"
             "assert(not pcall(yimen.route, 'GET', '/api/t%d/x', 'nobody.read', print))",
             seq, seq, seq, seq);
    make_def(&p, NULL, init, NULL, NULL);
    assert_int_equal(open_it(&p), 0);
    assert_int_equal(init_it(&p), -1); /* the undeclared permission failed the plugin */
    assert_int_equal(json_array_size(p.routes), 1);
    plugin_done(&p);
}

static void test_fail(void **state)
{
    (void)state;
    ym_plugin p;
    make_def(&p, NULL, "yimen.fail('bad setting x'); error('not reached')", NULL, NULL);
    assert_int_equal(open_it(&p), 0);
    assert_int_equal(init_it(&p), -1);
    assert_int_equal(p.state, YM_PLUGIN_FAILED);
    assert_string_equal(p.reason, "bad setting x");
    assert_string_equal(err, "bad setting x");
    plugin_done(&p);
}

/* ---- the sandbox ---- */

static void test_sandbox_globals(void **state)
{
    (void)state;
    run_ok("assert(io == nil, 'io'); assert(debug == nil, 'debug'); assert(package == nil, 'package')\n"
           "assert(dofile == nil and loadfile == nil, 'dofile/loadfile')\n"
           "assert(os.execute == nil and os.remove == nil and os.rename == nil and os.exit == nil)\n"
           "assert(os.getenv == nil and os.tmpname == nil and os.setlocale == nil)\n"
           "assert(type(os.time()) == 'number' and os.date('!%Y', 0) == '1970' and os.clock())\n"
           "assert(os.time{year = 2000, month = 1, day = 1, hour = 12} > 0)\n"
           "assert(string.dump == nil and ('').dump == nil and getmetatable('').__index.dump == nil)\n"
           "assert(string.format('%d', 3) == '3' and table.concat({1, 2}) == '12' and math.pi and utf8.char(20320))\n"
           "assert(coroutine.wrap(function() coroutine.yield(1) end)() == 1)\n"
           "assert(type(collectgarbage('count')) == 'number')\n"
           "assert(not pcall(collectgarbage), 'collectgarbage()')\n"
           "assert(not pcall(collectgarbage, 'stop'), 'collectgarbage stop')\n"
           "print('hello from the sandbox')",
           NULL, NULL, NULL);
}

static void test_sandbox_bytecode(void **state)
{
    (void)state;
    run_ok("local f, e = load('return 1', 'c', 'b'); assert(f == nil and e:find('binary'), 'mode b')\n"
           "f, e = load('\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10', 'c', 'bt'); assert(f == nil and e:find('binary'), e)\n"
           "f, e = load('\\27Lua'); assert(f == nil, 'default mode')\n"
           "assert(load('return 1 + 1')() == 2)\n"
           "assert(load('return x', 'c', 't', { x = 5 })() == 5, 'env')\n"
           "local parts = { 'return ', '7' }; local i = 0\n"
           "assert(load(function() i = i + 1; return parts[i] end)() == 7, 'reader')\n"
           "assert(load('return y')() == nil)",
           NULL, NULL, NULL);
}

static void test_sandbox_gc_refused(void **state)
{
    (void)state;
    run_ok("assert(not pcall(setmetatable, {}, { __gc = function() while true do end end }))\n"
           "local mt = {}; local t = setmetatable({}, mt); mt.__gc = function() while true do end end\n"
           "assert(getmetatable(t) == mt)\n"
           "assert(setmetatable({}, { __index = { a = 1 } }).a == 1)",
           NULL, NULL, NULL);
}

static void test_sandbox_require(void **state)
{
    (void)state;
    ym_plugin p;
    char path[PATH_MAX + 64], outside[PATH_MAX + 64];
    make_def(&p,
             "assert(require('util').x == 1, 'own module')\n"
             "assert(require('util') == require('util'), 'cached')\n"
             "assert(require('a.b').y == 2, 'a.b')\n"
             "assert(require('yimen') == yimen)\n"
             "assert(type(require('yimen.check').body) == 'function', 'helpers')\n"
             "for _, m in ipairs{ '../escape', '..', '/etc/passwd', 'a..b', '.a', 'a/b', 'io', 'os', 'debug',\n"
             "                    'link', 'yimen.../x', 'yimen.nope', 'a.b.' } do\n"
             "  local ok, e = pcall(require, m); assert(not ok, m); assert(e:find('not found'), e)\n"
             "end",
             NULL, NULL, NULL);
    snprintf(path, sizeof path, "%s/util.lua", p.dir);
    write_file(path, "return { x = 1 }");
    snprintf(path, sizeof path, "%s/a", p.dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/a/b.lua", p.dir);
    write_file(path, "return { y = 2 }");
    snprintf(outside, sizeof outside, "%s/escape.lua", tmpdir);
    write_file(outside, "return { escaped = true }");
    snprintf(path, sizeof path, "%s/link.lua", p.dir);
    assert_int_equal(symlink(outside, path), 0);
    if (open_it(&p) != 0)
        fail_msg("open: %s", err);
    plugin_done(&p);
}

/* ---- instructions ---- */

static void test_instruction_cap(void **state)
{
    (void)state;
    open_fails("while true do end", NULL, "instruction limit", NULL);
    open_fails("pcall(function() while true do end end); error('survived')", NULL, "instruction limit", "survived");
    open_fails("for i = 1, 1e9 do pcall(function() while true do end end) end; error('survived')", NULL,
               "instruction limit", "survived");
    open_fails("local co = coroutine.wrap(function() while true do end end); pcall(co); error('survived')", NULL,
               "instruction limit", "survived");
    open_fails("xpcall(function() while true do end end, function() while true do end end); error('survived')",
               NULL, "instruction limit", "survived");
    open_fails("local co = coroutine.wrap(function()\n"
               "  local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
               "  while true do end end)\n"
               "pcall(co); error('survived')", NULL, "instruction limit", "survived");
    open_fails("local co = coroutine.create(function()\n"
               "  local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
               "  while true do end end)\n"
               "coroutine.resume(co); coroutine.close(co); error('survived')", NULL, "instruction limit", "survived");
    open_fails("local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
               "while true do end", NULL, "instruction limit", NULL);
    open_fails("local function f() return f() end f()", "{\"instructions\": 100000}", "instruction limit of 100000", NULL);
    open_fails("local function f() return 1 + f() end f()", "{\"memory\": \"256MiB\"}", "stack overflow", NULL);
    open_fails("local function f() return 1 + f() end f()", "{\"memory\": \"8MiB\"}", "memory limit", NULL);
    open_fails("local function f() return select(2, pcall(f)) end error(f())", NULL, "stack overflow", NULL);
}

/* Each call from C gets the whole budget again, also after an overrun (which left the
 * hook firing on every instruction). */
static void test_instruction_budget_resets(void **state)
{
    (void)state;
    const char *spend = "local x = 0; for i = 1, 60000 do x = x + i end";
    run_ok(spend, spend, spend, "{\"instructions\": 400000}");
    ym_plugin p;
    make_def(&p, NULL, "pcall(function() while true do end end)",
             "local co = coroutine.wrap(function() for i = 1, 10 do coroutine.yield(i) end end)\n"
             "assert(co() == 1 and co() == 2)\n"
             "local x = 0; for i = 1, 20000 do x = x + i end",
             "{\"instructions\": 100000}");
    assert_int_equal(open_it(&p), 0);
    assert_int_equal(init_it(&p), -1);
    assert_non_null(strstr(err, "instruction limit"));
    p.state = YM_PLUGIN_ENABLED;
    assert_int_equal(ym_lua_start(&p), 0); /* the overrun of init is not held against start */
    plugin_done(&p);
}

/* ---- memory ---- */

static void test_memory_cap(void **state)
{
    (void)state;
    open_fails("local t = {} for i = 1, 1e8 do t[i] = i end", "{\"memory\": \"2MiB\"}", "memory limit", NULL);
    open_fails("local s = ('x'):rep(1 << 30)", "{\"memory\": \"8MiB\"}", "memory limit", NULL);
    open_fails("local s = 'x' while true do s = s .. s end", "{\"memory\": 2097152}", "memory limit", NULL);
    /* caught by pcall: the state recovers, and the next call has its memory back */
    run_ok(NULL,
           "local ok, e = pcall(function() local t = {} for i = 1, 1e8 do t[i] = { i } end end)\n"
           "assert(not ok and e == 'not enough memory', tostring(e))",
           "local t = {} for i = 1, 20000 do t[i] = { i } end; assert(collectgarbage('count') < 4096)",
           "{\"memory\": \"4MiB\"}");
}

static void test_settings(void **state)
{
    (void)state;
    run_ok("assert(yimen.setting('greeting') == 'hi')\n"
           "assert(yimen.setting('n') == 3 and math.type(yimen.setting('n')) == 'integer')\n"
           "assert(yimen.setting('ratio') == 0.5 and yimen.setting('on') == true)\n"
           "assert(yimen.setting('list')[2] == 'b' and yimen.is_array(yimen.setting('list')))\n"
           "assert(yimen.setting('nested').deep.x == 1)\n"
           "assert(yimen.setting('missing') == nil and yimen.setting('missing', 7) == 7)\n"
           "local keys = {} for _, k in ipairs(yimen.setting_keys()) do keys[k] = true end\n"
           "assert(keys.greeting and keys.memory and keys.instructions and #yimen.setting_keys() == 8)\n"
           "assert(yimen.name:match('^t%d+$') and yimen.core_version)",
           NULL, NULL,
           "{\"greeting\": \"hi\", \"n\": 3, \"ratio\": 0.5, \"on\": true, \"list\": [\"a\", \"b\"],"
           " \"nested\": {\"deep\": {\"x\": 1}}, \"memory\": \"16MiB\", \"instructions\": 5000000}");
    open_fails("", "{\"memory\": \"lots\"}", "setting memory", NULL);
    open_fails("", "{\"memory\": \"1KiB\"}", "at least 1MiB", NULL);
    open_fails("", "{\"memory\": true}", "setting memory", NULL);
    open_fails("", "{\"instructions\": 10}", "setting instructions", NULL);
    open_fails("", "{\"instructions\": \"many\"}", "setting instructions", NULL);
    open_fails("yimen.fail('refused at the top')", NULL, "refused at the top", NULL);
}

/* ---- JSON ---- */

static void test_json(void **state)
{
    (void)state;
    run_ok("local enc, dec = yimen.json.encode, yimen.json.decode\n"
           "assert(enc({}) == '{}' and enc(yimen.array()) == '[]' and enc({1, 2, 3}) == '[1,2,3]')\n"
           "assert(enc({a = yimen.null}) == '{\"a\":null}' and enc(nil) == 'null' and enc(true) == 'true')\n"
           "assert(enc('é\\n\"\\\\\\1') == '\"é\\\\n\\\\\"\\\\\\\\\\\\u0001\"', enc('é\\n\"\\\\\\1'))\n"
           "assert(enc(1.5) == '1.5' and enc(2.0) == '2.0' and enc(0.1) == '0.1' and enc(-7) == '-7')\n"
           "assert(enc({[1] = 'a', [3] = 'c'}) == '{\"1\":\"a\",\"3\":\"c\"}' or enc({[1] = 'a', [3] = 'c'}) == '{\"3\":\"c\",\"1\":\"a\"}')\n"
           "assert(enc(yimen.array({1, nil, 3})) == '[1,null,3]' or enc(yimen.array({1, nil, 3})) == '[1]')\n"
           "for _, bad in ipairs{ print, 0/0, 1/0, { [true] = 1 }, '\\255', '\\237\\160\\128' } do\n"
           "  assert(not pcall(enc, bad), tostring(bad))\n"
           "end\n"
           "local cyc = {}; cyc.self = cyc; local ok, e = pcall(enc, cyc); assert(not ok and e:find('deeper'), e)\n"

           "local v = dec('{\"a\":[1,2.5,\"x\",null,true,{}],\"b\":[]}')\n"
           "assert(v.a[1] == 1 and math.type(v.a[1]) == 'integer' and v.a[2] == 2.5 and v.a[3] == 'x')\n"
           "assert(v.a[4] == yimen.null and v.a[5] == true and yimen.is_array(v.b) and not yimen.is_array(v.a[6]))\n"
           "assert(enc(v.b) == '[]' and enc(v.a[6]) == '{}')\n"
           "local none, msg = dec('{bad'); assert(none == nil and msg:find('line 1'), msg)\n"
           "assert(dec('{\"a\":1,\"a\":2}') == nil, 'duplicate keys')\n"
           "assert(dec(enc({ s = '你好' })).s == '你好')\n"
           "assert(yimen.time_format(0):find('^1970%-01%-01T'), yimen.time_format(0))\n"
           "assert(math.type(yimen.now()) == 'integer' and math.abs(os.time() - yimen.now() // 1000) < 5)",
           NULL, NULL, NULL);
    /* the encoder's buffer is outside the Lua state, but bounded by its memory limit */
    run_ok("local ok, e = pcall(yimen.json.encode, { ('\\1'):rep(400000) })\n"
           "assert(not ok and e:find('outgrows'), e)",
           NULL, NULL, "{\"memory\": \"2MiB\"}");
}

static void test_errors_are_objects(void **state)
{
    (void)state;
    run_ok("local ok, e = pcall(yimen.error, 404, 'not_found', 'no such thing')\n"
           "assert(not ok and e.status == 404 and e.code == 'not_found' and e.message == 'no such thing')\n"
           "assert(tostring(e):find('404'))\n"
           "ok, e = pcall(yimen.invalid, 'text', 'too long')\n"
           "assert(not ok and e.status == 400 and e.code == 'invalid' and e.field == 'text')\n"
           "assert(not pcall(yimen.error, 200, 'ok'))\n"
           "assert(getmetatable(e) == 'locked')\n"
           "assert(not pcall(yimen.audit, {}, 'x.y'))\n"
           "assert(not pcall(yimen.log, 'loud', 'x'))\n"
           "yimen.log('info', 'a line from the plugin')",
           NULL, NULL, NULL);
}

/* ---- storage ---- */

static void test_db(void **state)
{
    (void)state;
    ym_plugin p;
    char dir[PATH_MAX + 8], code[8192];
    /* the authorizer resolves dbt_* to the plugin "dbt" */
    snprintf(dir, sizeof dir, "%s/dbt", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(code, sizeof code, "%s/init.lua", dir);
    write_file(code,
               "local yimen = require 'yimen'\n"
               "local db = yimen.db\n"
               "local M = { name = 'dbt', version = '1' }\n"
               "function M.init() end\n"
               "function M.start()\n"
               "  assert(not pcall(db.exec, 'CREATE TABLE dbt_more (a)'), 'DDL only in migrations')\n"
               "  local changes, id = db.exec('INSERT INTO dbt_items (name, n, r) VALUES (?, ?, ?)', 'a', 1, 0.5)\n"
               "  assert(changes == 1 and id == 1)\n"
               "  db.exec('INSERT INTO dbt_items (name, n, r) VALUES (?, ?, ?)', nil, true, yimen.null)\n"
               "  local rows = db.query('SELECT id, name, n, r FROM dbt_items ORDER BY id')\n"
               "  assert(#rows == 2 and rows[1].name == 'a' and rows[1].n == 1 and rows[1].r == 0.5)\n"
               "  assert(rows[2].name == yimen.null and rows[2].n == 1 and rows[2].r == yimen.null)\n"
               "  assert(yimen.json.encode(db.query('SELECT * FROM dbt_items WHERE id < 0')) == '[]')\n"
               "  local ok, e = pcall(db.write, function()\n"
               "    db.exec('INSERT INTO dbt_items (name) VALUES (?)', 'rolled back')\n"
               "    error('boom')\n"
               "  end)\n"
               "  assert(not ok and e:find('boom'))\n"
               "  assert(db.query('SELECT count(*) AS c FROM dbt_items')[1].c == 2, 'write rolled back')\n"
               "  assert(db.write(function(x) db.exec('UPDATE dbt_items SET n = ?', x) return 'done' end, 5) == 'done')\n"
               "  assert(db.query('SELECT sum(n) AS s FROM dbt_items')[1].s == 10)\n"
               "  for _, sql in ipairs{ 'UPDATE core_users SET username = username', 'SELECT * FROM core_users',\n"
               "                        'INSERT INTO other_t VALUES (1)', 'COMMIT', ' /* x */ rollback',\n"
               "                        'PRAGMA user_version = 3', 'ATTACH DATABASE \\'/tmp/x\\' AS x' } do\n"
               "    local ok, e = pcall(db.exec, sql); assert(not ok, sql)\n"
               "  end\n"
               "  assert(db.query('SELECT id, username FROM core_v_users'), 'core views are readable')\n"
               "  assert(not pcall(db.query, 'SELECT ?', 1, 2), 'too many parameters')\n"
               "  assert(not pcall(db.query, 'SELECT ?, ?', 1), 'too few parameters')\n"
               "  assert(not pcall(db.query, 'SELECT ?', {}), 'a table cannot bind')\n"
               "  assert(not pcall(db.query, 'SELEC nonsense'))\n"
               "end\n"
               "return M\n");
    static const char ddl[] = "CREATE TABLE dbt_items (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, r REAL, b BLOB);";
    ym_migration m = {"001_init.sql", ddl, sizeof ddl - 1};
    assert_int_equal(ym_db_migrate(host.db, "dbt", &m, 1, err, sizeof err), 0);
    plugin_init_struct(&p, "dbt", dir, NULL);
    assert_int_equal(open_it(&p), 0);
    assert_int_equal(init_it(&p), 0);
    if (ym_lua_start(&p) != 0)
        fail_msg("start: %s", p.reason);
    assert_false(ym_db_in_write(host.db));
    assert_int_equal(ym_db_flush(host.db), 0);
    plugin_done(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_lua_loads),
        cmocka_unit_test(test_hello_lua_refuses_bad_settings),
        cmocka_unit_test(test_definition_checked),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_sandbox_globals),
        cmocka_unit_test(test_sandbox_bytecode),
        cmocka_unit_test(test_sandbox_gc_refused),
        cmocka_unit_test(test_sandbox_require),
        cmocka_unit_test(test_instruction_cap),
        cmocka_unit_test(test_instruction_budget_resets),
        cmocka_unit_test(test_memory_cap),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_errors_are_objects),
        cmocka_unit_test(test_db),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
