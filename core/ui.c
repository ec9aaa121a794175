/* ui: the shell's navigation (GET /api/ui/manifest) from the enabled plugins'
 * www/manifest.json, checked once at worker start and filtered per request by the
 * caller's permissions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ui.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "identity.h"
#include "log.h"

#define MANIFEST_MAX (256u << 10)
#define NAV_MAX 32
#define ID_MAX 64

typedef struct ui_plugin {
    const ym_plugin *p;    /* its state is looked at per request (a start may fail) */
    json_t *entry;         /* {"name", "base", "nav": [...], "messages": {...}} */
} ui_plugin;

static ui_plugin *g_plugins;
static size_t g_n;

static json_t *failf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *failf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return NULL;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > ID_MAX)
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return false;
    return true;
}

static bool js_name(const char *s)
{
    size_t n = strlen(s);
    return (n > 3 && strcmp(s + n - 3, ".js") == 0) || (n > 4 && strcmp(s + n - 4, ".mjs") == 0);
}

/* {"zh-CN": "...", "en": "..."}: strings, zh-CN present and not empty. */
static bool label_ok(json_t *label)
{
    if (!json_is_object(label) || !json_is_string(json_object_get(label, "zh-CN")) ||
        !*json_string_value(json_object_get(label, "zh-CN")))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(label, k, v)
        if (!json_is_string(v) || strlen(k) > 16)
            return false;
    return true;
}

static json_t *check_nav(const char *plugin, json_t *e, size_t i, const ym_static *www, char *err, size_t errlen)
{
    if (!json_is_object(e))
        return failf(err, errlen, "nav[%zu] is not an object", i);
    json_t *id = json_object_get(e, "id"), *label = json_object_get(e, "label"),
           *perm = json_object_get(e, "permission"), *module = json_object_get(e, "module");
    if (!json_is_string(id) || !id_ok(json_string_value(id)))
        return failf(err, errlen, "nav[%zu].id must be 1-%d characters of [a-z0-9_-]", i, ID_MAX);
    if (!label_ok(label))
        return failf(err, errlen, "nav[%zu].label must be an object of strings with a non-empty zh-CN", i);
    if (!json_is_string(perm) ||
        (strcmp(json_string_value(perm), YM_PERM_USER) != 0 && !ym_perm_known(json_string_value(perm))))
        return failf(err, errlen, "nav[%zu].permission must be \"user\" or a registered permission", i);
    char path[1024], v[9];
    if (!json_is_string(module) || json_string_value(module)[0] == '/' || !js_name(json_string_value(module)) ||
        snprintf(path, sizeof path, "/ui/%s/%s", plugin, json_string_value(module)) >= (int)sizeof path ||
        ym_static_path_ok(path) < 0 || strstr(json_string_value(module), "//"))
        return failf(err, errlen, "nav[%zu].module must be the relative path of a .js file of the plugin's www/", i);
    if (!www || !ym_static_version(www, path, v))
        return failf(err, errlen, "nav[%zu].module %s is not a served file", i, json_string_value(module));
    char url[1100], route[128];
    snprintf(url, sizeof url, "%s?v=%s", path, v);
    snprintf(route, sizeof route, "#/p/%s/%s", plugin, json_string_value(id));
    return json_pack("{s:O,s:O,s:O,s:s,s:s}", "id", id, "label", label, "permission", perm, "module", url,
                     "route", route);
}

json_t *ym_ui_check_manifest(const char *plugin, const char *text, size_t len, const ym_static *www, char *err,
                             size_t errlen)
{
    if (len > MANIFEST_MAX)
        return failf(err, errlen, "manifest.json is larger than %u bytes", MANIFEST_MAX);
    json_error_t je;
    json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!m)
        return failf(err, errlen, "manifest.json is not JSON: %s (line %d)", je.text, je.line);
    json_t *nav = json_object_get(m, "nav"), *messages = json_object_get(m, "messages");
    json_t *out = NULL;
    if (!json_is_object(m)) {
        failf(err, errlen, "manifest.json must be an object");
        goto done;
    }
    if (nav && (!json_is_array(nav) || json_array_size(nav) > NAV_MAX)) {
        failf(err, errlen, "nav must be an array of at most %d entries", NAV_MAX);
        goto done;
    }
    if (messages) {
        const char *lang;
        json_t *table;
        bool ok = json_is_object(messages);
        if (ok)
            json_object_foreach(messages, lang, table)
                ok = ok && json_is_object(table) && strlen(lang) <= 16;
        if (!ok) {
            failf(err, errlen, "messages must be an object of language -> object");
            goto done;
        }
    }
    json_t *checked = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(nav, i, e) {
        json_t *c = check_nav(plugin, e, i, www, err, errlen);
        for (size_t k = 0; c && k < json_array_size(checked); k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(checked, k), "id")),
                       json_string_value(json_object_get(c, "id"))) == 0) {
                json_decref(c);
                c = failf(err, errlen, "nav[%zu].id is used twice", i);
            }
        if (!c) {
            json_decref(checked);
            goto done;
        }
        json_array_append_new(checked, c);
    }
    out = json_pack("{s:o,s:o}", "nav", checked, "messages", messages ? json_incref(messages) : json_object());
done:
    json_decref(m);
    return out;
}

void ym_ui_free(void)
{
    for (size_t i = 0; i < g_n; i++)
        json_decref(g_plugins[i].entry);
    free(g_plugins);
    g_plugins = NULL;
    g_n = 0;
}

void ym_ui_load(const ym_host *h, const ym_static *www)
{
    ym_ui_free();
    g_plugins = calloc(h->n ? h->n : 1, sizeof *g_plugins);
    if (!g_plugins)
        abort();
    for (size_t i = 0; i < h->n; i++) {
        const ym_plugin *p = &h->v[i];
        if (p->state != YM_PLUGIN_ENABLED)
            continue;
        char path[128], err[300] = "";
        snprintf(path, sizeof path, "/ui/%s/manifest.json", p->name);
        size_t len = 0;
        const char *text = www ? ym_static_body(www, path, false, &len) : NULL;
        if (!text)
            continue; /* a plugin without pages */
        json_t *m = ym_ui_check_manifest(p->name, text, len, www, err, sizeof err);
        if (!m) {
            ym_log(YM_LOG_ERROR, "plugin manifest refused: the plugin gets no navigation", "plugin=%s reason=%s",
                   p->name, err);
            m = json_pack("{s:[],s:{}}", "nav", "messages");
        }
        char base[64];
        snprintf(base, sizeof base, "/ui/%s/", p->name);
        json_object_set_new(m, "name", json_string(p->name));
        json_object_set_new(m, "base", json_string(base));
        g_plugins[g_n].p = p;
        g_plugins[g_n++].entry = m;
    }
}

static void manifest_get(ym_request *r, void *ud)
{
    ym_db *db = ym_server_db(ym_req_server(r));
    json_t *list = json_array();
    for (size_t i = 0; i < g_n; i++) {
        if (g_plugins[i].p->state != YM_PLUGIN_ENABLED)
            continue;
        json_t *src = g_plugins[i].entry, *nav = json_array();
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(src, "nav"), k, e) {
            const char *perm = json_string_value(json_object_get(e, "permission"));
            if (strcmp(perm, YM_PERM_USER) == 0 || ym_may(db, r->who, perm, 0) == 1)
                json_array_append(nav, e);
        }
        r->who->acting_for = 0; /* ym_may may have set it; nothing is done on anyone's behalf here */
        json_array_append_new(list, json_pack("{s:O,s:O,s:o,s:O}", "name", json_object_get(src, "name"), "base",
                                              json_object_get(src, "base"), "nav", nav, "messages",
                                              json_object_get(src, "messages")));
    }
    ym_resp_json(r, 200, json_pack("{s:o}", "plugins", list));
}

int ym_ui_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/ui/manifest", YM_PERM_USER, manifest_get, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof routes[0], err, errlen);
}
