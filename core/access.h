/* access: roles and grants (/api/roles, /api/grants), and what a user hands on of their own
 * permissions: API tokens (/api/me/tokens) and 代批 delegations (/api/me/delegations). */
#ifndef YM_ACCESS_H
#define YM_ACCESS_H
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "router.h"

/* /api/roles, /api/grants (access.c), then ym_delegation_routes. */
int ym_access_routes(ym_router *rt, char *err, size_t errlen);
/* /api/me/tokens, /api/me/delegations, /api/me/delegated-actions (delegation.c). */
int ym_delegation_routes(ym_router *rt, char *err, size_t errlen);

/* The active users holding a grant on exactly unit of a role that names perm or its
 * plugin's "<plugin>.*": into out (at most max, by user id); how many, or -1. Who sees a
 * board's live events ("who may act here"), not a permission check (that is ym_may). */
long ym_perm_holders(ym_db *db, int64_t unit, const char *perm, int64_t *out, size_t max);

#endif
