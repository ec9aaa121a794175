/* auditlog: the audit log as its readers see it (GET /api/audit: filters, keyset pages,
 * newest first) and the rows the command line writes as the actor "cli". */
#ifndef YM_AUDITLOG_H
#define YM_AUDITLOG_H
#include <stddef.h>
#include <jansson.h>
#include "router.h"
#include "config.h"
#include "db.h"

/* GET /api/audit (permission audit.read). There is no route that writes or deletes. */
int ym_auditlog_routes(ym_router *rt, char *err, size_t errlen);

/* Appends one row as the command line (actor_name "cli", ip "local") with the
 * configured hash (auth.audit_hash, default sm3). Inside a write. 0 ok, -1 error. */
int ym_audit_cli(ym_db *db, const ym_config *cfg, const char *action, const char *target, json_t *detail);

#endif
