/* live: the Server-Sent Events stream GET /api/events of one worker. Every row written
 * to core_notifications reaches its user's open streams on every worker: the writer
 * raises the highest committed id in shared memory after its commit, and each worker
 * with open streams polls that number and reads the new rows once for all its streams.
 * A client that reconnects with Last-Event-ID gets what it missed from the table. */
#ifndef YM_LIVE_H
#define YM_LIVE_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "db.h"
#include "router.h"

#define YM_LIVE_POLL_MS 10          /* how often a worker with streams looks for new rows */
#define YM_LIVE_RESUME_MAX 1000     /* rows replayed to a reconnecting stream */
#define YM_LIVE_PER_USER 16         /* streams of one user on one worker (tabs); the oldest goes */

/* Per worker: the poll and heartbeat timers run on loop (unref'ed) while streams are open. */
int ym_live_init(uv_loop_t *loop, ym_db *db, uint64_t heartbeat_ms, uint64_t idle_timeout_ms);
void ym_live_free(void);
/* A row up to id was written in the current write: after the commit, publish it. */
void ym_live_written(ym_db *db, int64_t id);
/* Pushes committed rows this worker has not pushed yet; returns how many rows. */
int ym_live_pump(void);
size_t ym_live_streams(void);
/* GET /api/events */
int ym_live_routes(ym_router *rt, char *err, size_t errlen);
#endif
