/* db_private: the connection's state, shared by the files of the db service
 * (db.c: connection, cache, migrations, commits; db_owner.c: table ownership). */
#ifndef YM_DB_PRIVATE_H
#define YM_DB_PRIVATE_H
#include <stdbool.h>
#include <stdint.h>
#include "db.h"

#define CACHE_MAX 512
#define CACHE_BUCKETS 1024 /* power of two, twice CACHE_MAX so chains stay short */
#define DEFAULT_BUSY_MS 5000

typedef struct cache_entry {
    struct cache_entry *next;          /* bucket chain */
    struct cache_entry *next_ptr;      /* chain of the by-statement index */
    struct cache_entry *newer, *older; /* LRU list: eviction takes the oldest use */
    uint64_t hash;
    char *owner; /* later selects the authorizer context, so it is part of the key */
    char *sql;
    sqlite3_stmt *stmt;
} cache_entry;

typedef struct commit_wait {
    ym_db_commit_cb cb;
    void *ud;
} commit_wait;

struct ym_db {
    sqlite3 *h;
    char errmsg[512];
    cache_entry *buckets[CACHE_BUCKETS];
    cache_entry *by_stmt[CACHE_BUCKETS]; /* statement -> entry, to step it as its owner */
    cache_entry *newest, *oldest;
    size_t cached;
    bool batch_open; /* a BEGIN IMMEDIATE of group commit is open */
    bool closing;    /* callbacks run by close must not open a new batch */
    int depth;       /* active savepoints w1..w<depth> */
    commit_wait *waits;
    size_t nwaits, capwaits;
    const char *actor;             /* whose SQL is being prepared: NULL = core */
    bool migrating;                /* a migration's SQL runs now: DDL allowed */
    bool read_open;                /* a deferred read transaction spans one request */
    ym_db_owner_fn owner_of;       /* table -> owner, set by the plugin host */
    void *owner_ud;
};

#endif
