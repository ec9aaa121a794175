/* admin: the administrator's routes: plugins and their state, reload. */
#ifndef YM_ADMIN_H
#define YM_ADMIN_H
#include <stddef.h>
#include "router.h"
#include "plugin.h"

int ym_admin_routes(ym_router *rt, ym_host *host, char *err, size_t errlen);
/* `yimen plugins -c FILE`: the state the workers last recorded. */
int ym_admin_plugins_cli(const ym_config *cfg);

#endif
