/* cache: a small per-worker cache of things read from the database (a session's
 * row, a user's /api/me), valid while nothing was committed since and for at most
 * a TTL; any commit by any worker moves a shared write epoch and empties them all. */
#ifndef YM_CACHE_H
#define YM_CACHE_H
#include <stddef.h>
#include <stdint.h>

typedef struct ym_cache ym_cache;

/* slots: a power of two; ttl_ms bounds staleness for writers outside the server
 * (the command line), which do not move the epoch. */
ym_cache *ym_cache_new(size_t slots, uint64_t ttl_ms);
void ym_cache_free(ym_cache *c);
/* The stored bytes (valid until the next put or del), or NULL when absent or stale. */
const void *ym_cache_get(ym_cache *c, const char *key, size_t *len);
void ym_cache_put(ym_cache *c, const char *key, const void *data, size_t len);
void ym_cache_del(ym_cache *c, const char *key);

/* The write epoch, shared by all workers; ym_cache_bump is called after each commit. */
uint64_t ym_cache_epoch(void);
void ym_cache_bump(void);

#endif
