/* identity: units (county -> township -> village, departments), users (one account
 * each), roles as sets of permissions, grants with unit scope, delegation (代批),
 * and the one permission check every route uses. */
#ifndef YM_IDENTITY_H
#define YM_IDENTITY_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "db.h"

/* Who is acting in a request. Set by auth (session cookie, bearer session token or
 * API token) before the handler runs. */
typedef struct ym_principal {
    int64_t user_id;
    char username[64];
    char display_name[128];
    int64_t unit_id;            /* primary unit */
    int64_t session_id;         /* 0 when an API token */
    int64_t token_id;           /* API token id, else 0 */
    bool via_cookie;
    bool must_change;           /* password change pending */
    json_t *token_perms;        /* API token: allowed permissions (array), else NULL */
    int64_t token_unit;         /* API token: scope unit */
    bool token_descendants;
    int64_t acting_for;         /* set by ym_may when allowed through a delegation */
} ym_principal;

/* Built-in role keys. */
#define YM_ROLE_SYSTEM_ADMIN "system_admin"
#define YM_ROLE_SECURITY_ADMIN "security_admin"
#define YM_ROLE_AUDIT_ADMIN "audit_admin"
#define YM_ROLE_UNIT_ADMIN "unit_admin"

/* Permission registry (core and plugins): name "area.verb", owner, labels. */
int ym_perm_register(const char *name, const char *owner, const char *label_zh, const char *label_en);
bool ym_perm_known(const char *name);
json_t *ym_perm_list(void);   /* [{name, owner, label_zh, label_en}] */
void ym_perm_clear(void);
/* The core's own permissions (units.read, users.manage, audit.read, ...). */
void ym_identity_register_permissions(void);
/* Does a granted permission pattern cover the wanted permission?
 * "*" covers everything but "audit.*" (三权分立: the one who acts never reads the traces);
 * "area.*" covers "area.x"; otherwise exact. */
bool ym_perm_covers(const char *pattern, const char *wanted);

/* May the principal do perm on unit (0 = on some unit)? Follows grants with their
 * scope (the unit itself, or its subtree), then active delegations to the principal
 * (setting p->acting_for to the delegator). API tokens are limited to their own
 * permissions and unit scope. 1 yes, 0 no, -1 database error. */
int ym_may(ym_db *db, ym_principal *p, const char *perm, int64_t unit_id);

/* Is unit inside the subtree of root (or equal)? 1 yes, 0 no, -1 error/unknown. */
int ym_unit_within(ym_db *db, int64_t unit_id, int64_t root_id);

/* Creates the built-in roles (idempotent) and, on an empty directory, the root unit and
 * the "admin" user with password_hash (must_change as given). Returns 1 when the admin
 * was created, 0 when it existed, -1 on error. */
int ym_identity_bootstrap(ym_db *db, const char *county_name, const char *admin_hash, bool must_change,
                          char *err, size_t errlen);

/* Writes used by the admin API, the CLI, imports and the demo. All run inside a
 * write (ym_db_write_begin/end) the caller holds. On a validation error they return -1
 * and fill field/err; on a database error -2. */
int64_t ym_unit_create(ym_db *db, int64_t parent_id, const char *kind, const char *name, const char *short_name,
                       const char *credit_code, int sort, char *field, size_t flen, char *err, size_t errlen);
int64_t ym_user_create(ym_db *db, const char *username, const char *display_name, int64_t unit_id,
                       const char *title, const char *phone, const char *password_hash, bool must_change,
                       char *field, size_t flen, char *err, size_t errlen);
int ym_grant_create(ym_db *db, int64_t user_id, const char *role_key, int64_t unit_id, bool descendants,
                    int64_t by_user, char *err, size_t errlen);
int64_t ym_role_id(ym_db *db, const char *key);
bool ym_unit_kind_ok(const char *kind);
bool ym_username_ok(const char *username);
/* 1 taken, 0 free, -1 database error. */
int ym_username_taken(ym_db *db, const char *username);
int64_t ym_root_unit(ym_db *db);

/* Object shapes of the API. */
json_t *ym_unit_json(ym_db *db, int64_t id);   /* NULL if unknown */
json_t *ym_user_json(ym_db *db, int64_t id);   /* NULL if unknown; never secrets */

#endif
