/* admin: plugins (found, enabled, failed and why) and reload, over HTTP and for
 * the `yimen plugins` command. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "admin.h"
#include "auth.h"
#include "http.h"
#include "json.h"
#include "system.h"
#include "log.h"

static void plugins_list(ym_request *r, void *ud)
{
    ym_host *h = ud;
    ym_resp_json(r, 200, json_pack("{s:o}", "items", ym_host_json(h)));
}

/* The master starts a new generation; this worker will be drained by it. */
static void reload(ym_request *r, void *ud)
{
    const ym_config *cfg = ym_server_config(ym_req_server(r));
    int master = ym_pidfile_read(cfg);
    if (!master || master == getpid()) {
        ym_resp_error(r, 409, "conflict", "reload needs the master process (not available with serve --single)");
        return;
    }
    ym_audit_req(r, "admin.reload", "", "ok", NULL);
    if (kill(master, SIGHUP) < 0) {
        ym_resp_error(r, 500, "internal", "cannot signal the master");
        return;
    }
    ym_resp_json(r, 202, json_pack("{s:b}", "reloading", 1));
}

int ym_admin_routes(ym_router *rt, ym_host *host, char *err, size_t errlen)
{
    if (ym_router_add(rt, "GET", "/api/admin/plugins", "admin.plugins", "core", plugins_list, host, err, errlen) < 0 ||
        ym_router_add(rt, "POST", "/api/admin/reload", "admin.reload", "core", reload, NULL, err, errlen) < 0)
        return -1;
    return 0;
}

int ym_admin_plugins_cli(const ym_config *cfg)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/yimen.db", cfg->data_dir);
    ym_db_opts o = {.synchronous = "full", .busy_timeout_ms = 5000, .readonly = true};
    ym_db *db;
    if (ym_db_open(path, &o, &db, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err);
        return 1;
    }
    char *text = ym_db_state_get_text(db, "plugins");
    ym_db_close(db);
    json_t *items = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!items) {
        printf("no plugin state recorded yet (start the server once)\n");
        return 0;
    }
    printf("%-20s %-10s %-5s %-9s %6s  %s\n", "NAME", "VERSION", "KIND", "STATE", "ROUTES", "REASON");
    size_t i;
    json_t *p;
    json_array_foreach(items, i, p) {
        const char *version = json_string_value(json_object_get(p, "version"));
        const char *reason = json_string_value(json_object_get(p, "reason"));
        printf("%-20s %-10s %-5s %-9s %6zu  %s\n", json_string_value(json_object_get(p, "name")), version ? version : "-",
               json_string_value(json_object_get(p, "kind")), json_string_value(json_object_get(p, "state")),
               json_array_size(json_object_get(p, "routes")), reason ? reason : "");
    }
    json_decref(items);
    return 0;
}
