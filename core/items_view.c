/* items_view: the JSON views of tracked items (full for their parties, public for every
 * signed-in user: 全员督查; restricted items for parties only) and the statistics per unit
 * and period; the routes that answer them are in items_routes.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "items.h"
#include "items_int.h"
#include "api.h"
#include "identity.h"
#include "calendar.h"
#include "clock.h"

/* ---------- views ---------- */

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *time_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() : ym_api_time(sqlite3_column_int64(st, col));
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, col));
}

static json_t *unit_ref(sqlite3_stmt *st, int id_col, int name_col)
{
    return json_pack("{s:I,s:o}", "id", (json_int_t)sqlite3_column_int64(st, id_col), "name", text_or_null(st, name_col));
}

json_t *ym_items_summary_row(sqlite3_stmt *st)
{
    return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:I,s:b,s:o,s:b}",
        "id", (json_int_t)sqlite3_column_int64(st, 0), "source", sqlite3_column_text(st, 1),
        "source_kind", sqlite3_column_text(st, 2), "title", sqlite3_column_text(st, 3),
        "state", sqlite3_column_text(st, 4), "colour", text_or_null(st, 5), "lead_unit", unit_ref(st, 6, 7),
        "supervisor_unit", unit_ref(st, 8, 9), "deadline", text_or_null(st, 10),
        "late", ym__item_late_name(sqlite3_column_int(st, 11)), "urge_count", (json_int_t)sqlite3_column_int64(st, 12),
        "escalated", sqlite3_column_int(st, 13), "updated_at", ym_api_time(sqlite3_column_int64(st, 14)),
        "restricted", sqlite3_column_int(st, 29));
}

/* Runs sql (?1 = id) and appends row(st) of each row to a new array; NULL on error. */
static json_t *rows(ym_db *db, const char *sql, int64_t id, json_t *(*row)(sqlite3_stmt *st, bool full), bool full)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *a = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, row(st, full));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *unit_part(sqlite3_stmt *st, bool full)
{
    (void)full;
    return json_pack("{s:I,s:o,s:s,s:o,s:o,s:I}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "name", text_or_null(st, 1), "role", sqlite3_column_text(st, 2), "percent", int_or_null(st, 3),
                     "last_report_at", time_or_null(st, 4), "reports", (json_int_t)sqlite3_column_int64(st, 5));
}

static json_t *node_row(sqlite3_stmt *st, bool full)
{
    (void)full;
    int32_t d = 0, today = ym__item_day_of(ym_now());
    ym_date_parse((const char *)sqlite3_column_text(st, 3), &d);
    bool done = sqlite3_column_type(st, 4) != SQLITE_NULL;
    return json_pack("{s:I,s:I,s:s,s:s,s:o,s:b}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "seq", (json_int_t)sqlite3_column_int64(st, 1), "title", sqlite3_column_text(st, 2),
                     "deadline", sqlite3_column_text(st, 3), "done_at", time_or_null(st, 4), "late", !done && d < today);
}

static json_t *report_row(sqlite3_stmt *st, bool full)
{
    (void)full;
    json_t *files = json_loads((const char *)sqlite3_column_text(st, 8), 0, NULL);
    return json_pack("{s:I,s:I,s:I,s:s,s:o,s:o,s:s,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "unit_id", (json_int_t)sqlite3_column_int64(st, 1), "user_id", (json_int_t)sqlite3_column_int64(st, 2),
                     "kind", sqlite3_column_text(st, 3), "node_id", int_or_null(st, 4), "percent", int_or_null(st, 5),
                     "text", sqlite3_column_text(st, 6), "created_at", ym_api_time(sqlite3_column_int64(st, 7)),
                     "file_ids", files ? files : json_array());
}

static json_t *extension_row(sqlite3_stmt *st, bool full)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                          "old_deadline", sqlite3_column_text(st, 1), "until", sqlite3_column_text(st, 2),
                          "state", sqlite3_column_text(st, 3), "created_at", ym_api_time(sqlite3_column_int64(st, 4)),
                          "decided_at", time_or_null(st, 5), "requested_by", int_or_null(st, 8));
    if (full) {
        json_object_set_new(o, "reason", text_or_null(st, 6));
        json_object_set_new(o, "comment", text_or_null(st, 7));
    }
    return o;
}

static json_t *timeline_row(sqlite3_stmt *st, bool full)
{
    json_t *o = json_pack("{s:I,s:o,s:s,s:o,s:o,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                          "at", ym_api_time(sqlite3_column_int64(st, 1)), "kind", sqlite3_column_text(st, 2),
                          "user_id", int_or_null(st, 3), "unit_id", int_or_null(st, 4), "state", text_or_null(st, 5),
                          "colour", text_or_null(st, 6));
    if (full) {
        json_t *d = json_loads((const char *)sqlite3_column_text(st, 7), 0, NULL);
        json_object_set_new(o, "detail", d ? d : json_object());
    }
    return o;
}

static json_t *reason_row(sqlite3_stmt *st, bool full)
{
    (void)full;
    return json_pack("{s:I,s:I,s:o,s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "unit_id", (json_int_t)sqlite3_column_int64(st, 1), "unit_name", text_or_null(st, 7),
                     "user_id", (json_int_t)sqlite3_column_int64(st, 2), "category", sqlite3_column_text(st, 3),
                     "text", sqlite3_column_text(st, 4), "late", ym__item_late_name(sqlite3_column_int(st, 5)),
                     "created_at", ym_api_time(sqlite3_column_int64(st, 6)));
}

static json_t *child_row(sqlite3_stmt *st, bool full)
{
    (void)full;
    return json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "title",
                     sqlite3_column_text(st, 1), "state", sqlite3_column_text(st, 2), "colour", text_or_null(st, 3));
}

static json_t *link_row(sqlite3_stmt *st, bool full)
{
    (void)full;
    return json_pack("{s:s,s:o}", "record", sqlite3_column_text(st, 0), "created_at",
                     ym_api_time(sqlite3_column_int64(st, 1)));
}

json_t *ym_item_reasons_json(ym_db *db, int64_t id)
{
    return rows(db, "SELECT r.id, r.unit_id, r.user_id, r.category, r.text, r.late_kind, r.created_at, u.name "
                    "FROM core_item_reasons r LEFT JOIN core_units u ON u.id = r.unit_id WHERE r.item_id = ?1 ORDER BY r.id",
                id, reason_row, true);
}

json_t *ym_item_view(ym_db *db, int64_t id, bool full)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT " SUMMARY_COLS "WHERE i.id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        o = ym_items_summary_row(st);
        json_t *more = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:s}",
            "parent_id", int_or_null(st, 15), "leader", text_or_null(st, 16), "worst_colour", text_or_null(st, 17),
            "created_at", ym_api_time(sqlite3_column_int64(st, 18)), "assigned_at", time_or_null(st, 19),
            "accepted_at", time_or_null(st, 20), "completed_at", time_or_null(st, 21), "closed_at", time_or_null(st, 22),
            "last_report_at", time_or_null(st, 23), "late_since", time_or_null(st, 24),
            "report_cycle", text_or_null(st, 25), "lag_reason_required", json_false(),
            "deadline_workdays", (json_int_t)sqlite3_column_int64(st, 26), "view", full ? "full" : "public");
        json_object_update(o, more);
        json_decref(more);
        json_object_set_new(o, "return_workdays", json_integer(sqlite3_column_int64(st, 31)));
        json_object_set_new(o, "return_until", text_or_null(st, 32));
        if (full) {
            json_object_set_new(o, "content", text_or_null(st, 27));
            json_object_set_new(o, "record", text_or_null(st, 28));
        }
    }
    sqlite3_reset(st);
    if (!o)
        return NULL;
    int missing = ym__item_reason_missing(db, id);
    json_object_set_new(o, "lag_reason_required", json_boolean(missing == 1));
    struct { const char *key, *sql; json_t *(*row)(sqlite3_stmt *, bool); bool only_full; } parts[] = {
        {"units", "SELECT u.unit_id, n.name, u.role, u.percent, u.last_report_at, u.reports FROM core_item_units u "
                  "JOIN core_units n ON n.id = u.unit_id WHERE u.item_id = ?1 ORDER BY u.role DESC, u.unit_id",
         unit_part, false},
        {"nodes", "SELECT id, seq, title, deadline, done_at FROM core_item_nodes WHERE item_id = ?1 ORDER BY seq",
         node_row, false},
        {"extensions", "SELECT id, old_deadline, until, state, created_at, decided_at, reason, comment, requested_by "
                       "FROM core_item_extensions WHERE item_id = ?1 ORDER BY id", extension_row, false},
        {"timeline", "SELECT id, at, kind, user_id, unit_id, state, colour, detail FROM core_item_timeline "
                     "WHERE item_id = ?1 ORDER BY id", timeline_row, false},
        {"reasons", "SELECT r.id, r.unit_id, r.user_id, r.category, r.text, r.late_kind, r.created_at, u.name "
                    "FROM core_item_reasons r LEFT JOIN core_units u ON u.id = r.unit_id WHERE r.item_id = ?1 "
                    "ORDER BY r.id", reason_row, false},
        {"children", "SELECT id, title, state, colour FROM core_items WHERE parent_id = ?1 ORDER BY id", child_row, false},
        {"reports", "SELECT id, unit_id, user_id, kind, node_id, percent, text, created_at, files "
                    "FROM core_item_reports WHERE item_id = ?1 ORDER BY id", report_row, true},
        {"links", "SELECT record, created_at FROM core_item_links WHERE item_id = ?1 ORDER BY created_at, record",
         link_row, true},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].only_full && !full)
            continue;
        json_t *a = rows(db, parts[i].sql, id, parts[i].row, full);
        if (!a) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, parts[i].key, a);
    }
    return o;
}

json_t *ym_item_json(ym_db *db, int64_t id) { return ym_item_view(db, id, true); }

/* ---------- statistics ---------- */

typedef struct tally {
    int64_t unit;
    char name[200];
    int64_t items, on_time, overdue, red, closed;
    double close_days;
} tally;

static json_t *tally_json(const tally *t)
{
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "items", (json_int_t)t->items, "completed_on_time",
                          (json_int_t)t->on_time, "overdue", (json_int_t)t->overdue, "red", (json_int_t)t->red,
                          "closed", (json_int_t)t->closed);
    int64_t judged = t->on_time + t->overdue;
    json_object_set_new(o, "on_time_rate", judged ? json_real((double)t->on_time / (double)judged) : json_null());
    json_object_set_new(o, "mean_days_to_close", t->closed ? json_real(t->close_days / (double)t->closed) : json_null());
    if (t->unit)
        json_object_set_new(o, "unit", json_pack("{s:I,s:s}", "id", (json_int_t)t->unit, "name", t->name));
    return o;
}

static void tally_add(tally *t, sqlite3_stmt *st, int64_t now)
{
    int32_t dl = 0;
    ym_date_parse((const char *)sqlite3_column_text(st, 1), &dl);
    int64_t end = ym_date_end_ms(dl);
    bool done = sqlite3_column_type(st, 2) != SQLITE_NULL;
    int64_t completed = sqlite3_column_int64(st, 2);
    t->items++;
    t->on_time += done && completed <= end;
    t->overdue += done ? completed > end : now > end;
    const char *worst = (const char *)sqlite3_column_text(st, 5);
    t->red += worst && strcmp(worst, "red") == 0;
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
        t->closed++;
        t->close_days += (double)(sqlite3_column_int64(st, 3) - sqlite3_column_int64(st, 4)) / 86400000.0;
    }
}

json_t *ym_items_stats(ym_db *db, int64_t unit, int32_t from, int32_t to, int64_t now)
{
    char f[11], t[11];
    ym_date_format(from, f);
    ym_date_format(to, t);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT i.lead_unit, i.deadline, i.completed_at, i.closed_at, i.assigned_at, i.worst_colour, u.name "
        "FROM core_items i JOIN core_units u ON u.id = i.lead_unit "
        "WHERE i.state NOT IN ('draft', 'returned', 'withdrawn') AND i.deadline BETWEEN ?1 AND ?2 "
        "AND (?3 = 0 OR i.lead_unit = ?3) ORDER BY i.lead_unit, i.id");
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, f, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, t, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, unit);
    tally total = {0}, cur = {0};
    json_t *units = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t u = sqlite3_column_int64(st, 0);
        if (cur.unit && cur.unit != u) {
            json_array_append_new(units, tally_json(&cur));
            memset(&cur, 0, sizeof cur);
        }
        if (!cur.unit) {
            cur.unit = u;
            snprintf(cur.name, sizeof cur.name, "%s", sqlite3_column_text(st, 6));
        }
        tally_add(&cur, st, now);
        tally_add(&total, st, now);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(units);
        return NULL;
    }
    if (cur.unit)
        json_array_append_new(units, tally_json(&cur));
    return json_pack("{s:s,s:s,s:o,s:o}", "from", f, "to", t, "totals", tally_json(&total), "units", units);
}
