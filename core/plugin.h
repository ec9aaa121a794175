/* plugin: the plugin host: finds plugins in plugin_paths, refuses unsafe or
 * incompatible ones, applies their migrations, runs init/start/stop, and serves
 * the ym_api table to C plugins (and, through lua_host.c, to Lua plugins). */
#ifndef YM_PLUGIN_H
#define YM_PLUGIN_H
#include <limits.h>
#include <stdbool.h>
#include <jansson.h>
#include "yimen.h"
#include "config.h"
#include "router.h"
#include "db.h"

typedef enum { YM_PLUGIN_C = 0, YM_PLUGIN_LUA = 1 } ym_plugin_kind;
typedef enum { YM_PLUGIN_DISABLED = 0, YM_PLUGIN_ENABLED, YM_PLUGIN_FAILED } ym_plugin_state;

struct ym_plugin {
    char name[33];
    char dir[PATH_MAX];          /* the plugin's own directory */
    char file[PATH_MAX];         /* <dir>/<name>.so or <dir>/init.lua */
    ym_plugin_kind kind;
    ym_plugin_state state;
    char version[32];
    char reason[256];            /* why failed (or disabled) */
    char error[256];             /* the reason of its last failed service call */
    const ym_plugin_def *def;    /* C */
    void *dl;                    /* dlopen handle (never closed in a live process) */
    void *lua;                   /* lua_host state */
    json_t *settings;            /* its config table (borrowed), or NULL */
    json_t *routes;              /* [{method, path, permission}] */
    json_t *permissions;         /* [{name, label_zh, label_en}] */
    json_t *requires;            /* names of plugins it needs */
    bool in_init;
    bool start_tried;            /* its start ran in this worker (the crash guard counts it) */
    bool started;
    struct ym_host *host;
};

typedef struct ym_host {
    const ym_config *cfg;
    ym_router *router;
    ym_db *db;
    ym_plugin *v;                /* every plugin found, enabled or not */
    size_t n;
    const ym_api *api;
} ym_host;

/* Finds, checks, loads and inits the plugins enabled in cfg->plugins; every problem
 * marks that plugin failed with one log line saying why, and the rest carry on. */
int ym_host_load(ym_host *h, const ym_config *cfg, ym_router *router, ym_db *db);
void ym_host_start(ym_host *h);
void ym_host_stop(ym_host *h, int64_t deadline_ms);
void ym_host_free(ym_host *h);
/* [{name, version, kind, state, reason, routes, permissions}] for admin. */
json_t *ym_host_json(const ym_host *h);
/* Records the state in core_plugins (for `yimen plugins` and admin). */
int ym_host_record(ym_host *h);

/* The table every C plugin receives. */
const ym_api *ym_plugin_api(void);
/* The connection the API's statements belong to (set by ym_host_load). */
void ym_plugin_api_bind(ym_db *db);
/* For lua_host.c: register a route on behalf of a plugin (the same checks). */
int ym_plugin_add_route(ym_plugin *p, const char *method, const char *path, const char *perm, ym_handler_fn h, void *ud);
int ym_plugin_add_permission(ym_plugin *p, const char *name, const char *zh, const char *en);
void ym_plugin_fail(ym_plugin *p, const char *reason);
/* Table owner of a name by the longest-prefix rule over known plugin names:
 * "core" for core_*, a plugin name, or NULL (nobody: refused). */
const char *ym_table_owner(const ym_host *h, const char *table);

/* Names the core keeps for itself (DESIGN §3). */
bool ym_plugin_name_reserved(const char *name);
/* Compares "major.minor.patch" versions (missing parts are 0): -1, 0, 1. */
int ym_version_cmp(const char *a, const char *b);

#endif
