/* dispatch_routes: the routes of 分发/签收 over the engine in dispatch.c:
 * GET /api/dispatches (inbox | sent), GET /api/dispatches/:id (marks read), POST
 * .../sign, .../reply, .../return, .../forward, .../withdraw, GET .../board; and with
 * YIMEN_TEST_CLOCK=1 POST /api/test/dispatches (a spec as JSON, loopback only) plus the
 * permissions test.send and test.receive, so the API tests can send before plugins do.
 * Every write is audited; someone who may not see a dispatch gets 404, never 403. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dispatch.h"
#include "dispatch_private.h"
#include "api.h"
#include "auth.h"
#include "clock.h"
#include "http.h"
#include "log.h"


static const char *const receipt_states[] = {"delivered", "read", "signed", "replied", "returned", "withdrawn", NULL};

/* The body as an object; an empty body is {} (sign and withdraw need none). */
static json_t *body_or_empty(ym_request *r)
{
    if (r->body_len == 0)
        return json_object();
    return ym_api_body(r);
}

static void target_of(char *out, size_t len, int64_t id)
{
    snprintf(out, len, "dispatch:%lld", (long long)id);
}

/* Answers an engine outcome (not OK); a refusal leaves an audit row. */
static void answer_err(ym_request *r, int rc, const ym_dispatch_err *e, const char *action, int64_t id)
{
    char target[48];
    target_of(target, sizeof target, id);
    if (rc == YM_DISPATCH_INVALID) {
        ym_resp_invalid(r, e->field, "%s", e->msg);
    } else if (rc == YM_DISPATCH_NOT_FOUND || rc == YM_DISPATCH_FORBIDDEN) {
        json_t *d = json_pack("{s:s,s:s}", "route", r->route ? r->route : r->path, "reason", e->msg);
        ym_audit_req(r, action, target, "denied", d);
        json_decref(d);
        if (rc == YM_DISPATCH_NOT_FOUND)
            ym_resp_error(r, 404, "not_found", "no such dispatch");
        else
            ym_resp_error(r, 403, "forbidden", "%s", e->msg);
    } else if (rc == YM_DISPATCH_CONFLICT) {
        ym_resp_error(r, 409, "conflict", "%s", e->msg);
    } else {
        ym_log(YM_LOG_ERROR, "dispatch failed", "action=%s error=%s", action, e->msg);
        ym_api_busy(r);
    }
}

/* Inside a write: the engine call's outcome, audited on success. */
static bool finish(ym_request *r, ym_db *db, int64_t rc, const ym_dispatch_err *e, const char *action, int64_t id,
                   json_t *detail)
{
    bool ok = rc >= 0;
    if (ok) {
        char target[48];
        target_of(target, sizeof target, id);
        ok = ym_api_audit(r, 0, action, target, detail) == 0;
    }
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    json_decref(detail);
    if (rc < 0)
        answer_err(r, (int)rc, e, action, id);
    else if (!ok)
        ym_api_busy(r);
    return ok;
}

/* unit_id (optional) of a transition's body. */
static bool unit_of(ym_request *r, json_t *body, int64_t *unit)
{
    *unit = 0;
    return ym_api_int(r, body, "unit_id", 1, INT64_MAX, unit) >= 0;
}

/* The start every transition shares: the :id (404), the body (an empty one too when
 * empty_ok), only allowed keys, and unit_id when unit is not NULL. NULL when answered. */
static json_t *transition_body(ym_request *r, bool empty_ok, const char *const *allowed, int64_t *id,
                               int64_t *unit)
{
    if (!ym_api_path_id(r, "id", id))
        return NULL;
    json_t *body = empty_ok ? body_or_empty(r) : ym_api_body(r);
    if (body && (!ym_api_keys(r, body, allowed) || (unit && !unit_of(r, body, unit)))) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* The transition's write; 503 when it cannot begin. */
static bool write_open(ym_request *r, ym_db *db)
{
    if (ym_db_write_begin(db) == 0)
        return true;
    ym_api_busy(r);
    return false;
}

/* ---------- transitions ---------- */

static void sign(ym_request *r, void *ud)
{
    int64_t id, unit;
    static const char *const allowed[] = {"unit_id", NULL};
    json_t *body = transition_body(r, true, allowed, &id, &unit);
    if (!body)
        return;
    json_decref(body);
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db))
        return;
    ym_dispatch_err e = {{0}, {0}};
    int rc = ym_dispatch_sign(db, r->who, id, unit, &e);
    if (finish(r, db, rc, &e, "dispatches.sign", id, json_pack("{s:I}", "unit_id", (json_int_t)unit)))
        ym_resp_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "signed"));
}

static void reply(ym_request *r, void *ud)
{
    int64_t id, unit;
    static const char *const allowed[] = {"unit_id", "answers", NULL};
    json_t *body = transition_body(r, false, allowed, &id, &unit);
    if (!body)
        return;
    json_t *answers = json_object_get(body, "answers");
    if (!json_is_object(answers)) {
        json_decref(body);
        ym_resp_invalid(r, "answers", "answers must be an object of the reply form's fields");
        return;
    }
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db)) {
        json_decref(body);
        return;
    }
    ym_dispatch_err e = {{0}, {0}};
    int rc = ym_dispatch_reply(db, r->who, id, unit, answers, &e);
    json_decref(body);
    if (finish(r, db, rc, &e, "dispatches.reply", id, json_pack("{s:I}", "unit_id", (json_int_t)unit)))
        ym_resp_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "replied"));
}

static void ret(ym_request *r, void *ud)
{
    int64_t id, unit;
    static const char *const allowed[] = {"unit_id", "reason", NULL};
    const char *reason = NULL;
    json_t *body = transition_body(r, false, allowed, &id, &unit);
    if (!body)
        return;
    if (ym_api_str(r, body, "reason", 4 * YM_DISPATCH_REASON_MAX, false, &reason) < 0) {
        json_decref(body);
        return;
    }
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db)) {
        json_decref(body);
        return;
    }
    ym_dispatch_err e = {{0}, {0}};
    int rc = ym_dispatch_return(db, r->who, id, unit, reason, &e);
    json_t *detail = json_pack("{s:I,s:s}", "unit_id", (json_int_t)unit, "reason", reason ? reason : "");
    json_decref(body);
    if (finish(r, db, rc, &e, "dispatches.return", id, detail))
        ym_resp_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "returned"));
}

static void forward(ym_request *r, void *ud)
{
    int64_t id, unit;
    static const char *const allowed[] = {"unit_id", "unit_ids", "title", NULL};
    const char *title = NULL;
    json_t *ids = NULL;
    json_t *body = transition_body(r, false, allowed, &id, &unit);
    if (!body)
        return;
    if (ym_api_str(r, body, "title", 4 * YM_DISPATCH_TITLE_MAX, true, &title) < 0 ||
        ym_api_ids(r, body, "unit_ids", YM_DISPATCH_MAX_RECIPIENTS, &ids) < 0) {
        json_decref(body);
        return;
    }
    if (!ids || json_array_size(ids) == 0) {
        json_decref(ids);
        json_decref(body);
        ym_resp_invalid(r, "unit_ids", "unit_ids: the units below yours to forward to");
        return;
    }
    size_t n = json_array_size(ids);
    int64_t *v = calloc(n, sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = json_integer_value(json_array_get(ids, i));
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db)) {
        free(v);
        json_decref(ids);
        json_decref(body);
        return;
    }
    ym_dispatch_err e = {{0}, {0}};
    int64_t child = ym_dispatch_forward(db, r->who, id, unit, v, n, title, &e);
    free(v);
    json_t *detail = json_pack("{s:I,s:o,s:I}", "unit_id", (json_int_t)unit, "unit_ids", ids, "child_id",
                               (json_int_t)(child > 0 ? child : 0));
    json_decref(body);
    if (finish(r, db, child, &e, "dispatches.forward", id, detail))
        ym_resp_json(r, 201, json_pack("{s:I,s:I}", "id", (json_int_t)child, "parent_id", (json_int_t)id));
}

static void withdraw(ym_request *r, void *ud)
{
    int64_t id;
    static const char *const allowed[] = {NULL};
    json_t *body = transition_body(r, true, allowed, &id, NULL);
    if (!body)
        return;
    json_decref(body);
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db))
        return;
    ym_dispatch_err e = {{0}, {0}};
    int rc = ym_dispatch_withdraw(db, r->who, id, &e);
    if (finish(r, db, rc, &e, "dispatches.withdraw", id, json_object()))
        ym_resp_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", "withdrawn"));
}

/* ---------- reads ---------- */

static void get_one(ym_request *r, void *ud)
{
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db))
        return;
    int marked = ym_dispatch_mark_read(db, r->who, id), status = YM_DISPATCH_ERROR;
    json_t *o = marked >= 0 ? ym_dispatch_view(db, r->who, id, &status) : NULL;
    bool ok = marked >= 0 && status != YM_DISPATCH_ERROR;
    if (ok && marked > 0) {
        char target[48];
        target_of(target, sizeof target, id);
        json_t *d = json_pack("{s:i}", "receipts", marked);
        ok = ym_api_audit(r, 0, "dispatches.read", target, d) == 0;
        json_decref(d);
    }
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    if (!ok) {
        json_decref(o);
        ym_api_busy(r);
    } else if (!o) {
        ym_resp_error(r, 404, "not_found", "no such dispatch");
    } else {
        ym_resp_json(r, 200, o);
    }
}

static void board(ym_request *r, void *ud)
{
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    ym_db *db = ym_api_db(r);
    if (ym_db_read_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int side = ym_dispatch_sender_side(db, r->who, id);
    json_t *b = side == 1 ? ym_dispatch_board(db, id) : NULL;
    int view = side == 0 ? ym_dispatch_may_view(db, r->who, id) : 0;
    ym_db_read_end(db);
    if (side < 0 || view < 0 || (side == 1 && !b)) {
        json_decref(b);
        ym_api_busy(r);
    } else if (side == 1) {
        ym_resp_json(r, 200, b);
    } else if (view == 1) {
        ym_resp_error(r, 403, "forbidden", "the board is for the sender side");
    } else {
        ym_resp_error(r, 404, "not_found", "no such dispatch");
    }
}

static bool in_states(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(s, *l) == 0)
            return true;
    return false;
}

static json_t *list_item(sqlite3_stmt *st)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:{s:I,s:s}}", "id", (json_int_t)sqlite3_column_int64(st, 0),
        "root_id", (json_int_t)sqlite3_column_int64(st, 1), "source", (const char *)sqlite3_column_text(st, 2),
        "title", (const char *)sqlite3_column_text(st, 3), "urgency", (const char *)sqlite3_column_text(st, 4),
        "state", (const char *)sqlite3_column_text(st, 5), "sent_at", ym_api_time(sqlite3_column_int64(st, 6)),
        "deadline_at", sqlite3_column_type(st, 7) == SQLITE_NULL ? json_null() : ym_api_time(sqlite3_column_int64(st, 7)),
        "sender_unit", "id", (json_int_t)sqlite3_column_int64(st, 8), "name", (const char *)sqlite3_column_text(st, 9));
    return o;
}

#define LIST_COLS "d.id, d.root_id, d.source, d.title, d.urgency, d.state, d.sent_at, d.deadline_at, d.sender_unit, su.name"

static void list(ym_request *r, void *ud)
{
    int limit;
    int64_t after;
    char *box = NULL, *state = NULL;
    if (ym_api_page(r, &limit, &after) < 0 || ym_api_query_str(r, "box", 16, &box) < 0 ||
        ym_api_query_str(r, "state", 16, &state) < 0) {
        free(box);
        return;
    }
    bool sent = box && strcmp(box, "sent") == 0;
    if (box && !sent && strcmp(box, "inbox")) {
        free(box);
        free(state);
        ym_resp_invalid(r, "box", "box must be inbox or sent");
        return;
    }
    free(box);
    if (state && (sent ? (strcmp(state, "open") && strcmp(state, "withdrawn")) : !in_states(state, receipt_states))) {
        free(state);
        ym_resp_invalid(r, "state", sent ? "state of a sent dispatch is open or withdrawn"
                                         : "state is delivered, read, signed, replied, returned or withdrawn");
        return;
    }
    ym_db *db = ym_api_db(r);
    if (ym_db_read_begin(db) < 0) {
        free(state);
        ym_api_busy(r);
        return;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", sent
        ? "SELECT " LIST_COLS " FROM core_dispatches d JOIN core_units su ON su.id = d.sender_unit "
          "WHERE (d.sender_user = ?1 OR d.sender_unit IN (" MY_UNITS ")) AND (?2 IS NULL OR d.state = ?2) "
          "AND (?3 = 0 OR d.id < ?3) ORDER BY d.id DESC"
        : "SELECT " LIST_COLS ", r.state, r.id, coalesce(r.unit_id, 0) FROM core_dispatch_receipts r "
          "JOIN core_dispatches d ON d.id = r.dispatch_id JOIN core_units su ON su.id = d.sender_unit "
          "WHERE (r.user_id = ?1 OR r.unit_id IN (" MY_UNITS ")) AND (?2 IS NULL OR r.state = ?2) "
          "AND (?3 = 0 OR d.id < ?3) ORDER BY d.id DESC, r.id");
    if (!st) {
        ym_db_read_end(db);
        free(state);
        ym_api_busy(r);
        return;
    }
    sqlite3_bind_int64(st, 1, r->who->user_id);
    if (state)
        sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, after);
    json_t *items = json_array();
    int n = 0, rc;
    int64_t last = 0, next = 0;
    bool failed = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (sent) {
            int side = ym_dispatch_sender_side(db, r->who, id);
            if (side < 0) {
                failed = true;
                break;
            }
            if (side == 0)
                continue;
        } else if (id == last) { /* a second receipt of mine on the same dispatch */
            continue;
        }
        if (n == limit) {
            next = last;
            break;
        }
        json_t *o = list_item(st);
        if (!sent) {
            json_object_set_new(o, "my_state", json_string((const char *)sqlite3_column_text(st, 10)));
            json_object_set_new(o, "my_receipt_id", json_integer(sqlite3_column_int64(st, 11)));
        }
        json_array_append_new(items, o);
        last = id;
        n++;
    }
    sqlite3_reset(st);
    free(state);
    if (!failed && sent) {
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o) {
            json_t *c = ym_dispatch_counts(db, json_integer_value(json_object_get(o, "id")));
            json_object_set_new(o, "counts", c ? c : json_null());
        }
    }
    ym_db_read_end(db);
    if (failed || (rc != SQLITE_ROW && rc != SQLITE_DONE)) {
        json_decref(items);
        ym_api_busy(r);
        return;
    }
    ym_api_send_page(r, items, next);
}

/* ---------- POST /api/test/dispatches ---------- */

static void test_create(ym_request *r, void *ud)
{
    if (!r->peer_loopback) {
        ym_resp_error(r, 403, "forbidden", "the test routes are for loopback clients only");
        return;
    }
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    ym_dispatch_spec s = {0};
    ym_dispatch_recipient *rs = NULL;
    ym_escalation_step steps[YM_DISPATCH_MAX_STEPS];
    char *form = NULL;
    ym_dispatch_err pe = {{0}, {0}};
    if (ym_dispatch_spec_parse(body, true, &s, &rs, steps, &form, &pe) < 0) {
        ym_resp_invalid(r, pe.field, "%s", pe.msg);
        free(rs);
        free(form);
        json_decref(body);
        return;
    }
    ym_db *db = ym_api_db(r);
    if (!write_open(r, db)) {
        free(rs);
        free(form);
        json_decref(body);
        return;
    }
    ym_dispatch_err e = {{0}, {0}};
    int64_t id = ym_dispatch_create_ex(db, &s, &e);
    size_t n = s.nrecipients;
    free(rs);
    free(form);
    json_decref(body);
    if (finish(r, db, id, &e, "dispatches.create", id > 0 ? id : 0, json_pack("{s:I}", "recipients", (json_int_t)n)))
        ym_resp_json(r, 201, json_pack("{s:I,s:I}", "id", (json_int_t)id, "recipients", (json_int_t)n));
}

int ym_dispatch_routes(ym_router *rt, char *err, size_t errlen)
{
    static const ym_api_route routes[] = {
        {"GET", "/api/dispatches", YM_PERM_USER, list, NULL},
        {"GET", "/api/dispatches/:id", YM_PERM_USER, get_one, NULL},
        {"GET", "/api/dispatches/:id/board", YM_PERM_USER, board, NULL},
        {"POST", "/api/dispatches/:id/sign", YM_PERM_USER, sign, NULL},
        {"POST", "/api/dispatches/:id/reply", YM_PERM_USER, reply, NULL},
        {"POST", "/api/dispatches/:id/return", YM_PERM_USER, ret, NULL},
        {"POST", "/api/dispatches/:id/forward", YM_PERM_USER, forward, NULL},
        {"POST", "/api/dispatches/:id/withdraw", YM_PERM_USER, withdraw, NULL},
    };
    if (ym_api_routes(rt, routes, sizeof routes / sizeof routes[0], err, errlen) < 0)
        return -1;
    if (!ym_clock_test_enabled())
        return 0;
    ym_perm_register("test.send", "core", "测试：分发", "Test: send dispatches");
    ym_perm_register("test.receive", "core", "测试：签收", "Test: sign for dispatches");
    static const ym_api_route test_routes[] = {
        {"POST", "/api/test/dispatches", "test.clock", test_create, NULL},
    };
    return ym_api_routes(rt, test_routes, 1, err, errlen);
}
