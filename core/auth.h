/* auth: who is asking: sessions (cookie or bearer), API tokens, the route
 * permission gate, CSRF, login and logout with lockout and rate limits. */
#ifndef YM_AUTH_H
#define YM_AUTH_H
#include <stddef.h>
#include <jansson.h>
#include "request.h"
#include "router.h"
#include "identity.h"

/* Route permissions with a special meaning; anything else is a permission name
 * checked with ym_may on any unit (the handler then checks the unit it touches). */
#define YM_PERM_PUBLIC "public"   /* no authentication */
#define YM_PERM_SELF "self"       /* any signed-in user, even one who must change the password */
#define YM_PERM_USER "user"       /* any signed-in user */

/* The gate in front of every handler: authenticates, checks CSRF, the pending
 * password change and the route's permission. 0 = go on; -1 = already answered. */
int ym_auth_route(ym_request *r, const ym_route *rt);

/* /api/auth/login, /api/auth/logout. */
int ym_auth_routes(ym_router *rt, char *err, size_t errlen);

/* Audit one event of this request (actor, address, request id from r). Opens its own
 * write when none is open. 0 ok, -1 error. */
int ym_audit_req(ym_request *r, const char *action, const char *target, const char *result, json_t *detail);
const char *ym_audit_alg(const ym_request *r);

/* Creates a session for user and answers the login (token, csrf, user, cookie). */
void ym_auth_send_session(ym_request *r, int64_t user_id);
/* Revokes every session of user except keep (0 = all). */
int ym_auth_revoke_sessions(ym_db *db, int64_t user_id, int64_t keep);
void ym_principal_free(ym_principal *p);

#endif
