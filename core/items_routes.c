/* items_routes: the /api/items routes (the views and statistics they answer are in
 * items_view.c) with their permission rule
 * (<source>.manage on the supervisor unit; <source>.handle, or a unit_admin/clerk grant,
 * on the acting unit; 404 to everyone else), and the test-only POST /api/test/items. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "items.h"
#include "items_int.h"
#include "items_edit.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "identity.h"
#include "calendar.h"
#include "clock.h"

/* ---------- permissions ---------- */

/* unit_admin or clerk granted on exactly this unit act for it (not through an API token). */
static int unit_role(ym_db *db, ym_principal *p, int64_t unit)
{
    if (p->token_perms)
        return 0;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT 1 FROM core_grants g JOIN core_roles r ON r.id = g.role_id WHERE g.user_id = ?1 AND g.unit_id = ?2 "
        "AND r.key IN ('unit_admin', 'clerk')");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, p->user_id);
    sqlite3_bind_int64(st, 2, unit);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int may_side(ym_db *db, ym_principal *p, const char *source, const char *verb, int64_t unit, int64_t *acting)
{
    char perm[64];
    snprintf(perm, sizeof perm, "%s.%s", source, verb);
    int rc = ym_api_may(db, p, perm, unit, acting);
    if (rc == 0 && strcmp(verb, "handle") == 0)
        rc = unit_role(db, p, unit);
    return rc;
}

/* The unit the caller handles the item for: want (a party) or the lead unit, else the
 * first co-unit; 0 none, -1 error. */
static int64_t handle_unit(ym_db *db, ym_principal *p, int64_t id, const char *source, int64_t want, int64_t *acting)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT unit_id FROM core_item_units WHERE item_id = ?1 "
                                                 "ORDER BY role = 'lead' DESC, unit_id");
    if (!st)
        return -1;
    int64_t units[YM_ITEM_CO_MAX + 1];
    size_t n = 0;
    sqlite3_bind_int64(st, 1, id);
    while (n < YM_ITEM_CO_MAX + 1 && sqlite3_step(st) == SQLITE_ROW)
        units[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (want && units[i] != want)
            continue;
        int rc = may_side(db, p, source, "handle", units[i], acting);
        if (rc != 0)
            return rc < 0 ? -1 : units[i];
    }
    return 0;
}

/* Is the caller a party (manage on the supervisor unit, or handles any unit)? */
static int party(ym_db *db, ym_principal *p, int64_t id, const char *source, int64_t supervisor)
{
    int64_t acting = 0;
    int rc = may_side(db, p, source, "manage", supervisor, &acting);
    if (rc != 0)
        return rc;
    int64_t u = handle_unit(db, p, id, source, 0, &acting);
    return u < 0 ? -1 : u > 0;
}

int ym_item_report_readable(ym_db *db, ym_principal *p, int64_t report_id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT i.id, i.source, i.supervisor_unit FROM core_item_reports r "
                                                 "JOIN core_items i ON i.id = r.item_id WHERE r.id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, report_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    int64_t id = sqlite3_column_int64(st, 0), supervisor = sqlite3_column_int64(st, 2);
    char source[64];
    snprintf(source, sizeof source, "%s", (const char *)sqlite3_column_text(st, 1));
    sqlite3_reset(st);
    return party(db, p, id, source, supervisor);
}

/* ---------- the action routes ---------- */

enum side { MANAGE, HANDLE };

typedef struct ctx {
    ym_request *r;
    ym_db *db;
    json_t *body;
    int64_t id, supervisor, lead, unit, acting;
    char source[40];
    char err[512];
} ctx;

typedef int64_t (*action_fn)(ctx *c);

typedef struct action {
    const char *name;         /* audit action items.<name> */
    enum side side;
    const char *const *keys;  /* allowed body keys; NULL: no body */
    action_fn fn;
    int status;               /* 200 (the item) or 201 ({id, item}) */
} action;

static void answer_error(ctx *c, int64_t rc)
{
    char field[64];
    const char *msg;
    switch (rc) {
    case YM_ITEM_EINVAL:
        msg = ym_item_err_field(c->err, field, sizeof field);
        ym_resp_invalid(c->r, field, "%s", msg);
        break;
    case YM_ITEM_ENOTFOUND:
        ym_resp_error(c->r, 404, "not_found", "%s", c->err);
        break;
    case YM_ITEM_ESTATE:
        ym_resp_error(c->r, 409, "wrong_state", "%s", c->err);
        break;
    case YM_ITEM_ELAG:
        ym_resp_error(c->r, 409, "lag_reason_required", "%s", c->err);
        break;
    case YM_ITEM_EWINDOW:
        ym_resp_error(c->r, 409, "return_window_closed", "%s", c->err);
        break;
    default:
        ym_api_busy(c->r);
    }
}

static void run_action(ym_request *r, void *ud)
{
    const action *a = ud;
    ctx c = {.r = r, .db = ym_api_db(r)};
    if (!ym_api_path_id(r, "id", &c.id))
        return;
    if (a->keys) { /* no body at all reads as {} */
        if (!(c.body = r->body_len == 0 ? json_object() : ym_api_body(r)))
            return;
        if (!ym_api_keys(r, c.body, a->keys)) {
            json_decref(c.body);
            return;
        }
    }
    char target[48];
    snprintf(target, sizeof target, "item:%lld", (long long)c.id);
    if (ym_db_write_begin(c.db) < 0) {
        json_decref(c.body);
        ym_api_busy(r);
        return;
    }
    bool ok = false;
    int found = ym_item_units(c.db, c.id, c.source, sizeof c.source, &c.supervisor, &c.lead);
    if (found <= 0) {
        if (found < 0)
            ym_api_busy(r);
        else
            ym_resp_error(r, 404, "not_found", "no such item");
        goto out;
    }
    int may;
    if (a->side == MANAGE) {
        may = may_side(c.db, r->who, c.source, "manage", c.supervisor, &c.acting);
    } else {
        int64_t want = 0;
        if (c.body && ym_api_int(r, c.body, "unit_id", 1, INT64_MAX, &want) < 0)
            goto out;
        c.unit = handle_unit(c.db, r->who, c.id, c.source, want, &c.acting);
        may = c.unit < 0 ? -1 : c.unit > 0;
    }
    if (may <= 0) {
        int p = may < 0 ? -1 : party(c.db, r->who, c.id, c.source, c.supervisor);
        char perm[64];
        snprintf(perm, sizeof perm, "%s.%s", c.source, a->side == MANAGE ? "manage" : "handle");
        if (p < 0)
            ym_api_busy(r);
        else
            ym_api_refuse(r, p ? 403 : 404, a->name, target, perm, "item");
        if (p >= 0) /* the refusal's audit row is kept */
            ok = true;
        goto out;
    }
    int64_t rc = a->fn(&c);
    if (rc == -100) /* the handler answered (a bad member) */
        goto out;
    if (rc < 0) {
        answer_error(&c, rc);
        goto out;
    }
    char action_name[48];
    snprintf(action_name, sizeof action_name, "items.%s", a->name);
    json_t *detail = json_pack("{s:I}", "item_id", (json_int_t)c.id);
    if (a->status == 201)
        json_object_set_new(detail, "id", json_integer(rc));
    if (c.unit)
        json_object_set_new(detail, "unit_id", json_integer(c.unit));
    ok = ym_api_audit(r, c.acting, action_name, target, detail) == 0;
    json_decref(detail);
    json_t *item = ok ? ym_item_json(c.db, c.id) : NULL;
    if (!item) {
        ok = false;
        ym_api_busy(r);
        goto out;
    }
    if (a->status == 201)
        ym_resp_json(r, 201, json_pack("{s:I,s:o}", "id", (json_int_t)rc, "item", item));
    else
        ym_resp_json(r, 200, item);
out:
    ym_db_write_end(c.db, ok);
    json_decref(c.body);
}

/* Body members: -100 when answered. */
#define STR(key, max, nullable, out)                                                                  \
    if (ym_api_str(c->r, c->body, key, max, nullable, out) < 0)                                      \
        return -100;

static int64_t do_assign(ctx *c) { return ym_item_assign(c->db, c->id, c->r->who->user_id, c->err, sizeof c->err); }
static int64_t do_accept(ctx *c) { return ym_item_accept(c->db, c->id, c->r->who->user_id, c->err, sizeof c->err); }
static int64_t do_close(ctx *c) { return ym_item_close(c->db, c->id, c->r->who->user_id, c->err, sizeof c->err); }

static int64_t do_return(ctx *c)
{
    const char *reason = NULL;
    STR("reason", 100000, false, &reason);
    return ym_item_return(c->db, c->id, c->r->who->user_id, reason, c->err, sizeof c->err);
}

/* file_ids as an array of at most YM_ITEM_FILES_MAX ids into ids; -100 when answered. */
static int file_ids(ctx *c, int64_t *ids, size_t *n)
{
    json_t *arr = NULL;
    *n = 0;
    if (ym_api_ids(c->r, c->body, "file_ids", YM_ITEM_FILES_MAX, &arr) < 0)
        return -100;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        ids[(*n)++] = json_integer_value(v);
    json_decref(arr);
    return 0;
}

static int64_t do_report(ctx *c)
{
    const char *text = NULL;
    int64_t node = 0, percent = -1, ids[YM_ITEM_FILES_MAX];
    size_t n = 0;
    STR("text", 100000, false, &text);
    if (ym_api_int(c->r, c->body, "node_id", 1, INT64_MAX, &node) < 0 ||
        ym_api_int(c->r, c->body, "percent", 0, 100, &percent) < 0 || file_ids(c, ids, &n) < 0)
        return -100;
    ym_item_report_args a = {.text = text, .file_ids = ids, .nfiles = n, .node_id = node, .percent = (int)percent};
    return ym_item_report(c->db, c->id, c->r->who->user_id, c->unit, &a, c->err, sizeof c->err);
}

static int64_t do_complete(ctx *c)
{
    const char *text = NULL;
    int64_t ids[YM_ITEM_FILES_MAX];
    size_t n = 0;
    STR("text", 100000, false, &text);
    if (file_ids(c, ids, &n) < 0)
        return -100;
    if (c->unit != c->lead) {
        snprintf(c->err, sizeof c->err, "only the lead unit reports completion");
        return YM_ITEM_ESTATE;
    }
    return ym_item_complete(c->db, c->id, c->r->who->user_id, text, ids, n, c->err, sizeof c->err);
}

static int64_t do_review(ctx *c)
{
    const char *comment = NULL;
    bool accept = false;
    STR("comment", 100000, true, &comment);
    int has = ym_api_bool(c->r, c->body, "accept", &accept);
    if (has < 0)
        return -100;
    if (has == 0) {
        ym_resp_invalid(c->r, "accept", "accept (true or false) is required");
        return -100;
    }
    return ym_item_review(c->db, c->id, c->r->who->user_id, accept, comment, c->err, sizeof c->err);
}

static int64_t do_extend(ctx *c)
{
    const char *until = NULL, *reason = NULL;
    STR("until", 100, false, &until);
    STR("reason", 100000, false, &reason);
    if (c->unit != c->lead) {
        snprintf(c->err, sizeof c->err, "only the lead unit asks for an extension");
        return YM_ITEM_ESTATE;
    }
    return ym_item_extend_request(c->db, c->id, c->r->who->user_id, until, reason, c->err, sizeof c->err);
}

static int64_t do_decide(ctx *c)
{
    const char *comment = NULL;
    bool approve = false;
    int64_t eid = 0;
    const char *p = ym_req_param(c->r, "eid");
    char *end = NULL;
    eid = p ? strtoll(p, &end, 10) : 0;
    if (!p || !*p || *end || eid <= 0) {
        snprintf(c->err, sizeof c->err, "no such extension request");
        return YM_ITEM_ENOTFOUND;
    }
    STR("comment", 100000, true, &comment);
    int has = ym_api_bool(c->r, c->body, "approve", &approve);
    if (has < 0)
        return -100;
    if (has == 0) {
        ym_resp_invalid(c->r, "approve", "approve (true or false) is required");
        return -100;
    }
    return ym_item_extend_decide(c->db, c->id, eid, c->r->who->user_id, approve, comment, c->err, sizeof c->err);
}

static int64_t do_reason(ctx *c)
{
    const char *category = NULL, *text = NULL;
    STR("category", 1000, false, &category);
    STR("text", 100000, false, &text);
    if (c->unit != c->lead) {
        snprintf(c->err, sizeof c->err, "only the lead unit records lag reasons");
        return YM_ITEM_ESTATE;
    }
    return ym_item_reason_add(c->db, c->id, c->r->who->user_id, category, text, c->err, sizeof c->err);
}

static int64_t do_urge(ctx *c)
{
    const char *message = NULL;
    STR("message", 100000, true, &message);
    return ym_item_urge(c->db, c->id, c->r->who->user_id, message, c->err, sizeof c->err);
}

static int64_t do_escalate(ctx *c)
{
    const char *reason = NULL;
    bool on = true;
    STR("reason", 100000, true, &reason);
    if (ym_api_bool(c->r, c->body, "escalated", &on) < 0)
        return -100;
    return ym_item_escalate(c->db, c->id, c->r->who->user_id, on, reason, c->err, sizeof c->err);
}

static int64_t do_link(ctx *c)
{
    const char *record = NULL;
    STR("record", 1000, false, &record);
    return ym_item_link(c->db, c->id, c->r->who->user_id, record, c->err, sizeof c->err);
}

static int64_t do_update(ctx *c)
{
    return ym_item_update(c->db, c->id, c->r->who->user_id, c->body, c->err, sizeof c->err);
}

static int64_t do_withdraw(ctx *c)
{
    const char *reason = NULL;
    STR("reason", 100000, false, &reason);
    return ym_item_withdraw(c->db, c->id, c->r->who->user_id, reason, c->err, sizeof c->err);
}

static const char *const K_NONE[] = {NULL};
static const char *const K_UPDATE[] = YM_ITEM_EDIT_KEYS;
static const char *const K_WITHDRAW[] = {"reason", NULL};
static const char *const K_RETURN[] = {"reason", "unit_id", NULL};
static const char *const K_REPORT[] = {"text", "file_ids", "node_id", "percent", "unit_id", NULL};
static const char *const K_COMPLETE[] = {"text", "file_ids", "unit_id", NULL};
static const char *const K_REVIEW[] = {"accept", "comment", NULL};
static const char *const K_EXTEND[] = {"until", "reason", "unit_id", NULL};
static const char *const K_DECIDE[] = {"approve", "comment", NULL};
static const char *const K_REASON[] = {"category", "text", "unit_id", NULL};
static const char *const K_URGE[] = {"message", NULL};
static const char *const K_ESCALATE[] = {"escalated", "reason", NULL};
static const char *const K_LINK[] = {"record", NULL};
static const char *const K_HANDLE[] = {"unit_id", NULL};

static const action A_ASSIGN = {"assign", MANAGE, K_NONE, do_assign, 200};
static const action A_ACCEPT = {"accept", HANDLE, K_HANDLE, do_accept, 200};
static const action A_RETURN = {"return", HANDLE, K_RETURN, do_return, 200};
static const action A_REPORT = {"report", HANDLE, K_REPORT, do_report, 201};
static const action A_COMPLETE = {"complete", HANDLE, K_COMPLETE, do_complete, 201};
static const action A_REVIEW = {"review", MANAGE, K_REVIEW, do_review, 200};
static const action A_CLOSE = {"close", MANAGE, K_NONE, do_close, 200};
static const action A_EXTEND = {"extend", HANDLE, K_EXTEND, do_extend, 201};
static const action A_DECIDE = {"extension_decide", MANAGE, K_DECIDE, do_decide, 200};
static const action A_REASON = {"reason", HANDLE, K_REASON, do_reason, 201};
static const action A_URGE = {"urge", MANAGE, K_URGE, do_urge, 200};
static const action A_ESCALATE = {"escalate", MANAGE, K_ESCALATE, do_escalate, 200};
static const action A_LINK = {"link", MANAGE, K_LINK, do_link, 200};
static const action A_UPDATE = {"update", MANAGE, K_UPDATE, do_update, 200};
static const action A_WITHDRAW = {"withdraw", MANAGE, K_WITHDRAW, do_withdraw, 200};

/* ---------- the reads ---------- */

/* Is the item restricted (限阅: only its parties see it)? 1, 0, -1 error. */
static int hidden(ym_db *db, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT restricted FROM core_items WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), v = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? v : -1;
}

/* A page of the list: restricted items only for their parties. NULL on error. */
static json_t *list_page(ym_db *db, ym_principal *who, sqlite3_stmt *st, int limit)
{
    json_t *items = json_array();
    int64_t last = 0;
    int n = 0, rc;
    bool bad = false;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 29)) {
            char source[40];
            snprintf(source, sizeof source, "%s", (const char *)sqlite3_column_text(st, 1));
            int p = party(db, who, sqlite3_column_int64(st, 0), source, sqlite3_column_int64(st, 30));
            if (p < 0)
                bad = true;
            if (p <= 0)
                continue;
        }
        if (n++ == limit)
            break;
        json_array_append_new(items, ym_items_summary_row(st));
        last = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (bad || (rc != SQLITE_ROW && rc != SQLITE_DONE)) {
        json_decref(items);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "items", items, "next", n > limit ? json_integer(last) : json_null());
}

static void item_get(ym_request *r, void *ud)
{
    (void)ud;
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    ym_db *db = ym_api_db(r);
    char source[40];
    int64_t sup = 0, lead = 0;
    if (ym_db_read_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int found = ym_item_units(db, id, source, sizeof source, &sup, &lead);
    int p = found == 1 ? party(db, r->who, id, source, sup) : 0;
    if (found == 1 && p == 0 && (found = hidden(db, id)) >= 0)
        found = !found; /* restricted: the same answer as unknown */
    json_t *o = found == 1 && p >= 0 ? ym_item_view(db, id, p == 1) : NULL;
    ym_db_read_end(db);
    if (found == 0)
        ym_resp_error(r, 404, "not_found", "no such item");
    else if (!o)
        ym_api_busy(r);
    else
        ym_resp_json(r, 200, o);
}

static void reasons_get(ym_request *r, void *ud)
{
    (void)ud;
    int64_t id;
    if (!ym_api_path_id(r, "id", &id))
        return;
    ym_db *db = ym_api_db(r);
    char source[40];
    int64_t sup = 0, lead = 0;
    if (ym_db_read_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    int found = ym_item_units(db, id, source, sizeof source, &sup, &lead);
    int h = found == 1 ? hidden(db, id) : 0;
    if (h == 1) { /* restricted: only its parties read it */
        int p = party(db, r->who, id, source, sup);
        found = p < 0 ? -1 : p;
    } else if (h < 0) {
        found = -1;
    }
    json_t *a = found == 1 ? ym_item_reasons_json(db, id) : NULL;
    ym_db_read_end(db);
    if (found == 0)
        ym_resp_error(r, 404, "not_found", "no such item");
    else if (!a)
        ym_api_busy(r);
    else
        ym_resp_json(r, 200, json_pack("{s:o}", "items", a));
}

static void list_get(ym_request *r, void *ud)
{
    (void)ud;
    int limit;
    int64_t after, unit = 0;
    char *colour = NULL, *state = NULL, *source = NULL;
    if (ym_api_page(r, &limit, &after) < 0 || ym_api_query_id(r, "unit", &unit) < 0 ||
        ym_api_query_str(r, "colour", 16, &colour) < 0 || ym_api_query_str(r, "state", 16, &state) < 0 ||
        ym_api_query_str(r, "source", 40, &source) < 0)
        goto out;
    static const char *const colours[] = {"green", "blue", "yellow", "orange", "red", NULL};
    static const char *const states[] = {"draft", "assigned", "returned", "accepted", "in_progress", "completed",
                                         "reviewed", "closed", "withdrawn", NULL};
    bool ok = true;
    for (const char *const *v = colours; colour && ok; v++)
        if (!*v) {
            ym_resp_invalid(r, "colour", "colour must be green, blue, yellow, orange or red");
            ok = false;
        } else if (strcmp(*v, colour) == 0) {
            break;
        }
    for (const char *const *v = states; state && ok; v++)
        if (!*v) {
            ym_resp_invalid(r, "state", "unknown state");
            ok = false;
        } else if (strcmp(*v, state) == 0) {
            break;
        }
    if (!ok)
        goto out;
    ym_db *db = ym_api_db(r);
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT " SUMMARY_COLS
        "WHERE i.id > ?1 AND (?2 = 0 OR EXISTS (SELECT 1 FROM core_item_units x WHERE x.item_id = i.id "
        "AND x.unit_id = ?2)) AND (?3 IS NULL OR i.colour = ?3) AND (?4 IS NULL OR i.state = ?4) "
        "AND (?5 IS NULL OR i.source = ?5) ORDER BY i.id");
    if (!st) {
        ym_api_busy(r);
        goto out;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, unit);
    if (colour)
        sqlite3_bind_text(st, 3, colour, -1, SQLITE_TRANSIENT);
    if (state)
        sqlite3_bind_text(st, 4, state, -1, SQLITE_TRANSIENT);
    if (source)
        sqlite3_bind_text(st, 5, source, -1, SQLITE_TRANSIENT);
    json_t *page = list_page(db, r->who, st, limit);
    if (page)
        ym_resp_json(r, 200, page);
    else
        ym_api_busy(r);
out:
    free(colour);
    free(state);
    free(source);
}

static int query_date(ym_request *r, const char *name, int32_t *out)
{
    char *v = NULL;
    int has = ym_api_query_str(r, name, 16, &v);
    if (has <= 0)
        return has;
    int rc = ym_date_parse(v, out);
    free(v);
    if (rc < 0) {
        ym_resp_invalid(r, name, "%s must be a date YYYY-MM-DD", name);
        return -1;
    }
    return 1;
}

static void stats_get(ym_request *r, void *ud)
{
    (void)ud;
    int64_t unit = 0, now = ym_now();
    int32_t today = ym__item_day_of(now), from, to = today;
    char y[11];
    ym_date_format(today, y);
    y[5] = '0', y[6] = '1', y[8] = '0', y[9] = '1'; /* the first of January */
    ym_date_parse(y, &from);
    if (ym_api_query_id(r, "unit", &unit) < 0 || query_date(r, "from", &from) < 0 || query_date(r, "to", &to) < 0)
        return;
    if (to < from) {
        ym_resp_invalid(r, "to", "to must not be before from");
        return;
    }
    ym_db *db = ym_api_db(r);
    if (ym_db_read_begin(db) < 0) {
        ym_api_busy(r);
        return;
    }
    json_t *o = ym_items_stats(db, unit, from, to, now);
    ym_db_read_end(db);
    if (o)
        ym_resp_json(r, 200, o);
    else
        ym_api_busy(r);
}

/* ---------- POST /api/test/items (YIMEN_TEST_CLOCK=1 only) ---------- */

static void test_create(ym_request *r, void *ud)
{
    (void)ud;
    if (!r->peer_loopback) {
        ym_resp_error(r, 403, "forbidden", "the test routes are for loopback clients only");
        return;
    }
    json_t *body = ym_api_body(r);
    if (!body)
        return;
    static const char *const keys[] = {"source", "source_kind", "record", "parent_id", "title", "content",
                                       "supervisor_unit", "lead_unit", "co_units", "leader", "deadline",
                                       "deadline_workdays", "nodes", "report_cycle", "assign", "restricted",
                                       "return_workdays", NULL};
    ym_item_spec s = {.created_by = r->who->user_id};
    json_t *co = NULL;
    int64_t parent = 0, sup = 0, lead = 0, wd = 0, rwd = 0;
    bool assign = false;
    char *nodes = NULL;
    ym_db *db = ym_api_db(r);
    bool began = false, ok = false;
    if (!ym_api_keys(r, body, keys) || ym_api_str(r, body, "source", 100, false, &s.source) < 0 ||
        ym_api_str(r, body, "source_kind", 100, false, &s.source_kind) < 0 ||
        ym_api_str(r, body, "record", 1000, true, &s.record) < 0 ||
        ym_api_int(r, body, "parent_id", 1, INT64_MAX, &parent) < 0 ||
        ym_api_str(r, body, "title", 100000, false, &s.title) < 0 ||
        ym_api_str(r, body, "content", 100000, true, &s.content) < 0 ||
        ym_api_int(r, body, "supervisor_unit", 1, INT64_MAX, &sup) < 0 ||
        ym_api_int(r, body, "lead_unit", 1, INT64_MAX, &lead) < 0 ||
        ym_api_ids(r, body, "co_units", YM_ITEM_CO_MAX, &co) < 0 ||
        ym_api_str(r, body, "leader", 1000, true, &s.leader) < 0 ||
        ym_api_str(r, body, "deadline", 100, true, &s.deadline) < 0 ||
        ym_api_int(r, body, "deadline_workdays", 0, YM_ITEM_WORKDAYS_MAX, &wd) < 0 ||
        ym_api_int(r, body, "return_workdays", 0, YM_ITEM_WORKDAYS_MAX, &rwd) < 0 ||
        ym_api_str(r, body, "report_cycle", 100, true, &s.report_cycle) < 0 ||
        ym_api_bool(r, body, "assign", &assign) < 0 || ym_api_bool(r, body, "restricted", &s.restricted) < 0)
        goto out;
    json_t *jn = json_object_get(body, "nodes");
    if (jn && !json_is_null(jn) && !(nodes = json_dumps(jn, JSON_COMPACT | JSON_ENCODE_ANY)))
        goto out;
    int64_t cov[YM_ITEM_CO_MAX];
    size_t i;
    json_t *v;
    json_array_foreach(co, i, v)
        cov[s.nco++] = json_integer_value(v);
    s.co_units = cov, s.parent_id = parent, s.supervisor_unit = sup, s.lead_unit = lead;
    s.deadline_workdays = (int)wd, s.nodes_json = nodes, s.return_workdays = (int)rwd;
    if (ym_db_write_begin(db) < 0) {
        ym_api_busy(r);
        goto out;
    }
    began = true;
    char err[512];
    int64_t id = ym_item_create(db, &s, err, sizeof err);
    if (id > 0 && assign) {
        int rc = ym_item_assign(db, id, r->who->user_id, err, sizeof err);
        id = rc < 0 ? rc : id;
    }
    if (id == YM_ITEM_EINVAL) {
        char field[64];
        const char *msg = ym_item_err_field(err, field, sizeof field);
        ym_resp_invalid(r, field, "%s", msg);
        goto out;
    }
    json_t *o = id > 0 ? ym_item_json(db, id) : NULL;
    if (!o) {
        ym_api_busy(r);
        goto out;
    }
    ok = true;
    ym_resp_json(r, 201, o);
out:
    if (began)
        ym_db_write_end(db, ok);
    free(nodes);
    json_decref(co);
    json_decref(body);
}

/* Recolours every open item now: the job's next run stays where it was when the test
 * clock moved backwards. */
static void test_recolour(ym_request *r, void *ud)
{
    (void)ud;
    if (!r->peer_loopback) {
        ym_resp_error(r, 403, "forbidden", "the test routes are for loopback clients only");
        return;
    }
    int n = ym_items_recolour_all(ym_api_db(r), ym_now());
    if (n < 0)
        ym_api_busy(r);
    else
        ym_resp_json(r, 200, json_pack("{s:i}", "changed", n));
}

int ym_items_routes(ym_router *rt, char *err, size_t errlen)
{
    const ym_api_route routes[] = {
        {"GET", "/api/items", YM_PERM_USER, list_get, NULL},
        {"GET", "/api/items/stats", YM_PERM_USER, stats_get, NULL},
        {"GET", "/api/items/:id", YM_PERM_USER, item_get, NULL},
        {"GET", "/api/items/:id/reasons", YM_PERM_USER, reasons_get, NULL},
        {"POST", "/api/items/:id/assign", YM_PERM_USER, run_action, &A_ASSIGN},
        {"POST", "/api/items/:id/accept", YM_PERM_USER, run_action, &A_ACCEPT},
        {"POST", "/api/items/:id/return", YM_PERM_USER, run_action, &A_RETURN},
        {"POST", "/api/items/:id/report", YM_PERM_USER, run_action, &A_REPORT},
        {"POST", "/api/items/:id/complete", YM_PERM_USER, run_action, &A_COMPLETE},
        {"POST", "/api/items/:id/review", YM_PERM_USER, run_action, &A_REVIEW},
        {"POST", "/api/items/:id/close", YM_PERM_USER, run_action, &A_CLOSE},
        {"POST", "/api/items/:id/extend", YM_PERM_USER, run_action, &A_EXTEND},
        {"POST", "/api/items/:id/extensions/:eid/decide", YM_PERM_USER, run_action, &A_DECIDE},
        {"POST", "/api/items/:id/reasons", YM_PERM_USER, run_action, &A_REASON},
        {"POST", "/api/items/:id/urge", YM_PERM_USER, run_action, &A_URGE},
        {"POST", "/api/items/:id/escalate", YM_PERM_USER, run_action, &A_ESCALATE},
        {"POST", "/api/items/:id/links", YM_PERM_USER, run_action, &A_LINK},
        {"PATCH", "/api/items/:id", YM_PERM_USER, run_action, &A_UPDATE},
        {"POST", "/api/items/:id/withdraw", YM_PERM_USER, run_action, &A_WITHDRAW},
    };
    if (ym_api_routes(rt, routes, sizeof routes / sizeof routes[0], err, errlen) < 0)
        return -1;
    if (!ym_clock_test_enabled())
        return 0;
    /* a stand-in owner for the API tests until plugins create items */
    ym_perm_register("itemtest.manage", "core", "督办（测试）：督查", "Tracked items (test): supervise");
    ym_perm_register("itemtest.handle", "core", "督办（测试）：办理", "Tracked items (test): handle");
    const ym_api_route test_routes[] = {{"POST", "/api/test/items", "test.clock", test_create, NULL},
                                        {"POST", "/api/test/items/recolour", "test.clock", test_recolour, NULL}};
    return ym_api_routes(rt, test_routes, 2, err, errlen);
}
