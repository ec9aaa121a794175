/* system: the kernel's own routes: /healthz, /metrics (Prometheus text) and,
 * with YIMEN_TEST_CLOCK=1 only, the test clock at POST /api/test/clock. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include "system.h"
#include "http.h"
#include "json.h"
#include "clock.h"
#include "metrics.h"
#include "shared.h"
#include "db.h"
#include "log.h"
#include "jobs.h"
#include "events.h"

static unsigned g_generation;
static char g_health[96]; /* the answer never changes within a worker: made once */
static size_t g_health_len;

void ym_system_set_generation(unsigned gen)
{
    g_generation = gen;
    int n = snprintf(g_health, sizeof g_health, "{\"status\":\"ok\",\"version\":\"%s\",\"generation\":%u}",
                     YM_VERSION, gen);
    g_health_len = n > 0 && (size_t)n < sizeof g_health ? (size_t)n : 0;
}

/* The generation of the worker that answers: during a reload both may answer. */
static void healthz(ym_request *r, void *ud)
{
    if (!g_health_len)
        ym_system_set_generation(g_generation);
    ym_resp_send(r, 200, "application/json", g_health, g_health_len, NULL);
}

static void metrics(ym_request *r, void *ud)
{
    const ym_config *cfg = ym_server_config(ym_req_server(r));
    if (cfg->metrics.loopback_only && !r->peer_loopback) {
        ym_resp_error(r, 403, "forbidden", "metrics are served to loopback clients only (metrics.loopback_only)");
        return;
    }
    size_t len;
    char *text = ym_metrics_render(&len);
    ym_resp_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
    free(text);
}

/* Moves every worker's clock: the offset lives in shared memory for the running
 * server and in core_state so a restart keeps it. */
static void test_clock(ym_request *r, void *ud)
{
    if (!r->peer_loopback) {
        ym_resp_error(r, 403, "forbidden", "the test clock is for loopback clients only");
        return;
    }
    json_t *body = ym_req_json(r);
    if (!body)
        return;
    json_t *adv = json_object_get(body, "advance");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "advance") != 0) {
            ym_resp_invalid(r, key, "unknown field %s", key); /* key lives in body: answer first */
            json_decref(body);
            return;
        }
    }
    if (!json_is_number(adv) || !isfinite(json_number_value(adv)) || fabs(json_number_value(adv)) > 1e9) {
        json_decref(body);
        ym_resp_invalid(r, "advance", "advance must be a number of seconds");
        return;
    }
    int64_t offset = ym_clock_offset() + (int64_t)llround(json_number_value(adv) * 1000.0);
    json_decref(body);
    ym_db *db = ym_server_db(ym_req_server(r));
    if (ym_db_write_begin(db) < 0) {
        ym_resp_error(r, 503, "storage_busy", "the database is busy; try again");
        return;
    }
    bool ok = ym_db_state_set_int(db, "test_clock_offset_ms", offset) == 0;
    ym_db_write_end(db, ok);
    if (!ok) {
        ym_resp_error(r, 500, "storage_error", "could not save the clock offset");
        return;
    }
    ym_clock_set_offset(offset);
    ym_jobs_run_due(); /* what became due runs before the answer; other workers at their tick */
    ym_events_deliver_due(ym_events_current()); /* retries that fell due, likewise */
    char now[48];
    ym_time_format(ym_now(), now, sizeof now);
    ym_log(YM_LOG_INFO, "test clock moved", "offset_ms=%lld", (long long)offset);
    ym_resp_json(r, 200, json_pack("{s:s,s:f}", "now", now, "offset", offset / 1000.0));
}

int ym_system_routes(ym_router *rt, char *err, size_t errlen)
{
    if (ym_router_add(rt, "GET", "/healthz", "public", "core", healthz, NULL, err, errlen) < 0 ||
        ym_router_add(rt, "GET", "/metrics", "public", "core", metrics, NULL, err, errlen) < 0)
        return -1;
    if (ym_clock_test_enabled() &&
        ym_router_add(rt, "POST", "/api/test/clock", "test.clock", "core", test_clock, NULL, err, errlen) < 0)
        return -1;
    return 0;
}
