/* items_flow: creating a tracked item and every transition of its flow (assign, accept,
 * return, report, complete, review, close, extensions, lag reasons, urge, escalate; links,
 * changes and withdrawal are in items_edit.c),
 * each with its timeline row, notices, to-dos (owner "core", key "item:<id>:<what>", for
 * the clerk role of the unit that must act) and a fresh colour. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "items.h"
#include "items_int.h"
#include "items_edit.h"
#include "calendar.h"
#include "events.h"
#include "files.h"
#include "todo.h"
#include "clock.h"


const char *ym_item_err_field(const char *err, char *field, size_t flen)
{
    const char *c = strstr(err, ": ");
    size_t n = c ? (size_t)(c - err) : 0;
    snprintf(field, flen, "%.*s", (int)(n < flen ? n : flen - 1), err);
    return c ? c + 2 : err;
}

/* ---------- lookups ---------- */

typedef ym__item_row item_row;

static int load(ym_db *db, int64_t id, item_row *it)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT state, source, deadline, supervisor_unit, lead_unit, deadline_workdays FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *dl = (const char *)sqlite3_column_text(st, 2);
        snprintf(it->state, sizeof it->state, "%s", sqlite3_column_text(st, 0));
        snprintf(it->source, sizeof it->source, "%s", sqlite3_column_text(st, 1));
        snprintf(it->deadline, sizeof it->deadline, "%s", dl ? dl : "");
        it->supervisor = sqlite3_column_int64(st, 3);
        it->lead = sqlite3_column_int64(st, 4);
        it->deadline_workdays = sqlite3_column_int(st, 5);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int ym_item_units(ym_db *db, int64_t id, char *source, size_t slen, int64_t *supervisor, int64_t *lead)
{
    item_row it;
    int rc = load(db, id, &it);
    if (rc == 1) {
        snprintf(source, slen, "%s", it.source);
        *supervisor = it.supervisor;
        *lead = it.lead;
    }
    return rc;
}

int ym_item_unit_role(ym_db *db, int64_t id, int64_t unit)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT role FROM core_item_units WHERE item_id = ?1 AND unit_id = ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, unit);
    int rc = sqlite3_step(st), v = 0;
    if (rc == SQLITE_ROW)
        v = strcmp((const char *)sqlite3_column_text(st, 0), "lead") == 0 ? 2 : 1;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? v : -1;
}

static int exists(ym_db *db, const char *sql, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static bool in_states(const char *state, const char *const *states)
{
    for (; *states; states++)
        if (strcmp(state, *states) == 0)
            return true;
    return false;
}

/* ---------- shared steps ---------- */

int ym__item_exec(ym_db *db, const char *sql, int64_t id, const char *text, int64_t n)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, ym_now());
    if (text)
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, n);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* A state change: the row, the timeline, the event core.items.state, the colour. */
static int move(ym_db *db, int64_t id, const item_row *it, const char *to, const char *kind, int64_t user,
                int64_t unit, json_t *detail)
{
    char err[256], payload[200];
    if (ym__item_exec(db, "UPDATE core_items SET state = ?3, updated_at = ?2 WHERE id = ?1", id, to, 0) < 0 ||
        ym__item_timeline(db, id, kind, user, unit, to, NULL, detail) < 0)
        return -1;
    if (strcmp(it->state, to) != 0) {
        snprintf(payload, sizeof payload, "{\"item_id\":%lld,\"source\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}",
                 (long long)id, it->source, it->state, to);
        if (ym_events_emit(db, "core", "core.items.state", payload, err, sizeof err) < 0)
            return -1;
    }
    return ym_item_recolour(db, id, ym_now()) < 0 ? -1 : 0;
}

static int todo_put(ym_db *db, int64_t id, const char *what, int64_t unit, const char *title, const char *kind,
                    const char *deadline)
{
    char key[64], link[48], err[256];
    int32_t d;
    snprintf(key, sizeof key, "item:%lld:%s", (long long)id, what);
    snprintf(link, sizeof link, "#/items/%lld", (long long)id);
    ym_todo t = {.unit_id = unit, .role_key = "clerk", .title = title, .link = link, .kind = kind,
                 .due_ms = deadline && ym_date_parse(deadline, &d) == 0 ? ym_date_end_ms(d) : 0};
    return ym_todo_put(db, "core", key, &t, err, sizeof err) < 0 ? -1 : 0;
}

static int todo_done(ym_db *db, int64_t id, const char *what, int64_t by)
{
    char key[64];
    snprintf(key, sizeof key, "item:%lld:%s", (long long)id, what);
    return ym_todo_resolve(db, "core", key, by > 0 ? by : 0) < 0 ? -1 : 0;
}

static const char *item_title(ym_db *db, int64_t id, char *buf, size_t len)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT title FROM core_items WHERE id = ?1");
    buf[0] = '\0';
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(buf, len, "%s", sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    return buf;
}

/* "督办：<title>", at most 200 characters for the to-do. */
static const char *todo_title(ym_db *db, int64_t id, const char *prefix, char *buf, size_t len)
{
    char t[1024];
    item_title(db, id, t, sizeof t);
    size_t i = 0, chars = 0;
    while (t[i] && chars < 150) {
        unsigned char c = (unsigned char)t[i];
        i += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        chars++;
    }
    snprintf(buf, len, "%s%.*s", prefix, (int)i, t);
    return buf;
}

static int common(ym_db *db, int64_t id, item_row *it, const char *const *states, char *err, size_t errlen)
{
    if (!ym_db_in_write(db))
        return ym__item_ret(err, errlen, YM_ITEM_EDB, "items are written inside a write (ym_db_write_begin)");
    int rc = load(db, id, it);
    if (rc < 0)
        return DBERR(db);
    if (rc == 0)
        return ym__item_ret(err, errlen, YM_ITEM_ENOTFOUND, "no such item %lld", (long long)id);
    if (states && !in_states(it->state, states))
        return ym__item_ret(err, errlen, YM_ITEM_ESTATE, "the item is %s", it->state);
    return 0;
}

static const char *const OPEN[] = {"assigned", "accepted", "in_progress", NULL};
static const char *const WORKING[] = {"accepted", "in_progress", NULL};

/* The steps above for items_edit.c (items_edit.h). */
int ym__item_common(ym_db *db, int64_t id, ym__item_row *it, const char *const *states, char *err, size_t errlen)
{
    return common(db, id, it, states, err, errlen);
}

int ym__item_move(ym_db *db, int64_t id, const ym__item_row *it, const char *to, const char *kind, int64_t user,
                  int64_t unit, json_t *detail)
{
    return move(db, id, it, to, kind, user, unit, detail);
}

int ym__item_todo_put(ym_db *db, int64_t id, const char *what, int64_t unit, const char *prefix, const char *kind,
                      const char *deadline)
{
    char title[800];
    return todo_put(db, id, what, unit, todo_title(db, id, prefix, title, sizeof title), kind, deadline);
}

/* ---------- create ---------- */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

bool ym__item_record_ok(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c || c == s || !c[1] || strlen(s) > YM_ITEM_RECORD_MAX)
        return false;
    for (const char *p = s; p < c; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    for (const char *p = c + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.' || *p == ':'))
            return false;
    return s[0] >= 'a' && s[0] <= 'z';
}

static bool cycle_ok(const char *s)
{
    int n = 0;
    char extra;
    return strcmp(s, "weekly") == 0 ||
           (strncmp(s, "monthly ", 8) == 0 && sscanf(s, "monthly %d%c", &n, &extra) == 1 && n >= 1 && n <= 31);
}

static int check_nodes(json_t *nodes, const char *deadline, char *err, size_t errlen)
{
    int32_t dl = 0, d;
    bool has_dl = deadline && ym_date_parse(deadline, &dl) == 0;
    if (!json_is_array(nodes) || json_array_size(nodes) > YM_ITEM_NODES_MAX)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "nodes: expected a list of at most %d {title, deadline}",
                   YM_ITEM_NODES_MAX);
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        const char *t = json_string_value(json_object_get(n, "title"));
        const char *nd = json_string_value(json_object_get(n, "deadline"));
        if (!json_is_object(n) || json_object_size(n) != 2 || !t || !nd)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "nodes: node %zu must be {title, deadline}", i + 1);
        if (!ym__item_text_ok(t, YM_ITEM_TITLE_MAX, false, false))
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "nodes: node %zu: title must be 1 to %d characters", i + 1,
                       YM_ITEM_TITLE_MAX);
        if (ym_date_parse(nd, &d) < 0)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "nodes: node %zu: deadline must be YYYY-MM-DD", i + 1);
        if (has_dl && d > dl)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "nodes: node %zu: deadline is after the item's", i + 1);
    }
    return 0;
}

static int check_spec(ym_db *db, const ym_item_spec *s, json_t **nodes, char *err, size_t errlen)
{
    static const char *const kinds[] = {"instruction", "minutes", "task_list", "proposal", "project", "other", NULL};
    int32_t d;
    if (!s->source || !name_ok(s->source))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "source: the owning plugin's name is required");
    if (!s->source_kind || !in_states(s->source_kind, kinds))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL,
                   "source_kind: expected instruction, minutes, task_list, proposal, project or other");
    if (s->record && !ym__item_record_ok(s->record))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "record: expected \"<table>:<id>\" of at most %d bytes",
                   YM_ITEM_RECORD_MAX);
    if (!s->title || !ym__item_text_ok(s->title, YM_ITEM_TITLE_MAX, false, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "title: 1 to %d characters on one line", YM_ITEM_TITLE_MAX);
    if (s->content && !ym__item_text_ok(s->content, YM_ITEM_TEXT_MAX, true, true))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "content: at most %d characters", YM_ITEM_TEXT_MAX);
    if (s->leader && !ym__item_text_ok(s->leader, 64, false, true))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "leader: at most 64 characters on one line");
    if (s->deadline && s->deadline_workdays)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "deadline: give a date or deadline_workdays, not both");
    if (s->deadline && ym_date_parse(s->deadline, &d) < 0)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "deadline: expected YYYY-MM-DD");
    if (!s->deadline && (s->deadline_workdays < 1 || s->deadline_workdays > YM_ITEM_WORKDAYS_MAX))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "deadline_workdays: a date or 1 to %d working days is required",
                   YM_ITEM_WORKDAYS_MAX);
    if (s->report_cycle && !cycle_ok(s->report_cycle))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "report_cycle: expected \"weekly\" or \"monthly N\" (1 to 31)");
    if (s->return_workdays < 0 || s->return_workdays > YM_ITEM_WORKDAYS_MAX)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "return_workdays: 0 (no window) to %d working days",
                   YM_ITEM_WORKDAYS_MAX);
    if (s->nco > YM_ITEM_CO_MAX)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: at most %d", YM_ITEM_CO_MAX);
    static const char *const unit_sql = "SELECT 1 FROM core_units WHERE id = ?1";
    struct { int64_t id; const char *field; } units[] = {{s->supervisor_unit, "supervisor_unit"},
                                                        {s->lead_unit, "lead_unit"}};
    for (int i = 0; i < 2; i++) {
        int rc = units[i].id > 0 ? exists(db, unit_sql, units[i].id) : 0;
        if (rc < 0)
            return DBERR(db);
        if (rc == 0)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "%s: no such unit", units[i].field);
    }
    for (size_t i = 0; i < s->nco; i++) {
        int rc = s->co_units[i] > 0 ? exists(db, unit_sql, s->co_units[i]) : 0;
        if (rc < 0)
            return DBERR(db);
        if (rc == 0 || s->co_units[i] == s->lead_unit)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: no such unit %lld, or the lead unit",
                       (long long)s->co_units[i]);
        for (size_t j = 0; j < i; j++)
            if (s->co_units[j] == s->co_units[i])
                return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "co_units: unit %lld listed twice", (long long)s->co_units[i]);
    }
    if (s->parent_id) {
        int rc = s->parent_id > 0 ? exists(db, "SELECT 1 FROM core_items WHERE id = ?1", s->parent_id) : 0;
        if (rc < 0)
            return DBERR(db);
        if (rc == 0)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "parent_id: no such item");
    }
    if (s->nodes_json) {
        json_error_t je;
        *nodes = json_loads(s->nodes_json, 0, &je);
        if (!*nodes)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "nodes: not JSON: %s", je.text);
        return check_nodes(*nodes, s->deadline, err, errlen);
    }
    return 0;
}

static int insert_unit(ym_db *db, int64_t id, int64_t unit, const char *role)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "INSERT INTO core_item_units (item_id, unit_id, role) VALUES (?1, ?2, ?3)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, unit);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int insert_nodes(ym_db *db, int64_t id, json_t *nodes)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_item_nodes (item_id, seq, title, deadline) VALUES (?1, ?2, ?3, ?4)");
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (int64_t)i + 1);
        sqlite3_bind_text(st, 3, json_string_value(json_object_get(n, "title")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, json_string_value(json_object_get(n, "deadline")), -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

int64_t ym_item_create(ym_db *db, const ym_item_spec *s, char *err, size_t errlen)
{
    if (!ym_db_in_write(db))
        return ym__item_ret(err, errlen, YM_ITEM_EDB, "items are written inside a write (ym_db_write_begin)");
    json_t *nodes = NULL;
    int rc = check_spec(db, s, &nodes, err, errlen);
    if (rc < 0) {
        json_decref(nodes);
        return rc;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_items (source, source_kind, record, parent_id, title, content, supervisor_unit, lead_unit, "
        "leader, deadline, deadline_workdays, report_cycle, created_by, created_at, updated_at, restricted, "
        "return_workdays) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16) "
        "RETURNING id");
    int64_t id = 0;
    if (st) {
        sqlite3_bind_text(st, 1, s->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->source_kind, -1, SQLITE_STATIC);
        if (s->record)
            sqlite3_bind_text(st, 3, s->record, -1, SQLITE_STATIC);
        if (s->parent_id)
            sqlite3_bind_int64(st, 4, s->parent_id);
        sqlite3_bind_text(st, 5, s->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, s->content ? s->content : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, s->supervisor_unit);
        sqlite3_bind_int64(st, 8, s->lead_unit);
        if (s->leader && *s->leader)
            sqlite3_bind_text(st, 9, s->leader, -1, SQLITE_STATIC);
        if (s->deadline)
            sqlite3_bind_text(st, 10, s->deadline, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 11, s->deadline ? 0 : s->deadline_workdays);
        if (s->report_cycle)
            sqlite3_bind_text(st, 12, s->report_cycle, -1, SQLITE_STATIC);
        if (s->created_by > 0)
            sqlite3_bind_int64(st, 13, s->created_by);
        sqlite3_bind_int64(st, 14, ym_now());
        sqlite3_bind_int(st, 15, s->restricted ? 1 : 0);
        sqlite3_bind_int(st, 16, s->return_workdays);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    bool ok = id > 0 && insert_unit(db, id, s->lead_unit, "lead") == 0;
    for (size_t i = 0; ok && i < s->nco; i++)
        ok = insert_unit(db, id, s->co_units[i], "co") == 0;
    ok = ok && (!nodes || insert_nodes(db, id, nodes) == 0);
    json_decref(nodes);
    json_t *d = json_pack("{s:s}", "source_kind", s->source_kind);
    ok = ok && ym__item_timeline(db, id, "created", s->created_by, s->supervisor_unit, "draft", NULL, d) == 0;
    json_decref(d);
    return ok ? id : DBERR(db);
}

/* ---------- the flow ---------- */

int ym_item_assign(ym_db *db, int64_t id, int64_t by_user, char *err, size_t errlen)
{
    static const char *const from[] = {"draft", "returned", NULL};
    item_row it;
    int rc = common(db, id, &it, from, err, errlen);
    if (rc < 0)
        return rc;
    if (it.deadline_workdays > 0) { /* N working days from the day of assignment */
        char dl[11];
        int32_t today = ym__item_day_of(ym_now());
        ym_date_format(ym_calendar_add_working_days(ym_calendar_current(), today, it.deadline_workdays), dl);
        if (ym__item_exec(db, "UPDATE core_items SET deadline = ?3 WHERE id = ?1", id, dl, 0) < 0)
            return DBERR(db);
        snprintf(it.deadline, sizeof it.deadline, "%s", dl);
    }
    /* the return window: through the N-th working day after the day of assignment */
    char until[11];
    ym__item_return_until(db, id, until);
    if (ym__item_exec(db, "UPDATE core_items SET return_until = nullif(?3, '') WHERE id = ?1", id, until, 0) < 0)
        return DBERR(db);
    char title[800];
    json_t *d = json_pack("{s:s}", "deadline", it.deadline);
    bool ok = ym__item_exec(db, "UPDATE core_items SET assigned_at = ?2, accepted_at = NULL WHERE id = ?1", id, NULL, 0) == 0 &&
              move(db, id, &it, "assigned", "assigned", by_user, it.supervisor, d) == 0 &&
              todo_done(db, id, "reassign", by_user) == 0 &&
              todo_put(db, id, "accept", it.lead, todo_title(db, id, "签收督办：", title, sizeof title), "sign",
                       it.deadline) == 0 &&
              ym__item_notify(db, id, it.lead, "reminder", "新交办督办事项", NULL, err, errlen) == 0;
    json_decref(d);
    ok = ok && ym__item_notify_units(db, id, "SELECT unit_id FROM core_item_units WHERE item_id = ?1 AND role = 'co' "
                                             "ORDER BY unit_id", "reminder", "配合督办事项", NULL, err, errlen) == 0;
    return ok ? 0 : DBERR(db);
}

int ym_item_accept(ym_db *db, int64_t id, int64_t by_user, char *err, size_t errlen)
{
    static const char *const from[] = {"assigned", NULL};
    item_row it;
    int rc = common(db, id, &it, from, err, errlen);
    if (rc < 0)
        return rc;
    char title[800];
    bool ok = ym__item_exec(db, "UPDATE core_items SET accepted_at = ?2 WHERE id = ?1", id, NULL, 0) == 0 &&
              todo_done(db, id, "accept", by_user) == 0 &&
              todo_put(db, id, "handle", it.lead, todo_title(db, id, "办理督办：", title, sizeof title), "handle",
                       it.deadline) == 0 &&
              move(db, id, &it, "accepted", "accepted", by_user, it.lead, NULL) == 0;
    return ok ? 0 : DBERR(db);
}

int ym_item_return(ym_db *db, int64_t id, int64_t by_user, const char *reason, char *err, size_t errlen)
{
    static const char *const from[] = {"assigned", NULL};
    item_row it;
    int rc = common(db, id, &it, from, err, errlen);
    if (rc < 0)
        return rc;
    if (!reason || !ym__item_text_ok(reason, YM_ITEM_NOTE_MAX, true, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "reason: 1 to %d characters are required", YM_ITEM_NOTE_MAX);
    /* the return window (return_until, set at assignment): refused after its last day */
    rc = ym__item_return_closed(db, id, err, errlen);
    if (rc != 0)
        return rc < 0 ? DBERR(db) : YM_ITEM_EWINDOW;
    char title[800];
    json_t *d = json_pack("{s:s}", "reason", reason);
    bool ok = todo_done(db, id, "accept", by_user) == 0 && move(db, id, &it, "returned", "returned", by_user, it.lead, d) == 0 &&
              todo_put(db, id, "reassign", it.supervisor, todo_title(db, id, "退回待重新交办：", title, sizeof title),
                       "review", NULL) == 0 &&
              ym__item_notify(db, id, it.supervisor, "warning", "督办事项被退回", reason, err, errlen) == 0;
    json_decref(d);
    return ok ? 0 : DBERR(db);
}

static int attach(ym_db *db, int64_t rid, int64_t by_user, const int64_t *files, size_t n, char *err, size_t errlen)
{
    char owner[64], why[200];
    if (n > YM_ITEM_FILES_MAX)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "file_ids: at most %d files", YM_ITEM_FILES_MAX);
    snprintf(owner, sizeof owner, "core_item_report:%lld", (long long)rid);
    for (size_t i = 0; i < n; i++)
        if (ym_files_attach(db, files[i], by_user, owner, why, sizeof why) < 0)
            return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "file_ids: file %lld: %s", (long long)files[i], why);
    return 0;
}

static int64_t insert_report(ym_db *db, int64_t id, int64_t unit, int64_t by_user, const char *kind, int64_t node,
                             int percent, const char *text, const int64_t *files, size_t nfiles)
{
    json_t *fa = json_array();
    for (size_t i = 0; i < nfiles; i++)
        json_array_append_new(fa, json_integer(files[i]));
    char *fj = json_dumps(fa, JSON_COMPACT);
    json_decref(fa);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_item_reports (item_id, unit_id, user_id, kind, node_id, percent, text, files, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id");
    int64_t rid = 0;
    if (st && fj) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, unit);
        sqlite3_bind_int64(st, 3, by_user);
        sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
        if (node > 0)
            sqlite3_bind_int64(st, 5, node);
        if (percent >= 0)
            sqlite3_bind_int(st, 6, percent);
        sqlite3_bind_text(st, 7, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, fj, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, ym_now());
        if (sqlite3_step(st) == SQLITE_ROW)
            rid = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    free(fj);
    if (rid <= 0)
        return -1;
    st = ym_db_prepare(db, "core",
        "UPDATE core_item_units SET reports = reports + 1, last_report_at = ?3, percent = coalesce(?4, percent) "
        "WHERE item_id = ?1 AND unit_id = ?2");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, unit);
    sqlite3_bind_int64(st, 3, ym_now());
    if (percent >= 0)
        sqlite3_bind_int(st, 4, strcmp(kind, "completion") == 0 ? 100 : percent);
    else if (strcmp(kind, "completion") == 0)
        sqlite3_bind_int(st, 4, 100);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? rid : -1;
}

int64_t ym_item_report(ym_db *db, int64_t id, int64_t by_user, int64_t unit, const ym_item_report_args *a,
                       char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, WORKING, err, errlen);
    if (rc < 0)
        return rc;
    int role = ym_item_unit_role(db, id, unit);
    if (role < 0)
        return DBERR(db);
    if (role == 0)
        return ym__item_ret(err, errlen, YM_ITEM_ESTATE, "unit %lld has no part in this item", (long long)unit);
    if (!a->text || !ym__item_text_ok(a->text, YM_ITEM_TEXT_MAX, true, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "text: 1 to %d characters are required", YM_ITEM_TEXT_MAX);
    if (a->percent < -1 || a->percent > 100)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "percent: expected 0 to 100");
    if (a->node_id) {
        sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_item_nodes WHERE id = ?1 AND item_id = ?2");
        if (!st)
            return DBERR(db);
        sqlite3_bind_int64(st, 1, a->node_id);
        sqlite3_bind_int64(st, 2, id);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            return rc == SQLITE_DONE ? ym__item_ret(err, errlen, YM_ITEM_EINVAL, "node_id: no such node of this item") : DBERR(db);
    }
    if (ym_item_recolour(db, id, ym_now()) < 0)
        return DBERR(db);
    if (role == 2) {
        int missing = ym__item_reason_missing(db, id);
        if (missing < 0)
            return DBERR(db);
        if (missing)
            return ym__item_ret(err, errlen, YM_ITEM_ELAG, "the item is late: record a lag reason first");
    }
    int64_t rid = insert_report(db, id, unit, by_user, "progress", a->node_id, a->percent, a->text, a->file_ids,
                                a->nfiles);
    if (rid < 0)
        return DBERR(db);
    rc = attach(db, rid, by_user, a->file_ids, a->nfiles, err, errlen);
    if (rc < 0)
        return rc;
    bool ok = true;
    if (role == 2)
        ok = ym__item_exec(db, "UPDATE core_items SET last_report_at = ?2 WHERE id = ?1", id, NULL, 0) == 0;
    if (ok && role == 2 && a->node_id && (a->percent < 0 || a->percent == 100))
        ok = ym__item_exec(db, "UPDATE core_item_nodes SET done_at = ?2 WHERE id = ?4 AND done_at IS NULL", id, NULL,
                   a->node_id) == 0;
    json_t *d = json_pack("{s:I,s:s,s:o,s:o}", "report_id", (json_int_t)rid, "part", role == 2 ? "lead" : "co",
                          "node_id", a->node_id ? json_integer(a->node_id) : json_null(),
                          "percent", a->percent >= 0 ? json_integer(a->percent) : json_null());
    ok = ok && move(db, id, &it, "in_progress", "report", by_user, unit, d) == 0;
    json_decref(d);
    return ok ? rid : DBERR(db);
}

int64_t ym_item_complete(ym_db *db, int64_t id, int64_t by_user, const char *text, const int64_t *file_ids,
                         size_t nfiles, char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, WORKING, err, errlen);
    if (rc < 0)
        return rc;
    if (!text || !ym__item_text_ok(text, YM_ITEM_TEXT_MAX, true, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "text: 1 to %d characters are required", YM_ITEM_TEXT_MAX);
    if (ym_item_recolour(db, id, ym_now()) < 0)
        return DBERR(db);
    int missing = ym__item_reason_missing(db, id);
    if (missing < 0)
        return DBERR(db);
    if (missing)
        return ym__item_ret(err, errlen, YM_ITEM_ELAG, "the item is late: record a lag reason first");
    int64_t rid = insert_report(db, id, it.lead, by_user, "completion", 0, 100, text, file_ids, nfiles);
    if (rid < 0)
        return DBERR(db);
    rc = attach(db, rid, by_user, file_ids, nfiles, err, errlen);
    if (rc < 0)
        return rc;
    char title[800];
    json_t *d = json_pack("{s:I}", "report_id", (json_int_t)rid);
    bool ok = ym__item_exec(db, "UPDATE core_items SET completed_at = ?2, last_report_at = ?2 WHERE id = ?1", id, NULL, 0) == 0 &&
              move(db, id, &it, "completed", "completed", by_user, it.lead, d) == 0 &&
              todo_done(db, id, "handle", by_user) == 0 &&
              todo_put(db, id, "review", it.supervisor, todo_title(db, id, "审核办结：", title, sizeof title),
                       "review", NULL) == 0 &&
              ym__item_notify(db, id, it.supervisor, "info", "督办事项报办结", NULL, err, errlen) == 0;
    json_decref(d);
    return ok ? rid : DBERR(db);
}

int ym_item_review(ym_db *db, int64_t id, int64_t by_user, bool accept, const char *comment, char *err,
                   size_t errlen)
{
    static const char *const from[] = {"completed", NULL};
    item_row it;
    int rc = common(db, id, &it, from, err, errlen);
    if (rc < 0)
        return rc;
    if (comment ? !ym__item_text_ok(comment, YM_ITEM_NOTE_MAX, true, accept) : !accept)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "comment: %s", accept ? "at most 2000 characters"
                                                                      : "say why it is sent back (1 to 2000 characters)");
    char title[800];
    json_t *d = json_pack("{s:b,s:s}", "accept", accept, "comment", comment ? comment : "");
    bool ok = todo_done(db, id, "review", by_user) == 0 &&
              (accept || (ym__item_exec(db, "UPDATE core_items SET completed_at = NULL WHERE id = ?1", id, NULL, 0) == 0 &&
                          todo_put(db, id, "handle", it.lead, todo_title(db, id, "办理督办：", title, sizeof title),
                                   "handle", it.deadline) == 0)) &&
              move(db, id, &it, accept ? "reviewed" : "in_progress", "reviewed", by_user, it.supervisor, d) == 0 &&
              ym__item_notify(db, id, it.lead, accept ? "info" : "warning",
                              accept ? "督办事项办结审核通过" : "督办事项办结被退回", comment, err, errlen) == 0;
    json_decref(d);
    return ok ? 0 : DBERR(db);
}

int ym_item_close(ym_db *db, int64_t id, int64_t by_user, char *err, size_t errlen)
{
    static const char *const from[] = {"reviewed", NULL};
    item_row it;
    int rc = common(db, id, &it, from, err, errlen);
    if (rc < 0)
        return rc;
    char prefix[48];
    snprintf(prefix, sizeof prefix, "item:%lld:", (long long)id);
    bool ok = ym__item_exec(db, "UPDATE core_items SET closed_at = ?2 WHERE id = ?1", id, NULL, 0) == 0 &&
              ym_todo_resolve_prefix(db, "core", prefix, by_user > 0 ? by_user : 0) >= 0 &&
              move(db, id, &it, "closed", "closed", by_user, it.supervisor, NULL) == 0;
    return ok ? 0 : DBERR(db);
}

/* ---------- extensions, reasons, urges, links ---------- */

int64_t ym_item_extend_request(ym_db *db, int64_t id, int64_t by_user, const char *until, const char *reason,
                               char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, OPEN, err, errlen);
    if (rc < 0)
        return rc;
    int32_t u, dl;
    if (!until || ym_date_parse(until, &u) < 0)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "until: expected YYYY-MM-DD");
    if (ym_date_parse(it.deadline, &dl) == 0 && u <= dl)
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "until: must be after the deadline %s", it.deadline);
    if (!reason || !ym__item_text_ok(reason, YM_ITEM_NOTE_MAX, true, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "reason: 1 to %d characters are required", YM_ITEM_NOTE_MAX);
    rc = exists(db, "SELECT 1 FROM core_item_extensions WHERE item_id = ?1 AND state = 'pending'", id);
    if (rc < 0)
        return DBERR(db);
    if (rc)
        return ym__item_ret(err, errlen, YM_ITEM_ESTATE, "an extension request is pending already");
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_item_extensions (item_id, unit_id, requested_by, old_deadline, until, reason, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
    int64_t eid = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, it.lead);
        sqlite3_bind_int64(st, 3, by_user);
        sqlite3_bind_text(st, 4, it.deadline, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, until, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, ym_now());
        if (sqlite3_step(st) == SQLITE_ROW)
            eid = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (eid <= 0)
        return DBERR(db);
    char what[32], title[800];
    snprintf(what, sizeof what, "extension:%lld", (long long)eid);
    json_t *d = json_pack("{s:I,s:s,s:s}", "extension_id", (json_int_t)eid, "until", until, "reason", reason);
    bool ok = ym__item_timeline(db, id, "extension_requested", by_user, it.lead, it.state, NULL, d) == 0 &&
              todo_put(db, id, what, it.supervisor, todo_title(db, id, "审批延期：", title, sizeof title), "review",
                       NULL) == 0 &&
              ym__item_notify(db, id, it.supervisor, "info", "督办事项申请延期", reason, err, errlen) == 0;
    json_decref(d);
    return ok ? eid : DBERR(db);
}

int ym_item_extend_decide(ym_db *db, int64_t id, int64_t ext_id, int64_t by_user, bool approve,
                          const char *comment, char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, NULL, err, errlen);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT state, until FROM core_item_extensions WHERE id = ?1 AND item_id = ?2");
    if (!st)
        return DBERR(db);
    sqlite3_bind_int64(st, 1, ext_id);
    sqlite3_bind_int64(st, 2, id);
    char state[16] = "", until[16] = "";
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(state, sizeof state, "%s", sqlite3_column_text(st, 0));
        snprintf(until, sizeof until, "%s", sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? ym__item_ret(err, errlen, YM_ITEM_ENOTFOUND, "no such extension request") : DBERR(db);
    if (strcmp(state, "pending") != 0)
        return ym__item_ret(err, errlen, YM_ITEM_ESTATE, "the extension request is %s already", state);
    if (!in_states(it.state, OPEN))
        return ym__item_ret(err, errlen, YM_ITEM_ESTATE, "the item is %s", it.state);
    if (comment && !ym__item_text_ok(comment, YM_ITEM_NOTE_MAX, true, true))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "comment: at most %d characters", YM_ITEM_NOTE_MAX);
    st = ym_db_prepare(db, "core",
        "UPDATE core_item_extensions SET state = ?2, decided_by = ?3, comment = ?4, decided_at = ?5 WHERE id = ?1");
    if (!st)
        return DBERR(db);
    sqlite3_bind_int64(st, 1, ext_id);
    sqlite3_bind_text(st, 2, approve ? "approved" : "denied", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, by_user);
    if (comment)
        sqlite3_bind_text(st, 4, comment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ym_now());
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return DBERR(db);
    char what[32];
    snprintf(what, sizeof what, "extension:%lld", (long long)ext_id);
    json_t *d = json_pack("{s:I,s:b,s:s,s:s}", "extension_id", (json_int_t)ext_id, "approve", approve, "until", until,
                          "comment", comment ? comment : "");
    bool ok = (!approve || ym__item_exec(db, "UPDATE core_items SET deadline = ?3, updated_at = ?2 WHERE id = ?1", id, until, 0) == 0) &&
              todo_done(db, id, what, by_user) == 0 &&
              ym__item_timeline(db, id, approve ? "extension_approved" : "extension_denied", by_user, it.supervisor,
                                it.state, NULL, d) == 0 &&
              ym__item_notify(db, id, it.lead, approve ? "info" : "warning",
                              approve ? "延期申请已批准" : "延期申请未批准", comment, err, errlen) == 0 &&
              ym_item_recolour(db, id, ym_now()) >= 0;
    json_decref(d);
    return ok ? 0 : DBERR(db);
}

int64_t ym_item_reason_add(ym_db *db, int64_t id, int64_t by_user, const char *category, const char *text,
                           char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, OPEN, err, errlen);
    if (rc < 0)
        return rc;
    if (!category || !ym__item_category_ok(category))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "category: not one of items.lag_categories");
    if (!text || !ym__item_text_ok(text, YM_ITEM_NOTE_MAX, true, false))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "text: 1 to %d characters are required", YM_ITEM_NOTE_MAX);
    if (ym_item_recolour(db, id, ym_now()) < 0)
        return DBERR(db);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_item_reasons (item_id, unit_id, user_id, category, text, late_kind, created_at) "
        "SELECT id, lead_unit, ?2, ?3, ?4, late_kind, ?5 FROM core_items WHERE id = ?1 RETURNING id");
    int64_t rid = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, by_user);
        sqlite3_bind_text(st, 3, category, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, ym_now());
        if (sqlite3_step(st) == SQLITE_ROW)
            rid = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    json_t *d = json_pack("{s:I,s:s}", "reason_id", (json_int_t)rid, "category", category);
    bool ok = rid > 0 && ym__item_timeline(db, id, "reason", by_user, it.lead, it.state, NULL, d) == 0;
    json_decref(d);
    return ok ? rid : DBERR(db);
}

int ym_item_urge(ym_db *db, int64_t id, int64_t by_user, const char *message, char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, OPEN, err, errlen);
    if (rc < 0)
        return rc;
    if (message && !ym__item_text_ok(message, YM_ITEM_NOTE_MAX, true, true))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "message: at most %d characters", YM_ITEM_NOTE_MAX);
    json_t *d = json_pack("{s:s,s:b}", "message", message ? message : "", "auto", by_user == 0);
    char why[256];
    bool ok = ym__item_exec(db, "UPDATE core_items SET urge_count = urge_count + 1, updated_at = ?2 WHERE id = ?1", id, NULL, 0) == 0 &&
              ym__item_timeline(db, id, "urge", by_user, it.supervisor, it.state, NULL, d) == 0 &&
              ym__item_notify(db, id, it.lead, "urgent", "催办督办事项", message && *message ? message : NULL, why,
                              sizeof why) == 0;
    json_decref(d);
    return ok ? 0 : ym__item_ret(err, errlen, YM_ITEM_EDB, "urge failed: %s", why);
}

int ym_item_escalate(ym_db *db, int64_t id, int64_t by_user, bool on, const char *reason, char *err, size_t errlen)
{
    item_row it;
    int rc = common(db, id, &it, OPEN, err, errlen);
    if (rc < 0)
        return rc;
    if (reason && !ym__item_text_ok(reason, YM_ITEM_NOTE_MAX, true, true))
        return ym__item_ret(err, errlen, YM_ITEM_EINVAL, "reason: at most %d characters", YM_ITEM_NOTE_MAX);
    json_t *d = json_pack("{s:b,s:s}", "escalated", on, "reason", reason ? reason : "");
    bool ok = ym__item_exec(db, "UPDATE core_items SET escalated = ?4, updated_at = ?2 WHERE id = ?1", id, NULL, on) == 0 &&
              ym__item_timeline(db, id, on ? "escalated" : "deescalated", by_user, it.supervisor, it.state, NULL, d) == 0 &&
              ym_item_recolour(db, id, ym_now()) >= 0;
    json_decref(d);
    return ok ? 0 : DBERR(db);
}
