/* config: validate what yimen.conf assigned (evaluated by config_eval.c in an empty,
 * capped Lua sandbox) into a ym_config (absolute paths, bytes, milliseconds); defaults,
 * and the diff for reload; sizes, durations and paths are in config_values.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lua.h>
#include "config.h"
#include "channels.h"
#include "items.h"
#include "plugin.h"
#include "config_eval.h"
#include "log.h"

#define MAX_FILE (1u << 20)
#define MAX_DEPTH 32             /* plugin settings nesting; also stops `t.t = t` cycles */

typedef struct parse_ctx {
    const char *file;            /* as the caller named it, for messages */
    char *err;
    size_t errlen;
    ym_config *c;
    int line;                    /* top-level assignment being validated */
} parse_ctx;

/* ---- errors and lists ---- */

static __attribute__((format(printf, 3, 4))) int fail(parse_ctx *p, const char *key,
                                                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->errlen && p->line > 0)
        snprintf(p->err, p->errlen, "%s:%d: %s: %s", p->file, p->line, key, msg);
    else if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "%s: %s: %s", p->file, key, msg);
    return -1;
}

static __attribute__((format(printf, 3, 4))) void set_err(char *err, size_t errlen,
                                                          const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int strlist_push(ym_strlist *l, const char *s)
{
    char *dup = strdup(s);
    char **v = dup ? realloc(l->v, (l->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(dup);
        return -1;
    }
    v[l->n++] = dup;
    l->v = v;
    return 0;
}

static void strlist_free(ym_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool strlist_has(const ym_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* ---- defaults ---- */

static int set_defaults(ym_config *c)
{
    const char *bin = ym_config_bindir();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->listen[0] = (ym_listen_addr){"127.0.0.1", 8080};
    c->nlisten = 1;
    c->workers = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    c->log_level = YM_LOG_INFO;
    c->limits.uri = 8u << 10, c->limits.headers = 16u << 10, c->limits.header_count = 100;
    c->limits.body = 8u << 20, c->limits.connections = 10000, c->limits.json_depth = 64;
    c->limits.write_buffer = 1u << 20;
    c->timeouts.header = 10000, c->timeouts.body = 30000, c->timeouts.idle = 75000;
    c->timeouts.drain = 30000;
    c->database.busy_timeout_ms = 5000;
    c->metrics.loopback_only = true;
    c->data_dir = ym_path_resolve(bin, "../var");
    c->www_root = ym_path_resolve(bin, "../core/www");
    c->calendar_dir = ym_path_resolve(bin, "../config/calendar");
    c->timezone = strdup("Asia/Shanghai");
    c->database.synchronous = strdup("full");
    c->plugin_settings = json_object();
    c->auth.idle_timeout = 30 * 60000, c->auth.absolute_timeout = 12 * 3600000;
    c->auth.lockout.attempts = 5, c->auth.lockout.window = c->auth.lockout.duration = 30 * 60000;
    c->auth.rate_limit.per_ip = 20, c->auth.rate_limit.per_account = 10;
    c->auth.argon2.memory = 19u << 20, c->auth.argon2.iterations = 2;
    c->auth.argon2.parallelism = 1, c->auth.password.min_length = 12;
    c->auth.password.common_list = ym_path_resolve(bin, "../config/common-passwords.txt");
    c->auth.audit_hash = strdup("sm3"), c->auth.issuer = strdup("yimen");
    c->notify.heartbeat = 25000, c->notify.keep = 365ull * 86400000, c->notify.channels = json_object();
    c->items.colours = ym_items_config_default("colours");
    c->items.lag_categories = ym_items_config_default("lag_categories");
    c->items.auto_urge = ym_items_config_default("auto_urge");
    char *p1 = ym_path_resolve(bin, "plugins"), *p2 = ym_path_resolve(bin, "../lua");
    bool ok = p1 && p2 && !strlist_push(&c->plugin_paths, p1) && !strlist_push(&c->plugin_paths, p2);
    free(p1);
    free(p2);
    return ok && c->data_dir && c->www_root && c->calendar_dir && c->timezone &&
                   c->database.synchronous && c->plugin_settings && c->auth.password.common_list &&
                   c->auth.audit_hash && c->auth.issuer && c->notify.channels && c->items.colours &&
                   c->items.lag_categories && c->items.auto_urge ? 0 : -1;
}

/* ---- scalars: the value at absolute stack index idx; errors name key ---- */

static int get_string(parse_ctx *p, lua_State *L, int idx, const char *key, const char **out)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING)
        return fail(p, key, "expected a string");
    *out = lua_tolstring(L, idx, &len);
    return strlen(*out) == len ? 0 : fail(p, key, "string contains a NUL byte");
}

static int set_string(parse_ctx *p, char **dst, const char *val, const char *key)
{
    char *dup = strdup(val);
    if (!dup)
        return fail(p, key, "out of memory");
    free(*dst);
    *dst = dup;
    return 0;
}

static int get_uint(lua_State *L, int idx, uint64_t *out)
{
    int ok;
    lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &ok) : (ok = 0);
    if (!ok || v < 0) /* tointegerx also takes 1e6, a float with an integral value */
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int get_size(parse_ctx *p, lua_State *L, int idx, const char *key, uint64_t *out)
{
    size_t sz;
    if (get_uint(L, idx, out) == 0)
        return 0;
    if (lua_type(L, idx) == LUA_TSTRING && ym_parse_size(lua_tostring(L, idx), &sz) == 0)
        return *out = sz, 0;
    return fail(p, key, "expected a size (bytes or \"8MiB\")");
}

static int get_duration(parse_ctx *p, lua_State *L, int idx, const char *key, uint64_t *ms)
{
    lua_Number n = lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : -1;
    if (isfinite(n) && n >= 0 && n * 1000 < 9.0e15) /* seconds; 1.5 allowed */
        return *ms = (uint64_t)llround(n * 1000), 0;
    if (lua_type(L, idx) == LUA_TSTRING && ym_parse_duration(lua_tostring(L, idx), ms) == 0)
        return 0;
    return fail(p, key, "expected a duration (seconds or \"30s\", \"250ms\", \"5m\", \"2h\")");
}

/* ---- list items ---- */

typedef int (*item_fn)(parse_ctx *p, const char *item, const char *key);

/* "1.2.3.4:80", "[::1]:80", "*:80", "localhost:80" -> normalised host text and port. */
static int parse_hostport(const char *s, ym_listen_addr *out)
{
    char host[64];
    unsigned char bin[16];
    const char *colon = s[0] == '[' ? strstr(s, "]:") : strrchr(s, ':'), *hs = s + (s[0] == '[');
    int af = s[0] == '[' ? AF_INET6 : AF_INET;
    uint64_t port;
    if (!colon || colon - hs >= (long)sizeof host)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - hs), hs);
    if (af == AF_INET && (!strcmp(host, "*") || !host[0]))
        strcpy(host, "0.0.0.0");
    else if (af == AF_INET && !strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    colon += af == AF_INET6; /* skip the ']' */
    const char *end = ym_parse_digits(colon + 1, &port);
    if (!end || *end || port < 1 || port > 65535 || inet_pton(af, host, bin) != 1 ||
        !inet_ntop(af, bin, out->host, sizeof out->host))
        return -1;
    out->port = (int)port;
    return 0;
}

static bool listen_has(const ym_config *c, const ym_listen_addr *a)
{
    for (size_t i = 0; i < c->nlisten; i++)
        if (c->listen[i].port == a->port && !strcmp(c->listen[i].host, a->host))
            return true;
    return false;
}

static int listen_item(parse_ctx *p, const char *s, const char *key)
{
    ym_config *c = p->c;
    ym_listen_addr a;
    if (parse_hostport(s, &a) < 0)
        return fail(p, key, "expected \"host:port\" (IPv6 as \"[::1]:8080\"), got \"%s\"", s);
    if (listen_has(c, &a))
        return fail(p, key, "\"%s\" is listed twice", s);
    if (c->nlisten == YM_MAX_LISTEN)
        return fail(p, key, "at most %d listen addresses", YM_MAX_LISTEN);
    c->listen[c->nlisten++] = a;
    return 0;
}

static int proxy_item(parse_ctx *p, const char *s, const char *key)
{
    char addr[64];
    unsigned char bin[16];
    const char *slash = strchr(s, '/'), *end;
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    uint64_t prefix;
    snprintf(addr, sizeof addr, "%.*s", (int)al, s);
    int af = al >= sizeof addr ? 0 : inet_pton(AF_INET, addr, bin) == 1 ? AF_INET
           : inet_pton(AF_INET6, addr, bin) == 1 ? AF_INET6 : 0;
    if (!af)
        return fail(p, key, "expected an IP address or CIDR, got \"%s\"", s);
    if (slash && (!(end = ym_parse_digits(slash + 1, &prefix)) || *end ||
                  prefix > (af == AF_INET ? 32u : 128u)))
        return fail(p, key, "bad prefix length in \"%s\"", s);
    return strlist_push(&p->c->trusted_proxies, s) < 0 ? fail(p, key, "out of memory") : 0;
}

static int path_item(parse_ctx *p, const char *s, const char *key)
{
    char *abs = s[0] ? ym_path_resolve(p->c->dir, s) : NULL;
    int rc = abs ? strlist_push(&p->c->plugin_paths, abs) : -1;
    free(abs);
    return rc < 0 ? fail(p, key, "expected a directory path") : 0;
}

/* Plugin names become table prefixes and URL segments, hence ^[a-z][a-z0-9_]{0,31}$;
 * role keys follow the same rule. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32 || !islower((unsigned char)s[0]))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int plugin_item(parse_ctx *p, const char *s, const char *key)
{
    if (!name_ok(s))
        return fail(p, key, "\"%s\" is not a plugin name (a-z, 0-9 and _, starting with a "
                    "letter, at most 32)", s);
    if (ym_plugin_name_reserved(s)) /* the plugin host's list: the two never disagree */
        return fail(p, key, "\"%s\" is reserved for the core", s);
    if (strlist_has(&p->c->plugins, s))
        return fail(p, key, "\"%s\" is listed twice", s);
    return strlist_push(&p->c->plugins, s) < 0 ? fail(p, key, "out of memory") : 0;
}

static int role_item(parse_ctx *p, const char *s, const char *key)
{
    ym_strlist *l = &p->c->auth.totp_roles;
    if (!name_ok(s))
        return fail(p, key, "\"%s\" is not a role key (a-z, 0-9 and _, starting with a "
                    "letter, at most 32)", s);
    if (strlist_has(l, s))
        return fail(p, key, "\"%s\" is listed twice", s);
    return strlist_push(l, s) < 0 ? fail(p, key, "out of memory") : 0;
}

/* A single string or a list 1..n of strings, each handed to fn as "key[i]". */
static int each_string(parse_ctx *p, lua_State *L, int idx, const char *key, item_fn fn)
{
    char ikey[128];
    const char *s = NULL;
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    if (lua_type(L, idx) == LUA_TSTRING)
        return get_string(p, L, idx, key, &s) < 0 ? -1 : fn(p, s, key);
    if (lua_type(L, idx) != LUA_TTABLE)
        return fail(p, key, "expected a string or a list of strings");
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        count++;
    if (count != n)
        return fail(p, key, "expected a list of strings (no named keys, no gaps)");
    for (lua_Integer i = 1; i <= n; i++) {
        snprintf(ikey, sizeof ikey, "%s[%lld]", key, (long long)i);
        lua_rawgeti(L, idx, i);
        int rc = get_string(p, L, lua_gettop(L), ikey, &s) < 0 ? -1 : fn(p, s, ikey);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- the schema: one table of fields drives validation and unknown-key errors ---- */

enum { F_SIZE, F_KIB, F_COUNT, F_MS, F_MS_INT, F_BOOL, F_SYNC, F_HASH, F_ISSUER, F_WORKERS,
       F_LEVEL, F_PATH, F_TZ, F_URL, F_LISTEN, F_PROXIES, F_PATHS, F_PLUGINS, F_ROLES, F_TABLE, F_CHANNELS,
       F_ITEMS };

typedef struct field {
    const char *name;
    int kind;
    size_t off;
    uint64_t min, max;          /* for numbers; max 0 = none */
    const struct field *sub;    /* for F_TABLE */
} field;

#define CF(m) offsetof(ym_config, m)
#define FLD(name, kind, m, min, max) {name, kind, CF(m), min, max, NULL}
#define SUB(name, fields) {name, F_TABLE, 0, 0, 0, fields}
#define END {NULL, 0, 0, 0, 0, NULL}
static const field limits_fields[] = {
    FLD("uri", F_SIZE, limits.uri, 1, 0), FLD("headers", F_SIZE, limits.headers, 1, 0),
    FLD("header_count", F_COUNT, limits.header_count, 1, 0),
    FLD("body", F_SIZE, limits.body, 0, 0), FLD("connections", F_COUNT, limits.connections, 1, 0),
    FLD("json_depth", F_COUNT, limits.json_depth, 1, 0),
    FLD("write_buffer", F_SIZE, limits.write_buffer, 1, 0), END,
};
static const field timeouts_fields[] = {
    FLD("header", F_MS, timeouts.header, 1, 0), FLD("body", F_MS, timeouts.body, 1, 0),
    FLD("idle", F_MS, timeouts.idle, 1, 0), FLD("drain", F_MS, timeouts.drain, 0, 0), END,
};
static const field database_fields[] = {
    FLD("synchronous", F_SYNC, database.synchronous, 0, 0),
    FLD("busy_timeout", F_MS_INT, database.busy_timeout_ms, 0, 0), END,
};
static const field metrics_fields[] = {FLD("loopback_only", F_BOOL, metrics.loopback_only, 0, 0), END};
static const field lockout_fields[] = {
    FLD("attempts", F_COUNT, auth.lockout.attempts, 1, 0),
    FLD("window", F_MS, auth.lockout.window, 1, 0),
    FLD("duration", F_MS, auth.lockout.duration, 1, 0), END,
};
static const field rate_limit_fields[] = {
    FLD("per_ip", F_COUNT, auth.rate_limit.per_ip, 1, 0),
    FLD("per_account", F_COUNT, auth.rate_limit.per_account, 1, 0), END,
};
static const field argon2_fields[] = {
    FLD("memory", F_KIB, auth.argon2.memory, 8u << 10, 1u << 30),
    FLD("iterations", F_COUNT, auth.argon2.iterations, 1, 10),
    FLD("parallelism", F_COUNT, auth.argon2.parallelism, 1, 16), END,
};
static const field password_fields[] = {
    FLD("min_length", F_COUNT, auth.password.min_length, 8, 128),
    FLD("classes", F_COUNT, auth.password.classes, 0, 4),
    FLD("max_age", F_MS, auth.password.max_age, 0, 0),
    FLD("common_list", F_PATH, auth.password.common_list, 0, 0), END,
};
static const field auth_fields[] = {
    FLD("idle_timeout", F_MS, auth.idle_timeout, 1, 0),
    FLD("absolute_timeout", F_MS, auth.absolute_timeout, 1, 0),
    SUB("lockout", lockout_fields), SUB("rate_limit", rate_limit_fields),
    SUB("argon2", argon2_fields), SUB("password", password_fields),
    FLD("totp_roles", F_ROLES, auth.totp_roles, 0, 0), FLD("audit_hash", F_HASH, auth.audit_hash, 0, 0),
    FLD("issuer", F_ISSUER, auth.issuer, 0, 0), END,
};
static const field notify_fields[] = {
    FLD("heartbeat", F_MS, notify.heartbeat, 1000, 3600000), FLD("keep", F_MS, notify.keep, 86400000, 0),
    FLD("channels", F_CHANNELS, notify.channels, 0, 0), END,
};
static const field items_fields[] = {
    FLD("colours", F_ITEMS, items.colours, 0, 0), FLD("lag_categories", F_ITEMS, items.lag_categories, 0, 0),
    FLD("auto_urge", F_ITEMS, items.auto_urge, 0, 0), FLD("remind_days", F_ITEMS, items.remind_days, 0, 0), END,
};
static const field top_fields[] = {
    FLD("listen", F_LISTEN, listen, 0, 0), FLD("workers", F_WORKERS, workers, 1, 0),
    FLD("data_dir", F_PATH, data_dir, 0, 0), FLD("log_level", F_LEVEL, log_level, 0, 0),
    FLD("timezone", F_TZ, timezone, 0, 0), FLD("www_root", F_PATH, www_root, 0, 0),
    FLD("calendar_dir", F_PATH, calendar_dir, 0, 0), SUB("limits", limits_fields),
    SUB("timeouts", timeouts_fields), SUB("database", database_fields),
    FLD("trusted_proxies", F_PROXIES, trusted_proxies, 0, 0),
    FLD("public_url", F_URL, public_url, 0, 0), SUB("metrics", metrics_fields),
    FLD("plugin_paths", F_PATHS, plugin_paths, 0, 0), FLD("plugins", F_PLUGINS, plugins, 0, 0),
    SUB("auth", auth_fields), SUB("notify", notify_fields),
    SUB("items", items_fields), END,
};

static int set_field(parse_ctx *p, lua_State *L, int idx, const field *f, const char *key);
static int set_channels(parse_ctx *p, lua_State *L, int idx, const char *key);
static int set_items(parse_ctx *p, lua_State *L, int idx, const field *f, const char *key);

static int set_table(parse_ctx *p, lua_State *L, int idx, const field *fields, const char *key)
{
    char sub[160];
    if (lua_type(L, idx) != LUA_TTABLE)
        return fail(p, key, "expected a table");
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return fail(p, key, "expected named keys only");
        snprintf(sub, sizeof sub, "%s.%s", key, lua_tostring(L, -2));
        const field *f = fields;
        while (f->name && strcmp(f->name, lua_tostring(L, -2)))
            f++;
        if (!f->name)
            return fail(p, sub, "unknown key");
        if (set_field(p, L, lua_gettop(L), f, sub) < 0)
            return -1;
    }
    size_t lanes = p->c->auth.argon2.parallelism; /* Argon2 needs 8 KiB per lane */
    if (fields == argon2_fields && p->c->auth.argon2.memory < (lanes << 13))
        return fail(p, key, "memory must be at least 8KiB per lane: %zuKiB for parallelism %zu",
                    lanes << 3, lanes);
    return 0;
}

static bool issuer_ok(const char *s)
{
    json_t *utf8 = json_string(s); /* NULL unless valid UTF-8 */
    bool ok = utf8 && s[0] && strlen(s) <= 64 && !strpbrk(s, ":\x7f");
    for (json_decref(utf8); ok && *s; s++)
        ok = (unsigned char)*s >= 0x20;
    return ok;
}

static int set_text(parse_ctx *p, lua_State *L, int idx, const field *f, const char *key,
                    char **dst)
{
    char zf[PATH_MAX];
    struct stat st;
    const char *s = NULL;
    if (get_string(p, L, idx, key, &s) < 0)
        return -1;
    if (f->kind == F_SYNC && strcmp(s, "full") && strcmp(s, "normal") && strcmp(s, "off"))
        return fail(p, key, "expected \"full\", \"normal\" or \"off\"");
    if (f->kind == F_HASH && strcmp(s, "sm3") && strcmp(s, "sha256"))
        return fail(p, key, "expected \"sm3\" or \"sha256\"");
    if (f->kind == F_ISSUER && !issuer_ok(s)) /* it goes into otpauth:// URIs as is */
        return fail(p, key, "expected 1 to 64 bytes of UTF-8 without ':' or control characters");
    snprintf(zf, sizeof zf, "/usr/share/zoneinfo/%s", s); /* no escaping zoneinfo: */
    if (f->kind == F_TZ && (!s[0] || s[0] == '/' || strstr(s, "..") || stat(zf, &st) < 0 ||
                            !S_ISREG(st.st_mode)))
        return fail(p, key, "unknown time zone \"%s\" (no %s)", s, zf);
    size_t skip = !strncmp(s, "https://", 8) ? 8 : !strncmp(s, "http://", 7) ? 7 : 0;
    if (f->kind == F_URL && (!skip || !s[skip] || s[skip] == '/'))
        return fail(p, key, "expected a URL starting with http:// or https://");
    if (f->kind == F_PATH) {
        char *abs = s[0] ? ym_path_resolve(p->c->dir, s) : NULL;
        if (!abs)
            return fail(p, key, "expected a path");
        free(*dst);
        *dst = abs;
        return 0;
    }
    if (set_string(p, dst, s, key) < 0)
        return -1;
    for (size_t n = strlen(*dst); f->kind == F_URL && n > skip && (*dst)[n - 1] == '/';)
        (*dst)[--n] = '\0'; /* links are built as public_url + "/path" */
    return 0;
}

static int set_list(parse_ctx *p, lua_State *L, int idx, const field *f, const char *key)
{
    static const item_fn fns[] = {listen_item, proxy_item, path_item, plugin_item, role_item};
    if (f->kind == F_LISTEN)
        p->c->nlisten = 0;
    else
        strlist_free((ym_strlist *)((char *)p->c + f->off));
    if (each_string(p, L, idx, key, fns[f->kind - F_LISTEN]) < 0)
        return -1;
    return f->kind != F_LISTEN || p->c->nlisten ? 0 : fail(p, key, "at least one address is needed");
}

/* "must be from 8KiB to 1GiB": sizes read as in the file when they are exact. */
static int range_fail(parse_ctx *p, const field *f, const char *key)
{
    static const char *const unit[] = {"", "KiB", "MiB", "GiB"};
    char txt[2][32];
    uint64_t v[2] = {f->min, f->max};
    for (int i = 0, u = 0; i < 2; i++, u = 0) {
        for (; (f->kind == F_SIZE || f->kind == F_KIB) && u < 3 && v[i] && v[i] % 1024 == 0; u++)
            v[i] /= 1024;
        snprintf(txt[i], sizeof txt[i], "%llu%s", (unsigned long long)v[i], unit[u]);
    }
    return f->max ? fail(p, key, "must be from %s to %s", txt[0], txt[1])
                  : fail(p, key, "must be at least %s", txt[0]);
}

static int set_field(parse_ctx *p, lua_State *L, int idx, const field *f, const char *key)
{
    char *dst = (char *)p->c + f->off;
    uint64_t v = 0;
    ym_log_level lvl;
    switch (f->kind) {
    case F_TABLE:
        return set_table(p, L, idx, f->sub, key);
    case F_CHANNELS:
        return set_channels(p, L, idx, key);
    case F_ITEMS:
        return set_items(p, L, idx, f, key);
    case F_LISTEN: case F_PROXIES: case F_PATHS: case F_PLUGINS: case F_ROLES:
        return set_list(p, L, idx, f, key);
    case F_SYNC: case F_HASH: case F_ISSUER: case F_PATH: case F_TZ: case F_URL:
        return set_text(p, L, idx, f, key, (char **)dst);
    case F_BOOL:
        if (lua_type(L, idx) != LUA_TBOOLEAN)
            return fail(p, key, "expected true or false");
        return *(bool *)dst = lua_toboolean(L, idx), 0;
    case F_LEVEL:
        if (lua_type(L, idx) != LUA_TSTRING || ym_log_parse_level(lua_tostring(L, idx), &lvl) < 0)
            return fail(p, key, "expected \"debug\", \"info\", \"warn\" or \"error\"");
        return *(int *)dst = (int)lvl, 0;
    case F_WORKERS:
        if (get_uint(L, idx, &v) < 0 || v < 1 || v > 64)
            return fail(p, key, "expected an integer from 1 to 64");
        return *(int *)dst = (int)v, 0;
    case F_COUNT:
        if (get_uint(L, idx, &v) < 0)
            return fail(p, key, "expected a whole number");
        break;
    case F_SIZE: case F_KIB:
        if (get_size(p, L, idx, key, &v) < 0)
            return -1;
        break;
    default:
        if (get_duration(p, L, idx, key, &v) < 0)
            return -1;
        if (f->kind == F_MS_INT && v > INT_MAX)
            return fail(p, key, "too long");
    }
    if (v < f->min || (f->max && v > f->max))
        return range_fail(p, f, key);
    if (f->kind == F_KIB && v % 1024)
        return fail(p, key, "must be a whole number of KiB");
    if (f->kind == F_MS_INT)
        *(int *)dst = (int)v;
    else if (f->kind == F_MS)
        *(uint64_t *)dst = v;
    else if (v > SIZE_MAX)
        return fail(p, key, "too large");
    else
        *(size_t *)dst = (size_t)v;
    return 0;
}

/* ---- plugin settings: a Lua table -> JSON, built bottom-up ---- */

static json_t *to_json(parse_ctx *p, lua_State *L, int idx, const char *path, int depth);

static json_t *table_to_json(parse_ctx *p, lua_State *L, int idx, const char *path, int depth)
{
    char sub[256];
    size_t total = 0, nint = 0, n = lua_rawlen(L, idx);
    if (depth > MAX_DEPTH || !lua_checkstack(L, 8))
        return fail(p, path, "nested too deeply"), NULL;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        total++, nint += lua_isinteger(L, -2);
    bool array = total > 0 && nint == total && n == total;
    if (nint && !array)
        return fail(p, path, "a table is either a list 1..n or has named keys only"), NULL;
    json_t *out = array ? json_array() : json_object();
    if (!out)
        return fail(p, path, "out of memory"), NULL;
    for (size_t i = 1; array && i <= n; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        lua_rawgeti(L, idx, (lua_Integer)i);
        json_t *v = to_json(p, L, lua_gettop(L), sub, depth + 1);
        lua_pop(L, 1);
        if (!v || json_array_append_new(out, v) < 0)
            return json_decref(out), NULL;
    }
    for (array ? 0 : (lua_pushnil(L), 0); !array && lua_next(L, idx); lua_pop(L, 1)) {
        size_t kl;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
        snprintf(sub, sizeof sub, "%s.%s", path, k ? k : "?");
        json_t *v = !k || strlen(k) != kl ? (fail(p, path, "keys must be strings"), NULL)
                                          : to_json(p, L, lua_gettop(L), sub, depth + 1);
        if (v && json_object_set_new(out, k, v) < 0) /* it frees v */
            v = NULL, fail(p, sub, "key is not valid UTF-8");
        if (!v)
            return json_decref(out), NULL;
    }
    return out;
}

static json_t *to_json(parse_ctx *p, lua_State *L, int idx, const char *path, int depth)
{
    json_t *v = NULL;
    size_t len;
    const char *s = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TTABLE:
        return table_to_json(p, L, idx, path, depth);
    case LUA_TBOOLEAN:
        v = json_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        v = lua_isinteger(L, idx) ? json_integer((json_int_t)lua_tointeger(L, idx))
                                  : json_real(lua_tonumber(L, idx));
        if (!v && !lua_isinteger(L, idx))
            return fail(p, path, "not a finite number"), NULL;
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        if (!(v = json_stringn(s, len)))
            return fail(p, path, "not valid UTF-8"), NULL;
        break;
    default:
        return fail(p, path, "a %s cannot be a setting", luaL_typename(L, idx)), NULL;
    }
    return v ? v : (fail(p, path, "out of memory"), NULL);
}

/* notify.channels: any table shape as JSON first, then the channel rules (channels.c). */
static int set_channels(parse_ctx *p, lua_State *L, int idx, const char *key)
{
    char sub[96], why[200], path[200];
    if (lua_type(L, idx) != LUA_TTABLE)
        return fail(p, key, "expected a table of channels");
    json_t *j = to_json(p, L, idx, key, 0);
    if (!j)
        return -1;
    if (json_is_array(j) && json_array_size(j) == 0) { /* {} reads as an empty list */
        json_decref(j);
        j = json_object();
    }
    if (ym_channels_check(j, sub, sizeof sub, why, sizeof why) < 0) {
        json_decref(j);
        snprintf(path, sizeof path, "%s%s%s", key, sub[0] ? "." : "", sub);
        return fail(p, path, "%s", why);
    }
    json_decref(p->c->notify.channels);
    p->c->notify.channels = j;
    return 0;
}

/* items.*: a list as JSON, then the rules of items.c. */
static int set_items(parse_ctx *p, lua_State *L, int idx, const field *f, const char *key)
{
    char sub[96], why[200], path[200];
    if (lua_type(L, idx) != LUA_TTABLE)
        return fail(p, key, "expected a list");
    json_t *j = to_json(p, L, idx, key, 0);
    if (!j)
        return -1;
    if (json_is_object(j) && json_object_size(j) == 0) { /* {} is an empty list */
        json_decref(j);
        j = json_array();
    }
    if (ym_items_config_check(f->name, j, sub, sizeof sub, why, sizeof why) < 0) {
        json_decref(j);
        snprintf(path, sizeof path, "%s%s", key, sub);
        return fail(p, path, "%s", why);
    }
    json_t **dst = (json_t **)((char *)p->c + f->off);
    json_decref(*dst);
    *dst = j;
    return 0;
}

static bool plugin_dir_exists(const ym_config *c, const char *name)
{
    char d[PATH_MAX];
    struct stat st;
    for (size_t i = 0; i < c->plugin_paths.n; i++) {
        snprintf(d, sizeof d, "%s/%s", c->plugin_paths.v[i], name);
        if (stat(d, &st) == 0 && S_ISDIR(st.st_mode))
            return true;
    }
    return false;
}

/* Not a core key: the settings of an enabled or installed plugin, or a mistake. */
static int set_plugin_settings(parse_ctx *p, lua_State *L, int idx, const char *key)
{
    if (!name_ok(key) || (!strlist_has(&p->c->plugins, key) && !plugin_dir_exists(p->c, key)))
        return fail(p, key, "unknown key");
    if (lua_type(L, idx) != LUA_TTABLE)
        return fail(p, key, "expected a table (the settings of plugin %s)", key);
    json_t *j = to_json(p, L, idx, key, 0);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return fail(p, key, "expected a table of named settings, not a list");
    }
    if (j && json_object_set_new(p->c->plugin_settings, key, j) < 0)
        return fail(p, key, "out of memory");
    return j ? 0 : -1;
}

/* ---- applying the evaluated file ---- */

static int apply_key(parse_ctx *p, lua_State *L, int values, const ym_conf_key *k)
{
    const field *f = top_fields;
    while (f->name && strcmp(f->name, k->name))
        f++;
    p->line = k->line;
    lua_getfield(L, values, k->name);
    int rc = f->name ? set_field(p, L, lua_gettop(L), f, k->name)
                     : set_plugin_settings(p, L, lua_gettop(L), k->name);
    lua_pop(L, 1);
    return rc;
}

/* Keys come in line order; plugins and plugin_paths go first since they decide which
 * other keys are plugin settings. */
static int apply_keys(void *ud, lua_State *L, int values, const ym_conf_key *keys, size_t n)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            bool early = !strcmp(keys[i].name, "plugins") || !strcmp(keys[i].name, "plugin_paths");
            if (early == (pass == 0) && apply_key(ud, L, values, &keys[i]) < 0)
                return -1;
        }
    return 0;
}

/* ---- public API ---- */

static ym_config *config_new(const char *path, char *err, size_t errlen)
{
    char cwd[PATH_MAX];
    ym_config *c = calloc(1, sizeof *c);
    if (c && path && (c->path = ym_path_resolve(getcwd(cwd, sizeof cwd) ? cwd : "/", path)))
        c->dir = strdup(c->path);
    else if (c && !path)
        c->dir = strdup(ym_config_bindir());
    if (c && c->dir && path)
        ym_path_dirname(c->dir);
    if (!c || !c->dir || set_defaults(c) < 0) {
        set_err(err, errlen, "%s: out of memory", path ? path : "config");
        ym_config_free(c);
        return NULL;
    }
    return c;
}

int ym_config_load_string(const char *text, size_t len, const char *path, ym_config **out,
                          char *err, size_t errlen)
{
    const char *name = path ? path : "config"; /* no file: defaults relative to bindir */
    ym_config *c = config_new(path, err, errlen);
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) /* a BOM, as Windows editors write */
        text += 3, len -= 3;
    parse_ctx p = {.file = name, .err = err, .errlen = errlen, .c = c};
    if (c && ym_conf_eval(text, len, name, err, errlen, apply_keys, &p) < 0) {
        ym_config_free(c);
        c = NULL;
    }
    *out = c;
    return c ? 0 : -1;
}

int ym_config_load_file(const char *path, ym_config **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path)
        return (*out = config_new(NULL, err, errlen)) ? 0 : -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    int e = !buf ? ENOMEM : ferror(f) ? errno : 0;
    fclose(f);
    if (e || n > MAX_FILE) {
        set_err(err, errlen, "cannot read %s: %s", path, e ? strerror(e) : "larger than 1 MiB");
        free(buf);
        return -1;
    }
    int rc = ym_config_load_string(buf, n, path, out, err, errlen);
    free(buf);
    return rc;
}

void ym_config_free(ym_config *c)
{
    if (!c)
        return;
    char *owned[] = {c->path, c->dir, c->data_dir, c->timezone, c->www_root, c->calendar_dir,
                     c->database.synchronous, c->public_url, c->auth.password.common_list,
                     c->auth.audit_hash, c->auth.issuer};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    strlist_free(&c->trusted_proxies);
    strlist_free(&c->plugin_paths);
    strlist_free(&c->plugins);
    strlist_free(&c->auth.totp_roles);
    json_decref(c->plugin_settings);
    json_decref(c->notify.channels);
    json_decref(c->items.colours);
    json_decref(c->items.lag_categories);
    json_decref(c->items.auto_urge);
    json_decref(c->items.remind_days);
    free(c);
}

int ym_config_reloadable(const ym_config *a, const ym_config *b, char *err, size_t errlen)
{
    bool same = a->nlisten == b->nlisten; /* entries are unique: equal counts + inclusion */
    for (size_t i = 0; same && i < b->nlisten; i++)
        same = listen_has(a, &b->listen[i]);
    if (!same)
        set_err(err, errlen, "listen changed: restart the server to apply it");
    else if (strcmp(a->data_dir, b->data_dir) != 0)
        set_err(err, errlen, "data_dir changed: restart the server to apply it");
    return same && strcmp(a->data_dir, b->data_dir) == 0 ? 0 : -1;
}
