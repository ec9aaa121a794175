/* Reading: one case, the public board (全员督查) and the per-unit league table. The
 * colour, state, reports and lag reasons are the engine's (item_get for a case; the core
 * views core_v_item* for the board's rows); restricted cases are shown only to their parties. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "supervision.h"

#define CASE_COLS "id, coalesce(item_id, 0), coalesce(leader_user, 0), supervisor_unit, lead_unit, created_by, " \
    "coalesce(escalated_at, 0), created_at, restricted, origin, source_kind, coalesce(source_ref, ''), " \
    "coalesce(source_record, ''), title, coalesce(leader, ''), original_text"

int sv_case_load(ym_plugin *self, int64_t id, sv_case *c)
{
    memset(c, 0, sizeof *c);
    ym_stmt *st = api->db_prepare(self, "SELECT " CASE_COLS " FROM supervision_cases WHERE id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int rc = api->db_step(st);
    if (rc == YM_ROW) {
        int64_t *ints[] = {&c->id, &c->item_id, &c->leader_user, &c->supervisor_unit, &c->lead_unit, &c->created_by,
                           &c->escalated_at, &c->created_at};
        for (int i = 0; i < 8; i++)
            *ints[i] = api->db_column_int(st, i);
        c->restricted = api->db_column_int(st, 8) != 0;
        snprintf(c->origin, sizeof c->origin, "%s", api->db_column_text(st, 9));
        snprintf(c->source_kind, sizeof c->source_kind, "%s", api->db_column_text(st, 10));
        snprintf(c->source_ref, sizeof c->source_ref, "%s", api->db_column_text(st, 11));
        snprintf(c->source_record, sizeof c->source_record, "%s", api->db_column_text(st, 12));
        snprintf(c->title, sizeof c->title, "%s", api->db_column_text(st, 13));
        snprintf(c->leader, sizeof c->leader, "%s", api->db_column_text(st, 14));
        const char *t = api->db_column_text(st, 15);
        c->original_text = t ? strdup(t) : NULL;
    }
    api->db_reset(st);
    return rc == YM_ROW ? 1 : rc == YM_DONE ? 0 : -1;
}

void sv_case_free(sv_case *c)
{
    free(c->original_text);
    c->original_text = NULL;
}

/* A party: the supervising side, the lead or a co-unit (handle or read there, or a member),
 * the leader, the one who took it in. */
bool sv_party(ym_request *r, ym_plugin *self, const sv_case *c)
{
    int64_t uid = api->req_user_id(r);
    if (uid == c->created_by || (c->leader_user && uid == c->leader_user) ||
        api->req_may(r, "supervision.manage", c->supervisor_unit) == 1 ||
        api->req_may(r, "supervision.read", c->supervisor_unit) == 1)
        return true;
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id FROM supervision_case_units WHERE case_id = ?1 ORDER BY unit_id");
    if (!st)
        return false;
    int64_t units[51];
    size_t n = 0;
    api->db_bind_int(st, 1, c->id);
    while (n < 51 && api->db_step(st) == YM_ROW)
        units[n++] = api->db_column_int(st, 0);
    api->db_reset(st);
    for (size_t i = 0; i < n; i++)
        if (units[i] == api->req_unit_id(r) || api->req_may(r, "supervision.handle", units[i]) == 1 ||
            api->req_may(r, "supervision.read", units[i]) == 1)
            return true;
    return false;
}

json_t *sv_item(ym_plugin *self, int64_t item_id)
{
    char *s = item_id ? api->item_get(self, item_id) : NULL;
    json_t *o = s ? json_loads(s, 0, NULL) : NULL;
    api->free(s);
    return o;
}

/* the engine's public view of a full item (docs/api/items.md, "What is public") */
static void publicise(json_t *item)
{
    json_object_del(item, "content");
    json_object_del(item, "record");
    json_object_del(item, "reports");
    json_object_del(item, "links");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(item, "extensions"), i, v) {
        json_object_del(v, "reason");
        json_object_del(v, "comment");
    }
    json_array_foreach(json_object_get(item, "timeline"), i, v)
        json_object_del(v, "detail");
    json_object_set_new(item, "view", json_string("public"));
}

static json_t *time_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char buf[40];
    api->time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *sv_case_json(ym_plugin *self, const sv_case *c, bool full)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:I,s:I,s:o,s:o}", "id", (json_int_t)c->id, "item_id",
                          (json_int_t)c->item_id, "origin", c->origin, "source_kind", c->source_kind, "title", c->title,
                          "restricted", c->restricted, "supervisor_unit", (json_int_t)c->supervisor_unit,
                          "lead_unit", (json_int_t)c->lead_unit, "escalated_at", time_or_null(c->escalated_at),
                          "created_at", time_or_null(c->created_at));
    json_object_set_new(o, "leader", c->leader[0] ? json_string(c->leader) : json_null());
    json_object_set_new(o, "leader_user", c->leader_user ? json_integer(c->leader_user) : json_null());
    json_object_set_new(o, "source_record", c->source_record[0] ? json_string(c->source_record) : json_null());
    if (full)
        json_object_set_new(o, "original_text", c->original_text ? json_string(c->original_text) : json_null());
    json_t *item = sv_item(self, c->item_id);
    if (item && !full)
        publicise(item);
    json_object_set_new(o, "item", item ? item : json_null());
    json_t *children = c->item_id ? sv_children_json(self, c->item_id) : NULL;
    json_object_set_new(o, "children", children ? children : json_array());
    json_object_set_new(o, "view", json_string(full ? "full" : "public"));
    return o;
}

int64_t sv_parse_id(const char *s)
{
    long long v;
    return s && strlen(s) <= 18 && *s != '-' && ym_parse_int(s, 0, INT64_MAX, &v) ? v : -1;
}

static void send_json(ym_request *r, int status, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        api->resp_json(r, status, s);
    else
        api->resp_error(r, 500, "internal", "cannot build the answer");
    free(s);
    json_decref(o);
}

/* GET /api/supervision/cases/:id: 404 for a restricted case to a non-party */
void sv_get_case(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = sv_parse_id(api->req_param(r, "id"));
    sv_case c;
    int rc = id > 0 ? sv_case_load(self, id, &c) : 0;
    if (rc < 0) {
        api->resp_error(r, 503, "storage_busy", "cannot read the case");
        return;
    }
    bool party = rc == 1 && sv_party(r, self, &c);
    if (rc == 0 || (c.restricted && !party)) {
        if (rc == 1)
            sv_case_free(&c);
        api->resp_error(r, 404, "not_found", "no such case");
        return;
    }
    json_t *o = sv_case_json(self, &c, party);
    if (o && party)
        sv_case_actions(r, self, &c, o);
    sv_case_free(&c);
    send_json(r, 200, o);
}

/* ---------------------------------------------------------------- the board */

static bool valid_colour(const char *s)
{
    static const char *const colours[] = {"green", "blue", "yellow", "orange", "red", NULL};
    for (size_t i = 0; colours[i]; i++)
        if (!strcmp(s, colours[i]))
            return true;
    return false;
}

/* The board reads its rows straight from SQL, one query per batch of cases: the case
 * row, the item's columns (core_v_items), the lead unit's name, whether a lag reason is
 * missing (core_v_item_lag) and the latest report (core_v_item_latest_report); then one
 * query each for the page's co-units (core_v_item_units) and lag reasons
 * (core_v_item_reasons). The shape is the one a case's item gives (docs/api/supervision.md). */
static const char *const LATE_NAMES[] = {"none", "behind", "overdue"};

static json_t *col_text(ym_stmt *st, int col)
{
    const char *s = api->db_column_type(st, col) == YM_NULL ? NULL : api->db_column_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *col_int(ym_stmt *st, int col)
{
    return api->db_column_type(st, col) == YM_NULL ? json_null() : json_integer(api->db_column_int(st, col));
}

static json_t *col_time(ym_stmt *st, int col)
{
    return api->db_column_type(st, col) == YM_NULL ? json_null() : time_or_null(api->db_column_int(st, col));
}

static const char *late_name(int64_t k) { return LATE_NAMES[k >= 0 && k <= 2 ? k : 0]; }

/* the columns of a page row (BOARD_PAGE) */
enum { B_ID, B_ITEM, B_LEADER_USER, B_SUPERVISOR, B_CREATED_BY, B_RESTRICTED, B_ORIGIN, B_SOURCE_KIND, B_TITLE,
       B_LEADER, B_STATE, B_COLOUR, B_LATE, B_ESCALATED, B_DEADLINE, B_LEAD, B_LEAD_NAME, B_LAG, B_R_ID, B_R_AT,
       B_R_UNIT, B_R_KIND, B_R_PERCENT, B_R_TEXT };

static json_t *board_row(ym_stmt *st)
{
    const char *leader = api->db_column_text(st, B_LEADER);
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:s,s:o,s:s,s:b,s:o,s:{s:I,s:o},s:b,s:[]}",
        "id", (json_int_t)api->db_column_int(st, B_ID), "item_id", (json_int_t)api->db_column_int(st, B_ITEM),
        "title", api->db_column_text(st, B_TITLE), "source_kind", api->db_column_text(st, B_SOURCE_KIND),
        "origin", api->db_column_text(st, B_ORIGIN), "restricted", api->db_column_int(st, B_RESTRICTED) != 0,
        "state", api->db_column_text(st, B_STATE), "colour", col_text(st, B_COLOUR),
        "late", late_name(api->db_column_int(st, B_LATE)), "escalated", api->db_column_int(st, B_ESCALATED) != 0,
        "deadline", col_text(st, B_DEADLINE), "lead_unit", "id", (json_int_t)api->db_column_int(st, B_LEAD),
        "name", col_text(st, B_LEAD_NAME), "lag_reason_required", api->db_column_int(st, B_LAG) != 0, "reasons");
    if (!o)
        return NULL;
    json_object_set_new(o, "leader", leader && *leader ? json_string(leader) : json_null());
    json_object_set_new(o, "co_units", json_array());
    /* the latest report: its time, unit, share done and text (no files) */
    json_object_set_new(o, "latest_report", api->db_column_type(st, B_R_ID) == YM_NULL ? json_null()
        : json_pack("{s:o,s:I,s:s,s:o,s:s}", "at", col_time(st, B_R_AT), "unit_id",
                    (json_int_t)api->db_column_int(st, B_R_UNIT), "kind", api->db_column_text(st, B_R_KIND),
                    "percent", col_int(st, B_R_PERCENT), "text", api->db_column_text(st, B_R_TEXT)));
    return o;
}

#define BOARD_SCAN_MAX 5000
#define BOARD_BATCH 200

/* The id query of the board, driven by the most selective index it has: a unit's cases
 * (supervision_case_units by unit, in case order), a colour's items (the core's index
 * of items by source, colour and id: item ids grow with case ids, one item per case),
 * or the cases newest first; k is its order. ?1 the case cursor, ?6 the item cursor (its
 * item id), ?7 the batch. The page query wraps it: the row's columns by primary keys. */
#define BOARD_FILTERS "AND (?2 = '' OR c.source_kind = ?2 OR c.origin = ?2) AND (?3 = '' OR c.leader = ?3) "
#define BOARD_PAGE(ids)                                                                                        \
    "SELECT c.id, c.item_id, coalesce(c.leader_user, 0), c.supervisor_unit, c.created_by, c.restricted, "     \
    "c.origin, c.source_kind, c.title, coalesce(c.leader, ''), i.state, i.colour, i.late_kind, i.escalated, " \
    "i.deadline, i.lead_unit, lu.name, coalesce(g.lag_reason_required, 0), lr.id, lr.created_at, "            \
    "lr.unit_id, lr.kind, lr.percent, lr.text FROM (" ids " LIMIT ?7) p "                                      \
    "JOIN supervision_cases c ON c.id = p.id JOIN core_v_items i ON i.id = c.item_id "                        \
    "LEFT JOIN core_v_units lu ON lu.id = i.lead_unit LEFT JOIN core_v_item_lag g ON g.item_id = i.id "      \
    "LEFT JOIN core_v_item_latest_report lr ON lr.item_id = i.id ORDER BY p.k DESC"
static const char *const BOARD_BY_UNIT = BOARD_PAGE(
    "SELECT c.id AS id, u.case_id AS k FROM supervision_case_units u JOIN supervision_cases c ON c.id = u.case_id "
    "JOIN core_v_items i ON i.id = c.item_id WHERE u.unit_id = ?4 AND u.case_id < ?1 " BOARD_FILTERS
    "AND (?5 = '' OR i.colour = ?5) ORDER BY u.case_id DESC");
static const char *const BOARD_BY_COLOUR = BOARD_PAGE(
    "SELECT c.id AS id, i.id AS k FROM core_v_items i JOIN supervision_cases c ON c.item_id = i.id "
    "WHERE i.source = 'supervision' AND i.colour = ?5 AND i.id < ?6 AND ?4 = 0 " BOARD_FILTERS
    "ORDER BY i.id DESC");
static const char *const BOARD_ALL = BOARD_PAGE(
    "SELECT c.id AS id, c.id AS k FROM supervision_cases c WHERE c.id < ?1 AND c.item_id IS NOT NULL AND ?4 = 0 "
    "AND ?5 = '' " BOARD_FILTERS "ORDER BY c.id DESC");

/* ?1..?100: the page's item ids (unused ones NULL) */
#define BOARD_IDS                                                                                               \
    "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,"  \
    "?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,?39,?40,?41,?42,?43,?44,?45,?46,?47,?48,?49,?50,?51,?52,?53,?54," \
    "?55,?56,?57,?58,?59,?60,?61,?62,?63,?64,?65,?66,?67,?68,?69,?70,?71,?72,?73,?74,?75,?76,?77,?78,?79,?80," \
    "?81,?82,?83,?84,?85,?86,?87,?88,?89,?90,?91,?92,?93,?94,?95,?96,?97,?98,?99,?100)"
#define BOARD_PAGE_MAX 100

/* The co-units and the lag reasons of the page's rows (items[k] has item ids[k]). 0, or -1. */
static int board_parts(ym_plugin *self, json_t *items, const int64_t *ids, size_t n)
{
    static const char *const sql[] = {
        "SELECT item_id, unit_id, unit_name FROM core_v_item_units WHERE role = 'co' AND item_id IN " BOARD_IDS
        " ORDER BY item_id, unit_id",
        "SELECT item_id, id, unit_id, unit_name, user_id, category, text, late_kind, created_at "
        "FROM core_v_item_reasons WHERE item_id IN " BOARD_IDS " ORDER BY item_id, id"};
    for (int q = 0; q < 2 && n; q++) {
        ym_stmt *st = api->db_prepare(self, sql[q]);
        if (!st)
            return -1;
        for (int i = 0; i < BOARD_PAGE_MAX; i++)
            if ((size_t)i < n)
                api->db_bind_int(st, i + 1, ids[i]);
            else
                api->db_bind_null(st, i + 1);
        int rc;
        size_t k = 0;
        while ((rc = api->db_step(st)) == YM_ROW) {
            int64_t item = api->db_column_int(st, 0);
            if (ids[k % n] != item)
                for (k = 0; k < n && ids[k] != item; k++)
                    ;
            if (k == n) {
                k = 0;
                continue;
            }
            json_t *row = json_array_get(items, k), *v;
            if (q == 0)
                v = json_pack("{s:I,s:o}", "id", (json_int_t)api->db_column_int(st, 1), "name", col_text(st, 2));
            else
                v = json_pack("{s:I,s:I,s:o,s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)api->db_column_int(st, 1),
                              "unit_id", (json_int_t)api->db_column_int(st, 2), "unit_name", col_text(st, 3),
                              "user_id", (json_int_t)api->db_column_int(st, 4), "category",
                              api->db_column_text(st, 5), "text", api->db_column_text(st, 6), "late",
                              late_name(api->db_column_int(st, 7)), "created_at", col_time(st, 8));
            json_array_append_new(json_object_get(row, q == 0 ? "co_units" : "reasons"), v);
        }
        api->db_reset(st);
        if (rc != YM_DONE)
            return -1;
    }
    return 0;
}

/* The item id of case id (the colour query's cursor); INT64_MAX for none. */
static int64_t item_cursor(ym_plugin *self, int64_t case_id)
{
    if (!case_id)
        return INT64_MAX;
    ym_stmt *st = api->db_prepare(self, "SELECT coalesce(item_id, 0) FROM supervision_cases WHERE id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, case_id);
    int64_t v = api->db_step(st) == YM_ROW ? api->db_column_int(st, 0) : 0;
    api->db_reset(st);
    return v;
}

/* May the requester see this row? Withdrawn: no one; restricted: its parties; a draft:
 * the supervising office and the one who took it in. */
static bool board_visible(ym_request *r, ym_plugin *self, ym_stmt *st)
{
    const char *state = api->db_column_text(st, B_STATE);
    if (!state || !strcmp(state, "withdrawn"))
        return false;
    bool restricted = api->db_column_int(st, B_RESTRICTED) != 0;
    if (!restricted && strcmp(state, "draft"))
        return true;
    sv_case c;
    memset(&c, 0, sizeof c);
    c.id = api->db_column_int(st, B_ID);
    c.item_id = api->db_column_int(st, B_ITEM);
    c.leader_user = api->db_column_int(st, B_LEADER_USER);
    c.supervisor_unit = api->db_column_int(st, B_SUPERVISOR);
    c.created_by = api->db_column_int(st, B_CREATED_BY);
    c.restricted = restricted;
    return restricted ? sv_party(r, self, &c)
                      : api->req_may(r, "supervision.manage", c.supervisor_unit) == 1 ||
                            api->req_user_id(r) == c.created_by;
}

/* GET /api/supervision/board?source=&unit=&leader=&colour=&limit=&after= */
void sv_board(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    const char *source = api->req_query(r, "source"), *unit_s = api->req_query(r, "unit");
    const char *leader = api->req_query(r, "leader"), *colour = api->req_query(r, "colour");
    const char *limit_s = api->req_query(r, "limit"), *after_s = api->req_query(r, "after");
    int64_t unit = unit_s ? sv_parse_id(unit_s) : 0, after = after_s ? sv_parse_id(after_s) : 0;
    int64_t limit = limit_s ? sv_parse_id(limit_s) : 20;
    if (unit < 0 || (unit_s && unit == 0)) {
        api->resp_invalid(r, "unit", "a unit id");
        return;
    }
    if (after < 0) {
        api->resp_invalid(r, "after", "the next of the previous page");
        return;
    }
    if (limit < 1 || limit > BOARD_PAGE_MAX) {
        api->resp_invalid(r, "limit", "1 to 100");
        return;
    }
    if (colour && !valid_colour(colour)) {
        api->resp_invalid(r, "colour", "green, blue, yellow, orange or red");
        return;
    }
    if (source && strlen(source) > 32) {
        api->resp_invalid(r, "source", "a source kind or origin");
        return;
    }
    json_t *items = json_array();
    int64_t cursor = after, scanned = 0, next = 0, item_ids[BOARD_PAGE_MAX];
    size_t shown = 0;
    bool more = true, failed = false;
    while (!failed && more && (int64_t)shown < limit && scanned < BOARD_SCAN_MAX) {
        /* every filter in SQL; a batch a little larger than what the page still needs,
         * for the rows the requester may not see */
        int64_t batch = limit - (int64_t)shown + 10, n = 0;
        batch = batch > BOARD_BATCH ? BOARD_BATCH : batch;
        int64_t icur = unit || !colour ? INT64_MAX : item_cursor(self, cursor);
        ym_stmt *st = icur < 0 ? NULL : api->db_prepare(self, unit ? BOARD_BY_UNIT : colour ? BOARD_BY_COLOUR : BOARD_ALL);
        if (!st) {
            failed = true;
            break;
        }
        api->db_bind_int(st, 1, cursor ? cursor : INT64_MAX);
        api->db_bind_int(st, 6, icur);
        api->db_bind_text(st, 2, source ? source : "");
        api->db_bind_text(st, 3, leader ? leader : "");
        api->db_bind_int(st, 4, unit);
        api->db_bind_text(st, 5, colour ? colour : "");
        api->db_bind_int(st, 7, batch);
        int rc;
        bool extra = false; /* a row after a full page: there is a next page */
        while ((rc = api->db_step(st)) == YM_ROW) {
            if ((int64_t)shown == limit) {
                extra = true;
                break;
            }
            n++;
            scanned++;
            cursor = api->db_column_int(st, B_ID);
            if (!board_visible(r, self, st))
                continue;
            json_t *row = board_row(st);
            if (!row) {
                failed = true;
                break;
            }
            item_ids[shown++] = api->db_column_int(st, B_ITEM);
            json_array_append_new(items, row);
        }
        if (!extra && !failed && rc != YM_DONE)
            failed = true;
        else if (!extra && n < batch) { /* a short batch: nothing after it */
            more = false;
            cursor = 0;
        }
        api->db_reset(st);
    }
    if (failed || board_parts(self, items, item_ids, shown) < 0) {
        json_decref(items);
        api->resp_error(r, 503, "storage_busy", "cannot read the cases");
        return;
    }
    /* next: after a full page, or where a long filtered scan stopped */
    if ((int64_t)shown == limit || (more && scanned >= BOARD_SCAN_MAX))
        next = cursor;
    json_t *o = json_pack("{s:o}", "items", items);
    json_object_set_new(o, "next", next ? json_integer(next) : json_null());
    send_json(r, 200, o);
}

/* ---------------------------------------------------------------- the league */

void sv_today(char out[11])
{
    char buf[40];
    api->time_format(api->now(), buf, sizeof buf);
    snprintf(out, 11, "%.10s", buf);
}

typedef struct tally {
    int64_t unit;
    char name[200];
    int64_t items, on_time, overdue, red, closed;
    double close_days;
} tally;

/* one item: deadline, completed_at, closed_at, assigned_at, worst_colour, escalated from
 * columns 2..7 of the league query (times in ms, 0 when not yet) */
static void tally_add(tally *t, ym_stmt *st, int64_t now)
{
    int64_t end = api->date_end_ms(api->db_column_text(st, 2));
    int64_t completed = api->db_column_int(st, 3);
    t->items++;
    t->on_time += completed && completed <= end;
    t->overdue += completed ? completed > end : now > end;
    const char *worst = api->db_column_text(st, 6);
    t->red += (worst && !strcmp(worst, "red")) || api->db_column_int(st, 7) != 0;
    int64_t closed = api->db_column_int(st, 4), assigned = api->db_column_int(st, 5);
    if (closed && assigned) {
        t->closed++;
        t->close_days += (double)(closed - assigned) / 86400000.0;
    }
}

static json_t *tally_json(const tally *t)
{
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "items", (json_int_t)t->items, "completed_on_time",
                          (json_int_t)t->on_time, "overdue", (json_int_t)t->overdue, "red", (json_int_t)t->red,
                          "closed", (json_int_t)t->closed);
    int64_t judged = t->on_time + t->overdue;
    json_object_set_new(o, "on_time_rate", judged ? json_real((double)t->on_time / (double)judged) : json_null());
    json_object_set_new(o, "mean_days_to_close",
                        t->closed ? json_real(round(t->close_days / (double)t->closed * 100.0) / 100.0) : json_null());
    if (t->unit)
        json_object_set_new(o, "unit", json_pack("{s:I,s:s}", "id", (json_int_t)t->unit, "name", t->name));
    return o;
}

/* league order: on-time rate (none last), then fewer red, fewer overdue, then unit id */
static int league_cmp(const void *a, const void *b)
{
    const tally *x = a, *y = b;
    int64_t jx = x->on_time + x->overdue, jy = y->on_time + y->overdue;
    if (!jx != !jy)
        return jx ? -1 : 1;
    if (jx) {
        double rx = (double)x->on_time / (double)jx, ry = (double)y->on_time / (double)jy;
        if (rx != ry)
            return rx > ry ? -1 : 1;
    }
    if (x->red != y->red)
        return x->red < y->red ? -1 : 1;
    if (x->overdue != y->overdue)
        return x->overdue < y->overdue ? -1 : 1;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* Cases (not draft or returned) whose deadline falls in from..to, per lead unit: the
 * engine's statistics (docs/api/items.md) over this plugin's cases only. */
json_t *sv_league_json(ym_plugin *self, const char *from, const char *to)
{
    /* the items of this plugin's cases, read through the core's view core_v_items */
    ym_stmt *st = api->db_prepare(self,
        "SELECT i.lead_unit, coalesce(u.name, ''), i.deadline, coalesce(i.completed_at, 0), coalesce(i.closed_at, 0), "
        "coalesce(i.assigned_at, 0), i.worst_colour, i.escalated FROM supervision_cases c "
        "JOIN core_v_items i ON i.id = c.item_id AND i.source = 'supervision' "
        "LEFT JOIN core_v_units u ON u.id = i.lead_unit WHERE i.state NOT IN ('draft', 'returned', 'withdrawn') "
        "AND i.deadline IS NOT NULL AND i.deadline BETWEEN ?1 AND ?2 ORDER BY c.id");
    if (!st)
        return NULL;
    api->db_bind_text(st, 1, from);
    api->db_bind_text(st, 2, to);
    int64_t now = api->now();
    tally total = {0}, *units = NULL;
    size_t nu = 0;
    int rc;
    bool bad = false;
    while (!bad && (rc = api->db_step(st)) == YM_ROW) {
        int64_t u = api->db_column_int(st, 0);
        size_t k = 0;
        while (k < nu && units[k].unit != u)
            k++;
        if (k == nu) {
            tally *more = realloc(units, (nu + 1) * sizeof *units);
            if (!more) {
                bad = true;
                break;
            }
            units = more;
            memset(&units[nu], 0, sizeof *units);
            units[nu].unit = u;
            snprintf(units[nu].name, sizeof units[nu].name, "%s", api->db_column_text(st, 1));
            nu++;
        }
        tally_add(&units[k], st, now);
        tally_add(&total, st, now);
    }
    api->db_reset(st);
    if (bad || rc != YM_DONE) {
        free(units);
        return NULL;
    }
    if (nu)
        qsort(units, nu, sizeof *units, league_cmp);
    json_t *arr = json_array();
    for (size_t k = 0; k < nu; k++) {
        json_t *row = tally_json(&units[k]);
        json_object_set_new(row, "rank", json_integer((json_int_t)k + 1));
        json_array_append_new(arr, row);
    }
    free(units);
    return json_pack("{s:s,s:s,s:o,s:o}", "from", from, "to", to, "totals", tally_json(&total), "units", arr);
}

static bool is_date(const char *s)
{
    return s && strlen(s) == 10 && api->date_is_working_day(s) >= 0;
}

/* GET /api/supervision/league?from=&to= (dates; default January 1st of this year to today) */
void sv_league(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    char today[11], jan1[11];
    sv_today(today);
    snprintf(jan1, sizeof jan1, "%.4s-01-01", today);
    const char *from = api->req_query(r, "from"), *to = api->req_query(r, "to");
    if (from && !is_date(from)) {
        api->resp_invalid(r, "from", "expected YYYY-MM-DD");
        return;
    }
    if (to && !is_date(to)) {
        api->resp_invalid(r, "to", "expected YYYY-MM-DD");
        return;
    }
    from = from ? from : jan1;
    to = to ? to : today;
    if (strcmp(from, to) > 0) {
        api->resp_invalid(r, "from", "from must not be after to");
        return;
    }
    json_t *o = sv_league_json(self, from, to);
    if (!o) {
        api->resp_error(r, 503, "storage_busy", "cannot read the cases");
        return;
    }
    send_json(r, 200, o);
}
