/* cache: direct-mapped slots of (key, epoch, time, bytes). A slot is good only while
 * the shared write epoch is the one it was filled under and its TTL has not run out. */
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "clock.h"
#include "shared.h"

#define KEY_MAX 80

typedef struct slot {
    char key[KEY_MAX];
    uint64_t epoch, at;
    void *data;
    size_t len;
} slot;

struct ym_cache {
    slot *v;
    size_t mask;
    uint64_t ttl;
};

static uint64_t g_local_epoch; /* without shared memory (unit tests) */

uint64_t ym_cache_epoch(void)
{
    ym_shared *sh = ym_shared_get();
    return sh ? __atomic_load_n(&sh->write_epoch, __ATOMIC_ACQUIRE) : g_local_epoch;
}

void ym_cache_bump(void)
{
    ym_shared *sh = ym_shared_get();
    if (sh)
        __atomic_add_fetch(&sh->write_epoch, 1, __ATOMIC_RELEASE);
    else
        g_local_epoch++;
}

ym_cache *ym_cache_new(size_t slots, uint64_t ttl_ms)
{
    ym_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->v = calloc(slots, sizeof *c->v)))
        abort();
    c->mask = slots - 1;
    c->ttl = ttl_ms;
    return c;
}

void ym_cache_free(ym_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free(c->v[i].data);
    free(c->v);
    free(c);
}

static slot *slot_of(ym_cache *c, const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return &c->v[h & c->mask];
}

const void *ym_cache_get(ym_cache *c, const char *key, size_t *len)
{
    slot *s = slot_of(c, key);
    if (!s->data || strcmp(s->key, key) != 0 || s->epoch != ym_cache_epoch() || ym_mono_ms() - s->at >= c->ttl)
        return NULL;
    if (len)
        *len = s->len;
    return s->data;
}

void ym_cache_put(ym_cache *c, const char *key, const void *data, size_t len)
{
    if (strlen(key) >= KEY_MAX)
        return;
    slot *s = slot_of(c, key);
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    free(s->data);
    strcpy(s->key, key);
    s->epoch = ym_cache_epoch();
    s->at = ym_mono_ms();
    s->data = copy;
    s->len = len;
}

void ym_cache_del(ym_cache *c, const char *key)
{
    slot *s = slot_of(c, key);
    if (s->data && strcmp(s->key, key) == 0) {
        free(s->data);
        s->data = NULL;
    }
}
