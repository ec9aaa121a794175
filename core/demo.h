/* demo: the fictional county 云溪县 for trying yimen and for tests: 573 units (county,
 * 41 departments, 22 townships, their villages and communities) and 1,452 staff. */
#ifndef YM_DEMO_H
#define YM_DEMO_H
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include "config.h"
#include "db.h"

#define YM_DEMO_UNITS 573
#define YM_DEMO_USERS 1452
#define YM_DEMO_TOWNSHIPS 22

typedef struct ym_demo_stats {
    int units, departments, townships, villages, users, grants;
    double seconds;
    char county[64];
} ym_demo_stats;

/* Loads the demo county into db (migrated and bootstrapped): renames the root unit,
 * creates the units and staff in one write with one audit row, and sets core_state
 * 'demo_loaded'. Every account gets password (checked against the policy) through one
 * shared Argon2id hash. The same seed gives the same county. Must not run inside a
 * write. 0 loaded; 1 already loaded (err says so); -1 error. */
int ym_demo_load(ym_db *db, const ym_config *cfg, uint64_t seed, const char *password, ym_demo_stats *st,
                 char *err, size_t errlen);

/* Is the directory new (only the root unit and admin, no demo)? 1 yes, 0 no, -1 error. */
int ym_demo_db_empty(ym_db *db);

/* How to sign in: the username scheme, a clerk, a leader, the admin, and the counts. */
void ym_demo_report(FILE *f, const ym_demo_stats *st, const char *password, bool from_env);

#endif
