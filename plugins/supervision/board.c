/* Reading: one case, the public board (全员督查) and the per-unit league table. The
 * colour, state, reports and lag reasons are the engine's (item_get); restricted cases
 * are shown only to their parties. */
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

static int64_t parse_id(const char *s)
{
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return atoll(s);
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
    int64_t id = parse_id(api->req_param(r, "id"));
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

static json_t *board_row(const sv_case *c, json_t *item)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:b,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "id", (json_int_t)c->id,
        "item_id", (json_int_t)c->item_id, "title", c->title, "source_kind", c->source_kind, "origin", c->origin,
        "restricted", c->restricted, "state", json_object_get(item, "state"), "colour", json_object_get(item, "colour"),
        "late", json_object_get(item, "late"), "escalated", json_object_get(item, "escalated"),
        "deadline", json_object_get(item, "deadline"), "lead_unit", json_object_get(item, "lead_unit"),
        "lag_reason_required", json_object_get(item, "lag_reason_required"), "reasons", json_object_get(item, "reasons"));
    json_object_set_new(o, "leader", c->leader[0] ? json_string(c->leader) : json_null());
    json_t *co = json_array(), *u;
    size_t i;
    json_array_foreach(json_object_get(item, "units"), i, u)
        if (json_is_string(json_object_get(u, "role")) && !strcmp(json_string_value(json_object_get(u, "role")), "co"))
            json_array_append_new(co, json_pack("{s:O,s:O}", "id", json_object_get(u, "id"), "name", json_object_get(u, "name")));
    json_object_set_new(o, "co_units", co);
    /* the latest report: its time, unit, share done and text (no files) */
    json_t *reports = json_object_get(item, "reports");
    json_t *last = json_array_size(reports) ? json_array_get(reports, json_array_size(reports) - 1) : NULL;
    json_object_set_new(o, "latest_report", last ? json_pack("{s:O,s:O,s:O,s:O,s:O}", "at", json_object_get(last, "created_at"),
        "unit_id", json_object_get(last, "unit_id"), "kind", json_object_get(last, "kind"), "percent",
        json_object_get(last, "percent"), "text", json_object_get(last, "text")) : json_null());
    return o;
}

#define BOARD_SCAN_MAX 5000

/* The id query of the board, driven by the most selective index it has: a unit's cases
 * (supervision_case_units by unit, in case order), a colour's items (the core's index
 * of items by source, colour and id: item ids grow with case ids, one item per case),
 * or the cases newest first. ?1 the case cursor, ?6 the item cursor (its item id). */
#define BOARD_FILTERS "AND (?2 = '' OR c.source_kind = ?2 OR c.origin = ?2) AND (?3 = '' OR c.leader = ?3) "
static const char *const BOARD_BY_UNIT =
    "SELECT c.id FROM supervision_case_units u JOIN supervision_cases c ON c.id = u.case_id "
    "JOIN core_v_items i ON i.id = c.item_id WHERE u.unit_id = ?4 AND u.case_id < ?1 " BOARD_FILTERS
    "AND (?5 = '' OR i.colour = ?5) ORDER BY u.case_id DESC LIMIT 200";
static const char *const BOARD_BY_COLOUR =
    "SELECT c.id FROM core_v_items i JOIN supervision_cases c ON c.item_id = i.id "
    "WHERE i.source = 'supervision' AND i.colour = ?5 AND i.id < ?6 AND ?4 = 0 " BOARD_FILTERS
    "ORDER BY i.id DESC LIMIT 200";
static const char *const BOARD_ALL =
    "SELECT c.id FROM supervision_cases c WHERE c.id < ?1 AND c.item_id IS NOT NULL AND ?4 = 0 AND ?5 = '' "
    BOARD_FILTERS "ORDER BY c.id DESC LIMIT 200";

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

/* GET /api/supervision/board?source=&unit=&leader=&colour=&limit=&after= */
void sv_board(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    const char *source = api->req_query(r, "source"), *unit_s = api->req_query(r, "unit");
    const char *leader = api->req_query(r, "leader"), *colour = api->req_query(r, "colour");
    const char *limit_s = api->req_query(r, "limit"), *after_s = api->req_query(r, "after");
    int64_t unit = unit_s ? parse_id(unit_s) : 0, after = after_s ? parse_id(after_s) : 0;
    int64_t limit = limit_s ? parse_id(limit_s) : 20;
    if (unit < 0 || (unit_s && unit == 0)) {
        api->resp_invalid(r, "unit", "a unit id");
        return;
    }
    if (after < 0) {
        api->resp_invalid(r, "after", "the next of the previous page");
        return;
    }
    if (limit < 1 || limit > 100) {
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
    int64_t cursor = after, scanned = 0, next = 0;
    bool more = true;
    while (more && (int64_t)json_array_size(items) < limit && scanned < BOARD_SCAN_MAX) {
        /* filters in SQL, so that only cases that will show cost an item_get */
        int64_t icur = unit || !colour ? INT64_MAX : item_cursor(self, cursor);
        ym_stmt *st = icur < 0 ? NULL : api->db_prepare(self, unit ? BOARD_BY_UNIT : colour ? BOARD_BY_COLOUR : BOARD_ALL);
        if (!st) {
            json_decref(items);
            api->resp_error(r, 503, "storage_busy", "cannot read the cases");
            return;
        }
        api->db_bind_int(st, 1, cursor ? cursor : INT64_MAX);
        api->db_bind_int(st, 6, icur);
        api->db_bind_text(st, 2, source ? source : "");
        api->db_bind_text(st, 3, leader ? leader : "");
        api->db_bind_int(st, 4, unit);
        api->db_bind_text(st, 5, colour ? colour : "");
        int64_t ids[200];
        size_t n = 0;
        while (n < 200 && api->db_step(st) == YM_ROW)
            ids[n++] = api->db_column_int(st, 0);
        api->db_reset(st);
        more = n == 200;
        for (size_t i = 0; i < n && (int64_t)json_array_size(items) < limit; i++) {
            cursor = ids[i];
            scanned++;
            sv_case c;
            if (sv_case_load(self, ids[i], &c) != 1)
                continue;
            json_t *item = sv_item(self, c.item_id);
            const char *state = json_string_value(json_object_get(item, "state"));
            const char *col = json_string_value(json_object_get(item, "colour"));
            bool show = item && (!colour || (col && !strcmp(col, colour))) && !(state && !strcmp(state, "withdrawn"));
            if (show && (c.restricted || (state && !strcmp(state, "draft"))))
                show = c.restricted ? sv_party(r, self, &c)
                                    : api->req_may(r, "supervision.manage", c.supervisor_unit) == 1 ||
                                          api->req_user_id(r) == c.created_by;
            if (show)
                json_array_append_new(items, board_row(&c, item));
            json_decref(item);
            sv_case_free(&c);
            if (i + 1 == n && !more)
                cursor = 0;
        }
        if (n < 200 && (int64_t)json_array_size(items) < limit)
            more = false;
    }
    /* next: after a full page, or where a long filtered scan stopped */
    if ((int64_t)json_array_size(items) == limit || (more && scanned >= BOARD_SCAN_MAX))
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
