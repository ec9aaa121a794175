/* lua_host: Lua 5.4 plugins: one sandboxed lua_State per plugin per worker, the
 * `yimen` module over the same services as ym_api, memory and instruction caps. */
#ifndef YM_LUA_HOST_H
#define YM_LUA_HOST_H
#include <stddef.h>
#include <stdint.h>
#include "plugin.h"

/* Creates the state, runs <dir>/init.lua, reads the definition it returns
 * ({name, version, core_min, requires, init, start, stop}); fills p->version and
 * p->requires. -1 with the reason in err. */
int ym_lua_open(ym_plugin *p, char *err, size_t errlen);
/* Calls the definition's init(); registrations go through ym_plugin_add_route and
 * ym_plugin_add_permission. */
int ym_lua_init(ym_plugin *p, char *err, size_t errlen);
int ym_lua_start(ym_plugin *p);
void ym_lua_stop(ym_plugin *p, int64_t deadline_ms);
void ym_lua_free(ym_plugin *p);
/* Calls the function kept at registry ref with name and, unless payload is NULL, the
 * payload JSON as a table, under a fresh instruction budget (jobs, event subscribers).
 * 0 ok; -1 when it raised or returned false, with the reason in err. */
int ym_lua_call_ref(ym_plugin *p, int ref, const char *name, const char *payload, char *err, size_t errlen);

#endif
