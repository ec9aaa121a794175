/* shared: one shared-memory segment made by the master and mapped by every worker.
 * It holds the test clock, generation, restart count and the metrics counters. */
#ifndef YM_SHARED_H
#define YM_SHARED_H
#include <stdint.h>
#include <stddef.h>
#include "metrics.h"

#define YM_RATE_SLOTS 4096

/* A fixed window counter; collisions only make two keys share a budget. */
typedef struct ym_rate_slot {
    uint64_t key;       /* hash of "ip:<addr>" or "user:<name>" */
    uint64_t window;    /* minute number */
    uint32_t count;
    uint32_t pad;
} ym_rate_slot;

/* Counts one event for key in the current minute; returns the count including it,
 * and the seconds left in the window in *retry_after. */
uint32_t ym_rate_hit(const char *key, int64_t now_ms, int *retry_after);

typedef struct ym_shared {
    uint32_t magic;
    uint32_t size;
    int64_t clock_offset_ms;      /* test clock */
    uint64_t generation;          /* current generation */
    uint64_t worker_restarts;     /* workers replaced after dying */
    uint64_t write_epoch;         /* moves after every commit: caches of DB reads check it */
    int64_t live_seq;             /* highest committed core_notifications id: streams poll it */
    ym_metrics_shm metrics;
    ym_rate_slot rate[YM_RATE_SLOTS]; /* login attempts per client address / username */
} ym_shared;

/* Create the segment as the file path (data_dir/yimen.shm) and map it; returns the fd
 * to pass to workers, or -1. */
int ym_shared_create(const char *path, ym_shared **out);
/* Map an existing segment file (the command line, while a server runs); 0 or -1. */
int ym_shared_map_file(const char *path);
/* Map a segment inherited through fd. */
int ym_shared_map(int fd, ym_shared **out);
/* A private segment for --single and unit tests. */
ym_shared *ym_shared_private(void);
ym_shared *ym_shared_get(void);

#endif
