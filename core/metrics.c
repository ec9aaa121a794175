/* metrics: request counters and a latency histogram in shared memory, updated
 * with atomics by every worker and rendered as Prometheus text by any of them. */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "shared.h"

static ym_metrics_shm *g_m;
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bucket_us[YM_METRICS_BUCKETS - 1] = {500, 1000, 2000, 5000, 10000, 25000,
                                                           50000, 100000, 250000, 500000, 1000000};

void ym_metrics_attach(ym_metrics_shm *shm) { g_m = shm; }

static uint32_t hash_key(const char *method, const char *route, int status)
{
    uint32_t h = 2166136261u;
    for (const char *p = method; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    for (const char *p = route; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    return (h ^ (uint32_t)status) * 16777619u;
}

static int slot_matches(ym_metrics_slot *s, const char *method, const char *route, int status)
{
    return s->status == status && strncmp(s->method, method, sizeof s->method) == 0 &&
           strncmp(s->route, route, sizeof s->route) == 0;
}

/* Open addressing; a slot is claimed with a CAS from 0 to 1 and published as 2. */
static ym_metrics_slot *find_slot(const char *method, const char *route, int status)
{
    uint32_t h = hash_key(method, route, status);
    for (uint32_t i = 0; i < YM_METRICS_SLOTS; i++) {
        ym_metrics_slot *s = &g_m->slots[(h + i) % YM_METRICS_SLOTS];
        uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (st == 0) {
            uint32_t expect = 0;
            if (__atomic_compare_exchange_n(&s->state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                s->status = status;
                snprintf(s->method, sizeof s->method, "%s", method);
                snprintf(s->route, sizeof s->route, "%s", route);
                __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
                return s;
            }
            st = expect;
        }
        while (st == 1) /* another process is filling it in: a few instructions */
            st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (slot_matches(s, method, route, status))
            return s;
    }
    return NULL;
}

void ym_metrics_request(const char *method, const char *route, int status, uint64_t micros)
{
    if (!g_m)
        return;
    /* the key is what a slot can hold, so a long route always finds its own slot */
    char m[sizeof g_m->slots[0].method], rt[YM_METRICS_ROUTE_LEN];
    snprintf(m, sizeof m, "%s", method);
    snprintf(rt, sizeof rt, "%s", route ? route : "");
    ym_metrics_slot *s = find_slot(m, rt, status);
    if (s)
        __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&g_m->overflow, 1, __ATOMIC_RELAXED);
    int b = 0;
    while (b < YM_METRICS_BUCKETS - 1 && micros > bucket_us[b])
        b++;
    __atomic_add_fetch(&g_m->latency_bucket[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_m->latency_count, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_m->latency_sum_us, micros, __ATOMIC_RELAXED);
}

static int g_cell = -1;

void ym_metrics_claim(int pid)
{
    for (int i = 0; g_m && i < YM_METRICS_PROCS; i++) {
        int32_t free_pid = 0;
        if (__atomic_compare_exchange_n(&g_m->procs[i].pid, &free_pid, pid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&g_m->procs[i].conns, 0, __ATOMIC_RELAXED);
            g_cell = i;
            return;
        }
    }
}

void ym_metrics_release(int pid)
{
    for (int i = 0; g_m && i < YM_METRICS_PROCS; i++)
        if (__atomic_load_n(&g_m->procs[i].pid, __ATOMIC_ACQUIRE) == pid) {
            __atomic_store_n(&g_m->procs[i].conns, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&g_m->procs[i].pid, 0, __ATOMIC_RELEASE);
        }
}

void ym_metrics_connections(int delta)
{
    if (g_m && g_cell >= 0)
        __atomic_add_fetch(&g_m->procs[g_cell].conns, delta, __ATOMIC_RELAXED);
}

static long long open_connections(void)
{
    long long n = 0;
    for (int i = 0; g_m && i < YM_METRICS_PROCS; i++)
        if (__atomic_load_n(&g_m->procs[i].pid, __ATOMIC_ACQUIRE))
            n += __atomic_load_n(&g_m->procs[i].conns, __ATOMIC_RELAXED);
    return n;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0);
        char *np = realloc(b->p, b->cap);
        if (!np)
            abort();
        b->p = np;
    }
}

/* Route labels come from route patterns, not raw paths, but escape anyway. */
static void label(buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') bprintf(b, "\\%c", *s);
        else if (*s == '\n') bprintf(b, "\\n");
        else bprintf(b, "%c", *s);
    }
}

char *ym_metrics_render(size_t *len)
{
    buf b = {malloc(4096), 0, 4096};
    if (!b.p)
        abort();
    ym_shared *sh = ym_shared_get();
    bprintf(&b, "# HELP yimen_requests_total HTTP requests by route and status.\n"
                "# TYPE yimen_requests_total counter\n");
    for (size_t i = 0; g_m && i < YM_METRICS_SLOTS; i++) {
        ym_metrics_slot *s = &g_m->slots[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2)
            continue;
        bprintf(&b, "yimen_requests_total{method=\"");
        label(&b, s->method);
        bprintf(&b, "\",route=\"");
        label(&b, s->route);
        bprintf(&b, "\",status=\"%d\"} %llu\n", s->status,
                (unsigned long long)__atomic_load_n(&s->count, __ATOMIC_RELAXED));
    }
    bprintf(&b, "# HELP yimen_request_duration_seconds Time from a request's last byte to its response.\n"
                "# TYPE yimen_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; g_m && i < YM_METRICS_BUCKETS; i++) {
        cum += __atomic_load_n(&g_m->latency_bucket[i], __ATOMIC_RELAXED);
        if (i < YM_METRICS_BUCKETS - 1)
            bprintf(&b, "yimen_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_us[i] / 1e6, cum);
        else
            bprintf(&b, "yimen_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    if (g_m)
        bprintf(&b, "yimen_request_duration_seconds_sum %.6f\nyimen_request_duration_seconds_count %llu\n",
                __atomic_load_n(&g_m->latency_sum_us, __ATOMIC_RELAXED) / 1e6,
                (unsigned long long)__atomic_load_n(&g_m->latency_count, __ATOMIC_RELAXED));
    bprintf(&b, "# HELP yimen_open_connections Client connections open now.\n"
                "# TYPE yimen_open_connections gauge\nyimen_open_connections %lld\n",
            open_connections());
    bprintf(&b, "# HELP yimen_generation Worker generation serving now.\n"
                "# TYPE yimen_generation gauge\nyimen_generation %llu\n",
            sh ? (unsigned long long)__atomic_load_n(&sh->generation, __ATOMIC_RELAXED) : 0ULL);
    bprintf(&b, "# HELP yimen_worker_restarts_total Workers replaced after they died.\n"
                "# TYPE yimen_worker_restarts_total counter\nyimen_worker_restarts_total %llu\n",
            sh ? (unsigned long long)__atomic_load_n(&sh->worker_restarts, __ATOMIC_RELAXED) : 0ULL);
    bprintf(&b, "# HELP yimen_metrics_overflow_total Requests not counted by route (table full).\n"
                "# TYPE yimen_metrics_overflow_total counter\nyimen_metrics_overflow_total %llu\n",
            g_m ? (unsigned long long)__atomic_load_n(&g_m->overflow, __ATOMIC_RELAXED) : 0ULL);
    *len = b.len;
    return b.p;
}
