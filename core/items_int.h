/* items_int: what items.c (rules, colours, helpers), items_flow.c (the transitions) and
 * items_routes.c (HTTP, views, statistics) share; not for plugins. */
#ifndef YM_ITEMS_INT_H
#define YM_ITEMS_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "db.h"

/* Runs sql with ?1 = id, ?2 = now, ?3 = text (NULL binds NULL), ?4 = n; 0, or -1. */
int ym__item_exec(ym_db *db, const char *sql, int64_t id, const char *text, int64_t n);
/* Writes the reason into err (when given) and returns code: the engine's refusals. */
int ym__item_ret(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define DBERR(db) ym__item_ret(err, errlen, YM_ITEM_EDB, "database error: %s", ym_db_errmsg(db))

#define YM_ITEM_OPEN_STATES "('assigned', 'accepted', 'in_progress')"

/* Well-formed UTF-8 of 1..max characters (0..max when empty_ok), no control characters
 * but line breaks and tabs when lines. */
bool ym__item_text_ok(const char *s, size_t max, bool lines, bool empty_ok);
/* The local date (days since 1970-01-01) of a time in ms. */
int32_t ym__item_day_of(int64_t ms);
/* A timeline row; detail (may be NULL) is not stolen. 0, or -1. */
int ym__item_timeline(ym_db *db, int64_t id, const char *kind, int64_t user, int64_t unit, const char *state,
                      const char *colour, json_t *detail);
/* A notice to the active users of unit: "<prefix>「<title>」" linking #/items/<id>. 0, or -1. */
int ym__item_notify(ym_db *db, int64_t id, int64_t unit, const char *severity, const char *prefix,
                    const char *body, char *err, size_t errlen);
/* ym__item_notify to each unit units_sql (?1 = the item) selects, in its order; 0, or -1. */
int ym__item_notify_units(ym_db *db, int64_t id, const char *units_sql, const char *severity, const char *prefix,
                          const char *body, char *err, size_t errlen);
/* Is category in items.lag_categories? */
bool ym__item_category_ok(const char *category);
/* The lateness names, 0..2: "none", "behind", "overdue". */
const char *ym__item_late_name(int late_kind);
/* Is the lag reason missing: late and no reason since it became late? 1 yes, 0 no, -1 error. */
int ym__item_reason_missing(ym_db *db, int64_t id);
/* The reminder offsets (items.remind_days, working days) into out: how many. */
size_t ym__items_remind_days(int *out, size_t max);
/* The next due date (after today) of a reporting cycle of an item assigned at
 * assigned_at, and in since the start (ms) of the period that due date closes; 0 if none. */
int32_t ym__item_report_next_due(const char *cycle, int64_t assigned_at, int32_t today, int64_t *since);
/* The return window: the last day (YYYY-MM-DD) of an item assigned today into day, ""
 * when it has none (return_workdays 0); is it closed today? 1 yes (err names the last
 * day), 0 no or no window, -1 error. */
void ym__item_return_until(ym_db *db, int64_t id, char day[11]);
int ym__item_return_closed(ym_db *db, int64_t id, char *err, size_t errlen);
/* An item's summary (a list row): the columns, then the row as JSON (items_view.c). */
#define SUMMARY_COLS                                                                                         \
    "i.id, i.source, i.source_kind, i.title, i.state, i.colour, i.lead_unit, lu.name, i.supervisor_unit, "  \
    "su.name, i.deadline, i.late_kind, i.urge_count, i.escalated, i.updated_at, i.parent_id, i.leader, "     \
    "i.worst_colour, i.created_at, i.assigned_at, i.accepted_at, i.completed_at, i.closed_at, "            \
    "i.last_report_at, i.late_since, i.report_cycle, i.deadline_workdays, i.content, i.record, "          \
    "i.restricted, i.supervisor_unit, i.return_workdays, i.return_until "                                 \
    "FROM core_items i JOIN core_units lu ON lu.id = i.lead_unit JOIN core_units su ON su.id = i.supervisor_unit "
json_t *ym_items_summary_row(sqlite3_stmt *st);
#endif
