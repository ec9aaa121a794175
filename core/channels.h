/* channels: outbound delivery of notifications beyond the browser (an SMS gateway or
 * any webhook over HTTP POST with a configured URL and body template; a log channel for
 * development). notify.channels in the config names them; deliveries are rows of
 * core_notify_outbox, claimed by a lease, sent by libcurl on the threadpool, retried
 * with backoff and marked failed after max_attempts. */
#ifndef YM_CHANNELS_H
#define YM_CHANNELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>
#include "db.h"
#include "router.h"

#define YM_CHANNELS_MAX 16
#define YM_CHANNEL_BODY_MAX 65536      /* bytes of an expanded template */

/* Validates notify.channels (an object of name -> table) as the config holds it; on an
 * error fills key with the path below notify.channels ("sms.url") and err. 0 or -1. */
int ym_channels_check(const json_t *channels, char *key, size_t keylen, char *err, size_t errlen);

/* Per worker: the channels of the config (validated before), the database and the
 * loop for the retry timer (NULL in tests: ym_channels_deliver_due is then called by
 * hand). public_url (or NULL) makes {{url}} absolute. */
int ym_channels_init(uv_loop_t *loop, ym_db *db, const json_t *channels, const char *public_url);
void ym_channels_stop(void);       /* draining: claim nothing more */
void ym_channels_free(void);
bool ym_channels_known(const char *name);

/* Inside a write: queue the notifications with ids in (after, last] to the channels
 * named (NULL-terminated), or when names is NULL to every channel whose min_severity
 * rank reaches severity_rank. 0, or -1 with the reason in err. */
int ym_channels_queue(ym_db *db, int64_t after, int64_t last, int severity_rank, const char *const *names,
                      char *err, size_t errlen);
/* Claims and starts what is due now; returns how many were started. */
int ym_channels_deliver_due(void);
/* Deliveries still running on the threadpool (tests wait for 0). */
size_t ym_channels_in_flight(void);

/* {{name}} placeholders replaced by vars (name, value pairs, NULL-terminated); values
 * escaped for content_type (JSON string contents, form-urlencoded, or as is). Unknown
 * placeholders become empty. malloc'ed; NULL when the result is over
 * YM_CHANNEL_BODY_MAX. */
char *ym_channels_expand(const char *tmpl, const char *content_type, const char *const *vars);

/* GET /api/admin/notify/outbox?state=&channel= and POST .../:id/retry */
int ym_channels_routes(ym_router *rt, char *err, size_t errlen);
#endif
