/* generic: a well-behaved little plugin whose definition is bent by -D flags, so one
 * source gives the ABI, name, dependency and route refusals of tests/api/test_plugins.py.
 *   FX_NAME "x"          definition name (the directory name unless testing a mismatch)
 *   FX_DIR "x"           directory name, for the route prefix (default FX_NAME)
 *   FX_VERSION "1.0.0"   FX_ABI_MAJOR n   FX_ABI_MINOR n   FX_REQUIRES "a"
 *   FX_ROUTE "/api/..."  the one route it registers (default /api/<dir>/ping)
 *   FX_SIZE n            the definition's size field (default sizeof(ym_plugin_def))
 *   FX_CORE_MIN "x.y"    lowest yimen version it claims to need (default "0.1")
 *   FX_UNDEFINED         calls a function nobody defines (dlopen RTLD_NOW refuses it)
 *   FX_START_FAIL        start() fails with a reason */
#include <stdio.h>
#include "yimen.h"

#ifndef FX_NAME
#error "define FX_NAME"
#endif
#ifndef FX_DIR
#define FX_DIR FX_NAME
#endif
#ifndef FX_VERSION
#define FX_VERSION "1.0.0"
#endif
#ifndef FX_ABI_MAJOR
#define FX_ABI_MAJOR YM_ABI_MAJOR
#endif
#ifndef FX_ABI_MINOR
#define FX_ABI_MINOR YM_ABI_MINOR
#endif
#ifndef FX_ROUTE
#define FX_ROUTE "/api/" FX_DIR "/ping"
#endif
#ifndef FX_SIZE
#define FX_SIZE sizeof(ym_plugin_def)
#endif
#ifndef FX_CORE_MIN
#define FX_CORE_MIN "0.1"
#endif

#ifdef FX_UNDEFINED
void yimen_fixture_nowhere(void); /* resolved at load time, and never found */
#endif

static const ym_api *api;

static void ping(ym_request *r, void *ud)
{
    (void)ud;
    api->resp_json(r, 200, "{\"plugin\":\"" FX_DIR "\",\"version\":\"" FX_VERSION "\"}");
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
#ifdef FX_UNDEFINED
    yimen_fixture_nowhere();
#endif
    return api->route(self, "GET", FX_ROUTE, "user", ping, NULL);
}

static int start(ym_plugin *self)
{
#ifdef FX_START_FAIL
    api->fail(self, FX_DIR ": cannot open its spool directory");
    return -1;
#else
    (void)self;
    return 0;
#endif
}

#ifdef FX_REQUIRES
static const char *const requires[] = {FX_REQUIRES, NULL};
#define FX_REQ requires
#else
#define FX_REQ NULL
#endif

const ym_plugin_def yimen_plugin = {
    .abi_major = FX_ABI_MAJOR, .abi_minor = FX_ABI_MINOR, .size = FX_SIZE,
    .name = FX_NAME, .version = FX_VERSION, .core_min = FX_CORE_MIN, .requires = FX_REQ,
    .init = init, .start = start, .stop = NULL,
};
