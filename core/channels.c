/* channels: notify.channels from the config, the outbox rows they are fed by, and the
 * delivery: claim by lease (committed before sending, so one worker sends each row),
 * send on the libuv threadpool with libcurl (webhook) or log it, record the outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "channels.h"
#include "strbuf.h"
#include "notify.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "clock.h"
#include "log.h"

#define CLAIM_BATCH 16
#define MAX_IN_FLIGHT 2            /* threadpool slots: logins hash passwords there too */
#define SWEEP_MS 1000
#define BACKOFF_BASE_MS 5000
#define BACKOFF_MAX_MS 3600000LL
#define LOG_LIMIT 8192             /* bytes of a response kept as the error */

enum { CH_LOG, CH_WEBHOOK };

typedef struct channel {
    char name[33];
    int type;
    char *url, *tmpl, *ctype;
    struct curl_slist *headers;
    int min_rank;
    uint64_t timeout_ms;
    int max_attempts;
} channel;

static struct {
    channel v[YM_CHANNELS_MAX];
    size_t n;
    uv_loop_t *loop;
    ym_db *db;
    uv_timer_t timer, kick;
    bool timer_on, stopped, kick_queued;
    size_t in_flight;
    char *public_url;
} C;

/* ---------- the config ---------- */

static const char *const chan_keys[] = {"type", "url", "template", "content_type", "headers", "min_severity",
                                        "timeout", "max_attempts", NULL};

static bool key_known(const char *k)
{
    for (size_t i = 0; chan_keys[i]; i++)
        if (strcmp(k, chan_keys[i]) == 0)
            return true;
    return false;
}

static bool header_ok(const char *name, const char *value)
{
    size_t n = strlen(name);
    if (!n || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n)
        return false;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return strlen(value) <= 1024;
}

static int check_one(const char *name, json_t *c, char *key, size_t keylen, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    size_t nl = strlen(name);
    snprintf(key, keylen, "%s", name);
    if (!nl || nl > 32 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != nl)
        return snprintf(err, errlen, "a channel name is a-z, 0-9 and _ (at most 32)"), -1;
    if (!json_is_object(c))
        return snprintf(err, errlen, "expected a table"), -1;
    json_object_foreach(c, k, v) {
        if (!key_known(k))
            return snprintf(key, keylen, "%s.%s", name, k), snprintf(err, errlen, "unknown key"), -1;
    }
    const char *type = json_string_value(json_object_get(c, "type"));
    snprintf(key, keylen, "%s.type", name);
    if (!type || (strcmp(type, "log") && strcmp(type, "webhook")))
        return snprintf(err, errlen, "expected \"webhook\" or \"log\""), -1;
    json_t *url = json_object_get(c, "url");
    snprintf(key, keylen, "%s.url", name);
    if (!strcmp(type, "webhook") && (!json_is_string(url) || (strncmp(json_string_value(url), "http://", 7) &&
                                                               strncmp(json_string_value(url), "https://", 8))))
        return snprintf(err, errlen, "a webhook needs a url starting with http:// or https://"), -1;
    if (url && !strcmp(type, "log"))
        return snprintf(err, errlen, "a log channel has no url"), -1;
    static const char *const strs[] = {"template", "content_type", "min_severity", "timeout"};
    for (size_t i = 0; i < 4; i++) {
        json_t *s = json_object_get(c, strs[i]);
        snprintf(key, keylen, "%s.%s", name, strs[i]);
        if (s && !json_is_string(s))
            return snprintf(err, errlen, "expected a string"), -1;
    }
    const char *sev = json_string_value(json_object_get(c, "min_severity"));
    snprintf(key, keylen, "%s.min_severity", name);
    if (sev && ym_notify_severity_rank(sev) < 0)
        return snprintf(err, errlen, "expected \"info\", \"reminder\", \"warning\" or \"urgent\""), -1;
    json_t *t = json_object_get(c, "timeout");
    uint64_t ms = 5000;
    snprintf(key, keylen, "%s.timeout", name);
    if (t && (ym_parse_duration(json_string_value(t), &ms) < 0 || ms < 100 || ms > 60000))
        return snprintf(err, errlen, "expected a duration from 100ms to 60s"), -1;
    json_t *m = json_object_get(c, "max_attempts");
    snprintf(key, keylen, "%s.max_attempts", name);
    if (m && (!json_is_integer(m) || json_integer_value(m) < 1 || json_integer_value(m) > 50))
        return snprintf(err, errlen, "expected a whole number from 1 to 50"), -1;
    json_t *h = json_object_get(c, "headers");
    snprintf(key, keylen, "%s.headers", name);
    if (h && !json_is_object(h))
        return snprintf(err, errlen, "expected a table of header names and values"), -1;
    json_object_foreach(h, k, v) {
        if (!json_is_string(v) || !header_ok(k, json_string_value(v)))
            return snprintf(key, keylen, "%s.headers.%s", name, k),
                   snprintf(err, errlen, "expected a header name (letters, digits, -) and a one-line value"), -1;
    }
    return 0;
}

int ym_channels_check(const json_t *channels, char *key, size_t keylen, char *err, size_t errlen)
{
    const char *name;
    json_t *c;
    key[0] = 0;
    if (!channels)
        return 0;
    if (!json_is_object(channels))
        return snprintf(err, errlen, "expected a table of channels"), -1;
    if (json_object_size(channels) > YM_CHANNELS_MAX)
        return snprintf(err, errlen, "at most %d channels", YM_CHANNELS_MAX), -1;
    json_object_foreach((json_t *)channels, name, c) {
        if (check_one(name, c, key, keylen, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

/* Without a template a webhook gets every field as one JSON object. */
static const char default_tmpl[] =
    "{\"id\":\"{{id}}\",\"severity\":\"{{severity}}\",\"title\":\"{{title}}\",\"body\":\"{{body}}\","
    "\"link\":\"{{url}}\",\"source\":\"{{source}}\",\"username\":\"{{username}}\",\"name\":\"{{name}}\","
    "\"phone\":\"{{phone}}\"}";

static void on_sweep(uv_timer_t *t);

int ym_channels_init(uv_loop_t *loop, ym_db *db, const json_t *channels, const char *public_url)
{
    ym_channels_free();
    C.db = db;
    C.loop = loop;
    C.public_url = sdup(public_url);
    const char *name;
    json_t *c;
    json_object_foreach((json_t *)channels, name, c) {
        if (C.n == YM_CHANNELS_MAX)
            break;
        channel *ch = &C.v[C.n++];
        memset(ch, 0, sizeof *ch);
        snprintf(ch->name, sizeof ch->name, "%s", name);
        ch->type = strcmp(json_string_value(json_object_get(c, "type")), "webhook") == 0 ? CH_WEBHOOK : CH_LOG;
        ch->url = sdup(json_string_value(json_object_get(c, "url")));
        ch->tmpl = sdup(json_string_value(json_object_get(c, "template")));
        ch->ctype = sdup(json_string_value(json_object_get(c, "content_type")));
        if (!ch->ctype)
            ch->ctype = strdup(ch->tmpl ? "text/plain; charset=utf-8" : "application/json");
        const char *sev = json_string_value(json_object_get(c, "min_severity"));
        ch->min_rank = ym_notify_severity_rank(sev ? sev : "urgent");
        ch->timeout_ms = 5000;
        json_t *t = json_object_get(c, "timeout");
        if (t)
            ym_parse_duration(json_string_value(t), &ch->timeout_ms);
        json_t *m = json_object_get(c, "max_attempts");
        ch->max_attempts = m ? (int)json_integer_value(m) : 5;
        char line[1200];
        snprintf(line, sizeof line, "Content-Type: %s", ch->ctype);
        ch->headers = curl_slist_append(NULL, line);
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(c, "headers"), k, v) {
            snprintf(line, sizeof line, "%s: %s", k, json_string_value(v));
            ch->headers = curl_slist_append(ch->headers, line);
        }
    }
    if (loop && C.n) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        uv_timer_init(loop, &C.timer);
        uv_timer_init(loop, &C.kick);
        uv_unref((uv_handle_t *)&C.timer);
        uv_timer_start(&C.timer, on_sweep, SWEEP_MS, SWEEP_MS);
        C.timer_on = true;
    }
    return 0;
}

void ym_channels_stop(void)
{
    C.stopped = true;
    if (C.timer_on) {
        uv_timer_stop(&C.timer);
        uv_timer_stop(&C.kick);
    }
}

void ym_channels_free(void)
{
    for (size_t i = 0; i < C.n; i++) {
        free(C.v[i].url);
        free(C.v[i].tmpl);
        free(C.v[i].ctype);
        curl_slist_free_all(C.v[i].headers);
    }
    free(C.public_url);
    C.n = 0;
    C.public_url = NULL;
    C.stopped = false;
    C.timer_on = false;
}

static channel *find(const char *name)
{
    for (size_t i = 0; i < C.n; i++)
        if (strcmp(C.v[i].name, name) == 0)
            return &C.v[i];
    return NULL;
}

bool ym_channels_known(const char *name) { return name && find(name); }
size_t ym_channels_in_flight(void) { return C.in_flight; }

/* ---------- queueing ---------- */

static void on_kick(uv_timer_t *t)
{
    C.kick_queued = false;
    ym_channels_deliver_due();
}

static void after_commit(void *ud, int rc)
{
    if (rc == 0 && C.timer_on && !C.stopped)
        uv_timer_start(&C.kick, on_kick, 0, 0);
    else
        C.kick_queued = false;
}

int ym_channels_queue(ym_db *db, int64_t after, int64_t last, int severity_rank, const char *const *names,
                      char *err, size_t errlen)
{
    int64_t now = ym_now();
    bool queued = false;
    for (size_t i = 0; i < C.n; i++) {
        channel *ch = &C.v[i];
        bool want = !names && severity_rank >= ch->min_rank;
        for (size_t k = 0; names && names[k]; k++)
            want |= strcmp(names[k], ch->name) == 0;
        if (!want)
            continue;
        sqlite3_stmt *st = ym_db_prepare(db, "core",
            "INSERT INTO core_notify_outbox (notification_id, channel, next_at, created_at) "
            "SELECT id, ?3, ?4, ?4 FROM core_notifications WHERE id > ?1 AND id <= ?2 AND type = 'notification'");
        bool ok = st && sqlite3_bind_int64(st, 1, after) == SQLITE_OK && sqlite3_bind_int64(st, 2, last) == SQLITE_OK &&
                  sqlite3_bind_text(st, 3, ch->name, -1, SQLITE_STATIC) == SQLITE_OK &&
                  sqlite3_bind_int64(st, 4, now) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
        if (st)
            sqlite3_reset(st);
        if (!ok) {
            snprintf(err, errlen, "%s", ym_db_errmsg(db));
            return -1;
        }
        queued = true;
    }
    if (queued && !C.kick_queued && ym_db_in_batch(db) && ym_db_after_commit(db, after_commit, NULL) == 0)
        C.kick_queued = true;
    return 0;
}

/* ---------- delivery ---------- */

typedef struct job {
    uv_work_t w;
    int64_t id;
    channel *ch;
    char *body;
    int attempts;
    bool ok;
    char error[300];
} job;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    char *keep = ud;
    size_t have = strlen(keep), add = size * n;
    if (have < 200)
        snprintf(keep + have, 201 - have, "%.*s", (int)(add < 200 - have ? add : 200 - have), p);
    return size * n;
}

static void send_work(uv_work_t *w)
{
    job *j = w->data;
    char resp[201] = "";
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(j->error, sizeof j->error, "curl init failed");
        return;
    }
    curl_easy_setopt(h, CURLOPT_URL, j->ch->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->ch->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)j->ch->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "yimen");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        snprintf(j->error, sizeof j->error, "%s", curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        snprintf(j->error, sizeof j->error, "HTTP %ld: %s", status, resp);
    else
        j->ok = true;
}

/* Commit the outcome of one claimed row. */
static void record(int64_t id, const channel *ch, int attempts, bool ok, const char *error)
{
    ym_db *db = C.db;
    if (ym_db_write_now(db) < 0) {
        ym_log(YM_LOG_ERROR, "channel outcome not recorded: the lease will expire and it is sent again",
               "outbox=%lld", (long long)id);
        return;
    }
    int64_t now = ym_now();
    int64_t backoff = BACKOFF_BASE_MS << (attempts < 10 ? attempts - 1 : 9);
    bool give_up = !ok && attempts >= ch->max_attempts;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_notify_outbox SET state = ?2, sent_at = ?3, next_at = ?4, lease_until = 0, last_error = ?5 "
        "WHERE id = ?1");
    bool done = st && sqlite3_bind_int64(st, 1, id) == SQLITE_OK &&
                sqlite3_bind_text(st, 2, ok ? "sent" : give_up ? "failed" : "pending", -1, SQLITE_STATIC) == SQLITE_OK &&
                (ok ? sqlite3_bind_int64(st, 3, now) : sqlite3_bind_null(st, 3)) == SQLITE_OK &&
                sqlite3_bind_int64(st, 4, now + (backoff > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff)) == SQLITE_OK &&
                (ok ? sqlite3_bind_null(st, 5) : sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC)) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_DONE;
    if (st)
        sqlite3_reset(st);
    ym_db_commit_now(db, done);
    if (!ok)
        ym_log(give_up ? YM_LOG_ERROR : YM_LOG_WARN, give_up ? "channel delivery failed for good" : "channel delivery failed",
               "channel=%s outbox=%lld attempts=%d error=%s", ch->name, (long long)id, attempts, error);
}

static void send_done(uv_work_t *w, int status)
{
    job *j = w->data;
    C.in_flight--;
    record(j->id, j->ch, j->attempts, j->ok, j->ok ? NULL : status < 0 ? "cancelled" : j->error);
    free(j->body);
    free(j);
    if (!C.stopped)
        ym_channels_deliver_due();
}

/* The template's variables for the notification of a claimed row. */
static char *render(ym_db *db, int64_t nid, const channel *ch)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT n.id, n.severity, n.title, n.body, coalesce(n.link, ''), n.source, u.username, u.display_name, u.phone "
        "FROM core_notifications n JOIN core_users u ON u.id = n.user_id WHERE n.id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, nid);
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        static const char *const names[] = {"id", "severity", "title", "body", "link", "source", "username", "name",
                                            "phone"};
        const char *vars[2 * 10 + 2];
        char url[1200];
        for (int i = 0; i < 9; i++) {
            vars[2 * i] = names[i];
            vars[2 * i + 1] = (const char *)sqlite3_column_text(st, i);
        }
        const char *link = vars[9];
        snprintf(url, sizeof url, "%s%s", link[0] && C.public_url ? C.public_url : "", link);
        vars[18] = "url";
        vars[19] = url;
        vars[20] = NULL;
        out = ym_channels_expand(ch->tmpl ? ch->tmpl : default_tmpl, ch->tmpl ? ch->ctype : "application/json", vars);
    }
    sqlite3_reset(st);
    return out;
}

typedef struct claimed {
    int64_t id, nid;
    int attempts;
    channel *ch;
    char *body;
} claimed;

/* One write: lease up to max due rows of this worker's channels and render them. */
static size_t claim(claimed *out, size_t max)
{
    ym_db *db = C.db;
    if (ym_db_write_now(db) < 0)
        return 0;
    int64_t now = ym_now();
    size_t n = 0;
    for (size_t i = 0; i < C.n && n < max; i++) {
        channel *ch = &C.v[i];
        sqlite3_stmt *st = ym_db_prepare(db, "core",
            "UPDATE core_notify_outbox SET lease_until = ?3, attempts = attempts + 1 WHERE id IN "
            "(SELECT id FROM core_notify_outbox WHERE channel = ?1 AND state = 'pending' AND next_at <= ?2 "
            "AND lease_until < ?2 ORDER BY id LIMIT ?4) RETURNING id, notification_id, attempts");
        if (!st)
            break;
        sqlite3_bind_text(st, 1, ch->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, now + (int64_t)ch->timeout_ms + 30000);
        sqlite3_bind_int64(st, 4, (int64_t)(max - n));
        while (n < max && sqlite3_step(st) == SQLITE_ROW)
            out[n++] = (claimed){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2), ch,
                                 NULL};
        sqlite3_reset(st);
    }
    for (size_t i = 0; i < n; i++)
        out[i].body = render(db, out[i].nid, out[i].ch);
    if (ym_db_commit_now(db, true) < 0) { /* the lease is not ours: someone else sends them */
        for (size_t i = 0; i < n; i++)
            free(out[i].body);
        return 0;
    }
    return n;
}

int ym_channels_deliver_due(void)
{
    if (!C.db || !C.n || C.stopped || C.in_flight >= MAX_IN_FLIGHT)
        return 0;
    claimed v[CLAIM_BATCH];
    size_t room = MAX_IN_FLIGHT - C.in_flight, n = claim(v, room < CLAIM_BATCH ? room : CLAIM_BATCH);
    for (size_t i = 0; i < n; i++) {
        claimed *c = &v[i];
        if (!c->body) { /* its notification was deleted, or the template overflowed */
            record(c->id, c->ch, c->ch->max_attempts, false, "nothing to send (notification gone or body too large)");
            continue;
        }
        if (c->ch->type == CH_LOG || !C.loop) {
            if (c->ch->type == CH_LOG)
                ym_log(YM_LOG_INFO, "notification", "channel=%s outbox=%lld body=%s", c->ch->name, (long long)c->id,
                       c->body);
            record(c->id, c->ch, c->attempts, c->ch->type == CH_LOG, "no event loop to send on");
            free(c->body);
            continue;
        }
        job *j = calloc(1, sizeof *j);
        if (!j)
            abort();
        j->w.data = j;
        j->id = c->id;
        j->ch = c->ch;
        j->body = c->body;
        j->attempts = c->attempts;
        C.in_flight++;
        if (uv_queue_work(C.loop, &j->w, send_work, send_done) < 0) {
            C.in_flight--;
            record(j->id, j->ch, j->attempts, false, "could not start the delivery");
            free(j->body);
            free(j);
        }
    }
    return (int)n;
}

static void on_sweep(uv_timer_t *t) { ym_channels_deliver_due(); }

/* ---------- templates ---------- */

static bool isalnum_ascii(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void sb_escaped(ym_strbuf *b, const char *v, int mode)
{
    char tmp[8];
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (mode == 1 && (*p == '"' || *p == '\\'))
            snprintf(tmp, sizeof tmp, "\\%c", *p);
        else if (mode == 1 && *p < 0x20)
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
        else if (mode == 2 && !(isalnum_ascii(*p) || strchr("-._~", *p)))
            snprintf(tmp, sizeof tmp, "%%%02X", *p);
        else
            tmp[0] = (char)*p, tmp[1] = 0;
        ym_strbuf_add(b, tmp, strlen(tmp));
    }
}

char *ym_channels_expand(const char *tmpl, const char *content_type, const char *const *vars)
{
    int mode = strstr(content_type, "json") ? 1 : strstr(content_type, "x-www-form-urlencoded") ? 2 : 0;
    ym_strbuf b = {.max = YM_CHANNEL_BODY_MAX};
    ym_strbuf_add(&b, "", 0);
    for (const char *p = tmpl; *p;) {
        const char *open = strstr(p, "{{"), *close = open ? strstr(open + 2, "}}") : NULL;
        if (!close) {
            ym_strbuf_add(&b, p, strlen(p));
            break;
        }
        ym_strbuf_add(&b, p, (size_t)(open - p));
        size_t nl = (size_t)(close - open - 2);
        for (size_t i = 0; vars[i] && vars[i + 1]; i += 2)
            if (strlen(vars[i]) == nl && strncmp(vars[i], open + 2, nl) == 0) {
                sb_escaped(&b, vars[i + 1], mode);
                break;
            }
        p = close + 2;
    }
    if (b.over) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---------- admin routes ---------- */

static json_t *outbox_row(sqlite3_stmt *st)
{
    const char *err = (const char *)sqlite3_column_text(st, 5);
    return json_pack("{s:I,s:I,s:s,s:s,s:i,s:o,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "notification_id",
                     (json_int_t)sqlite3_column_int64(st, 1), "channel", (const char *)sqlite3_column_text(st, 2), "state",
                     (const char *)sqlite3_column_text(st, 3), "attempts", sqlite3_column_int(st, 4), "last_error",
                     err ? json_string(err) : json_null(), "next_at", ym_api_time(sqlite3_column_int64(st, 6)),
                     "sent_at", sqlite3_column_type(st, 7) == SQLITE_NULL ? json_null()
                                                                           : ym_api_time(sqlite3_column_int64(st, 7)));
}

#define OUTBOX_COLS "id, notification_id, channel, state, attempts, last_error, next_at, sent_at"

/* GET /api/admin/notify/outbox?state=pending|sent|failed&channel=: newest first. */
static void outbox_list(ym_request *r, void *ud)
{
    int limit;
    int64_t after;
    char *state = NULL, *chan = NULL;
    if (ym_api_page(r, &limit, &after) < 0 || ym_api_query_str(r, "state", 16, &state) < 0 ||
        ym_api_query_str(r, "channel", 32, &chan) < 0)
        goto out;
    if (state && strcmp(state, "pending") && strcmp(state, "sent") && strcmp(state, "failed")) {
        ym_resp_invalid(r, "state", "state must be pending, sent or failed");
        goto out;
    }
    sqlite3_stmt *st = ym_db_prepare(ym_api_db(r), "core",
        "SELECT " OUTBOX_COLS " FROM core_notify_outbox WHERE (?1 = 0 OR id < ?1) AND (?2 IS NULL OR state = ?2) "
        "AND (?3 IS NULL OR channel = ?3) ORDER BY id DESC LIMIT ?4");
    if (!st) {
        ym_api_busy(r);
        goto out;
    }
    sqlite3_bind_int64(st, 1, after);
    if (state)
        sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
    if (chan)
        sqlite3_bind_text(st, 3, chan, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, limit + 1);
    ym_api_send_rows(r, st, limit, outbox_row);
out:
    free(state);
    free(chan);
}

/* POST /api/admin/notify/outbox/:id/retry: a failed (or waiting) row is tried again now. */
static void outbox_retry(ym_request *r, void *ud)
{
    ym_db *db = ym_api_db(r);
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_notify_outbox SET state = 'pending', next_at = ?2, attempts = 0, lease_until = 0 "
        "WHERE id = ?1 AND state != 'sent' RETURNING " OUTBOX_COLS);
    json_t *row = NULL;
    bool ok = st && sqlite3_bind_int64(st, 1, id) == SQLITE_OK && sqlite3_bind_int64(st, 2, ym_now()) == SQLITE_OK;
    int rc = ok ? sqlite3_step(st) : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        row = outbox_row(st);
        rc = sqlite3_step(st);
    }
    if (st)
        sqlite3_reset(st);
    ok = rc == SQLITE_DONE;
    char target[40];
    snprintf(target, sizeof target, "notify_outbox:%lld", (long long)id);
    if (ok && row && ym_audit_req(r, "notify.retry", target, "ok", NULL) < 0)
        ok = false;
    ym_db_write_end(db, ok);
    if (!ok)
        ym_api_busy(r);
    else if (!row)
        ym_resp_error(r, 404, "not_found", "no unsent delivery %lld", (long long)id);
    else {
        ym_resp_json(r, 200, row);
        row = NULL;
        if (C.timer_on && !C.stopped)
            uv_timer_start(&C.kick, on_kick, 0, 0);
    }
    json_decref(row);
}

int ym_channels_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/admin/notify/outbox", "admin.plugins", outbox_list, NULL},
        {"POST", "/api/admin/notify/outbox/:id/retry", "admin.plugins", outbox_retry, NULL},
    };
    return ym_api_routes(rt, routes, sizeof routes / sizeof *routes, err, errlen);
}
