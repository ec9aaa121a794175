/* lua_json: Lua values <-> JSON for the Lua host: a direct encoder from tables to text
 * (no intermediate jansson tree, no Lua allocation) and jansson documents to Lua values. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "lua_api.h"

#define MAX_ENCODE_DEPTH 128     /* deeper is a cycle or a mistake; it also bounds C recursion */

/* ---------- buffers ---------- */

void ym_lbuf_put(ym_lbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->max && b->n + n + 1 > b->max) {
        b->oom = true;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void ym_lbuf_free(ym_lbuf *b)
{
    free(b->p);
    *b = (ym_lbuf){0};
}

/* ---------- Lua -> JSON ---------- */

typedef struct enc {
    lua_State *L;
    ym_lbuf *b;
    char *err;
    size_t errlen;
    int depth;
} enc;

static __attribute__((format(printf, 2, 3))) int enc_fail(enc *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, e->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or > U+10FFFF), 0 if bad. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    size_t len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

static int enc_string(enc *e, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;
    ym_lbuf_put(e->b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_len(u + i, n - i);
            if (!l)
                return enc_fail(e, "a string is not valid UTF-8");
            i += l;
            continue;
        }
        ym_lbuf_put(e->b, s + run, i - run);
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        ym_lbuf_put(e->b, esc, el);
        run = ++i;
    }
    ym_lbuf_put(e->b, s + run, n - run);
    ym_lbuf_put(e->b, "\"", 1);
    return 0;
}

static int enc_number(enc *e, int idx)
{
    char buf[40];
    int n;
    if (lua_isinteger(e->L, idx)) {
        n = snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(e->L, idx));
    } else {
        double d = lua_tonumber(e->L, idx);
        if (!isfinite(d))
            return enc_fail(e, "NaN and infinity are not JSON");
        n = snprintf(buf, sizeof buf, "%.15g", d);
        if (strtod(buf, NULL) != d) /* the shortest that reads back the same */
            n = snprintf(buf, sizeof buf, "%.17g", d);
        if (!strpbrk(buf, ".eEn")) /* 2.0 stays a real number */
            n += snprintf(buf + n, sizeof buf - (size_t)n, ".0");
    }
    ym_lbuf_put(e->b, buf, (size_t)n);
    return 0;
}

bool ym_lua_has_mt(lua_State *L, int idx, const void *key)
{
    if (!lua_getmetatable(L, idx))
        return false;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* Keys exactly 1..n (n > 0) make an array; anything else an object. */
static bool is_sequence(lua_State *L, int idx, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1) {
            lua_pop(L, 2);
            return false;
        }
        count++;
        if (lua_tointeger(L, -2) > max)
            max = lua_tointeger(L, -2);
    }
    *n = max;
    return count > 0 && count == max;
}

bool ym_lua_is_sequence(lua_State *L, int idx)
{
    lua_Integer n;
    return lua_type(L, idx) == LUA_TTABLE && is_sequence(L, lua_absindex(L, idx), &n);
}

static int enc_value(enc *e, int idx);

static int enc_key(enc *e, int idx)
{
    lua_State *L = e->L;
    char buf[40];
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return enc_string(e, s, n);
    }
    if (lua_isinteger(L, idx)) {
        int n = snprintf(buf, sizeof buf, "\"%lld\"", (long long)lua_tointeger(L, idx));
        ym_lbuf_put(e->b, buf, (size_t)n);
        return 0;
    }
    return enc_fail(e, "a table key must be a string or an integer, not a %s", lua_typename(L, lua_type(L, idx)));
}

static int enc_table(enc *e, int idx)
{
    lua_State *L = e->L;
    lua_Integer n = 0;
    if (++e->depth > MAX_ENCODE_DEPTH || !lua_checkstack(L, 4))
        return enc_fail(e, "tables nest deeper than %d (is there a cycle?)", MAX_ENCODE_DEPTH);
    bool marked = ym_lua_has_mt(L, idx, ym_lua_key_array);
    bool array = marked ? (n = (lua_Integer)lua_rawlen(L, idx), true) : is_sequence(L, idx, &n);
    if (array) {
        ym_lbuf_put(e->b, "[", 1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                ym_lbuf_put(e->b, ",", 1);
            lua_rawgeti(L, idx, i);
            if (enc_value(e, lua_gettop(L)) < 0 || e->b->oom)
                return e->b->oom ? enc_fail(e, "the JSON outgrows the plugin's memory limit") : -1;
            lua_pop(L, 1);
        }
        ym_lbuf_put(e->b, "]", 1);
    } else {
        bool first = true;
        ym_lbuf_put(e->b, "{", 1);
        for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
            if (!first)
                ym_lbuf_put(e->b, ",", 1);
            first = false;
            if (enc_key(e, lua_gettop(L) - 1) < 0)
                return -1;
            ym_lbuf_put(e->b, ":", 1);
            if (enc_value(e, lua_gettop(L)) < 0 || e->b->oom)
                return e->b->oom ? enc_fail(e, "the JSON outgrows the plugin's memory limit") : -1;
        }
        ym_lbuf_put(e->b, "}", 1);
    }
    e->depth--;
    return 0;
}

static int enc_value(enc *e, int idx)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: ym_lbuf_put(e->b, "null", 4); return 0;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            ym_lbuf_put(e->b, "true", 4);
        else
            ym_lbuf_put(e->b, "false", 5);
        return 0;
    case LUA_TNUMBER: return enc_number(e, idx);
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return enc_string(e, s, n);
    }
    case LUA_TTABLE: return enc_table(e, idx);
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx)) { /* yimen.null */
            ym_lbuf_put(e->b, "null", 4);
            return 0;
        }
        /* fall through */
    default: return enc_fail(e, "a %s cannot be JSON", lua_typename(L, lua_type(L, idx)));
    }
}

int ym_lua_encode(lua_State *L, int idx, ym_lbuf *b, char *err, size_t errlen)
{
    int top = lua_gettop(L);
    enc e = {L, b, err, errlen, 0};
    b->max = ym_lua_of(L)->mem_cap; /* malloc'ed outside the cap: bound it all the same */
    int rc = enc_value(&e, lua_absindex(L, idx));
    lua_settop(L, top);
    if (rc == 0 && b->oom)
        rc = enc_fail(&e, "the JSON outgrows the plugin's memory limit");
    return rc;
}

/* ---------- JSON -> Lua ---------- */

void ym_lua_set_array_mt(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, ym_lua_key_array);
    lua_setmetatable(L, -2);
}

void ym_lua_push_json(lua_State *L, json_t *j)
{
    luaL_checkstack(L, 4, "JSON nests too deeply");
    const char *k;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach(j, k, v) {
            ym_lua_push_json(L, v);
            lua_setfield(L, -2, k);
        }
        break;
    case JSON_ARRAY:
        lua_createtable(L, (int)json_array_size(j), 0);
        json_array_foreach(j, i, v) {
            ym_lua_push_json(L, v);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        ym_lua_set_array_mt(L); /* [] stays [] when sent back */
        break;
    case JSON_STRING: lua_pushlstring(L, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(j)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_pushlightuserdata(L, NULL); break;
    }
}
