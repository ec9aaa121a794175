/* access: roles and grants (/api/roles, /api/grants), and what a user hands on of their own
 * permissions: API tokens (/api/me/tokens) and 代批 delegations (/api/me/delegations). */
#ifndef YM_ACCESS_H
#define YM_ACCESS_H
#include <stddef.h>
#include "router.h"

/* /api/roles, /api/grants (access.c), then ym_delegation_routes. */
int ym_access_routes(ym_router *rt, char *err, size_t errlen);
/* /api/me/tokens, /api/me/delegations, /api/me/delegated-actions (delegation.c). */
int ym_delegation_routes(ym_router *rt, char *err, size_t errlen);

#endif
