/* audit: the append-only, hash-chained log of every state change, login attempt,
 * permission denial and admin action (SM3 from OpenSSL, or SHA-256). */
#ifndef YM_AUDIT_H
#define YM_AUDIT_H
#include <stdint.h>
#include <stddef.h>
#include <jansson.h>
#include "db.h"

typedef struct ym_audit_entry {
    int64_t at;                 /* ms; 0 = ym_now() */
    int64_t actor_id;           /* 0 = none (anonymous or system) */
    const char *actor_name;
    int64_t on_behalf_of;       /* 0 = not delegated */
    int64_t unit_id;            /* 0 = none */
    const char *ip;
    const char *action;         /* "auth.login", "users.create", "units.move" ... */
    const char *target;         /* "user:42" */
    const char *result;         /* "ok", "denied", "failed", "error" */
    const char *request_id;
    json_t *detail;             /* borrowed; NULL = {} ; never a secret */
} ym_audit_entry;

/* Appends one row. Must run inside a write (ym_db_write_begin ... end): the row's
 * prev_hash is the hash of the row before it, read under the write lock, so the chain
 * stays linear across workers. alg is "sm3" or "sha256". 0 ok, -1 error. */
int ym_audit_append(ym_db *db, const char *alg, const ym_audit_entry *e);

/* Walks the chain from the first row. 0 = intact (*rows = count); 1 = broken at row
 * *bad_id (reason in err); -1 = error. */
int ym_audit_verify(ym_db *db, long long *rows, long long *bad_id, char *err, size_t errlen);

/* The hash of one row (hex) as the chain defines it; exposed for tests. */
int ym_audit_row_hash(const char *alg, const char *prev_hash, const ym_audit_entry *e, const char *detail_json,
                      char *out, size_t outlen);

#endif
