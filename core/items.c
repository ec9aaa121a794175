/* items: the rules of tracked items (items.colours by effective date, lag categories,
 * automatic urges), the colour of an item from its deadline, nodes and reporting cycle
 * on the working-day calendar, its recomputation (on change: timeline, event, notice,
 * urge; in the job's run one notice per lead unit) and the jobs core.items_recolour and
 * core.items_remind (items_remind.c); shared helpers of items_flow.c and items_routes.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "items.h"
#include "items_int.h"
#include "calendar.h"
#include "events.h"
#include "notify.h"
#include "files.h"
#include "clock.h"
#include "jobs.h"
#include "log.h"

/* ---------- configuration ---------- */

static json_t *g_colours, *g_categories, *g_auto_urge, *g_remind;
static const char *const colours[] = {"green", "blue", "yellow", "orange", "red"};

static int colour_rank(const char *c)
{
    for (int i = 0; c && i < 5; i++)
        if (strcmp(c, colours[i]) == 0)
            return i;
    return -1;
}

json_t *ym_items_config_default(const char *key)
{
    if (strcmp(key, "colours") == 0)
        return json_pack("[{s:s,s:i,s:i}]", "from", "2000-01-01", "blue_within", 3, "red_after", 5);
    if (strcmp(key, "lag_categories") == 0)
        return json_pack("[s,s,s,s,s,s]", "funding", "approval", "land", "coordination", "external", "other");
    if (strcmp(key, "auto_urge") == 0)
        return json_pack("[s]", "red");
    if (strcmp(key, "remind_days") == 0)
        return json_pack("[i,i]", 3, 1);
    return NULL;
}

static int why(char *sub, size_t sublen, char *w, size_t wlen, const char *path, const char *msg)
{
    snprintf(sub, sublen, "%s", path);
    snprintf(w, wlen, "%s", msg);
    return -1;
}

static int check_colours(const json_t *v, char *sub, size_t sublen, char *w, size_t wlen)
{
    char path[64];
    int32_t last = INT32_MIN;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 100)
        return why(sub, sublen, w, wlen, "", "expected a list of 1 to 100 rules {from, blue_within, red_after}");
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
        snprintf(path, sizeof path, "[%zu]", i + 1);
        if (!json_is_object(r))
            return why(sub, sublen, w, wlen, path, "expected a table {from, blue_within, red_after}");
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)r, k, x) {
            snprintf(path, sizeof path, "[%zu].%.20s", i + 1, k);
            int32_t day;
            if (strcmp(k, "from") == 0) {
                if (!json_is_string(x) || ym_date_parse(json_string_value(x), &day) < 0)
                    return why(sub, sublen, w, wlen, path, "expected a date \"YYYY-MM-DD\"");
                if (day <= last)
                    return why(sub, sublen, w, wlen, path, "rules must be in ascending order of from, each date once");
                last = day;
            } else if (strcmp(k, "blue_within") == 0 || strcmp(k, "red_after") == 0) {
                if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 60)
                    return why(sub, sublen, w, wlen, path, "expected a number of working days from 0 to 60");
            } else {
                return why(sub, sublen, w, wlen, path, "unknown key");
            }
        }
        static const char *const need[] = {"from", "blue_within", "red_after"};
        for (int n = 0; n < 3; n++)
            if (!json_object_get(r, need[n])) {
                snprintf(path, sizeof path, "[%zu].%s", i + 1, need[n]);
                return why(sub, sublen, w, wlen, path, "is required");
            }
    }
    return 0;
}

static int check_strings(const char *key, const json_t *v, char *sub, size_t sublen, char *w, size_t wlen)
{
    char path[32];
    bool cats = strcmp(key, "lag_categories") == 0;
    if (!json_is_array(v) || (cats && json_array_size(v) == 0) || json_array_size(v) > 50)
        return why(sub, sublen, w, wlen, "", cats ? "expected a list of 1 to 50 category names"
                                                  : "expected a list of colours");
    size_t i, j;
    json_t *s;
    json_array_foreach(v, i, s) {
        snprintf(path, sizeof path, "[%zu]", i + 1);
        const char *t = json_string_value(s);
        if (cats && (!t || !ym__item_text_ok(t, 32, false, false)))
            return why(sub, sublen, w, wlen, path, "expected a name of 1 to 32 characters");
        if (!cats && colour_rank(t) < 0)
            return why(sub, sublen, w, wlen, path, "expected \"green\", \"blue\", \"yellow\", \"orange\" or \"red\"");
        for (j = 0; j < i; j++)
            if (strcmp(t, json_string_value(json_array_get(v, j))) == 0)
                return why(sub, sublen, w, wlen, path, "listed twice");
    }
    return 0;
}

/* remind_days: 0 to 10 distinct numbers of working days, 1 to 30. */
static int check_remind(const json_t *v, char *sub, size_t sublen, char *w, size_t wlen)
{
    char path[32];
    if (!json_is_array(v) || json_array_size(v) > 10)
        return why(sub, sublen, w, wlen, "", "expected a list of at most 10 numbers of working days");
    size_t i, j;
    json_t *x;
    json_array_foreach(v, i, x) {
        snprintf(path, sizeof path, "[%zu]", i + 1);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 30)
            return why(sub, sublen, w, wlen, path, "expected a number of working days from 1 to 30");
        for (j = 0; j < i; j++)
            if (json_integer_value(json_array_get(v, j)) == json_integer_value(x))
                return why(sub, sublen, w, wlen, path, "listed twice");
    }
    return 0;
}

int ym_items_config_check(const char *key, const json_t *v, char *sub, size_t sublen, char *w, size_t wlen)
{
    sub[0] = '\0';
    if (strcmp(key, "remind_days") == 0)
        return check_remind(v, sub, sublen, w, wlen);
    if (strcmp(key, "colours") == 0)
        return check_colours(v, sub, sublen, w, wlen);
    if (strcmp(key, "lag_categories") == 0 || strcmp(key, "auto_urge") == 0)
        return check_strings(key, v, sub, sublen, w, wlen);
    return why(sub, sublen, w, wlen, "", "unknown key");
}

static void set_rule(json_t **dst, const json_t *v, const char *key)
{
    json_decref(*dst);
    *dst = v ? json_deep_copy(v) : ym_items_config_default(key);
}

void ym_items_configure(const json_t *c, const json_t *cats, const json_t *urge)
{
    set_rule(&g_colours, c, "colours");
    set_rule(&g_categories, cats, "lag_categories");
    set_rule(&g_auto_urge, urge, "auto_urge");
}

void ym_items_configure_remind(const json_t *days) { set_rule(&g_remind, days, "remind_days"); }

size_t ym__items_remind_days(int *out, size_t max)
{
    if (!g_remind)
        ym_items_configure_remind(NULL);
    size_t i, n = 0;
    json_t *x;
    json_array_foreach(g_remind, i, x)
        if (n < max)
            out[n++] = (int)json_integer_value(x);
    return n;
}

static void ensure_config(void)
{
    if (!g_colours || !g_categories || !g_auto_urge)
        ym_items_configure(g_colours, g_categories, g_auto_urge);
}

void ym_items_rule_at(int32_t day, int *blue_within, int *red_after)
{
    ensure_config();
    json_t *use = json_array_get(g_colours, 0), *r; /* before the first date: the first rule */
    size_t i;
    json_array_foreach(g_colours, i, r) {
        int32_t from;
        if (ym_date_parse(json_string_value(json_object_get(r, "from")), &from) == 0 && from <= day)
            use = r;
    }
    *blue_within = (int)json_integer_value(json_object_get(use, "blue_within"));
    *red_after = (int)json_integer_value(json_object_get(use, "red_after"));
}

bool ym__item_category_ok(const char *category)
{
    ensure_config();
    size_t i;
    json_t *s;
    json_array_foreach(g_categories, i, s)
        if (strcmp(json_string_value(s), category) == 0)
            return true;
    return false;
}

static bool auto_urge(const char *colour)
{
    ensure_config();
    size_t i;
    json_t *s;
    json_array_foreach(g_auto_urge, i, s)
        if (strcmp(json_string_value(s), colour) == 0)
            return true;
    return false;
}

/* ---------- helpers ---------- */

bool ym__item_text_ok(const char *s, size_t max, bool lines, bool empty_ok)
{
    size_t n = strlen(s), chars = 0;
    if ((!n && !empty_ok) || n > 4 * max || !ym_files_utf8_ok(s, n))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && !(lines && (*p == '\n' || *p == '\t' || *p == '\r'))) || *p == 0x7f)
            return false;
        chars += (*p & 0xc0) != 0x80;
    }
    return chars <= max;
}

int32_t ym__item_day_of(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[16];
    int32_t d = 0;
    localtime_r(&t, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    ym_date_parse(buf, &d);
    return d;
}

const char *ym__item_late_name(int k) { return k == 2 ? "overdue" : k == 1 ? "behind" : "none"; }

int ym__item_timeline(ym_db *db, int64_t id, const char *kind, int64_t user, int64_t unit, const char *state,
                      const char *colour, json_t *detail)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_item_timeline (item_id, at, kind, user_id, unit_id, state, colour, detail) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st)
        return -1;
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, ym_now());
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    if (user > 0)
        sqlite3_bind_int64(st, 4, user);
    if (unit > 0)
        sqlite3_bind_int64(st, 5, unit);
    if (state)
        sqlite3_bind_text(st, 6, state, -1, SQLITE_STATIC);
    if (colour)
        sqlite3_bind_text(st, 7, colour, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, d ? d : "{}", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(d);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The first max characters of s (valid UTF-8) into out. */
static void utf8_cut(const char *s, size_t max, char *out, size_t outlen)
{
    size_t i = 0, chars = 0;
    while (s[i]) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (chars == max || i + len >= outlen)
            break;
        memcpy(out + i, s + i, len);
        i += len;
        chars++;
    }
    out[i] = '\0';
}

int ym__item_notify(ym_db *db, int64_t id, int64_t unit, const char *severity, const char *prefix,
                    const char *body, char *err, size_t errlen)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT title FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    char title[700] = "", cut[640], link[48];
    if (sqlite3_step(st) == SQLITE_ROW)
        utf8_cut((const char *)sqlite3_column_text(st, 0), 150, cut, sizeof cut);
    else
        cut[0] = '\0';
    sqlite3_reset(st);
    snprintf(title, sizeof title, "%s「%s」", prefix, cut);
    snprintf(link, sizeof link, "#/items/%lld", (long long)id);
    ym_notice n = {.severity = severity, .title = title, .body = body, .link = link};
    return ym_notify_unit(db, "core", unit, false, &n, err, errlen) < 0 ? -1 : 0;
}

int ym__item_notify_units(ym_db *db, int64_t id, const char *units_sql, const char *severity, const char *prefix,
                          const char *body, char *err, size_t errlen)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", units_sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = ym__item_notify(db, id, sqlite3_column_int64(st, 0), severity, prefix, body, err, errlen);
    if (rc == 0 && step != SQLITE_DONE)
        rc = -1;
    sqlite3_reset(st);
    return rc;
}

int ym__item_reason_missing(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT i.late_kind > 0 AND NOT EXISTS (SELECT 1 FROM core_item_reasons r WHERE r.item_id = i.id "
        "AND r.created_at >= i.late_since) FROM core_items i WHERE i.id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    return v;
}

/* ---------- the colour ---------- */

/* The due date of a raw date: itself if a working day, else the next working day. */
static int32_t due_day(const ym_calendar *cal, int32_t d) { return ym_calendar_add_working_days(cal, d, 0); }

static int32_t month_day(int y, int m, int n)
{
    static const int len[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int max = len[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    char buf[16];
    int32_t d = 0;
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, n < max ? n : max);
    ym_date_parse(buf, &d);
    return d;
}

/* Is a periodic report late at today? The latest due date before today (after the day of
 * assignment) needs a report of the lead unit made after the due date before it (or after
 * the assignment). */
static bool report_late(const char *cycle, int64_t assigned_at, int64_t last_report, int32_t today)
{
    const ym_calendar *cal = ym_calendar_current();
    int32_t a = ym__item_day_of(assigned_at), last = 0, prev = 0;
    int n = 0;
    if (strcmp(cycle, "weekly") == 0) {
        int64_t k = (today - 1 - a) / 7;
        for (; k >= 1; k--) {
            last = due_day(cal, a + (int32_t)(7 * k));
            if (last < today)
                break;
        }
        if (k < 1)
            return false;
        prev = k > 1 ? due_day(cal, a + (int32_t)(7 * (k - 1))) : a;
    } else if (sscanf(cycle, "monthly %d", &n) == 1) {
        char buf[11];
        int y, m, d;
        ym_date_format(today, buf);
        if (sscanf(buf, "%d-%d-%d", &y, &m, &d) != 3)
            return false;
        for (int i = 0; i < 3; i++, m = m == 1 ? (y--, 12) : m - 1) {
            last = due_day(cal, month_day(y, m, n));
            if (last < today)
                break;
        }
        if (last >= today || last <= a)
            return false;
        m = m == 1 ? (y--, 12) : m - 1;
        prev = due_day(cal, month_day(y, m, n));
        if (prev < a)
            prev = a;
    } else {
        return false;
    }
    int64_t since = prev == a ? assigned_at : ym_date_end_ms(prev) + 1;
    return last_report < since;
}

int32_t ym__item_report_next_due(const char *cycle, int64_t assigned_at, int32_t today, int64_t *since)
{
    const ym_calendar *cal = ym_calendar_current();
    int32_t a = ym__item_day_of(assigned_at), due = 0, prev = a;
    int n = 0;
    if (strcmp(cycle, "weekly") == 0) {
        int64_t k = today > a ? (today - a) / 7 : 1;
        for (k = k > 1 ? k - 1 : 1; (due = due_day(cal, a + (int32_t)(7 * k))) <= today; k++)
            ;
        prev = k > 1 ? due_day(cal, a + (int32_t)(7 * (k - 1))) : a;
    } else if (sscanf(cycle, "monthly %d", &n) == 1) {
        char buf[11];
        int y, m, d;
        ym_date_format(today > a ? today : a, buf);
        if (sscanf(buf, "%d-%d-%d", &y, &m, &d) != 3)
            return 0;
        for (int i = 0; i < 3; i++, m = m == 12 ? (y++, 1) : m + 1)
            if ((due = due_day(cal, month_day(y, m, n))) > today && due > a)
                break;
        m = m == 1 ? (y--, 12) : m - 1;
        prev = due_day(cal, month_day(y, m, n));
        if (prev < a)
            prev = a;
    } else {
        return 0;
    }
    *since = prev == a ? assigned_at : ym_date_end_ms(prev) + 1;
    return due;
}

typedef struct facts {
    const char *state, *deadline, *cycle, *colour;
    bool escalated;
    int64_t assigned_at, last_report;
    int late_kind;
} facts;

/* The colour and lateness at today; NULL colour for an item that has none (no deadline). */
static const char *compute(ym_db *db, int64_t id, const facts *f, int32_t today, int *late_kind)
{
    const ym_calendar *cal = ym_calendar_current();
    int blue_within, red_after;
    ym_items_rule_at(today, &blue_within, &red_after);
    int32_t dl = 0;
    bool has_dl = f->deadline && ym_date_parse(f->deadline, &dl) == 0;
    int wd_over = 0;
    *late_kind = 0;
    if (has_dl && today > dl) {
        *late_kind = 2;
        for (int32_t d = dl + 1; d <= today && wd_over <= red_after; d++)
            wd_over += ym_calendar_is_working_day(cal, d);
    }
    if (*late_kind == 0) {
        sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT deadline FROM core_item_nodes WHERE item_id = ?1 "
                                                     "AND done_at IS NULL");
        if (st) {
            sqlite3_bind_int64(st, 1, id);
            while (sqlite3_step(st) == SQLITE_ROW) {
                int32_t nd;
                if (ym_date_parse((const char *)sqlite3_column_text(st, 0), &nd) == 0 && nd < today)
                    *late_kind = 1;
            }
            sqlite3_reset(st);
        }
        if (f->cycle && f->assigned_at > 0 && report_late(f->cycle, f->assigned_at, f->last_report, today))
            *late_kind = 1;
    }
    if (f->escalated || (*late_kind == 2 && wd_over > red_after))
        return "red";
    if (*late_kind == 2)
        return "orange";
    if (*late_kind == 1)
        return "yellow";
    if (has_dl && dl <= ym_calendar_add_working_days(cal, today, blue_within))
        return "blue";
    return "green";
}

static const char *severity_of(const char *colour)
{
    int r = colour_rank(colour);
    return r >= 4 ? "urgent" : r >= 2 ? "warning" : "reminder";
}

static const char *colour_zh(const char *c)
{
    static const char *const zh[] = {"绿灯", "蓝灯", "黄灯", "橙灯", "红灯"};
    int r = colour_rank(c);
    return r < 0 ? "" : zh[r];
}

/* ---------- a mass change: one notice per unit ----------
 * While ym_items_recolour_all runs, the notices and automatic urges of the changed
 * items are gathered here and sent at the end as one notice per lead unit listing its
 * items (a unit with a single change gets the usual notice of that item). */

typedef struct change {
    int64_t unit, id;
    int from, to;
    bool urge;
} change;

typedef struct batch {
    change *v;
    size_t n, cap;
} batch;

static batch *g_batch;

/* The automatic urge of a batched change: counted and on the timeline as ym_item_urge
 * does; the notice goes out with the unit's batch. */
static int batch_add(ym_db *db, int64_t id, int64_t lead, int64_t supervisor, const char *state, const char *from,
                     const char *to, bool urge)
{
    if (urge) {
        sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_items SET urge_count = urge_count + 1, "
                                                     "updated_at = ?2 WHERE id = ?1");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, ym_now());
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        json_t *d = json_pack("{s:s,s:b,s:b}", "message", "", "auto", 1, "batched", 1);
        rc = rc == SQLITE_DONE ? ym__item_timeline(db, id, "urge", 0, supervisor, state, NULL, d) : -1;
        json_decref(d);
        if (rc < 0)
            return -1;
    }
    if (g_batch->n == g_batch->cap) {
        size_t cap = g_batch->cap ? g_batch->cap * 2 : 256;
        change *nv = realloc(g_batch->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        g_batch->v = nv, g_batch->cap = cap;
    }
    g_batch->v[g_batch->n++] = (change){lead, id, colour_rank(from), colour_rank(to), urge};
    return 0;
}

static int change_cmp(const void *a, const void *b)
{
    const change *x = a, *y = b;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* One unit's changes v[0..n): one notice (or the item's own when n is 1). */
static int batch_notify_unit(ym_db *db, const change *v, size_t n)
{
    char err[256] = "", prefix[64];
    if (n == 1 && v->urge)
        return ym__item_notify(db, v->id, v->unit, "urgent", "催办督办事项", NULL, err, sizeof err);
    if (n == 1) {
        snprintf(prefix, sizeof prefix, "督办事项亮%s", colour_zh(colours[v->to]));
        return ym__item_notify(db, v->id, v->unit, severity_of(colours[v->to]), prefix, NULL, err, sizeof err);
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT title FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    size_t urged = 0, len = 0, shown = 0;
    int worst = 0;
    char body[3600], cut[200], title[160];
    body[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        urged += v[i].urge;
        worst = v[i].to > worst ? v[i].to : worst;
        if (len + 300 >= sizeof body)
            continue;
        sqlite3_bind_int64(st, 1, v[i].id);
        if (sqlite3_step(st) == SQLITE_ROW)
            utf8_cut((const char *)sqlite3_column_text(st, 0), 40, cut, sizeof cut);
        else
            cut[0] = '\0';
        sqlite3_reset(st);
        int w = snprintf(body + len, sizeof body - len, "%s「%s」%s→%s%s", len ? "\n" : "", cut,
                         v[i].from >= 0 ? colour_zh(colours[v[i].from]) : "", colour_zh(colours[v[i].to]),
                         v[i].urge ? "（催办）" : "");
        if (w > 0 && (size_t)w < sizeof body - len)
            len += (size_t)w, shown++;
    }
    if (shown < n)
        snprintf(body + len, sizeof body - len, "\n……共%zu项", n);
    if (urged)
        snprintf(title, sizeof title, "催办：%zu项督办事项灯色变化，其中%zu项催办", n, urged);
    else
        snprintf(title, sizeof title, "%zu项督办事项灯色变化", n);
    ym_notice note = {.severity = urged ? "urgent" : severity_of(colours[worst]), .title = title, .body = body,
                      .link = "#/items"};
    return ym_notify_unit(db, "core", v->unit, false, &note, err, sizeof err) < 0 ? -1 : 0;
}

static int batch_flush(ym_db *db, batch *b)
{
    if (b->n)
        qsort(b->v, b->n, sizeof *b->v, change_cmp);
    for (size_t i = 0, j; i < b->n; i = j) {
        for (j = i + 1; j < b->n && b->v[j].unit == b->v[i].unit; j++)
            ;
        if (batch_notify_unit(db, b->v + i, j - i) < 0)
            return -1;
    }
    return 0;
}

/* What changed when the colour did: timeline, event, notice or urge. */
static int colour_changed(ym_db *db, int64_t id, const char *state, const char *from, const char *to, int late_kind)
{
    char err[256] = "", prefix[64];
    json_t *d = json_pack("{s:o,s:s,s:s}", "from", from ? json_string(from) : json_null(), "to", to,
                          "late", ym__item_late_name(late_kind));
    int rc = ym__item_timeline(db, id, "colour", 0, 0, state, to, d);
    json_decref(d);
    char payload[200];
    snprintf(payload, sizeof payload, "{\"item_id\":%lld,\"from\":%s%s%s,\"to\":\"%s\"}", (long long)id,
             from ? "\"" : "", from ? from : "null", from ? "\"" : "", to);
    if (rc == 0 && ym_events_emit(db, "core", "core.items.colour", payload, err, sizeof err) < 0)
        rc = -1;
    if (rc < 0 || !from) /* the first colour comes with the assignment notice */
        return rc;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT lead_unit, supervisor_unit FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int64_t lead = 0, supervisor = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        lead = sqlite3_column_int64(st, 0), supervisor = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (g_batch)
        return batch_add(db, id, lead, supervisor, state, from, to, auto_urge(to) && colour_rank(to) > colour_rank(from));
    if (auto_urge(to) && colour_rank(to) > colour_rank(from))
        return ym_item_urge(db, id, 0, NULL, err, sizeof err) < 0 ? -1 : 0;
    snprintf(prefix, sizeof prefix, "督办事项亮%s", colour_zh(to));
    return ym__item_notify(db, id, lead, severity_of(to), prefix, NULL, err, sizeof err);
}

int ym_item_recolour(ym_db *db, int64_t id, int64_t now)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT state, deadline, report_cycle, colour, escalated, assigned_at, last_report_at, late_kind, "
        "worst_colour FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    char state[16], deadline[16] = "", cycle[32] = "", old[16] = "", worst[16] = "";
    facts f = {0};
#define COPY(dst, col) snprintf(dst, sizeof dst, "%s", sqlite3_column_text(st, col) ? (const char *)sqlite3_column_text(st, col) : "")
    COPY(state, 0);
    COPY(deadline, 1);
    COPY(cycle, 2);
    COPY(old, 3);
    COPY(worst, 8);
#undef COPY
    f.escalated = sqlite3_column_int(st, 4);
    f.assigned_at = sqlite3_column_int64(st, 5);
    f.last_report = sqlite3_column_int64(st, 6);
    f.late_kind = sqlite3_column_int(st, 7);
    sqlite3_reset(st);
    f.state = state, f.deadline = deadline[0] ? deadline : NULL, f.cycle = cycle[0] ? cycle : NULL;
    if (strcmp(state, "assigned") && strcmp(state, "accepted") && strcmp(state, "in_progress"))
        return 0; /* drafts have none; completed items keep the colour they had */
    int late = 0;
    const char *c = compute(db, id, &f, ym__item_day_of(now), &late);
    bool changed = strcmp(c, old) != 0;
    int64_t since = late == 0 ? 0 : late > f.late_kind ? now : -1; /* -1: keep */
    const char *w = colour_rank(c) > colour_rank(worst) ? c : worst;
    if (!changed && late == f.late_kind && strcmp(w, worst) == 0)
        return 0; /* the row already says so */
    st = ym_db_prepare(db, "core",
        "UPDATE core_items SET colour = ?2, worst_colour = ?3, late_kind = ?4, "
        "late_since = CASE WHEN ?5 = 0 THEN NULL WHEN ?5 > 0 THEN ?5 ELSE late_since END WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, c, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, w, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, late);
    sqlite3_bind_int64(st, 5, since);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (!changed)
        return 0;
    return colour_changed(db, id, state, old[0] ? old : NULL, c, late) < 0 ? -1 : 1;
}

int ym_items_recolour_all(ym_db *db, int64_t now)
{
    if (ym_db_write_begin(db) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id FROM core_items WHERE state IN " YM_ITEM_OPEN_STATES
                                                 " ORDER BY id");
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    bool ok = st != NULL;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            int64_t *nv = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof *ids);
            if (!nv) {
                ok = false;
                break;
            }
            ids = nv;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (st)
        sqlite3_reset(st);
    int changed = 0;
    batch b = {0};
    g_batch = &b;
    for (size_t i = 0; ok && i < n; i++) {
        int rc = ym_item_recolour(db, ids[i], now);
        ok = rc >= 0;
        changed += rc > 0;
    }
    g_batch = NULL;
    ok = ok && batch_flush(db, &b) == 0;
    free(b.v);
    free(ids);
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    return ok ? changed : -1;
}

static int recolour_job(void *ud, char *err, size_t errlen)
{
    ym_db *db = ud;
    int n = ym_items_recolour_all(db, ym_now());
    if (n < 0) {
        snprintf(err, errlen, "recolour failed: %s", ym_db_errmsg(db));
        return -1;
    }
    if (n > 0)
        ym_log(YM_LOG_INFO, "items recoloured", "changed=%d", n);
    return 0;
}

static int remind_job(void *ud, char *err, size_t errlen)
{
    ym_db *db = ud;
    int n = ym_items_remind_all(db, ym_now());
    if (n < 0) {
        snprintf(err, errlen, "reminders failed: %s", ym_db_errmsg(db));
        return -1;
    }
    if (n > 0)
        ym_log(YM_LOG_INFO, "items reminded", "sent=%d", n);
    return 0;
}

int ym_items_add_jobs(struct ym_jobs *j, ym_db *db)
{
    char err[256];
    if (ym_jobs_add(j, "core.items_recolour", "core", "every 10m", recolour_job, db, NULL, err, sizeof err) < 0 ||
        ym_jobs_add(j, "core.items_remind", "core", "every 10m", remind_job, db, NULL, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "core job not registered", "error=%s", err);
        return -1;
    }
    return 0;
}

/* ---------- the return window ---------- */

void ym__item_return_until(ym_db *db, int64_t id, char day[11])
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT return_workdays FROM core_items WHERE id = ?1");
    int n = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_reset(st);
    }
    day[0] = 0;
    if (n > 0)
        ym_date_format(ym_calendar_add_working_days(ym_calendar_current(), ym__item_day_of(ym_now()), n), day);
}

int ym__item_return_closed(ym_db *db, int64_t id, char *err, size_t errlen)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT return_workdays, return_until FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    char until[11] = "";
    int workdays = 0, rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL) {
        workdays = sqlite3_column_int(st, 0);
        snprintf(until, sizeof until, "%s", sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return -1;
    int32_t last;
    if (!until[0] || ym_date_parse(until, &last) < 0 || ym__item_day_of(ym_now()) <= last)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "the return window closed on %s (%d working days from the assignment); "
                 "ask the supervising office instead", until, workdays);
    return 1;
}

int ym__item_ret(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
