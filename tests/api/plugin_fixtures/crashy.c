/* crashy: start() aborts the worker while the file named by the setting
 * crashy.marker exists, as a plugin with a bug in its start-up would. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "yimen.h"

static const ym_api *api;
static char marker[1024];

static void ping(ym_request *r, void *ud)
{
    (void)ud;
    api->resp_json(r, 200, "{\"plugin\":\"crashy\"}");
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    const char *m = api->setting_string(self, "marker", "");
    strncpy(marker, m, sizeof marker - 1);
    return api->route(self, "GET", "/api/crashy/ping", "user", ping, NULL);
}

static int start(ym_plugin *self)
{
    (void)self;
    if (marker[0] && access(marker, F_OK) == 0)
        abort();
    return 0;
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "crashy", .version = "1.0.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = start, .stop = NULL,
};
