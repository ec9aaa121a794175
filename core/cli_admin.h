/* cli_admin: the administration subcommands (user, unit, audit, demo) and the account
 * helpers they share with the CSV import: unit references, passwords, default roles. */
#ifndef YM_CLI_ADMIN_H
#define YM_CLI_ADMIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "db.h"

/* Is name one of the subcommands handled here ("user", "unit", "audit", "demo")? */
bool ym_cli_admin_handles(const char *name);
/* argv[1] is the subcommand. Exit status: 0 done; 1 with the first error on stderr. */
int ym_cli_admin_main(int argc, char **argv);

/* A unit by id ("12"), exact unique name ("城关镇") or path of names ("城关镇/城东村").
 * >0 the id; 0 not found or ambiguous (why says which); -1 database error. */
int64_t ym_unit_resolve(ym_db *db, const char *ref, char *why, size_t whylen);
/* Is there a unit named name directly under parent? 1 yes, 0 no, -1 error. */
int ym_unit_sibling_named(ym_db *db, int64_t parent, const char *name);
/* "township", "乡镇", "镇", "乡" ... -> the kind key; NULL when unknown. */
const char *ym_unit_kind_parse(const char *s);
/* A random password (16 characters) that passes the policy for username. 0 ok, -1 error. */
int ym_password_generate(const ym_config *cfg, const char *username, char *out, size_t outlen);
/* Argon2id hashes of n passwords on up to one thread per core (at most 8); hashes[i]
 * gets the encoded hash. 0 ok, -1 error. */
int ym_password_hash_many(const ym_config *cfg, char *const *pws, size_t n, char (*hashes)[256]);
/* The roles of an account made by the CLI or an import: staff on its own unit, plus each
 * of roles on that unit (a *_admin role with the subtree). 0 ok, -1 (err). */
int ym_import_grant_roles(ym_db *db, int64_t user_id, int64_t unit_id, char *const *roles, size_t nroles,
                          char *err, size_t errlen);

#endif
