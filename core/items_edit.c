/* items_edit: changing a tracked item after creation (title, content, deadline, co-units,
 * leader; links to records of any plugin) and withdrawing it (撤销). Both belong to the supervising side and are refused
 * on a closed or withdrawn item; both keep the history (timeline rows with the old and
 * new values, the reports, the audit row the route or plugin writes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "items.h"
#include "items_int.h"
#include "items_edit.h"
#include "calendar.h"
#include "events.h"
#include "todo.h"
#include "clock.h"


/* Every state an item may still be edited or withdrawn in. */
static const char *const EDITABLE[] = {"draft", "assigned", "returned", "accepted", "in_progress", "completed",
                                       "reviewed", NULL};

/* Runs sql with ?1 = id, ?2 = now, ?3 = text (NULL binds NULL). 0, or -1. */
static int exec_text(ym_db *db, const char *sql, int64_t id, const char *text)
{
    return ym__item_exec(db, sql, id, text, 0);
}

/* The current text of a column (title, content, leader) as a new JSON string or null. */
static json_t *current(ym_db *db, int64_t id, const char *sql)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    json_t *v = NULL;
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? json_null()
                                                       : json_string((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return v;
}

/* The item's co-units, ascending, as a new array; NULL on error. */
static json_t *co_units(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT unit_id FROM core_item_units WHERE item_id = ?1 "
                                                 "AND role = 'co' ORDER BY unit_id");
    if (!st)
        return NULL;
    json_t *a = json_array();
    sqlite3_bind_int64(st, 1, id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, json_integer(sqlite3_column_int64(st, 0)));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static bool in_array(const json_t *a, int64_t v)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
        if (json_integer_value(x) == v)
            return true;
    return false;
}

/* Checks changes; 0 or YM_ITEM_EINVAL / YM_ITEM_EDB with err set. */
static int check(ym_db *db, int64_t id, const ym__item_row *it, const json_t *changes, char *err, size_t errlen)
{
    static const char *const keys[] = YM_ITEM_EDIT_KEYS;
    const char *k;
    json_t *v;
    if (!json_is_object(changes))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "body: expected an object of the fields to change");
    json_object_foreach((json_t *)changes, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k))
            i++;
        if (!keys[i])
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "%.60s: unknown field", k);
    }
    const char *s;
    if ((v = json_object_get(changes, "title")) &&
        (!(s = json_string_value(v)) || !ym__item_text_ok(s, YM_ITEM_TITLE_MAX, false, false)))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "title: 1 to %d characters on one line", YM_ITEM_TITLE_MAX);
    if ((v = json_object_get(changes, "content")) &&
        (!(s = json_string_value(v)) || !ym__item_text_ok(s, YM_ITEM_TEXT_MAX, true, true)))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "content: a text of at most %d characters", YM_ITEM_TEXT_MAX);
    if ((v = json_object_get(changes, "leader")) && !json_is_null(v) &&
        (!(s = json_string_value(v)) || !ym__item_text_ok(s, 64, false, true)))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "leader: null or at most 64 characters on one line");
    if ((v = json_object_get(changes, "deadline"))) {
        int32_t d;
        if (!(s = json_string_value(v)) || ym_date_parse(s, &d) < 0)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "deadline: expected YYYY-MM-DD");
        /* a node due on the old deadline (the completion node) moves with it */
        sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT seq, deadline FROM core_item_nodes WHERE item_id = ?1 "
                                                     "AND deadline > ?2 AND deadline IS NOT ?3 ORDER BY seq LIMIT 1");
        if (!st)
            return DBERR(db);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
        if (it->deadline[0])
            sqlite3_bind_text(st, 3, it->deadline, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int seq = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_reset(st);
        if (rc == SQLITE_ROW)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "deadline: node %d of the plan is due after it", seq);
        if (rc != SQLITE_DONE)
            return DBERR(db);
    }
    if ((v = json_object_get(changes, "co_units"))) {
        size_t i, j;
        json_t *u;
        if (!json_is_array(v) || json_array_size(v) > YM_ITEM_CO_MAX)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: expected a list of at most %d unit ids", YM_ITEM_CO_MAX);
        json_array_foreach(v, i, u) {
            if (!json_is_integer(u) || json_integer_value(u) < 1)
                return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: expected unit ids");
            int64_t unit = json_integer_value(u);
            sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_units WHERE id = ?1");
            if (!st)
                return DBERR(db);
            sqlite3_bind_int64(st, 1, unit);
            int rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return DBERR(db);
            if (rc == SQLITE_DONE || unit == it->lead)
                return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: no such unit %lld, or the lead unit",
                           (long long)unit);
            for (j = 0; j < i; j++)
                if (json_integer_value(json_array_get(v, j)) == unit)
                    return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: unit %lld listed twice", (long long)unit);
        }
    }
    return 0;
}

/* The texts: title, content, leader; a change goes into detail as {from, to} (content: true). */
static int set_texts(ym_db *db, int64_t id, const json_t *changes, json_t *detail)
{
    static const struct { const char *key, *get, *set; } cols[] = {
        {"title", "SELECT title FROM core_items WHERE id = ?1", "UPDATE core_items SET title = ?3 WHERE id = ?1"},
        {"content", "SELECT content FROM core_items WHERE id = ?1", "UPDATE core_items SET content = ?3 WHERE id = ?1"},
        {"leader", "SELECT leader FROM core_items WHERE id = ?1", "UPDATE core_items SET leader = ?3 WHERE id = ?1"},
    };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        json_t *to = json_object_get(changes, cols[i].key);
        if (!to)
            continue;
        const char *s = json_string_value(to);
        if (s && !*s && strcmp(cols[i].key, "leader") == 0)
            s = NULL, to = json_null();             /* an empty leader is none */
        json_t *from = current(db, id, cols[i].get);
        if (!from)
            return -1;
        bool same = json_equal(from, to);
        if (!same && exec_text(db, cols[i].set, id, s) < 0) {
            json_decref(from);
            return -1;
        }
        if (same)
            json_decref(from);
        else if (strcmp(cols[i].key, "content") == 0)
            json_decref(from), json_object_set_new(detail, "content", json_true());
        else
            json_object_set_new(detail, cols[i].key, json_pack("{s:o,s:O}", "from", from, "to", to));
    }
    return 0;
}

/* The co-units: the whole new list; units that stay keep their part and reports. New
 * ones are added to *added. */
static int set_co_units(ym_db *db, int64_t id, const json_t *to, json_t *detail, json_t *added)
{
    json_t *from = co_units(db, id);
    if (!from)
        return -1;
    size_t i;
    json_t *u;
    bool changed = json_array_size(from) != json_array_size(to);
    json_array_foreach(to, i, u)
        if (!in_array(from, json_integer_value(u))) {
            changed = true;
            json_array_append(added, u);
        }
    if (!changed) {
        json_decref(from);
        return 0;
    }
    char *list = json_dumps(to, JSON_COMPACT);
    bool ok = list &&
              exec_text(db, "DELETE FROM core_item_units WHERE item_id = ?1 AND role = 'co' AND unit_id NOT IN "
                            "(SELECT value FROM json_each(?3))", id, list) == 0 &&
              exec_text(db, "INSERT INTO core_item_units (item_id, unit_id, role) SELECT ?1, value, 'co' "
                            "FROM json_each(?3) WHERE true ON CONFLICT DO NOTHING", id, list) == 0;
    free(list);
    json_t *now = ok ? co_units(db, id) : NULL;
    if (!now) {
        json_decref(from);
        return -1;
    }
    json_object_set_new(detail, "co_units", json_pack("{s:o,s:o}", "from", from, "to", now));
    return 0;
}

/* The nodes due on the old deadline move to the new one. 0, or -1. */
static int move_nodes(ym_db *db, int64_t id, const char *from, const char *to)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_item_nodes SET deadline = ?3 WHERE item_id = ?1 "
                                                 "AND deadline = ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ym_item_update(ym_db *db, int64_t id, int64_t by_user, const json_t *changes, char *err, size_t errlen)
{
    ym__item_row it;
    int rc = ym__item_common(db, id, &it, EDITABLE, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = check(db, id, &it, changes, err, errlen)) < 0)
        return rc;
    json_t *detail = json_object(), *added = json_array();
    bool ok = set_texts(db, id, changes, detail) == 0;
    const char *deadline = json_string_value(json_object_get(changes, "deadline"));
    if (ok && deadline && strcmp(deadline, it.deadline) != 0) {
        ok = exec_text(db, "UPDATE core_items SET deadline = ?3, deadline_workdays = 0 WHERE id = ?1", id,
                       deadline) == 0 &&
             (!it.deadline[0] || move_nodes(db, id, it.deadline, deadline) == 0);
        json_object_set_new(detail, "deadline", json_pack("{s:s?,s:s}", "from", it.deadline[0] ? it.deadline : NULL,
                                                          "to", deadline));
        snprintf(it.deadline, sizeof it.deadline, "%s", deadline);
    }
    if (ok && json_object_get(changes, "co_units"))
        ok = set_co_units(db, id, json_object_get(changes, "co_units"), detail, added) == 0;
    if (ok && json_object_size(detail) > 0) {
        bool started = strcmp(it.state, "draft") != 0 && strcmp(it.state, "returned") != 0;
        /* the open to-do of the lead unit shows the new title and deadline */
        if (json_object_get(detail, "title") || json_object_get(detail, "deadline")) {
            if (strcmp(it.state, "assigned") == 0)
                ok = ym__item_todo_put(db, id, "accept", it.lead, "签收督办：", "sign", it.deadline) == 0;
            else if (strcmp(it.state, "accepted") == 0 || strcmp(it.state, "in_progress") == 0)
                ok = ym__item_todo_put(db, id, "handle", it.lead, "办理督办：", "handle", it.deadline) == 0;
        }
        char payload[160];
        snprintf(payload, sizeof payload, "{\"item_id\":%lld,\"source\":\"%s\"}", (long long)id, it.source);
        ok = ok && exec_text(db, "UPDATE core_items SET updated_at = ?2 WHERE id = ?1", id, NULL) == 0 &&
             ym__item_timeline(db, id, "updated", by_user, it.supervisor, it.state, NULL, detail) == 0 &&
             ym_events_emit(db, "core", "core.items.updated", payload, err, errlen) >= 0 &&
             (!started || ym__item_notify(db, id, it.lead, "info", "督办事项已修改", NULL, err, errlen) == 0);
        size_t i;
        json_t *u;
        json_array_foreach(added, i, u)
            if (ok && started)
                ok = ym__item_notify(db, id, json_integer_value(u), "reminder", "配合督办事项", NULL, err, errlen) == 0;
        ok = ok && ym_item_recolour(db, id, ym_now()) >= 0;
    }
    json_decref(detail);
    json_decref(added);
    return ok ? 0 : DBERR(db);
}

int ym_item_withdraw(ym_db *db, int64_t id, int64_t by_user, const char *reason, char *err, size_t errlen)
{
    ym__item_row it;
    int rc = ym__item_common(db, id, &it, EDITABLE, err, errlen);
    if (rc < 0)
        return rc;
    if (!reason || !ym__item_text_ok(reason, YM_ITEM_NOTE_MAX, true, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "reason: 1 to %d characters are required", YM_ITEM_NOTE_MAX);
    char prefix[48];
    snprintf(prefix, sizeof prefix, "item:%lld:", (long long)id);
    bool started = strcmp(it.state, "draft") != 0;
    json_t *d = json_pack("{s:s,s:s}", "reason", reason, "from", it.state);
    bool ok = exec_text(db, "UPDATE core_items SET withdrawn_at = ?2 WHERE id = ?1", id, NULL) == 0 &&
              exec_text(db, "UPDATE core_item_extensions SET state = 'denied', comment = ?3, decided_at = ?2 "
                            "WHERE item_id = ?1 AND state = 'pending'", id, "撤销") == 0 &&
              ym_todo_resolve_prefix(db, "core", prefix, by_user > 0 ? by_user : 0) >= 0 &&
              ym__item_move(db, id, &it, "withdrawn", "withdrawn", by_user, it.supervisor, d) == 0;
    json_decref(d);
    ok = ok && (!started || ym__item_notify_units(db, id, "SELECT unit_id FROM core_item_units WHERE item_id = ?1 "
                                                          "ORDER BY role = 'lead' DESC, unit_id",
                                                  "warning", "督办事项已撤销", reason, err, errlen) == 0);
    return ok ? 0 : DBERR(db);
}

int ym_item_link(ym_db *db, int64_t id, int64_t by_user, const char *record, char *err, size_t errlen)
{
    ym__item_row it;
    int rc = ym__item_common(db, id, &it, NULL, err, errlen);
    if (rc < 0)
        return rc;
    if (!record || !ym__item_record_ok(record))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "record: expected \"<table>:<id>\" of at most %d bytes",
                   YM_ITEM_RECORD_MAX);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_item_links (item_id, record, created_by, created_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT DO NOTHING RETURNING 1");
    if (!st)
        return DBERR(db);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, record, -1, SQLITE_STATIC);
    if (by_user > 0)
        sqlite3_bind_int64(st, 3, by_user);
    sqlite3_bind_int64(st, 4, ym_now());
    rc = sqlite3_step(st);
    bool added = rc == SQLITE_ROW;
    if (added)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return DBERR(db);
    json_t *d = json_pack("{s:s}", "record", record);
    bool ok = !added || ym__item_timeline(db, id, "link", by_user, 0, it.state, NULL, d) == 0;
    json_decref(d);
    return ok ? 0 : DBERR(db);
}
