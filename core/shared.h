/* shared: one shared-memory segment made by the master and mapped by every worker.
 * It holds the test clock, generation, restart count and the metrics counters. */
#ifndef YM_SHARED_H
#define YM_SHARED_H
#include <stdint.h>
#include <stddef.h>
#include "metrics.h"

typedef struct ym_shared {
    uint32_t magic;
    uint32_t size;
    int64_t clock_offset_ms;      /* test clock */
    uint64_t generation;          /* current generation */
    uint64_t worker_restarts;     /* workers replaced after dying */
    ym_metrics_shm metrics;
} ym_shared;

/* Create a segment (memfd) and map it; returns the fd to pass to workers, or -1. */
int ym_shared_create(ym_shared **out);
/* Map a segment inherited through fd. */
int ym_shared_map(int fd, ym_shared **out);
/* A private segment for --single and unit tests. */
ym_shared *ym_shared_private(void);
ym_shared *ym_shared_get(void);

#endif
