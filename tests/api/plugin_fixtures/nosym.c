/* nosym: a shared object that loads but exports no `yimen_plugin` (here it is
 * misspelled), as a half-finished or foreign .so would. */
#include "yimen.h"

static int init(ym_plugin *self, const ym_api *api)
{
    (void)self;
    (void)api;
    return 0;
}

const ym_plugin_def yimen_plugn = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "nosym", .version = "1.0.0", .core_min = "0.1", .init = init,
};
