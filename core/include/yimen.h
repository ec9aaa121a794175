/* yimen.h: the whole C plugin API, and the only header a plugin includes.
 * A plugin exports one symbol, `yimen_plugin` (a ym_plugin_def); the host hands it a
 * table of function pointers (ym_api), so a plugin never links against the server.
 *
 * Compatibility: YM_ABI_MAJOR changes only when something is removed or changes
 * meaning; new functions are appended to ym_api and raise YM_ABI_MINOR. The host
 * refuses a plugin whose abi_major differs or whose abi_minor is newer than its own,
 * so a plugin built against an older minor keeps working on a newer host. A plugin
 * that wants a function added in minor N checks api->abi_minor >= N first. */
#ifndef YIMEN_H
#define YIMEN_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define YM_ABI_MAJOR 1
#define YM_ABI_MINOR 6

typedef struct ym_plugin ym_plugin;     /* the host's record of one loaded plugin */
typedef struct ym_request ym_request;   /* one HTTP request; valid until answered */
typedef struct ym_stmt ym_stmt;         /* a prepared statement owned by the plugin */
typedef struct ym_api ym_api;

/* Route handler: answer exactly once, now or later (after async work). */
typedef void (*ym_handler_fn)(ym_request *req, void *ud);

/* The exported definition. `size` = sizeof(ym_plugin_def) as the plugin saw it. */
typedef struct ym_plugin_def {
    uint32_t abi_major, abi_minor;
    size_t size;
    const char *name;        /* must equal the plugin's directory name */
    const char *version;     /* "1.2.0" */
    const char *core_min;    /* lowest yimen version it supports, "0.1" */
    const char *const *requires; /* NULL-terminated names of plugins it needs, or NULL */
    /* Register routes, permissions and read settings; no I/O, no database. Return 0,
     * or -1 after api->fail(self, reason). */
    int (*init)(ym_plugin *self, const ym_api *api);
    /* The worker is about to serve: open what needs opening. 0 ok, -1 failed. */
    int (*start)(ym_plugin *self);
    /* The worker stops (drain): finish by deadline_ms (ym_api.now clock). */
    void (*stop)(ym_plugin *self, int64_t deadline_ms);
} ym_plugin_def;

/* Log levels (as the core's). */
enum { YM_DEBUG = 0, YM_INFO = 1, YM_WARN = 2, YM_ERROR = 3 };
/* Failures of the engine calls (item_*, dispatch_*), as HTTP would say them. */
enum { YM_E_INVALID = -1, YM_E_NOTFOUND = -2, YM_E_STATE = -3, YM_E_LAG = -4, YM_E_DB = -5, YM_E_FORBIDDEN = -6 };
/* ym_api.db_step results. */
enum { YM_ROW = 100, YM_DONE = 101, YM_ERR = -1 };
/* ym_api.db_column_type results. */
enum { YM_INTEGER = 1, YM_FLOAT = 2, YM_TEXT = 3, YM_BLOB = 4, YM_NULL = 5 };

struct ym_api {
    uint32_t abi_major, abi_minor;
    size_t size;                 /* sizeof(ym_api) of the host */

    /* ---- registration: only inside init(), else -1 ---- */
    /* path must start with "/api/<plugin name>/" (or equal "/api/<plugin name>");
     * permission: "public", "user" (any signed-in user), or a permission this plugin
     * declared with api->permission ("<plugin name>.<verb>"). */
    int (*route)(ym_plugin *self, const char *method, const char *path, const char *permission,
                 ym_handler_fn h, void *ud);
    int (*permission)(ym_plugin *self, const char *name, const char *label_zh, const char *label_en);

    /* ---- settings: the plugin's table in yimen.conf ---- */
    const char *(*setting_string)(ym_plugin *self, const char *key, const char *def);
    int64_t (*setting_int)(ym_plugin *self, const char *key, int64_t def);
    int (*setting_bool)(ym_plugin *self, const char *key, int def);
    /* Is key present (of any type)? Lets a plugin refuse unknown or mistyped keys. */
    int (*setting_has)(ym_plugin *self, const char *key);
    /* Every key of the table, in turn (i from 0); NULL after the last. */
    const char *(*setting_key)(ym_plugin *self, size_t i);
    /* Marks the plugin failed with a reason (shown in admin); init then returns -1. */
    void (*fail)(ym_plugin *self, const char *reason);

    /* ---- services ---- */
    void (*log)(ym_plugin *self, int level, const char *msg);
    int64_t (*now)(void);        /* ms since the epoch, the server's (test) clock */
    /* RFC 3339 in the server's timezone ("2026-11-27T11:24:31.000+08:00"); returns length. */
    size_t (*time_format)(int64_t ms, char *buf, size_t len);
    const char *(*name)(ym_plugin *self);

    /* ---- the request ---- */
    const char *(*req_method)(ym_request *r);
    const char *(*req_path)(ym_request *r);
    const char *(*req_param)(ym_request *r, const char *name);   /* ":id" of the route */
    /* Decoded query parameter; the string lives until the request is answered. */
    const char *(*req_query)(ym_request *r, const char *name);
    const char *(*req_header)(ym_request *r, const char *name);
    const char *(*req_body)(ym_request *r, size_t *len);
    int64_t (*req_user_id)(ym_request *r);     /* 0 on a public route without sign-in */
    int64_t (*req_unit_id)(ym_request *r);     /* the user's primary unit */
    const char *(*req_username)(ym_request *r);
    /* May the user do perm on unit (0 = some unit)? 1 yes, 0 no, -1 error. */
    int (*req_may)(ym_request *r, const char *perm, int64_t unit_id);
    /* Is the body valid JSON (Content-Type application/json, nesting under the limit)?
     * 1 yes; 0: a 400/415 was answered already and the handler must return. */
    int (*req_json_ok)(ym_request *r);

    /* ---- the response: exactly one per request ---- */
    void (*resp_json)(ym_request *r, int status, const char *json_text);
    void (*resp_error)(ym_request *r, int status, const char *code, const char *message);
    void (*resp_invalid)(ym_request *r, const char *field, const char *message);
    void (*resp_send)(ym_request *r, int status, const char *content_type, const void *body, size_t len);

    /* ---- storage: only the plugin's own tables (names "<plugin>_..."), plus reading
     * core_v_units and core_v_users. Refused statements fail at prepare. ---- */
    ym_stmt *(*db_prepare)(ym_plugin *self, const char *sql);   /* cached; NULL + db_errmsg */
    int (*db_bind_int)(ym_stmt *st, int idx, int64_t v);        /* idx from 1 */
    int (*db_bind_double)(ym_stmt *st, int idx, double v);
    int (*db_bind_text)(ym_stmt *st, int idx, const char *s);   /* copied */
    int (*db_bind_null)(ym_stmt *st, int idx);
    int (*db_step)(ym_stmt *st);                                 /* YM_ROW, YM_DONE, YM_ERR */
    int (*db_column_count)(ym_stmt *st);
    const char *(*db_column_name)(ym_stmt *st, int col);
    int (*db_column_type)(ym_stmt *st, int col);
    int64_t (*db_column_int)(ym_stmt *st, int col);
    double (*db_column_double)(ym_stmt *st, int col);
    const char *(*db_column_text)(ym_stmt *st, int col);
    void (*db_reset)(ym_stmt *st);
    /* Rows of a stepped-from-start statement as a JSON array of objects (malloc'ed
     * text; free with api->free). Resets the statement. NULL on error. */
    char *(*db_rows_json)(ym_stmt *st);
    /* Writes: begin/end around them in a handler; the response waits for the commit. */
    int (*db_write_begin)(ym_plugin *self);
    int (*db_write_end)(ym_plugin *self, int ok);
    int64_t (*db_last_insert_id)(ym_plugin *self);
    int (*db_changes)(ym_plugin *self);
    const char *(*db_errmsg)(ym_plugin *self);

    /* ---- audit: a row for this request (inside the write, or its own) ---- */
    int (*audit)(ym_request *r, const char *action, const char *target, const char *result,
                 const char *detail_json);

    void (*free)(void *p);

    /* ---- working days (config/calendar/<year>.conf: holidays and 调休) ---- */
    int (*date_is_working_day)(const char *date);              /* "YYYY-MM-DD": 1, 0, -1 bad date */
    /* n-th working day after date (n < 0: before; 0: date or the next working day)
     * into out; 0 ok, -1 bad date */
    int (*date_add_working_days)(const char *date, int n, char out[11]);
    int64_t (*date_end_ms)(const char *date);                  /* last ms of that day; -1 bad date */

    /* ---- jobs: only inside init; present when api->size > offsetof(ym_api, job) ----
     * name "<plugin>.<word>"; schedule "every 5m", "daily 09:00", "monthly 28 17:00",
     * "workday 3 09:00" or "at 2026-12-01T09:00". One worker runs each due time (at
     * least once: a crash re-runs it, so fn must be idempotent). fn returns 0, or -1
     * when it failed: it is retried with backoff and paused after 5 failures in a row.
     * See docs/api/jobs.md. Returns 0, or -1 (the plugin is marked failed with the reason). */
    int (*job)(ym_plugin *self, const char *name, const char *schedule,
               int (*fn)(ym_plugin *self, const char *name, void *ud), void *ud);

    /* ==== ABI minor 1: the shared services (check api->abi_minor >= 1) ====
     * Writers below join the plugin's open write (db_write_begin/db_write_end), so what
     * they write commits or rolls back with the plugin's own rows, or run in a write of
     * their own; each returns -1 on failure with the reason in api->error(self).
     * See docs/plugin-guide.md. */
    const char *(*error)(ym_plugin *self);      /* reason of the last failed call below */

    /* ---- events (docs/api/events.md) ----
     * emit: name "<plugin>.<what>" (a-z, 0-9, _ and .), payload a JSON object text or
     * NULL; delivered after the commit, at least once, once per cluster, in order. */
    int (*emit)(ym_plugin *self, const char *name, const char *payload_json);
    /* Only inside init. pattern: "meetings.minutes.published", "meetings.*" or "*".
     * fn runs after the emitting commit inside a write of its own (its writes and the
     * "delivered" mark commit together); it returns 0, or -1 to be retried with backoff. */
    int (*subscribe)(ym_plugin *self, const char *pattern,
                     int (*fn)(ym_plugin *self, const char *name, const char *payload_json, void *ud), void *ud);

    /* ---- notifications (docs/api/notifications.md) ----
     * severity: "info", "reminder", "warning" or "urgent"; title 1..200 characters; body and
     * link may be NULL (link "#/..." or "/..."). Returns the notification id (notify),
     * the number of users (notify_unit), or -1. */
    int64_t (*notify)(ym_plugin *self, int64_t user_id, const char *severity, const char *title, const char *body,
                      const char *link);
    int64_t (*notify_unit)(ym_plugin *self, int64_t unit_id, int subtree, const char *severity, const char *title,
                           const char *body, const char *link);
    /* A live event of type "<plugin>.<what>" with a JSON object to one user's open
     * streams (live boards); not in the inbox. Returns its id or -1. */
    int64_t (*push)(ym_plugin *self, int64_t user_id, const char *type, const char *data_json);

    /* ---- my to-dos (docs/api/todos.md) ----
     * key: the plugin's own id of the item ("doc:17:unit:5"); for a person (user_id) or
     * for whoever holds role in unit_id (user_id 0). due_ms 0 = no deadline. The same
     * key again updates (and reopens) it. Returns the to-do id or -1. */
    int64_t (*todo_put)(ym_plugin *self, const char *key, int64_t user_id, int64_t unit_id, const char *role,
                        const char *title, const char *link, int64_t due_ms, const char *kind);
    /* Resolve one (1), or none was open (0); prefix: every open key starting with it
     * (the count). by_user 0 = the system. -1 on error. */
    int (*todo_resolve)(ym_plugin *self, const char *key, int64_t by_user);
    int (*todo_resolve_prefix)(ym_plugin *self, const char *prefix, int64_t by_user);

    /* ---- search (docs/api/search.md) ----
     * kind: the plugin's name or "<plugin>.<what>"; ref: the record ("doc:17");
     * permission: what a user needs on unit_id to see it. Same kind+ref replaces. */
    int (*search_put)(ym_plugin *self, const char *kind, const char *ref, const char *title, const char *body,
                      int64_t unit_id, const char *permission);
    int (*search_del)(ym_plugin *self, const char *kind, const char *ref);  /* 1, 0 none, -1 */

    /* ---- attachments (docs/api/files.md) ----
     * Attach a file the requesting user uploaded (POST /api/files) to the record
     * owner_ref ("<plugin>_<table>:<id>"); detach every file of a record (the daily
     * cleanup then removes them). 0 / count, or -1. */
    int (*file_attach)(ym_plugin *self, ym_request *r, int64_t file_id, const char *owner_ref);
    int (*file_detach)(ym_plugin *self, const char *owner_ref);

    /* ---- spreadsheets (docs/sheets.md) ----
     * Answers the request with an .xlsx download: sheet_json is
     * {"name": "Sheet1", "header": ["..."], "rows": [[cell, ...], ...]} with cells of
     * strings, numbers, booleans, null or {"date": "YYYY-MM-DD"}; filename is UTF-8.
     * Answers 500 itself on failure. */
    void (*resp_xlsx)(ym_plugin *self, ym_request *r, const char *filename, const char *sheet_json);
    /* The first worksheet of an .xlsx held in data/len as a JSON array of rows (arrays
     * of strings, numbers, booleans and nulls); malloc'ed (api->free), or NULL with the
     * reason in api->error(self) ("row 7, column C: ..."). */
    char *(*xlsx_rows)(ym_plugin *self, const void *data, size_t len);

    /* ==== ABI minor 2: the two core engines (check api->abi_minor >= 2) ====
     * Specs and arguments are JSON objects (docs/api/items.md, docs/api/dispatch.md), so
     * new fields never change the ABI. A plugin creates and acts only on items and
     * dispatches of its own (source = its name); checking that the acting user may do it
     * (req_may on the unit) is the plugin's, as for its own records. Each call is a
     * savepoint of its own inside the plugin's write (or alone): a refused one writes
     * nothing. A failure returns YM_E_INVALID (400), YM_E_NOTFOUND (404: unknown, or not
     * this plugin's), YM_E_STATE (409: not in that state), YM_E_LAG (409: a lag reason
     * must be recorded first), YM_E_FORBIDDEN (403: the user may see it but not do
     * that) or YM_E_DB (503), or NULL, with the reason in api->error(self). */

    /* ---- tracked items (督办事项) ----
     * spec: {"source_kind", "record", "parent_id", "title", "content", "supervisor_unit",
     * "lead_unit", "co_units": [ids], "leader", "deadline": "YYYY-MM-DD" |
     * "deadline_workdays": n, "nodes": [{"title", "deadline"}], "report_cycle", "assign":
     * true, "restricted": true (only its parties see it)}; returns the item id. action: "assign", "accept", "return" {reason}, "report"
     * {unit_id (default: the lead unit), text, file_ids, node_id, percent}, "complete" {text, file_ids}, "review"
     * {accept, comment}, "close", "extend" {until, reason}, "decide" {extension_id,
     * approve, comment}, "reason" {category, text}, "urge" {message}, "escalate" {on,
     * reason}, "link" {record}, "update" {title, content, deadline, co_units, leader}
     * (some of them; refused on a closed item), "withdraw" {reason} (撤销, any state but
     * closed); returns an id (report, extension, reason) or 0. */
    int64_t (*item_create)(ym_plugin *self, int64_t by_user, const char *spec_json);
    int64_t (*item_act)(ym_plugin *self, int64_t item_id, const char *action, int64_t by_user, const char *args_json);
    char *(*item_get)(ym_plugin *self, int64_t item_id);   /* the item as JSON (api->free) */

    /* ---- dispatch and receipt (分发/签收) ----
     * spec: {"record", "sender_unit", "sender_user", "title", "urgency": "normal" |
     * "urgent" | "very_urgent", "link", "recipients": [{"unit_id" | "user_id", "kind":
     * "main" | "copy"}], "reply_form": {"fields": [...]}, "deadline_at": ms | "deadline_in":
     * seconds, "ladder": [{"offset_ms", "before_deadline", "action": "remind" | "channel"
     * | "call", "channel"}]}; returns the dispatch id. Sending to 573 units is one call.
     * action, as by_user for the recipient unit unit_id (0: the one they may act for):
     * "read", "sign", "reply" {answers}, "return" {reason}, "forward" {unit_ids, title}
     * (returns the child dispatch), "withdraw" (the sender). The engine checks that the
     * user may act for that unit (its clerk, or <plugin>.receive there). */
    int64_t (*dispatch_create)(ym_plugin *self, const char *spec_json);
    int64_t (*dispatch_act)(ym_plugin *self, int64_t dispatch_id, const char *action, int64_t by_user,
                            int64_t unit_id, const char *args_json);
    char *(*dispatch_board)(ym_plugin *self, int64_t dispatch_id);  /* the live board as JSON (api->free) */

    /* ==== ABI minor 3 (check api->abi_minor >= 3) ====
     * A QR code of text (a check-in code, a link) as a standalone SVG document, drawn by
     * libqrencode on the server; malloc'ed (api->free), NULL on error. */
    char *(*qr_svg)(const char *text);

    /* ==== ABI minor 4 (check api->abi_minor >= 4) ====
     * A file attached to one of this plugin's records (owner "<plugin>_<table>:<id>"): its
     * file object (docs/api/files.md: id, name, size, type, sha256, owner, uploader_id,
     * unit_id) plus "path", its content-addressed blob on disk, to be read and never
     * written; malloc'ed JSON text (api->free), NULL when unknown or not attached to a
     * record of this plugin. */
    char *(*file_info)(ym_plugin *self, int64_t file_id);
    /* The plugin's own directory, <data_dir>/plugins/<name> (made on first use), for
     * caches of derived files; NULL on error. The string is the calling thread's. */
    const char *(*data_path)(ym_plugin *self);
    /* Slow work (rendering, compression) off the event loop: work(ud) runs on the
     * worker's thread pool and must not call api; then done(self, ud) runs back on the
     * event loop, where a request left unanswered by its handler may be answered.
     * 0, or -1 (neither runs). */
    int (*queue_work)(ym_plugin *self, void (*work)(void *ud), void (*done)(ym_plugin *self, void *ud), void *ud);

    /* ==== ABI minor 5 (check api->abi_minor >= 5) ====
     * Where may the caller use perm? The scope req_may checks against, as a JSON array
     * [{"p": unit path, "d": 0|1}] (d: with the subtree; paths as core_v_units.path):
     * grants, then delegations, cut to an API token's own scope. For lists that filter by
     * unit in SQL instead of asking req_may row by row. malloc'ed (api->free), NULL on error. */
    char *(*req_scope)(ym_request *r, const char *perm);

    /* ==== ABI minor 6 (check api->abi_minor >= 6) ====
     * Who holds perm on exactly unit: the active users with a grant there of a role that
     * names perm or "<plugin>.*", as a JSON array of user ids (ascending, at most 200) —
     * the audience of a board's live events (the dispatch engine's receipt events reach
     * the same people); not a permission check, which req_may is. malloc'ed (api->free),
     * NULL on error. */
    char *(*perm_holders)(ym_plugin *self, const char *perm, int64_t unit);
};

/* ==== Text: header-only helpers (no ABI change), the C side of yimen.text in Lua ====
 * Field limits in county records are counted in characters (a title of 200 字), not bytes;
 * text from jansson is valid UTF-8. */

/* s as a whole decimal number in lo..hi into *out (ids and paging of path and query
 * parameters): 1, or 0 when s is NULL, empty, has a sign-less leading non-digit or any
 * trailing character, or is out of range (*out untouched). */
static inline int ym_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    if (!s || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return 0;
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* The characters (code points) of a UTF-8 string. */
static inline size_t ym_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Is s (len bytes) a text of min_chars..max_chars characters, with no NUL inside and no
 * control character (multiline: \n, \r and \t allowed)? 1 yes, 0 no. */
static inline int ym_text_ok(const char *s, size_t len, size_t min_chars, size_t max_chars, int multiline)
{
    size_t n = 0, i = 0;
    if (!s)
        return 0;
    for (; i < len && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
            return 0;
        n += (c & 0xC0) != 0x80;
    }
    return i == len && n >= min_chars && n <= max_chars;
}

#ifdef __cplusplus
}
#endif
#endif
