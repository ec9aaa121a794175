/* me: the signed-in user's own routes: /api/me, sessions, password, second factor. */
#ifndef YM_ME_H
#define YM_ME_H
#include <stddef.h>
#include "router.h"

int ym_me_routes(ym_router *rt, char *err, size_t errlen);

#endif
