/* metrics: request counters and latency histograms kept in shared memory, so any
 * worker answers /metrics (Prometheus text) for the whole server. */
#ifndef YM_METRICS_H
#define YM_METRICS_H
#include <stdint.h>
#include <stddef.h>

#define YM_METRICS_SLOTS 1024
#define YM_METRICS_ROUTE_LEN 80
#define YM_METRICS_BUCKETS 12
#define YM_METRICS_PROCS 256

typedef struct ym_metrics_slot {
    uint32_t state;  /* 0 empty, 1 being written, 2 ready */
    int32_t status;
    char method[8];
    char route[YM_METRICS_ROUTE_LEN];
    uint64_t count;
} ym_metrics_slot;

typedef struct ym_metrics_shm {
    ym_metrics_slot slots[YM_METRICS_SLOTS];
    uint64_t overflow;                    /* requests that found no free slot */
    uint64_t latency_bucket[YM_METRICS_BUCKETS]; /* cumulative counts are computed on render */
    uint64_t latency_count;
    uint64_t latency_sum_us;
    struct {
        int32_t pid;                      /* worker owning this cell, 0 = free */
        int64_t conns;                    /* its open connections */
    } procs[YM_METRICS_PROCS];
} ym_metrics_shm;

void ym_metrics_attach(ym_metrics_shm *shm);
void ym_metrics_request(const char *method, const char *route, int status, uint64_t micros);
void ym_metrics_connections(int delta);
/* A worker takes a cell for its connection count at start; the master frees it when
 * the worker exits, so a crashed worker's connections leave the gauge too. */
void ym_metrics_claim(int pid);
void ym_metrics_release(int pid);
/* Render Prometheus text into a malloc'ed buffer (caller frees). */
char *ym_metrics_render(size_t *len);

#endif
