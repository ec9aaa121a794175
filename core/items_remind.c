/* items_remind: the job core.items_remind. Before each due date of an open item (its
 * deadline, each node not done, the next periodic report when none was made in the
 * period yet) the lead unit gets a reminder at each offset of items.remind_days
 * (working days before, on the core calendar). What was sent is kept in
 * core_item_reminders, so each (item, due date, offset) is reminded of once; when the
 * job runs late and several offsets have passed, one notice goes out for all of them
 * (still on the due day itself when the job missed the last offset). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "items.h"
#include "items_int.h"
#include "calendar.h"
#include "clock.h"
#include "log.h"

#define REMIND_MAX 10

typedef struct due {
    int64_t id, lead, node;
    int32_t day;
    char what[32], node_title[640];
} due;

typedef struct dues {
    due *v;
    size_t n, cap;
} dues;

static int push(dues *d, const due *x)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        due *nv = realloc(d->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        d->v = nv, d->cap = cap;
    }
    d->v[d->n++] = *x;
    return 0;
}

/* Deadlines and nodes due from today to the widest offset. */
static int collect_dates(ym_db *db, const char *sql, bool node, const char *from, const char *to, dues *out)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        due x = {.id = sqlite3_column_int64(st, 0), .lead = sqlite3_column_int64(st, 1)};
        if (ym_date_parse((const char *)sqlite3_column_text(st, 2), &x.day) < 0)
            continue;
        if (node) {
            x.node = sqlite3_column_int64(st, 3);
            snprintf(x.what, sizeof x.what, "node:%lld", (long long)x.node);
            snprintf(x.node_title, sizeof x.node_title, "%s", (const char *)sqlite3_column_text(st, 4));
        } else {
            snprintf(x.what, sizeof x.what, "deadline");
        }
        if (push(out, &x) < 0)
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The next report of each item with a reporting cycle, when the lead unit has not
 * reported in that period yet and it falls within the widest offset. */
static int collect_reports(ym_db *db, int32_t today, int32_t horizon, dues *out)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, lead_unit, report_cycle, assigned_at, coalesce(last_report_at, 0) FROM core_items "
        "WHERE state IN " YM_ITEM_OPEN_STATES " AND report_cycle IS NOT NULL AND assigned_at IS NOT NULL");
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t since = 0;
        int32_t day = ym__item_report_next_due((const char *)sqlite3_column_text(st, 2),
                                               sqlite3_column_int64(st, 3), today, &since);
        if (day <= today || day > horizon || sqlite3_column_int64(st, 4) >= since)
            continue;
        due x = {.id = sqlite3_column_int64(st, 0), .lead = sqlite3_column_int64(st, 1), .day = day};
        snprintf(x.what, sizeof x.what, "report");
        if (push(out, &x) < 0)
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Records the offsets that have passed for x; 1 when one of them is new (remind), 0 if
 * all were sent before, -1 error. *nearest: the smallest offset passed. */
static int record(ym_db *db, const due *x, const int *days, size_t nd, int32_t today, int64_t now, int *nearest)
{
    const ym_calendar *cal = ym_calendar_current();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT OR IGNORE INTO core_item_reminders (item_id, what, due_date, offset_days, sent_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st)
        return -1;
    char date[11];
    ym_date_format(x->day, date);
    int fresh = 0;
    *nearest = 0;
    for (size_t i = 0; i < nd; i++) {
        if (today < ym_calendar_add_working_days(cal, x->day, -days[i]))
            continue;
        if (!*nearest || days[i] < *nearest)
            *nearest = days[i];
        sqlite3_bind_int64(st, 1, x->id);
        sqlite3_bind_text(st, 2, x->what, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, date, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, days[i]);
        sqlite3_bind_int64(st, 5, now);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return -1;
        fresh |= sqlite3_changes(ym_db_handle(db)) > 0;
    }
    return fresh;
}

static int remind(ym_db *db, const due *x, int nearest)
{
    char date[11], prefix[160], body[800], err[256];
    ym_date_format(x->day, date);
    const char *kind = x->node ? "节点" : strcmp(x->what, "report") == 0 ? "进展报告" : "办理期限";
    snprintf(prefix, sizeof prefix, "%s将于%s到期（提前%d个工作日提醒）", kind, date, nearest);
    if (x->node)
        snprintf(body, sizeof body, "节点：%s；到期日：%s", x->node_title, date);
    else if (strcmp(x->what, "report") == 0)
        snprintf(body, sizeof body, "请于%s前报送本期进展。", date);
    else
        snprintf(body, sizeof body, "办理期限：%s", date);
    return ym__item_notify(db, x->id, x->lead, "reminder", prefix, body, err, sizeof err);
}

int ym_items_remind_all(ym_db *db, int64_t now)
{
    int days[REMIND_MAX];
    size_t nd = ym__items_remind_days(days, REMIND_MAX);
    if (!nd)
        return 0;
    int widest = 0;
    for (size_t i = 0; i < nd; i++)
        widest = days[i] > widest ? days[i] : widest;
    const ym_calendar *cal = ym_calendar_current();
    int32_t today = ym__item_day_of(now), horizon = ym_calendar_add_working_days(cal, today, widest);
    char from[11], to[11];
    ym_date_format(today, from);
    ym_date_format(horizon, to);
    if (ym_db_write_begin(db) < 0)
        return -1;
    dues d = {0};
    bool ok = collect_dates(db, "SELECT id, lead_unit, deadline FROM core_items WHERE state IN " YM_ITEM_OPEN_STATES
                                " AND deadline >= ?1 AND deadline <= ?2", false, from, to, &d) == 0 &&
              collect_dates(db, "SELECT i.id, i.lead_unit, n.deadline, n.id, n.title FROM core_item_nodes n "
                                "JOIN core_items i ON i.id = n.item_id WHERE n.done_at IS NULL AND n.deadline >= ?1 "
                                "AND n.deadline <= ?2 AND i.state IN " YM_ITEM_OPEN_STATES, true, from, to, &d) == 0 &&
              collect_reports(db, today, horizon, &d) == 0;
    int sent = 0;
    for (size_t i = 0; ok && i < d.n; i++) {
        int nearest = 0, rc = record(db, &d.v[i], days, nd, today, now, &nearest);
        ok = rc >= 0 && (rc == 0 || remind(db, &d.v[i], nearest) == 0);
        sent += rc > 0;
    }
    free(d.v);
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    return ok ? sent : -1;
}
