/* test_config: the config sandbox (limits, errors with lines), every key (auth included),
 * sizes and durations, plugin settings as JSON, path resolution, the reload diff and the
 * shipped common-password list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define FAKE "/tmp/x/yimen.conf"

static char err[512];

static ym_config *load(const char *text)
{
    ym_config *c = NULL;
    err[0] = '\0';
    int rc = ym_config_load_string(text, strlen(text), FAKE, &c, err, sizeof err);
    if (rc != 0)
        fail_msg("unexpected error: %s", err);
    assert_non_null(c);
    return c;
}

/* Expect failure; err must contain want. */
static void load_bad(const char *text, const char *want)
{
    ym_config *c = (ym_config *)1;
    err[0] = '\0';
    int rc = ym_config_load_string(text, strlen(text), FAKE, &c, err, sizeof err);
    if (rc != -1 || !strstr(err, want))
        fail_msg("for %s\nwanted error containing [%s], got rc=%d [%s]", text, want, rc, err);
    assert_null(c);
}

static void test_defaults(void **state)
{
    ym_config *c = NULL;
    char want[PATH_MAX + 32], real[PATH_MAX];
    assert_int_equal(ym_config_load_file(NULL, &c, err, sizeof err), 0);
    assert_null(c->path);
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0].host, "127.0.0.1");
    assert_int_equal(c->listen[0].port, 8080);
    assert_true(c->workers >= 1 && c->workers <= 64);
    assert_int_equal(c->log_level, YM_LOG_INFO);
    assert_string_equal(c->timezone, "Asia/Shanghai");
    assert_int_equal(c->limits.uri, 8192);
    assert_int_equal(c->limits.headers, 16384);
    assert_int_equal(c->limits.header_count, 100);
    assert_int_equal(c->limits.body, 8 << 20);
    assert_int_equal(c->limits.connections, 10000);
    assert_int_equal(c->limits.json_depth, 64);
    assert_int_equal(c->limits.write_buffer, 1 << 20);
    assert_int_equal(c->timeouts.header, 10000);
    assert_int_equal(c->timeouts.body, 30000);
    assert_int_equal(c->timeouts.idle, 75000);
    assert_int_equal(c->timeouts.drain, 30000);
    assert_string_equal(c->database.synchronous, "full");
    assert_int_equal(c->database.busy_timeout_ms, 5000);
    assert_int_equal(c->trusted_proxies.n, 0);
    assert_null(c->public_url);
    assert_true(c->metrics.loopback_only);
    assert_int_equal(c->plugins.n, 0);
    assert_true(json_is_object(c->plugin_settings));
    assert_int_equal(json_object_size(c->plugin_settings), 0);
    /* defaults hang off the binary's directory */
    const char *bin = ym_config_bindir();
    assert_true(bin[0] == '/');
    assert_int_equal(c->plugin_paths.n, 2);
    snprintf(want, sizeof want, "%s/plugins", bin);
    assert_string_equal(c->plugin_paths.v[0], want);
    assert_non_null(realpath(bin, real));
    assert_string_equal(bin, real);
    assert_true(c->data_dir[0] == '/' && strstr(c->data_dir, "/var"));
    assert_true(strstr(c->www_root, "core/www") != NULL);
    assert_true(strstr(c->calendar_dir, "config/calendar") != NULL);
    ym_config_free(c);

    /* text without a file (yimen run without a config) resolves like the defaults */
    assert_int_equal(ym_config_load_string("data_dir = \"d\"", 14, NULL, &c, err, sizeof err), 0);
    assert_null(c->path);
    snprintf(want, sizeof want, "%s/d", bin);
    assert_string_equal(c->data_dir, want);
    ym_config_free(c);
    assert_int_equal(ym_config_load_string("x = 1", 5, NULL, &c, err, sizeof err), -1);
    assert_string_equal(err, "config:1: x: unknown key");
}

static void test_every_key(void **state)
{
    ym_config *c = load(
        "listen = { \"0.0.0.0:80\", \"[::]:80\" }\n"
        "workers = 4\n"
        "data_dir = \"/srv/yimen/data\"\n"
        "log_level = \"debug\"\n"
        "timezone = \"UTC\"\n"
        "www_root = \"/srv/www\"\n"
        "calendar_dir = \"/srv/cal\"\n"
        "limits = { uri = \"4KiB\", headers = \"32k\", header_count = 50, body = 1048576,\n"
        "           connections = 500, json_depth = 16, write_buffer = \"2MiB\" }\n"
        "timeouts = { header = \"5s\", body = 20, idle = \"1m\", drain = \"1.5s\" }\n"
        "database = { synchronous = \"normal\", busy_timeout = \"250ms\" }\n"
        "trusted_proxies = { \"10.0.0.1\", \"192.168.0.0/16\", \"::1\", \"fd00::/8\" }\n"
        "public_url = \"https://oa.example.gov.cn/\"\n"
        "metrics = { loopback_only = false }\n"
        "plugin_paths = { \"/opt/yimen/plugins\" }\n"
        "plugins = { \"documents\", \"meetings\" }\n");
    assert_int_equal(c->nlisten, 2);
    assert_string_equal(c->listen[0].host, "0.0.0.0");
    assert_int_equal(c->listen[0].port, 80);
    assert_string_equal(c->listen[1].host, "::");
    assert_int_equal(c->workers, 4);
    assert_string_equal(c->data_dir, "/srv/yimen/data");
    assert_int_equal(c->log_level, YM_LOG_DEBUG);
    assert_string_equal(c->timezone, "UTC");
    assert_string_equal(c->www_root, "/srv/www");
    assert_string_equal(c->calendar_dir, "/srv/cal");
    assert_int_equal(c->limits.uri, 4096);
    assert_int_equal(c->limits.headers, 32768);
    assert_int_equal(c->limits.header_count, 50);
    assert_int_equal(c->limits.body, 1048576);
    assert_int_equal(c->limits.connections, 500);
    assert_int_equal(c->limits.json_depth, 16);
    assert_int_equal(c->limits.write_buffer, 2 << 20);
    assert_int_equal(c->timeouts.header, 5000);
    assert_int_equal(c->timeouts.body, 20000);
    assert_int_equal(c->timeouts.idle, 60000);
    assert_int_equal(c->timeouts.drain, 1500);
    assert_string_equal(c->database.synchronous, "normal");
    assert_int_equal(c->database.busy_timeout_ms, 250);
    assert_int_equal(c->trusted_proxies.n, 4);
    assert_string_equal(c->trusted_proxies.v[1], "192.168.0.0/16");
    assert_string_equal(c->public_url, "https://oa.example.gov.cn");
    assert_false(c->metrics.loopback_only);
    assert_int_equal(c->plugin_paths.n, 1);
    assert_string_equal(c->plugin_paths.v[0], "/opt/yimen/plugins");
    assert_int_equal(c->plugins.n, 2);
    assert_string_equal(c->plugins.v[0], "documents");
    assert_string_equal(c->plugins.v[1], "meetings");
    assert_string_equal(c->path, FAKE);
    assert_string_equal(c->dir, "/tmp/x");
    ym_config_free(c);
}

static void test_partial_tables_keep_defaults(void **state)
{
    ym_config *e = load("-- nothing but a comment\n");
    assert_int_equal(e->limits.body, 8 << 20);
    ym_config_free(e);
    e = load("");
    assert_int_equal(e->nlisten, 1);
    ym_config_free(e);

    ym_config *c = load("limits = { body = \"1MiB\" }\nlimits.uri = 100\n");
    assert_int_equal(c->limits.body, 1 << 20);
    assert_int_equal(c->limits.uri, 100);
    assert_int_equal(c->limits.headers, 16384);
    ym_config_free(c);
}

static void test_listen_forms(void **state)
{
    ym_config *c = load("listen = \"127.0.0.1:9000\"");
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0].host, "127.0.0.1");
    assert_int_equal(c->listen[0].port, 9000);
    ym_config_free(c);

    c = load("listen = { \"127.0.0.1:9000\", \"[::1]:9001\", \"*:9002\", \"localhost:9003\" }");
    assert_int_equal(c->nlisten, 4);
    assert_string_equal(c->listen[1].host, "::1");
    assert_int_equal(c->listen[1].port, 9001);
    assert_string_equal(c->listen[2].host, "0.0.0.0");
    assert_string_equal(c->listen[3].host, "127.0.0.1");
    ym_config_free(c);

    c = load("listen = \"[0:0:0:0:0:0:0:1]:8080\""); /* stored normalised */
    assert_string_equal(c->listen[0].host, "::1");
    ym_config_free(c);

    load_bad("listen = \"::1:8080\"", "listen: expected \"host:port\"");
    load_bad("listen = \"127.0.0.1\"", "listen: expected \"host:port\"");
    load_bad("listen = \"127.0.0.1:0\"", "listen: expected");
    load_bad("listen = \"127.0.0.1:65536\"", "listen: expected");
    load_bad("listen = \"example.org:80\"", "listen: expected");
    load_bad("listen = \"[::1]8080\"", "listen: expected");
    load_bad("listen = { \"127.0.0.1:1\", 5 }", "listen[2]: expected a string");
    load_bad("listen = {}", "listen: at least one address");
    load_bad("listen = 8080", "listen: expected a string or a list of strings");
    load_bad("listen = { \"127.0.0.1:1\", \"127.0.0.1:1\" }", "listen[2]: \"127.0.0.1:1\" is listed twice");
    load_bad("listen = { \"127.0.0.1:1\", x = \"127.0.0.1:2\" }", "listen: expected a list");
    load_bad("listen = { '127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4', "
             "'127.0.0.1:5', '127.0.0.1:6', '127.0.0.1:7', '127.0.0.1:8', '127.0.0.1:9' }",
             "listen[9]: at most 8");
}

static void test_sizes(void **state)
{
    static const struct { const char *s; size_t want; } good[] = {
        {"0", 0}, {"512", 512}, {"512B", 512}, {"8k", 8192}, {"8K", 8192}, {"8KiB", 8192},
        {"8kib", 8192}, {"8 KiB", 8192}, {"8MiB", 8u << 20}, {"8m", 8u << 20}, {"8M", 8u << 20},
        {"2GiB", 2ull << 30}, {"1g", 1u << 30}, {"007", 7},
    };
    static const char *const bad[] = {
        "", "k", "-1", "+1", "1.5MiB", "8KB", "8MB", "8 kb", "8x", "8 ", " 8", "8MiBs",
        "0x10", "99999999999999999999", "18446744073709551615GiB", "1e6",
    };
    size_t v;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (ym_parse_size(good[i].s, &v) != 0 || v != good[i].want)
            fail_msg("size \"%s\" should parse to %zu", good[i].s, good[i].want);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ym_parse_size(bad[i], &v) == 0)
            fail_msg("size \"%s\" should be rejected", bad[i]);
    assert_int_equal(ym_parse_size(NULL, &v), -1);

    ym_config *c = load("limits = { body = 1e6, uri = \"1k\" }");
    assert_int_equal(c->limits.body, 1000000);
    ym_config_free(c);
    load_bad("\n\nlimits = { body = \"8MB\" }", FAKE ":3: limits.body: expected a size (bytes or \"8MiB\")");
    load_bad("limits = { body = -1 }", "limits.body: expected a size");
    load_bad("limits = { body = 1.5 }", "limits.body: expected a size");
    load_bad("limits = { header_count = \"100\" }", "limits.header_count: expected a whole number");
    load_bad("limits = { uri = 0 }", "limits.uri: must be at least 1");
}

static void test_durations(void **state)
{
    static const struct { const char *s; uint64_t ms; } good[] = {
        {"0", 0}, {"10", 10000}, {"10s", 10000}, {"250ms", 250}, {"1.5s", 1500}, {"1.5", 1500},
        {"30m", 1800000}, {"2h", 7200000}, {"1d", 86400000}, {"0.25m", 15000},
        {"1.0001s", 1000}, {"5 s", 5000}, {"1.123456789123s", 1123},
    };
    static const char *const bad[] = {
        "", "s", "-1s", "+1s", ".5s", "1.s", "10 seconds", "10S", "10M", "1h30m", "10x",
        "1e3", "99999999999999999999", "999999999999999999h", " 1s",
    };
    uint64_t v;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (ym_parse_duration(good[i].s, &v) != 0 || v != good[i].ms)
            fail_msg("duration \"%s\" should parse to %llu", good[i].s, (unsigned long long)good[i].ms);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ym_parse_duration(bad[i], &v) == 0)
            fail_msg("duration \"%s\" should be rejected", bad[i]);

    ym_config *c = load("timeouts = { idle = 2.5, drain = 0 }");
    assert_int_equal(c->timeouts.idle, 2500);
    assert_int_equal(c->timeouts.drain, 0);
    ym_config_free(c);
    load_bad("timeouts = { idle = -5 }", "timeouts.idle: expected a duration");
    load_bad("timeouts = { idle = true }", "timeouts.idle: expected a duration");
    load_bad("timeouts = { header = 0 }", "timeouts.header: must be at least 1");
    load_bad("database = { busy_timeout = \"30d\" }", "database.busy_timeout: too long");
}

static void test_unknown_top_level_key(void **state)
{
    load_bad("workers = 2\n\n-- a comment\nworkerz = 3\n", FAKE ":4: workerz: unknown key");
    /* the first error in the file is the one reported */
    load_bad("a_thing = 1\nworkers = 0\n", FAKE ":1: a_thing: unknown key");
    load_bad("log_level = \"loud\"\nlisten = 5\n", FAKE ":1: log_level: expected \"debug\"");
    /* a re-assignment is reported at its own line */
    load_bad("workers = 2\nworkers = 99\n", FAKE ":2: workers: expected an integer from 1 to 64");
    load_bad("_ENV[1] = 2", "_ENV: top-level keys must be names");
}

static void test_unknown_nested_key(void **state)
{
    load_bad("limits = {\n  body = \"1MiB\",\n  bodyy = 1,\n}\n", FAKE ":1: limits.bodyy: unknown key");
    load_bad("workers = 1\ntimeouts = { idel = 5 }", FAKE ":2: timeouts.idel: unknown key");
    /* the line is where the assignment starts, not where its table closes */
    load_bad("local mib = 1\n\nlimits =\n{\n  uri = 1,\n  bodyy = 2,\n}\n", FAKE ":3: limits.bodyy");
    load_bad("workers = 1 limits = {\n  x = 1 }\n", FAKE ":2: limits.x: unknown key");
    load_bad("database = { journal = \"wal\" }", "database.journal: unknown key");
    load_bad("metrics = { 1 }", "metrics: expected named keys only");
}

static void test_wrong_types(void **state)
{
    load_bad("workers = \"two\"", FAKE ":1: workers: expected an integer from 1 to 64");
    load_bad("workers = 1.5", "workers: expected an integer");
    load_bad("workers = 65", "workers: expected an integer from 1 to 64");
    load_bad("data_dir = 5", "data_dir: expected a string");
    load_bad("data_dir = \"\"", "data_dir: expected a path");
    load_bad("limits = 5", "limits: expected a table");
    load_bad("limits = { body = true }", "limits.body: expected a size (bytes or \"8MiB\")");
    load_bad("metrics = { loopback_only = \"yes\" }", "metrics.loopback_only: expected true or false");
    load_bad("database = { synchronous = \"FULL\" }", "database.synchronous: expected \"full\"");
    load_bad("timezone = \"Mars/Olympus\"", "timezone: unknown time zone");
    load_bad("timezone = \"../../../etc/passwd\"", "timezone: unknown time zone");
    load_bad("public_url = \"oa.example.gov.cn\"", "public_url: expected a URL");
    load_bad("public_url = \"https://\"", "public_url: expected a URL");
    load_bad("trusted_proxies = { \"10.0.0.0/33\" }", "trusted_proxies[1]: bad prefix length");
    load_bad("trusted_proxies = { \"::1/129\" }", "trusted_proxies[1]: bad prefix length");
    load_bad("trusted_proxies = { \"proxy.local\" }", "trusted_proxies[1]: expected an IP address");
    load_bad("plugins = { \"Docs\" }", "plugins[1]: \"Docs\" is not a plugin name");
    load_bad("plugins = { \"a_very_long_plugin_name_that_is_33\" }", "is not a plugin name");
    load_bad("plugins = { \"docs\", \"docs\" }", "plugins[2]: \"docs\" is listed twice");
    load_bad("plugins = { \"users\" }", "plugins[1]: \"users\" is reserved");
    load_bad("x = function() end", "x: unknown key");
    load_bad("plugins = { \"docs\" }\ndocs = 5", FAKE ":2: docs: expected a table");
}

static void test_syntax_error_has_line(void **state)
{
    load_bad("workers = 2\nlisten = \n", FAKE ":3: unexpected symbol near <eof>");
    load_bad("workers = 2\n\nlimits = { body = 1 \n", FAKE ":4: '}' expected (to close '{' at line 3)");
    load_bad("x = [[\nunterminated", FAKE ":");
    /* binary chunks are refused: mode "t" */
    load_bad("\x1bLua", "attempt to load a binary chunk");
}

static void test_sandbox_limits(void **state)
{
    load_bad("workers = 2\nwhile true do end\n", FAKE ":2: instruction limit of 1000000 exceeded");
    load_bad("t = {} for i = 1, 1e8 do t[i] = i end", FAKE ":1: memory limit of 4 MiB exceeded");
    load_bad("s = \"0123456789\"\nfor i = 1, 40 do s = s .. s end\n",
             FAKE ":2: memory limit of 4 MiB exceeded");
    load_bad("t = {}\nfor i = 1, 1e8 do t[i] = {} end", "limit of");
}

static void test_sandbox_has_no_library(void **state)
{
    load_bad("\nos.execute(\"x\")", FAKE ":2: attempt to index a nil value (global 'os')");
    load_bad("x = require(\"os\")", FAKE ":1: attempt to call a nil value (global 'require')");
    load_bad("print(1)", "attempt to call a nil value (global 'print')");
    load_bad("s = (\"x\"):rep(10)", "attempt to index a string value");
    load_bad("x = getmetatable(\"\")", "attempt to call a nil value (global 'getmetatable')");
    load_bad("load(\"x=1\")()", "attempt to call a nil value (global 'load')");
}

static void test_arithmetic_and_locals_are_data(void **state)
{
    ym_config *b = load("\xEF\xBB\xBFworkers = 3\n"); /* a UTF-8 BOM is skipped */
    assert_int_equal(b->workers, 3);
    ym_config_free(b);
    load_bad("plugins = { \"d\" }\nd = { [\"\\xff\"] = 1 }", "d.\xff: key is not valid UTF-8");
    load_bad("x = [[\nlong\n", "unfinished long string");
    ym_config *c = load("local mib = 1024 * 1024\nlimits = { body = 16 * mib }\nworkers = 1 + 1\n");
    assert_int_equal(c->limits.body, 16 << 20);
    assert_int_equal(c->workers, 2);
    ym_config_free(c);
}

static void test_plugin_settings_to_json(void **state)
{
    ym_config *c = load(
        "plugins = { \"documents\" }\n"
        "documents = {\n"
        "  max_attachments = 20,\n"
        "  ratio = 0.5,\n"
        "  archive = true,\n"
        "  title = \"公文流转\",\n"
        "  levels = { \"平件\", \"急件\", \"特急\" },\n"
        "  sms = { gateway = \"http://10.0.0.5/sms\", retries = 3, nested = { deep = {} } },\n"
        "}\n");
    json_t *s = json_object_get(c->plugin_settings, "documents");
    assert_non_null(s);
    char *dump = json_dumps(s, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(dump,
        "{\"archive\":true,\"levels\":[\"平件\",\"急件\",\"特急\"],\"max_attachments\":20,"
        "\"ratio\":0.5,\"sms\":{\"gateway\":\"http://10.0.0.5/sms\",\"nested\":{\"deep\":{}},"
        "\"retries\":3},\"title\":\"公文流转\"}");
    free(dump);
    assert_true(json_is_integer(json_object_get(s, "max_attachments")));
    assert_true(json_is_real(json_object_get(s, "ratio")));
    ym_config_free(c);

    /* a settings table for a plugin that is neither enabled nor installed */
    load_bad("plugins = { \"documents\" }\nmeetings = { x = 1 }", FAKE ":2: meetings: unknown key");
    load_bad("plugins = { \"d\" }\nd = { 1, 2, x = 3 }", "d: a table is either a list");
    load_bad("plugins = { \"d\" }\nd = { [1] = 1, [3] = 3 }", "d: a table is either a list");
    load_bad("plugins = { \"d\" }\nd = { [true] = 1 }", "d: keys must be strings");
    load_bad("plugins = { \"d\" }\nd = { a = { b = 0/0 } }", FAKE ":2: d.a.b: not a finite number");
    load_bad("plugins = { \"d\" }\nd = { f = function() end }", "d.f: a function cannot be a setting");
    load_bad("plugins = { \"d\" }\nd = { s = \"\\xff\" }", "d.s: not valid UTF-8");
    load_bad("plugins = { \"d\" }\nd = { l = { 1, { x = {} , y = 2 < 1 } } }\nd.me = d",
             "nested too deeply");
    /* plugins = {...} may come after the settings: it is read first */
    c = load("d = { a = 1 }\nplugins = { \"d\" }\n");
    assert_non_null(json_object_get(c->plugin_settings, "d"));
    ym_config_free(c);
}

static void test_plugin_settings_from_plugin_dir(void **state)
{
    char tmpl[] = "/tmp/ymcfgXXXXXX", sub[PATH_MAX], text[PATH_MAX * 2];
    assert_non_null(mkdtemp(tmpl));
    snprintf(sub, sizeof sub, "%s/tasks", tmpl);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(text, sizeof text, "plugin_paths = { \"%s\" }\ntasks = { colours = { \"blue\" } }\n", tmpl);
    ym_config *c = load(text);
    json_t *s = json_object_get(c->plugin_settings, "tasks");
    assert_true(json_is_array(json_object_get(s, "colours")));
    assert_int_equal(c->plugins.n, 0); /* installed is not enabled */
    ym_config_free(c);
    rmdir(sub);
    rmdir(tmpl);
}

static void test_relative_paths(void **state)
{
    char tmp[PATH_MAX], want[PATH_MAX + 32];
    assert_non_null(realpath("/tmp", tmp));
    ym_config *c = load("data_dir = \"../var\"\nwww_root = \"www/./static/\"\n"
                        "plugin_paths = { \"plugins\", \"/abs/lua\" }\n");
    snprintf(want, sizeof want, "%s/var", tmp);
    assert_string_equal(c->data_dir, want);
    snprintf(want, sizeof want, "%s/x/www/static", tmp);
    assert_string_equal(c->www_root, want);
    snprintf(want, sizeof want, "%s/x/plugins", tmp);
    assert_string_equal(c->plugin_paths.v[0], want);
    assert_string_equal(c->plugin_paths.v[1], "/abs/lua");
    ym_config_free(c);
}

static void test_load_file(void **state)
{
    char tmpl[] = "/tmp/ymcfgXXXXXX", path[PATH_MAX], real[PATH_MAX], want[PATH_MAX + 64];
    ym_config *c = NULL;
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, real));
    snprintf(path, sizeof path, "%s/yimen.conf", tmpl);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("-- test\nworkers = 3\ndata_dir = \"data\"\n", f);
    fclose(f);
    assert_int_equal(ym_config_load_file(path, &c, err, sizeof err), 0);
    assert_int_equal(c->workers, 3);
    snprintf(want, sizeof want, "%s/data", real);
    assert_string_equal(c->data_dir, want);
    snprintf(want, sizeof want, "%s/yimen.conf", real);
    assert_string_equal(c->path, want);
    ym_config_free(c);

    f = fopen(path, "w");
    fputs("workers = 3\n\nbogus = {}\n", f);
    fclose(f);
    assert_int_equal(ym_config_load_file(path, &c, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: bogus: unknown key", path);
    assert_string_equal(err, want);
    unlink(path);

    assert_int_equal(ym_config_load_file(path, &c, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot read %s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(c);
    rmdir(tmpl);
}

static void test_reloadable(void **state)
{
    ym_config *a = load("listen = { \"127.0.0.1:8080\", \"[::1]:8080\" }\ndata_dir = \"/d\"\nworkers = 2");
    ym_config *b = load("listen = { \"[::1]:8080\", \"127.0.0.1:8080\" }\ndata_dir = \"/d\"\nworkers = 8\n"
                        "limits = { body = \"1MiB\" }\nlog_level = \"debug\"");
    ym_config *c = load("listen = \"127.0.0.1:8080\"\ndata_dir = \"/d\"");
    ym_config *d = load("listen = { \"127.0.0.1:8080\", \"[::1]:8080\" }\ndata_dir = \"/e\"");
    ym_config *e = load("listen = { \"127.0.0.1:8081\", \"[::1]:8080\" }\ndata_dir = \"/d\"");
    assert_int_equal(ym_config_reloadable(a, b, err, sizeof err), 0);
    ym_config *f = load("listen = { \"127.0.0.1:8080\", \"[::1]:8080\" }\ndata_dir = \"/d\"\n"
                        "auth = { totp_roles = \"system_admin\", argon2 = { memory = \"64MiB\" } }");
    assert_int_equal(ym_config_reloadable(a, f, err, sizeof err), 0); /* auth applies on reload */
    ym_config_free(f);
    assert_int_equal(ym_config_reloadable(a, c, err, sizeof err), -1);
    assert_string_equal(err, "listen changed: restart the server to apply it");
    assert_int_equal(ym_config_reloadable(c, a, err, sizeof err), -1);
    assert_int_equal(ym_config_reloadable(a, e, err, sizeof err), -1);
    assert_int_equal(ym_config_reloadable(a, d, err, sizeof err), -1);
    assert_string_equal(err, "data_dir changed: restart the server to apply it");
    ym_config_free(a);
    ym_config_free(b);
    ym_config_free(c);
    ym_config_free(d);
    ym_config_free(e);
}

static void test_auth_defaults(void **state)
{
    ym_config *c = NULL;
    char want[PATH_MAX + 64], up[PATH_MAX + 8], real[PATH_MAX];
    assert_int_equal(ym_config_load_file(NULL, &c, err, sizeof err), 0);
    assert_int_equal(c->auth.idle_timeout, 30 * 60 * 1000);
    assert_int_equal(c->auth.absolute_timeout, 12 * 3600 * 1000);
    assert_int_equal(c->auth.lockout.attempts, 5);
    assert_int_equal(c->auth.lockout.window, 30 * 60 * 1000);
    assert_int_equal(c->auth.lockout.duration, 30 * 60 * 1000);
    assert_int_equal(c->auth.rate_limit.per_ip, 20);
    assert_int_equal(c->auth.rate_limit.per_account, 10);
    assert_int_equal(c->auth.argon2.memory, 19 << 20);
    assert_int_equal(c->auth.argon2.iterations, 2);
    assert_int_equal(c->auth.argon2.parallelism, 1);
    assert_int_equal(c->auth.password.min_length, 12);
    assert_int_equal(c->auth.password.classes, 0);
    assert_int_equal(c->auth.password.max_age, 0);
    assert_int_equal(c->auth.totp_roles.n, 0);
    assert_string_equal(c->auth.audit_hash, "sm3");
    assert_string_equal(c->auth.issuer, "yimen");
    /* <bindir>/../config/common-passwords.txt; <bindir>/../config need not exist */
    snprintf(up, sizeof up, "%s/..", ym_config_bindir());
    assert_non_null(realpath(up, real));
    snprintf(want, sizeof want, "%s/config/common-passwords.txt", real);
    assert_string_equal(c->auth.password.common_list, want);
    ym_config_free(c);

    /* a file without auth, or with an empty auth table, keeps every default */
    c = load("auth = {}\n");
    assert_int_equal(c->auth.lockout.attempts, 5);
    assert_string_equal(c->auth.password.common_list, want);
    ym_config_free(c);
}

static void test_auth_every_key(void **state)
{
    char tmp[PATH_MAX], want[PATH_MAX + 32];
    assert_non_null(realpath("/tmp", tmp));
    ym_config *c = load(
        "auth = {\n"
        "  idle_timeout = \"15m\", absolute_timeout = \"8h\",\n"
        "  lockout = { attempts = 3, window = \"10m\", duration = 3600 },\n"
        "  rate_limit = { per_ip = 60, per_account = 5 },\n"
        "  argon2 = { memory = \"64MiB\", iterations = 3, parallelism = 4 },\n"
        "  password = { min_length = 16, classes = 3, max_age = \"90d\",\n"
        "               common_list = \"../lists/pw.txt\" },\n"
        "  totp_roles = { \"system_admin\", \"security_admin\", \"audit_admin\" },\n"
        "  audit_hash = \"sha256\",\n"
        "  issuer = \"某县政务 OA\",\n"
        "}\n");
    assert_int_equal(c->auth.idle_timeout, 15 * 60 * 1000);
    assert_int_equal(c->auth.absolute_timeout, 8 * 3600 * 1000);
    assert_int_equal(c->auth.lockout.attempts, 3);
    assert_int_equal(c->auth.lockout.window, 10 * 60 * 1000);
    assert_int_equal(c->auth.lockout.duration, 3600 * 1000);
    assert_int_equal(c->auth.rate_limit.per_ip, 60);
    assert_int_equal(c->auth.rate_limit.per_account, 5);
    assert_int_equal(c->auth.argon2.memory, 64 << 20);
    assert_int_equal(c->auth.argon2.iterations, 3);
    assert_int_equal(c->auth.argon2.parallelism, 4);
    assert_int_equal(c->auth.password.min_length, 16);
    assert_int_equal(c->auth.password.classes, 3);
    assert_int_equal(c->auth.password.max_age, 90ull * 86400 * 1000);
    snprintf(want, sizeof want, "%s/lists/pw.txt", tmp); /* relative to the file's dir */
    assert_string_equal(c->auth.password.common_list, want);
    assert_int_equal(c->auth.totp_roles.n, 3);
    assert_string_equal(c->auth.totp_roles.v[0], "system_admin");
    assert_string_equal(c->auth.totp_roles.v[1], "security_admin");
    assert_string_equal(c->auth.totp_roles.v[2], "audit_admin");
    assert_string_equal(c->auth.audit_hash, "sha256");
    assert_string_equal(c->auth.issuer, "某县政务 OA");
    ym_config_free(c);

    /* bounds are accepted; one role may be a plain string; min_length 8 is allowed */
    c = load("auth = { argon2 = { memory = \"8KiB\", iterations = 1, parallelism = 1 },\n"
             "         password = { min_length = 8, classes = 4 }, totp_roles = \"system_admin\" }\n"
             "auth.argon2.memory = \"1GiB\"\nauth.argon2.iterations = 10\n"
             "auth.argon2.parallelism = 16\nauth.password.classes = 0\n");
    assert_int_equal(c->auth.argon2.memory, 1 << 30);
    assert_int_equal(c->auth.argon2.iterations, 10);
    assert_int_equal(c->auth.argon2.parallelism, 16);
    assert_int_equal(c->auth.password.min_length, 8);
    assert_int_equal(c->auth.password.classes, 0);
    assert_int_equal(c->auth.totp_roles.n, 1);
    ym_config_free(c);
    c = load("auth = { argon2 = { memory = 1024 * 1024, parallelism = 128 // 8 },"
             " password = { min_length = 128, max_age = 0 }, totp_roles = {} }");
    assert_int_equal(c->auth.argon2.memory, 1 << 20);
    assert_int_equal(c->auth.password.min_length, 128);
    assert_int_equal(c->auth.totp_roles.n, 0);
    ym_config_free(c);
}

static void test_auth_partial_tables_keep_defaults(void **state)
{
    ym_config *c = load("auth = { lockout = { attempts = 3 }, password = {} }\n"
                        "auth.password.min_length = 14\n");
    assert_int_equal(c->auth.lockout.attempts, 3);
    assert_int_equal(c->auth.lockout.window, 30 * 60 * 1000);
    assert_int_equal(c->auth.lockout.duration, 30 * 60 * 1000);
    assert_int_equal(c->auth.password.min_length, 14);
    assert_int_equal(c->auth.password.classes, 0);
    assert_non_null(strstr(c->auth.password.common_list, "/config/common-passwords.txt"));
    assert_int_equal(c->auth.argon2.memory, 19 << 20);
    assert_int_equal(c->auth.idle_timeout, 30 * 60 * 1000);
    assert_string_equal(c->auth.audit_hash, "sm3");
    ym_config_free(c);
}

static void test_auth_errors(void **state)
{
    static const struct { const char *text, *want; } bad[] = {
        {"auth = 5", FAKE ":1: auth: expected a table"},
        {"auth = { 1 }", "auth: expected named keys only"},
        {"auth = { idle_timeout = 0 }", "auth.idle_timeout: must be at least 1"},
        {"auth = { idle_timeout = \"soon\" }", "auth.idle_timeout: expected a duration"},
        {"auth = { absolute_timeout = 0 }", "auth.absolute_timeout: must be at least 1"},
        {"auth = { absolute_timeout = \"12H\" }", "auth.absolute_timeout: expected a duration"},
        {"auth = { lockout = 5 }", "auth.lockout: expected a table"},
        {"auth = { lockout = { attempts = 0 } }", "auth.lockout.attempts: must be at least 1"},
        {"auth = { lockout = { attempts = 2.5 } }", "auth.lockout.attempts: expected a whole number"},
        {"auth = { lockout = { window = 0 } }", "auth.lockout.window: must be at least 1"},
        {"auth = { lockout = { duration = -1 } }", "auth.lockout.duration: expected a duration"},
        {"auth = { rate_limit = { per_ip = 0 } }", "auth.rate_limit.per_ip: must be at least 1"},
        {"auth = { rate_limit = { per_account = 0 } }",
         "auth.rate_limit.per_account: must be at least 1"},
        {"auth = { rate_limit = { per_account = \"10\" } }",
         "auth.rate_limit.per_account: expected a whole number"},
        {"auth = { argon2 = { memory = \"4KiB\" } }", "auth.argon2.memory: must be from 8KiB to 1GiB"},
        {"auth = { argon2 = { memory = 8191 } }", "auth.argon2.memory: must be from 8KiB to 1GiB"},
        {"auth = { argon2 = { memory = \"2GiB\" } }", "auth.argon2.memory: must be from 8KiB to 1GiB"},
        {"auth = { argon2 = { memory = 10000 } }", "auth.argon2.memory: must be a whole number of KiB"},
        {"auth = { argon2 = { memory = \"19MB\" } }", "auth.argon2.memory: expected a size"},
        {"auth = { argon2 = { iterations = 0 } }", "auth.argon2.iterations: must be from 1 to 10"},
        {"auth = { argon2 = { iterations = 11 } }", "auth.argon2.iterations: must be from 1 to 10"},
        {"auth = { argon2 = { parallelism = 0 } }", "auth.argon2.parallelism: must be from 1 to 16"},
        {"auth = { argon2 = { parallelism = 17 } }", "auth.argon2.parallelism: must be from 1 to 16"},
        {"auth = { argon2 = { memory = \"8KiB\", parallelism = 2 } }",
         "auth.argon2: memory must be at least 8KiB per lane: 16KiB for parallelism 2"},
        {"auth = { password = { min_length = 7 } }", "auth.password.min_length: must be from 8 to 128"},
        {"auth = { password = { min_length = 129 } }", "auth.password.min_length: must be from 8 to 128"},
        {"auth = { password = { classes = 5 } }", "auth.password.classes: must be from 0 to 4"},
        {"auth = { password = { classes = -1 } }", "auth.password.classes: expected a whole number"},
        {"auth = { password = { max_age = \"3 months\" } }", "auth.password.max_age: expected a duration"},
        {"auth = { password = { common_list = \"\" } }", "auth.password.common_list: expected a path"},
        {"auth = { password = { common_list = false } }", "auth.password.common_list: expected a string"},
        {"auth = { totp_roles = 1 }", "auth.totp_roles: expected a string or a list of strings"},
        {"auth = { totp_roles = { admin = true } }", "auth.totp_roles: expected a list of strings"},
        {"auth = { totp_roles = { \"system_admin\", 2 } }", "auth.totp_roles[2]: expected a string"},
        {"auth = { totp_roles = { \"System_Admin\" } }",
         "auth.totp_roles[1]: \"System_Admin\" is not a role key"},
        {"auth = { totp_roles = { \"1admin\" } }", "auth.totp_roles[1]: \"1admin\" is not a role key"},
        {"auth = { totp_roles = \"a_role_key_that_is_33_characters_\" }",
         "auth.totp_roles: \"a_role_key_that_is_33_characters_\" is not a role key"},
        {"auth = { totp_roles = { \"x\", \"x\" } }", "auth.totp_roles[2]: \"x\" is listed twice"},
        {"auth = { audit_hash = \"md5\" }", "auth.audit_hash: expected \"sm3\" or \"sha256\""},
        {"auth = { audit_hash = \"SM3\" }", "auth.audit_hash: expected \"sm3\" or \"sha256\""},
        {"auth = { issuer = \"\" }", "auth.issuer: expected 1 to 64 bytes of UTF-8"},
        {"auth = { issuer = \"a:b\" }", "auth.issuer: expected 1 to 64 bytes of UTF-8"},
        {"auth = { issuer = \"a\\nb\" }", "auth.issuer: expected 1 to 64 bytes of UTF-8"},
        {"auth = { issuer = \"\\xff\" }", "auth.issuer: expected 1 to 64 bytes of UTF-8"},
        {"auth = { issuer = \"a\\0b\" }", "auth.issuer: string contains a NUL byte"},
        {"auth = { issuer = 5 }", "auth.issuer: expected a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        load_bad(bad[i].text, bad[i].want);
    char issuer[128];
    snprintf(issuer, sizeof issuer, "auth = { issuer = \"%065d\" }", 0);
    load_bad(issuer, "auth.issuer: expected 1 to 64 bytes of UTF-8");
    snprintf(issuer, sizeof issuer, "auth = { issuer = \"%064d\" }", 0);
    ym_config *c = load(issuer); /* 64 bytes is the most */
    assert_int_equal(strlen(c->auth.issuer), 64);
    ym_config_free(c);
    /* the line is where auth = starts, also for a problem deep inside */
    load_bad("workers = 1\n\nauth = {\n  password = {\n    min_length = 4,\n  },\n}\n",
             FAKE ":3: auth.password.min_length: must be from 8 to 128");
}

static void test_auth_unknown_nested_key(void **state)
{
    load_bad("auth = {\n  lockout = {\n    attemps = 5,\n  },\n}\n", FAKE ":1: auth.lockout.attemps: unknown key");
    load_bad("workers = 1\nauth = { idle = \"5m\" }", FAKE ":2: auth.idle: unknown key");
    load_bad("auth = { rate_limit = { per_user = 1 } }", "auth.rate_limit.per_user: unknown key");
    load_bad("auth = { argon2 = { memory_cost = 1 } }", "auth.argon2.memory_cost: unknown key");
    load_bad("auth = { password = { min_lenght = 12 } }", "auth.password.min_lenght: unknown key");
    load_bad("auth = { password = {} }\nauth.password.history = 5", FAKE ":1: auth.password.history: unknown key");
    load_bad("auth = { totp = { \"system_admin\" } }", "auth.totp: unknown key");
    load_bad("auth = { lockout = { [1] = 5 } }", "auth.lockout: expected named keys only");
}

static void test_shipped_auth_example(void **state)
{
    /* the commented-out auth block in the shipped config is valid once uncommented */
    char line[512], text[4096] = "";
    bool in = false;
    FILE *f = fopen("config/yimen.conf", "r");
    if (!f)
        skip();
    while (fgets(line, sizeof line, f)) {
        in = in || !strncmp(line, "-- auth = {", 11);
        if (in && !strncmp(line, "-- ", 3))
            strncat(text, line + 3, sizeof text - strlen(text) - 1);
        if (in && !strncmp(line, "-- }", 4))
            break;
    }
    fclose(f);
    ym_config *c = load(text);
    assert_int_equal(c->auth.idle_timeout, 30 * 60 * 1000);
    assert_int_equal(c->auth.argon2.memory, 19 << 20);
    assert_int_equal(c->auth.password.min_length, 12);
    assert_int_equal(c->auth.totp_roles.n, 3);
    assert_string_equal(c->auth.totp_roles.v[0], "system_admin");
    assert_string_equal(c->auth.audit_hash, "sm3");
    ym_config_free(c);
}

static void test_shipped_common_passwords(void **state)
{
    /* plain list: one per line, lowercase, 6+ bytes, sorted, unique, no comments */
    char line[256], prev[256] = "";
    size_t n = 0;
    FILE *f = fopen("config/common-passwords.txt", "r");
    if (!f)
        skip();
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n')
            fail_msg("line %zu: not newline-terminated or too long", n + 1);
        line[--len] = '\0';
        if (len < 6 || line[0] == '#' || strpbrk(line, " \t\r"))
            fail_msg("line %zu: \"%s\"", n + 1, line);
        for (size_t i = 0; i < len; i++)
            if (line[i] >= 'A' && line[i] <= 'Z')
                fail_msg("line %zu: \"%s\" is not lowercase", n + 1, line);
        if (n && strcmp(prev, line) >= 0)
            fail_msg("line %zu: \"%s\" is not after \"%s\" (sorted, unique)", n + 1, line, prev);
        memcpy(prev, line, len + 1);
        n++;
    }
    fclose(f);
    assert_true(n >= 2000);
}

static void test_shipped_config_loads(void **state)
{
    /* the default config must always load; tests run from the repository root */
    ym_config *c = NULL;
    if (access("config/yimen.conf", R_OK) != 0)
        skip();
    if (ym_config_load_file("config/yimen.conf", &c, err, sizeof err) != 0)
        fail_msg("config/yimen.conf: %s", err);
    assert_string_equal(c->listen[0].host, "127.0.0.1");
    assert_int_equal(c->listen[0].port, 8080);
    assert_true(strstr(c->data_dir, "/var") != NULL);
    assert_int_equal(c->auth.lockout.attempts, 5); /* the auth example is commented out */
    assert_int_equal(c->auth.totp_roles.n, 0);
    ym_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_partial_tables_keep_defaults),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_unknown_top_level_key),
        cmocka_unit_test(test_unknown_nested_key),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_syntax_error_has_line),
        cmocka_unit_test(test_sandbox_limits),
        cmocka_unit_test(test_sandbox_has_no_library),
        cmocka_unit_test(test_arithmetic_and_locals_are_data),
        cmocka_unit_test(test_plugin_settings_to_json),
        cmocka_unit_test(test_plugin_settings_from_plugin_dir),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_reloadable),
        cmocka_unit_test(test_auth_defaults),
        cmocka_unit_test(test_auth_every_key),
        cmocka_unit_test(test_auth_partial_tables_keep_defaults),
        cmocka_unit_test(test_auth_errors),
        cmocka_unit_test(test_auth_unknown_nested_key),
        cmocka_unit_test(test_shipped_config_loads),
        cmocka_unit_test(test_shipped_auth_example),
        cmocka_unit_test(test_shipped_common_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
