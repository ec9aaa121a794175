/* notify: notifications (消息提醒): the per-user inbox that every subsystem writes to,
 * live events for boards, the routes to read them, and the hand-off to the live stream
 * (live.c) and to outbound channels (channels.c) after commit. */
#ifndef YM_NOTIFY_H
#define YM_NOTIFY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "db.h"
#include "router.h"

#define YM_NOTIFY_TITLE_MAX 200      /* characters (a Chinese character is one) */
#define YM_NOTIFY_BODY_MAX 4000      /* characters */
#define YM_NOTIFY_LINK_MAX 500       /* bytes */
#define YM_NOTIFY_DATA_MAX 16384     /* bytes of a live event's JSON */

typedef struct ym_notice {
    const char *severity;            /* "info" (also NULL), "reminder", "warning", "urgent" */
    const char *title;               /* required, 1..200 characters, one line */
    const char *body;                /* may be NULL; at most 4000 characters */
    const char *link;                /* NULL, or "#/..." or "/..." (no control characters) */
    /* Outbound channels (notify.channels in the config) to send it through as well:
     * NULL = every channel whose min_severity it reaches; otherwise exactly these names
     * (an empty list: none). An unknown name is an error. */
    const char *const *channels;
} ym_notice;

/* 0..3 for info, reminder, warning, urgent; -1 for anything else (NULL is info). */
int ym_notify_severity_rank(const char *severity);
/* NULL when n is well-formed, else the field at fault ("title", ...) with the reason
 * in err. */
const char *ym_notify_check(const ym_notice *n, char *err, size_t errlen);

/* All writers run inside a write the caller holds (ym_db_write_begin); what they write
 * is pushed to open streams on every worker right after the commit. source is "core" or
 * the plugin's name. */

/* One inbox row for an existing user: its id, or -1 with the reason in err. */
int64_t ym_notify_user(ym_db *db, const char *source, int64_t user_id, const ym_notice *n, char *err,
                       size_t errlen);
/* One row for every active user of unit (and of its whole subtree when subtree):
 * how many, or -1 with the reason (unknown unit, bad notice, database error). */
int64_t ym_notify_unit(ym_db *db, const char *source, int64_t unit_id, bool subtree, const ym_notice *n,
                       char *err, size_t errlen);
/* Every holder of the system_admin role (a job that paused, ...): how many, or -1. */
int64_t ym_notify_admins(ym_db *db, const char *source, const ym_notice *n);
/* A live event (not in the inbox) of type "<source>.<what>" carrying data (a JSON object
 * text, at most 16 KiB) to one user's streams: its id, or -1 with the reason in err.
 * Live events are kept one day, long enough for a reconnecting stream to catch up. */
int64_t ym_notify_push(ym_db *db, const char *source, int64_t user_id, const char *type, const char *data_json,
                       char *err, size_t errlen);

/* The newest row id (0 when none), -1 on a database error. */
int64_t ym_notify_max_id(ym_db *db);
/* A row as the API shows it (also the data of its stream event); NULL if unknown. */
json_t *ym_notify_row_json(sqlite3_stmt *st);
#define YM_NOTIFY_COLS "id, user_id, type, source, severity, title, body, link, data, created_at, read_at"

/* /api/notifications..., /api/admin/notify; registers the permission notify.broadcast. */
int ym_notify_routes(ym_router *rt, char *err, size_t errlen);
struct ym_jobs;
/* core.notify_cleanup: live events after a day, read inbox rows after notify.keep. */
int ym_notify_add_jobs(struct ym_jobs *j, ym_db *db, uint64_t keep_ms);
#endif
