/* ui: GET /api/ui/manifest, the navigation of the web shell: for each enabled plugin
 * with a www/manifest.json, its nav entries (those the caller may use) with module
 * URLs carrying the content hash, and its message tables. Read once per worker. */
#ifndef YM_UI_H
#define YM_UI_H
#include <stddef.h>
#include <jansson.h>
#include "router.h"
#include "static.h"
#include "plugin.h"

/* Reads and checks every enabled plugin's /ui/<name>/manifest.json from www (so after
 * ym_host_load, which registers the permissions, and ym_static_finish). A bad manifest
 * is logged and gives that plugin no nav; never an error. */
void ym_ui_load(const ym_host *h, const ym_static *www);
void ym_ui_free(void);
/* The checked manifest of one plugin: {"nav": [...], "messages": {...}} (new reference),
 * or NULL with the reason in err. For the loader and the unit tests. */
json_t *ym_ui_check_manifest(const char *plugin, const char *text, size_t len, const ym_static *www, char *err,
                             size_t errlen);
int ym_ui_routes(ym_router *rt, char *err, size_t errlen);

#endif
