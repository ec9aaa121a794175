/* shared: the shared-memory segment (a memfd) that the master creates and every
 * worker maps, so counters and the test clock are one for the whole server. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <stdlib.h>
#include "shared.h"

#define YM_SHARED_MAGIC 0x796d656eu

static ym_shared *g_shared;

static ym_shared *map_fd(int fd)
{
    void *p = mmap(NULL, sizeof(ym_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

int ym_shared_create(const char *path, ym_shared **out)
{
    /* a file in data_dir, not an anonymous memfd: the command line maps it too, so a
     * change made there moves the write epoch the workers' caches watch */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, sizeof(ym_shared)) < 0 || !(g_shared = map_fd(fd))) {
        close(fd);
        return -1;
    }
    g_shared->magic = YM_SHARED_MAGIC;
    g_shared->size = sizeof(ym_shared);
    *out = g_shared;
    return fd;
}

int ym_shared_map_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ym_shared *s = fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(ym_shared) ? map_fd(fd) : NULL;
    close(fd);
    if (!s)
        return -1;
    if (s->magic != YM_SHARED_MAGIC || s->size != sizeof(ym_shared)) {
        munmap(s, sizeof(ym_shared));
        return -1;
    }
    g_shared = s;
    return 0;
}

int ym_shared_map(int fd, ym_shared **out)
{
    ym_shared *s = map_fd(fd);
    if (!s)
        return -1;
    if (s->magic != YM_SHARED_MAGIC || s->size != sizeof(ym_shared)) {
        munmap(s, sizeof(ym_shared));
        return -1;
    }
    g_shared = s;
    *out = s;
    return 0;
}

ym_shared *ym_shared_private(void)
{
    if (g_shared)
        return g_shared;
    void *p = mmap(NULL, sizeof(ym_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort();
    g_shared = p;
    g_shared->magic = YM_SHARED_MAGIC;
    g_shared->size = sizeof(ym_shared);
    return g_shared;
}

ym_shared *ym_shared_get(void) { return g_shared; }

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* Races between workers may lose a count now and then; a rate limit tolerates that. */
uint32_t ym_rate_hit(const char *key, int64_t now_ms, int *retry_after)
{
    ym_shared *s = g_shared ? g_shared : ym_shared_private();
    uint64_t k = fnv1a(key), window = (uint64_t)(now_ms / 60000);
    ym_rate_slot *slot = &s->rate[k % YM_RATE_SLOTS];
    if (retry_after)
        *retry_after = (int)(60 - (now_ms / 1000) % 60);
    if (__atomic_load_n(&slot->key, __ATOMIC_RELAXED) != k || __atomic_load_n(&slot->window, __ATOMIC_RELAXED) != window) {
        __atomic_store_n(&slot->key, k, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->window, window, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->count, 0, __ATOMIC_RELAXED);
    }
    return __atomic_add_fetch(&slot->count, 1, __ATOMIC_RELAXED);
}
