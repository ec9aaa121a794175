/* lateroute: registers a route and a permission from start(), after init; both must be
 * refused (the calls return -1) while the plugin itself keeps working. */
#include <stdio.h>
#include "yimen.h"

static const ym_api *api;
static int late_route_rc = 1, late_perm_rc = 1;

static void late(ym_request *r, void *ud)
{
    (void)ud;
    api->resp_json(r, 200, "{\"late\":true}");
}

static void status(ym_request *r, void *ud)
{
    (void)ud;
    char buf[96];
    snprintf(buf, sizeof buf, "{\"route_rc\":%d,\"permission_rc\":%d}", late_route_rc, late_perm_rc);
    api->resp_json(r, 200, buf);
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    return api->route(self, "GET", "/api/lateroute/status", "user", status, NULL);
}

static int start(ym_plugin *self)
{
    late_perm_rc = api->permission(self, "lateroute.late", "迟到", "late");
    late_route_rc = api->route(self, "GET", "/api/lateroute/late", "user", late, NULL);
    return 0; /* the plugin carries on; only the registrations are refused */
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "lateroute", .version = "1.0.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = start, .stop = NULL,
};
