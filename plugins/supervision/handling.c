/* Handling by the lead unit: decomposition (分解) of a case into child cases for the
 * departments or townships under the lead unit, and the return (退回) of an assigned
 * case with a reason, within return_workdays working days of its assignment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "supervision.h"

static void send_case(ym_request *r, ym_plugin *self, int64_t id, int status)
{
    sv_case c;
    json_t *o = sv_case_load(self, id, &c) == 1 ? sv_case_json(self, &c, true) : NULL;
    if (o)
        sv_case_free(&c);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        api->resp_json(r, status, s);
    else
        api->resp_error(r, 500, "internal", "cannot read the case back");
    free(s);
    json_decref(o);
}

/* The case of :id for the lead unit's handling: 404 (unknown, or restricted and not a
 * party), 403 (not the lead unit's handler); the item's state, deadline and assignment
 * time. true when c was loaded and may be acted on (free it). */
typedef struct item_facts {
    char state[16], deadline[11], return_until[11];
    int64_t assigned_at;
} item_facts;

/* The last day of the return window into last: the engine's (return_until, set at
 * assignment from the case's return_workdays); for a case assigned before the engine
 * kept it, return_workdays working days from the day of assignment. 0, or -1. */
static int window_last(const char *return_until, int64_t assigned_at, char last[11])
{
    if (return_until && *return_until) {
        snprintf(last, 11, "%s", return_until);
        return 0;
    }
    char when[40], day[11];
    api->time_format(assigned_at, when, sizeof when);
    snprintf(day, sizeof day, "%.10s", when);
    return api->date_add_working_days(day, sv_cfg.return_workdays, last);
}

static bool lead_case(ym_request *r, ym_plugin *self, sv_case *c, item_facts *f, const char *what)
{
    int64_t id = sv_parse_id(api->req_param(r, "id"));
    int rc = id > 0 ? sv_case_load(self, id, c) : 0;
    if (rc < 0) {
        api->resp_error(r, 503, "storage_busy", "cannot read the case");
        return false;
    }
    if (rc == 0 || (c->restricted && !sv_party(r, self, c))) {
        if (rc == 1)
            sv_case_free(c);
        api->resp_error(r, 404, "not_found", "no such case");
        return false;
    }
    if (api->req_may(r, "supervision.handle", c->lead_unit) != 1) {
        char msg[160];
        snprintf(msg, sizeof msg, "only the lead unit's handlers (supervision.handle) may %s this case", what);
        sv_case_free(c);
        api->resp_error(r, 403, "forbidden", msg);
        return false;
    }
    ym_stmt *st = api->db_prepare(self, "SELECT state, coalesce(deadline, ''), coalesce(assigned_at, 0), "
                                        "coalesce(return_until, '') FROM core_v_items WHERE id = ?1");
    rc = st ? (api->db_bind_int(st, 1, c->item_id), api->db_step(st)) : -1;
    if (rc == YM_ROW) {
        snprintf(f->state, sizeof f->state, "%s", api->db_column_text(st, 0));
        snprintf(f->deadline, sizeof f->deadline, "%s", api->db_column_text(st, 1));
        f->assigned_at = api->db_column_int(st, 2);
        snprintf(f->return_until, sizeof f->return_until, "%s", api->db_column_text(st, 3));
    }
    if (st)
        api->db_reset(st);
    if (rc != YM_ROW) {
        sv_case_free(c);
        api->resp_error(r, 503, "storage_busy", "cannot read the case's item");
        return false;
    }
    return true;
}

static json_t *json_body(ym_request *r)
{
    if (!api->req_json_ok(r))
        return NULL;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        api->resp_invalid(r, "", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

static bool only_keys(ym_request *r, json_t *body, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k))
            i++;
        if (!keys[i]) {
            api->resp_invalid(r, k, "unknown field");
            return false;
        }
    }
    return true;
}

/* Is unit a unit under lead (its subtree, not lead itself)? 1, 0, -1 error. */
static int under(ym_plugin *self, int64_t lead, int64_t unit)
{
    ym_stmt *st = api->db_prepare(self,
        "SELECT 1 FROM core_v_units c JOIN core_v_units p ON p.id = ?1 WHERE c.id = ?2 AND c.id != p.id "
        "AND c.active AND substr(c.path, 1, length(p.path)) = p.path");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, lead);
    api->db_bind_int(st, 2, unit);
    int rc = api->db_step(st);
    api->db_reset(st);
    return rc == YM_ROW ? 1 : rc == YM_DONE ? 0 : -1;
}

/* ---------------------------------------------------------------- decomposition */

/* The body of a child case into n; answers 400 itself and returns false. */
static bool child_body(ym_request *r, ym_plugin *self, json_t *body, const sv_case *parent, const item_facts *f,
                       sv_new *n, char *title, size_t tlen)
{
    static const char *const keys[] = {"lead_unit", "co_units", "title", "text", "deadline", "report_cycle", NULL};
    if (!only_keys(r, body, keys))
        return false;
#define BAD(fl, m) do { api->resp_invalid(r, fl, m); return false; } while (0)
    json_t *v = json_object_get(body, "lead_unit");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        BAD("lead_unit", "a unit id is required");
    n->lead_unit = json_integer_value(v);
    int rc = under(self, parent->lead_unit, n->lead_unit);
    if (rc < 0) {
        api->resp_error(r, 503, "storage_busy", "cannot read the units");
        return false;
    }
    if (rc == 0)
        BAD("lead_unit", "must be a department or township under the parent case's lead unit");
    const char *why = sv_take_co_units(json_object_get(body, "co_units"), n);
    if (why)
        BAD("co_units", why);
    for (size_t k = 0; k < n->nco; k++) {
        rc = under(self, parent->lead_unit, n->co[k]);
        if (rc < 0) {
            api->resp_error(r, 503, "storage_busy", "cannot read the units");
            return false;
        }
        if (rc == 0)
            BAD("co_units", "each must be a unit under the parent case's lead unit");
    }
    v = json_object_get(body, "text");
    if (v && (!json_is_string(v) || !json_string_length(v) || ym_utf8_len(json_string_value(v)) > 10000))
        BAD("text", "1 to 10000 characters");
    n->text = v ? json_string_value(v) : parent->original_text ? parent->original_text : parent->title;
    v = json_object_get(body, "title");
    if (v) {
        const char *t = json_string_value(v);
        if (!t || !*t || ym_utf8_len(t) > 200 || strpbrk(t, "\r\n"))
            BAD("title", "1 to 200 characters on one line");
        snprintf(title, tlen, "%s", t);
    } else {
        char head[600];
        sv_clip(parent->title, 190, head, sizeof head);
        snprintf(title, tlen, "%s（分解）", head);
    }
    n->title = title;
    v = json_object_get(body, "deadline");
    const char *dl = json_string_value(v);
    if (v && (!dl || strlen(dl) != 10 || api->date_is_working_day(dl) < 0))
        BAD("deadline", "expected YYYY-MM-DD");
    if (!dl && !f->deadline[0])
        BAD("deadline", "the parent case has no deadline yet: give one");
    if (dl && f->deadline[0] && strcmp(dl, f->deadline) > 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "must not be later than the parent case's deadline %s", f->deadline);
        BAD("deadline", msg);
    }
    n->deadline = dl ? dl : f->deadline;
    v = json_object_get(body, "report_cycle");
    if (v && !json_is_string(v))
        BAD("report_cycle", "expected \"weekly\" or \"monthly N\"");
    n->report_cycle = json_string_value(v);
#undef BAD
    return true;
}

/* POST /api/supervision/cases/:id/children */
void sv_decompose(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    sv_case parent;
    item_facts f = {{0}, {0}, {0}, 0};
    if (!lead_case(r, self, &parent, &f, "decompose"))
        return;
    json_t *body = json_body(r);
    char title[640], record[48];
    sv_new n = {0};
    if (!body || !child_body(r, self, body, &parent, &f, &n, title, sizeof title)) {
        json_decref(body);
        sv_case_free(&parent);
        return;
    }
    if (strcmp(f.state, "accepted") && strcmp(f.state, "in_progress")) {
        char msg[160];
        snprintf(msg, sizeof msg, "only an accepted or in-progress case can be decomposed (it is %s)", f.state);
        api->resp_error(r, 409, "wrong_state", msg);
        json_decref(body);
        sv_case_free(&parent);
        return;
    }
    snprintf(record, sizeof record, "supervision_cases:%lld", (long long)parent.id);
    n.origin = "decomposed";
    n.source_kind = parent.source_kind;
    n.source_record = record;
    n.parent_item = parent.item_id;
    n.leader = parent.leader[0] ? parent.leader : NULL;
    n.leader_user = parent.leader_user;
    n.supervisor_unit = parent.lead_unit;
    n.restricted = parent.restricted;
    n.assign = true;
    n.by_user = api->req_user_id(r);
    api->db_write_begin(self);
    int64_t id = sv_case_create(self, &n), rc = id;
    char target[48], *args = NULL;
    snprintf(target, sizeof target, "supervision_cases:%lld", (long long)id);
    if (id > 0) { /* the parent's timeline shows the child */
        json_t *a = json_pack("{s:s}", "record", target);
        args = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        rc = args ? api->item_act(self, parent.item_id, "link", n.by_user, args) : YM_E_DB;
    }
    int ok = id > 0 && rc >= 0 && api->audit(r, "supervision.decompose", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    free(args);
    json_decref(body);
    sv_case_free(&parent);
    if (!ok) {
        sv_engine_error(r, self, rc < 0 ? rc : YM_E_DB);
        return;
    }
    send_case(r, self, id, 201);
}

/* The children of a case's item: id, title, lead unit, state, colour, lateness, deadline. */
json_t *sv_children_json(ym_plugin *self, int64_t item_id)
{
    ym_stmt *st = api->db_prepare(self,
        "SELECT c.id, c.item_id, c.title, c.lead_unit, coalesce(u.name, ''), i.state, i.colour, i.late_kind, "
        "i.deadline FROM core_v_items i JOIN supervision_cases c ON c.item_id = i.id "
        "LEFT JOIN core_v_units u ON u.id = c.lead_unit WHERE i.parent_id = ?1 AND i.source = 'supervision' "
        "ORDER BY c.id");
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, item_id);
    json_t *out = json_array();
    static const char *const late[] = {"none", "behind", "overdue"};
    while (api->db_step(st) == YM_ROW) {
        const char *colour = api->db_column_text(st, 6), *dl = api->db_column_text(st, 8);
        int64_t lk = api->db_column_int(st, 7);
        json_array_append_new(out, json_pack("{s:I,s:I,s:s,s:{s:I,s:s},s:s,s:o,s:s,s:o}",
            "id", (json_int_t)api->db_column_int(st, 0), "item_id", (json_int_t)api->db_column_int(st, 1),
            "title", api->db_column_text(st, 2), "lead_unit", "id", (json_int_t)api->db_column_int(st, 3), "name",
            api->db_column_text(st, 4), "state", api->db_column_text(st, 5),
            "colour", colour ? json_string(colour) : json_null(), "late", late[lk >= 0 && lk <= 2 ? lk : 0],
            "deadline", dl ? json_string(dl) : json_null()));
    }
    api->db_reset(st);
    return out;
}

/* What the requester may do to the case here (the case page's forms): {"decompose",
 * "return", "return_until"} and, when decompose, the units under the lead unit. */
void sv_case_actions(ym_request *r, ym_plugin *self, const sv_case *c, json_t *o)
{
    json_t *item = json_object_get(o, "item");
    const char *state = json_string_value(json_object_get(item, "state"));
    bool handler = state && api->req_may(r, "supervision.handle", c->lead_unit) == 1;
    bool decompose = handler && (!strcmp(state, "accepted") || !strcmp(state, "in_progress"));
    bool ret = handler && !strcmp(state, "assigned");
    json_t *until = json_null();
    int64_t assigned = 0;
    char window[11] = "";
    ym_stmt *st = ret ? api->db_prepare(self, "SELECT coalesce(assigned_at, 0), coalesce(return_until, '') "
                                              "FROM core_v_items WHERE id = ?1") : NULL;
    if (st) {
        api->db_bind_int(st, 1, c->item_id);
        if (api->db_step(st) == YM_ROW) {
            assigned = api->db_column_int(st, 0);
            snprintf(window, sizeof window, "%s", api->db_column_text(st, 1));
        }
        api->db_reset(st);
    }
    if (assigned) {
        char last[11], today[11];
        sv_today(today);
        if (window_last(window, assigned, last) == 0) {
            until = json_string(last);
            ret = strcmp(today, last) <= 0;
        }
    }
    json_object_set_new(o, "actions", json_pack("{s:b,s:b,s:o}", "decompose", decompose, "return", ret,
                                                "return_until", until));
    if (!decompose)
        return;
    json_t *units = json_array();
    st = api->db_prepare(self, "SELECT c.id, c.name FROM core_v_units c JOIN core_v_units p ON p.id = ?1 "
                               "WHERE c.id != p.id AND c.active AND substr(c.path, 1, length(p.path)) = p.path "
                               "ORDER BY c.path LIMIT 500");
    if (st) {
        api->db_bind_int(st, 1, c->lead_unit);
        while (api->db_step(st) == YM_ROW)
            json_array_append_new(units, json_pack("{s:I,s:s}", "id", (json_int_t)api->db_column_int(st, 0), "name",
                                                   api->db_column_text(st, 1)));
        api->db_reset(st);
    }
    json_object_set_new(o, "subunits", units);
}

/* ---------------------------------------------------------------- return */

/* POST /api/supervision/cases/:id/return {reason} */
void sv_return_case(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    sv_case c;
    item_facts f = {{0}, {0}, {0}, 0};
    if (!lead_case(r, self, &c, &f, "return"))
        return;
    json_t *body = json_body(r);
    static const char *const keys[] = {"reason", NULL};
    if (!body || !only_keys(r, body, keys)) {
        json_decref(body);
        sv_case_free(&c);
        return;
    }
    const char *reason = json_string_value(json_object_get(body, "reason"));
    int64_t id = c.id, item = c.item_id;
    sv_case_free(&c);
    if (!reason || !*reason || ym_utf8_len(reason) > 2000) {
        json_decref(body);
        api->resp_invalid(r, "reason", "the reason for returning, 1 to 2000 characters, is required");
        return;
    }
    if (strcmp(f.state, "assigned") || !f.assigned_at) {
        char msg[160];
        snprintf(msg, sizeof msg, "only an assigned case (not yet accepted) can be returned (it is %s)", f.state);
        json_decref(body);
        api->resp_error(r, 409, "wrong_state", msg);
        return;
    }
    /* the window: through the N-th working day after the day of assignment. The engine
     * keeps it (return_until) and refuses through item_act; a case assigned before it
     * did is checked here. */
    char when[40], assigned[11], last[11], today[11];
    api->time_format(f.assigned_at, when, sizeof when);
    snprintf(assigned, sizeof assigned, "%.10s", when);
    sv_today(today);
    if (window_last(f.return_until, f.assigned_at, last) < 0) {
        json_decref(body);
        api->resp_error(r, 500, "internal", "cannot count working days");
        return;
    }
    if (!f.return_until[0] && strcmp(today, last) > 0) {
        char msg[240];
        snprintf(msg, sizeof msg, "a case can be returned only within %d working days of its assignment on %s "
                 "(by %s); ask the supervising office instead", sv_cfg.return_workdays, assigned, last);
        json_decref(body);
        api->resp_error(r, 409, "return_window_closed", msg);
        return;
    }
    json_t *a = json_pack("{s:s}", "reason", reason);
    char *args = json_dumps(a, JSON_COMPACT), target[48];
    json_decref(a);
    json_decref(body);
    snprintf(target, sizeof target, "supervision_cases:%lld", (long long)id);
    api->db_write_begin(self);
    int64_t rc = args ? api->item_act(self, item, "return", api->req_user_id(r), args) : YM_E_DB;
    int ok = rc >= 0 && api->audit(r, "supervision.return", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    free(args);
    if (rc == YM_E_STATE && strcmp(today, last) > 0) { /* the engine's refusal after the window */
        api->resp_error(r, 409, "return_window_closed", api->error(self) ? api->error(self) : "the window closed");
        return;
    }
    if (!ok) {
        sv_engine_error(r, self, rc < 0 ? rc : YM_E_DB);
        return;
    }
    send_case(r, self, id, 200);
}
