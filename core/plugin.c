/* plugin: finds plugins in plugin_paths, refuses what is unsafe or incompatible
 * (one log line each), applies their migrations and runs their lifecycle. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "plugin.h"
#include "lua_host.h"
#include "identity.h"
#include "system.h"
#include "clock.h"
#include "log.h"

#define MAX_PLUGINS 128
#define MAX_MIGRATIONS 256
#define START_CRASH_LIMIT 3

static const char *const reserved[] = {"core", "yimen", "auth", "me", "admin", "ui", "users", "units", "roles",
                                       "grants", "audit", "search", "events", "notifications", "files",
                                       "dispatches", "items", "test", "contacts", "healthz", "metrics", NULL};

bool ym_plugin_name_reserved(const char *name)
{
    for (int i = 0; reserved[i]; i++)
        if (strcmp(reserved[i], name) == 0)
            return true;
    return false;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

void ym_plugin_fail(ym_plugin *p, const char *reason)
{
    if (p->state != YM_PLUGIN_FAILED) {
        p->state = YM_PLUGIN_FAILED;
        snprintf(p->reason, sizeof p->reason, "%s", reason ? reason : "failed");
        ym_log(YM_LOG_ERROR, "plugin refused", "plugin=%s reason=%s", p->name, p->reason);
    }
}

static void failf(ym_plugin *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(ym_plugin *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ym_plugin_fail(p, buf);
}

/* ---------- discovery ---------- */

static ym_plugin *find(ym_host *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].name, name) == 0)
            return &h->v[i];
    return NULL;
}

static ym_plugin *add(ym_host *h, const char *name)
{
    if (h->n == MAX_PLUGINS)
        return NULL;
    ym_plugin *p = &h->v[h->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->host = h;
    p->routes = json_array();
    p->permissions = json_array();
    p->requires = json_array();
    return p;
}

static bool is_file(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode));
}

static void scan_dir(ym_host *h, const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !name_ok(e->d_name))
            continue;
        char so[PATH_MAX], lua[PATH_MAX], dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
        snprintf(so, sizeof so, "%s/%s.so", dir, e->d_name);
        snprintf(lua, sizeof lua, "%s/init.lua", dir);
        bool c = is_file(so), l = !c && is_file(lua);
        if (!c && !l)
            continue;
        ym_plugin *prev = find(h, e->d_name);
        if (prev) {
            ym_log(YM_LOG_WARN, "plugin ignored: the same name was found first elsewhere", "plugin=%s dir=%s first=%s",
                   e->d_name, dir, prev->dir);
            continue;
        }
        ym_plugin *p = add(h, e->d_name);
        if (!p)
            break;
        snprintf(p->dir, sizeof p->dir, "%s", dir);
        snprintf(p->file, sizeof p->file, "%s", c ? so : lua);
        p->kind = c ? YM_PLUGIN_C : YM_PLUGIN_LUA;
        if (ym_plugin_name_reserved(p->name))
            failf(p, "the name %s is reserved for the core", p->name);
    }
    closedir(d);
}

/* ---------- safety checks ---------- */

/* Another user able to write the code, or its directory, could run code as yimen. */
static int check_files(ym_plugin *p)
{
    struct stat st;
    char parent[PATH_MAX], real[PATH_MAX], realdir[PATH_MAX];
    snprintf(parent, sizeof parent, "%s/..", p->dir);
    const char *paths[] = {p->file, p->dir, parent};
    for (int i = 0; i < 3; i++) {
        if (stat(paths[i], &st) < 0) {
            failf(p, "cannot stat %s: %s", paths[i], strerror(errno));
            return -1;
        }
        if (st.st_mode & S_IWOTH) {
            failf(p, "%s is world-writable", i == 0 ? p->file : i == 1 ? p->dir : "its plugin_paths directory");
            return -1;
        }
    }
    if (!realpath(p->file, real) || !realpath(p->dir, realdir)) {
        failf(p, "cannot resolve %s", p->file);
        return -1;
    }
    size_t n = strlen(realdir);
    if (strncmp(real, realdir, n) != 0 || real[n] != '/') {
        failf(p, "%s is a link that leads out of the plugin's directory", p->file);
        return -1;
    }
    return 0;
}

int ym_version_cmp(const char *a, const char *b)
{
    int x[3] = {0, 0, 0}, y[3] = {0, 0, 0};
    sscanf(a, "%d.%d.%d", &x[0], &x[1], &x[2]);
    sscanf(b, "%d.%d.%d", &y[0], &y[1], &y[2]);
    for (int i = 0; i < 3; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

static int open_c(ym_plugin *p)
{
    p->dl = dlopen(p->file, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        failf(p, "cannot load: %s", dlerror());
        return -1;
    }
    const ym_plugin_def *d = dlsym(p->dl, "yimen_plugin");
    if (!d) {
        failf(p, "no exported symbol yimen_plugin");
        return -1;
    }
    if (d->abi_major != YM_ABI_MAJOR || d->abi_minor > YM_ABI_MINOR) {
        failf(p, "built for ABI %u.%u; this yimen has ABI %d.%d", d->abi_major, d->abi_minor, YM_ABI_MAJOR, YM_ABI_MINOR);
        return -1;
    }
    if (d->size < sizeof *d) {
        failf(p, "definition is %zu bytes, expected %zu", d->size, sizeof *d);
        return -1;
    }
    if (!d->name || strcmp(d->name, p->name) != 0) {
        failf(p, "its definition names it \"%s\" but its directory is %s", d->name ? d->name : "", p->name);
        return -1;
    }
    if (!d->init) {
        failf(p, "definition has no init function");
        return -1;
    }
    p->def = d;
    snprintf(p->version, sizeof p->version, "%s", d->version ? d->version : "0");
    for (const char *const *r = d->requires; r && *r; r++)
        json_array_append_new(p->requires, json_string(*r));
    if (d->core_min && ym_version_cmp(d->core_min, YM_VERSION) > 0) {
        failf(p, "needs yimen %s or newer; this is %s", d->core_min, YM_VERSION);
        return -1;
    }
    return 0;
}

/* ---------- migrations ---------- */

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 && n < (16 << 20) ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = (size_t)n;
    }
    return buf;
}

static int migrate(ym_plugin *p, ym_db *db)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/schema", p->dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no tables of its own */
    char *names[MAX_MIGRATIONS];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_MIGRATIONS) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] != '.' && l > 4 && strcmp(e->d_name + l - 4, ".sql") == 0 && (names[n] = strdup(e->d_name)))
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    ym_migration m[MAX_MIGRATIONS];
    size_t loaded = 0;
    int rc = 0;
    for (; loaded < n; loaded++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, names[loaded]);
        m[loaded].name = names[loaded];
        if (!(m[loaded].sql = slurp(path, &m[loaded].len))) {
            failf(p, "cannot read migration %s", names[loaded]);
            rc = -1;
            break;
        }
    }
    char err[512];
    if (rc == 0 && ym_db_migrate(db, p->name, m, n, err, sizeof err) < 0) {
        ym_plugin_fail(p, err);
        rc = -1;
    }
    for (size_t i = 0; i < loaded; i++)
        free((char *)m[i].sql);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return rc;
}

/* ---------- registration ---------- */

static bool perm_declared(ym_plugin *p, const char *perm)
{
    size_t i;
    json_t *v;
    json_array_foreach(p->permissions, i, v) if (strcmp(json_string_value(json_object_get(v, "name")), perm) == 0) return true;
    return false;
}

int ym_plugin_add_permission(ym_plugin *p, const char *name, const char *zh, const char *en)
{
    size_t n = strlen(p->name);
    if (!p->in_init) {
        ym_log(YM_LOG_ERROR, "registration outside init refused", "plugin=%s permission=%s", p->name, name ? name : "");
        return -1;
    }
    if (!name || strncmp(name, p->name, n) != 0 || name[n] != '.' || ym_perm_register(name, p->name, zh, en) < 0) {
        failf(p, "permission %s must be named %s.<verb>", name ? name : "(null)", p->name);
        return -1;
    }
    if (!perm_declared(p, name))
        json_array_append_new(p->permissions, json_pack("{s:s,s:s,s:s}", "name", name, "label_zh", zh ? zh : "",
                                                        "label_en", en ? en : ""));
    return 0;
}

int ym_plugin_add_route(ym_plugin *p, const char *method, const char *path, const char *perm, ym_handler_fn h,
                        void *ud)
{
    char prefix[64], err[256];
    snprintf(prefix, sizeof prefix, "/api/%s", p->name);
    size_t n = strlen(prefix);
    if (!p->in_init) {
        ym_log(YM_LOG_ERROR, "registration outside init refused", "plugin=%s path=%s", p->name, path ? path : "");
        return -1;
    }
    if (!path || strncmp(path, prefix, n) != 0 || (path[n] != '/' && path[n] != 0)) {
        failf(p, "route %s is outside %s/", path ? path : "(null)", prefix);
        return -1;
    }
    if (!perm || (strcmp(perm, "public") != 0 && strcmp(perm, "user") != 0 && !perm_declared(p, perm))) {
        failf(p, "route %s %s needs \"public\", \"user\" or a permission the plugin declared (got %s)", method,
              path, perm ? perm : "(null)");
        return -1;
    }
    if (ym_router_add(p->host->router, method, path, perm, p->name, (ym_handler)h, ud, err, sizeof err) < 0) {
        ym_plugin_fail(p, err);
        return -1;
    }
    json_array_append_new(p->routes, json_pack("{s:s,s:s,s:s}", "method", method, "path", path, "permission", perm));
    return 0;
}

/* ---------- loading ---------- */

static bool enabled_in(const ym_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->plugins.n; i++)
        if (strcmp(cfg->plugins.v[i], name) == 0)
            return true;
    return false;
}

/* A plugin whose dependency is missing, disabled or failed fails too (to a fixpoint). */
static void check_requires(ym_host *h)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < h->n; i++) {
            ym_plugin *p = &h->v[i];
            size_t k;
            json_t *r;
            if (p->state != YM_PLUGIN_ENABLED)
                continue;
            json_array_foreach(p->requires, k, r) {
                ym_plugin *dep = find(h, json_string_value(r));
                if (!dep || dep->state != YM_PLUGIN_ENABLED) {
                    failf(p, "missing dependency %s (%s)", json_string_value(r),
                          !dep ? "not found" : dep->state == YM_PLUGIN_DISABLED ? "not enabled" : "failed");
                    changed = true;
                    break;
                }
            }
        }
    }
}

static void drop_routes(ym_plugin *p)
{
    ym_router_remove_owner(p->host->router, p->name);
    json_array_clear(p->routes);
}

static const char *owner_resolver(void *ud, const char *table) { return ym_table_owner(ud, table); }

const char *ym_table_owner(const ym_host *h, const char *t)
{
    if (strncmp(t, "core_", 5) == 0)
        return "core";
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0; i < h->n; i++) {
        size_t n = strlen(h->v[i].name);
        if (n > best_n && strncmp(t, h->v[i].name, n) == 0 && t[n] == '_') {
            best = h->v[i].name;
            best_n = n;
        }
    }
    return best;
}

/* A start that took the worker down is counted per plugin file version; past the
 * limit the plugin is left out until the file changes. */
static void crash_key(const ym_plugin *p, char *key, size_t len)
{
    struct stat st;
    long long v = stat(p->file, &st) == 0 ? (long long)st.st_mtime ^ (long long)st.st_size : 0;
    snprintf(key, len, "plugin_start:%s:%lld", p->name, v);
}

static void run_init(ym_plugin *p)
{
    p->settings = json_object_get(p->host->cfg->plugin_settings, p->name);
    p->in_init = true;
    int rc;
    if (p->kind == YM_PLUGIN_C) {
        rc = p->def->init(p, ym_plugin_api());
    } else {
        char err[256];
        rc = ym_lua_init(p, err, sizeof err);
        if (rc < 0)
            ym_plugin_fail(p, err);
    }
    p->in_init = false;
    if (rc < 0)
        ym_plugin_fail(p, p->reason[0] ? p->reason : "init failed");
}

static void load_one(ym_host *h, ym_plugin *p)
{
    char err[256];
    if (check_files(p) < 0)
        return;
    if (p->kind == YM_PLUGIN_C ? open_c(p) < 0 : ym_lua_open(p, err, sizeof err) < 0) {
        if (p->kind == YM_PLUGIN_LUA)
            ym_plugin_fail(p, err);
        return;
    }
    char key[PATH_MAX + 64];
    long long crashes = 0;
    crash_key(p, key, sizeof key);
    if (ym_db_state_get_int(h->db, key, &crashes) == 0 && crashes >= START_CRASH_LIMIT)
        failf(p, "its start crashed the worker %lld times; fix it and reload", crashes);
}

int ym_host_load(ym_host *h, const ym_config *cfg, ym_router *router, ym_db *db)
{
    memset(h, 0, sizeof *h);
    h->cfg = cfg;
    h->router = router;
    h->db = db;
    h->api = ym_plugin_api();
    h->v = calloc(MAX_PLUGINS, sizeof *h->v);
    if (!h->v)
        abort();
    for (size_t i = 0; i < cfg->plugin_paths.n; i++)
        scan_dir(h, cfg->plugin_paths.v[i]);
    ym_db_set_owner_resolver(db, owner_resolver, h);
    ym_plugin_api_bind(db);
    for (size_t i = 0; i < cfg->plugins.n; i++) {
        ym_plugin *p = find(h, cfg->plugins.v[i]);
        if (!p) {
            p = add(h, cfg->plugins.v[i]);
            if (p)
                failf(p, "enabled in the config but not found in plugin_paths");
            continue;
        }
        if (p->state == YM_PLUGIN_FAILED)
            continue;
        p->state = YM_PLUGIN_ENABLED;
        load_one(h, p);
    }
    check_requires(h);
    /* init in dependency order: a plugin after everything it requires */
    bool done[MAX_PLUGINS] = {false};
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < h->n; i++) {
            ym_plugin *p = &h->v[i];
            if (done[i] || p->state != YM_PLUGIN_ENABLED)
                continue;
            bool ready = true;
            size_t k;
            json_t *r;
            json_array_foreach(p->requires, k, r) {
                ym_plugin *dep = find(h, json_string_value(r));
                if (dep && !done[dep - h->v])
                    ready = false;
            }
            if (!ready)
                continue;
            done[i] = progress = true;
            if (migrate(p, db) == 0)
                run_init(p);
        }
        check_requires(h); /* a failed init takes its dependants with it */
    }
    for (size_t i = 0; i < h->n; i++) {
        ym_plugin *p = &h->v[i];
        if (p->state == YM_PLUGIN_ENABLED && !enabled_in(cfg, p->name))
            p->state = YM_PLUGIN_DISABLED;
        if (p->state == YM_PLUGIN_FAILED)
            drop_routes(p); /* nothing of a failed plugin stays reachable */
        if (p->state == YM_PLUGIN_ENABLED)
            ym_log(YM_LOG_INFO, "plugin loaded", "plugin=%s version=%s kind=%s routes=%zu", p->name, p->version,
                   p->kind == YM_PLUGIN_C ? "c" : "lua", json_array_size(p->routes));
    }
    return 0;
}

static bool has_start(const ym_plugin *p)
{
    return p->kind == YM_PLUGIN_LUA ? p->lua != NULL : p->def && p->def->start;
}

/* Counts (delta 1) or clears (delta 0) the start guard of every plugin that starts,
 * in one transaction: one fsync per worker start, not two per plugin. */
static void mark_starting(ym_host *h, int delta)
{
    if (ym_db_write_begin(h->db) < 0)
        return;
    for (size_t i = 0; i < h->n; i++) {
        /* count what is about to start; clear what started, failed or not (a plugin
         * left out for crashing keeps its count) */
        if (!has_start(&h->v[i]) || (delta ? h->v[i].state != YM_PLUGIN_ENABLED : !h->v[i].start_tried))
            continue;
        char key[PATH_MAX + 64];
        long long crashes = 0;
        crash_key(&h->v[i], key, sizeof key);
        if (delta)
            ym_db_state_get_int(h->db, key, &crashes);
        ym_db_state_set_int(h->db, key, delta ? crashes + 1 : 0);
    }
    ym_db_write_end(h->db, true);
    ym_db_flush(h->db);
}

void ym_host_start(ym_host *h)
{
    mark_starting(h, 1); /* cleared below unless a start takes the worker down */
    for (size_t i = 0; i < h->n; i++) {
        ym_plugin *p = &h->v[i];
        if (p->state != YM_PLUGIN_ENABLED)
            continue;
        p->start_tried = has_start(p);
        int rc = !has_start(p) ? 0 : p->kind == YM_PLUGIN_C ? p->def->start(p) : ym_lua_start(p);
        p->started = rc >= 0;
        if (rc < 0) {
            ym_plugin_fail(p, p->reason[0] ? p->reason : "start failed");
            drop_routes(p);
        }
    }
    mark_starting(h, 0);
}

void ym_host_stop(ym_host *h, int64_t deadline_ms)
{
    for (size_t i = h->n; i-- > 0;) {
        ym_plugin *p = &h->v[i];
        if (!p->started)
            continue;
        if (p->kind == YM_PLUGIN_C && p->def->stop)
            p->def->stop(p, deadline_ms);
        else if (p->kind == YM_PLUGIN_LUA)
            ym_lua_stop(p, deadline_ms);
        p->started = false;
    }
}

void ym_host_free(ym_host *h)
{
    if (!h->v)
        return;
    if (h->db)
        ym_db_set_owner_resolver(h->db, NULL, NULL);
    for (size_t i = 0; i < h->n; i++) {
        ym_plugin *p = &h->v[i];
        if (p->kind == YM_PLUGIN_LUA)
            ym_lua_free(p);
        /* no dlclose: code of a live process is never unmapped (a reload is a new process) */
        json_decref(p->routes);
        json_decref(p->permissions);
        json_decref(p->requires);
    }
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

static const char *state_name(ym_plugin_state s)
{
    return s == YM_PLUGIN_ENABLED ? "enabled" : s == YM_PLUGIN_FAILED ? "failed" : "disabled";
}

json_t *ym_host_json(const ym_host *h)
{
    json_t *items = json_array();
    for (size_t i = 0; i < h->n; i++) {
        const ym_plugin *p = &h->v[i];
        json_array_append_new(items, json_pack("{s:s,s:o,s:s,s:s,s:o,s:O,s:O}", "name", p->name, "version",
                                               p->version[0] ? json_string(p->version) : json_null(), "kind",
                                               p->kind == YM_PLUGIN_C ? "c" : "lua", "state", state_name(p->state),
                                               "reason", p->reason[0] ? json_string(p->reason) : json_null(),
                                               "routes", p->routes, "permissions", p->permissions));
    }
    return items;
}

int ym_host_record(ym_host *h)
{
    json_t *items = ym_host_json(h);
    char *text = json_dumps(items, JSON_COMPACT);
    json_decref(items);
    if (!text)
        return -1;
    int rc = ym_db_state_set_text(h->db, "plugins", text);
    free(text);
    return rc;
}
