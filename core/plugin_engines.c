/* plugin_engines: the two core engines as plugins drive them (ABI 1.2, C and Lua alike):
 * tracked items (items.h) and dispatches (dispatch.h), with specs and arguments as JSON so
 * that a new field never changes the ABI. A plugin creates and acts only on the items and
 * dispatches of its own source; the acting user is the plugin's to check (req_may), as for
 * its own records. Failures return -1 (or NULL) with the reason in p->error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin_services.h"
#include "items.h"
#include "items_edit.h"
#include "dispatch.h"
#include "yimen.h"
#include "log.h"

#define failf ym_ps_fail
#define pdb ym_ps_db

static json_t *parse_object(ym_plugin *p, const char *text, const char *what)
{
    json_error_t je;
    json_t *j = json_loads(text ? text : "{}", JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        failf(p, "%s must be a JSON object", what);
        return NULL;
    }
    return j;
}

/* Typed members of an args object; a wrong type is an error, absent gives def. */
static const char *str_of(json_t *o, const char *k, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (v && !json_is_string(v) && !json_is_null(v))
        *bad = true;
    return json_string_value(v);
}

static int64_t int_of(json_t *o, const char *k, int64_t def, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (v && !json_is_integer(v))
        *bad = true;
    return v ? (int64_t)json_integer_value(v) : def;
}

static bool bool_of(json_t *o, const char *k, bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (v && !json_is_boolean(v))
        *bad = true;
    return json_is_true(v);
}

/* An array of positive ids into out (at most max): count, or -1. */
static int ids_of(json_t *o, const char *k, int64_t *out, size_t max)
{
    json_t *a = json_object_get(o, k), *v;
    size_t i;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a) || json_array_size(a) > max)
        return -1;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return -1;
        out[i] = json_integer_value(v);
    }
    return (int)json_array_size(a);
}

/* ---------- tracked items ---------- */

/* The engine's code (YM_ITEM_E* = YM_E_* of yimen.h) with its message kept. */
static int64_t item_error(ym_plugin *p, int64_t rc, const char *err)
{
    if (rc >= 0)
        return rc;
    snprintf(p->error, sizeof p->error, "%s", err[0] ? err : "refused");
    if (rc == YM_ITEM_EWINDOW) /* the return window is over: a state the item is in */
        return YM_ITEM_ESTATE;
    return rc < YM_ITEM_EDB ? YM_ITEM_EDB : rc;
}

int64_t ym_ps_item_create(ym_plugin *p, int64_t by_user, const char *spec_json)
{
    static const char *const keys[] = {"source_kind", "record", "parent_id", "title", "content", "supervisor_unit",
                                       "lead_unit", "co_units", "leader", "deadline", "deadline_workdays", "nodes",
                                       "report_cycle", "assign", "restricted", "return_workdays", NULL};
    json_t *spec = parse_object(p, spec_json, "the item");
    if (!spec)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k))
            i++;
        if (!keys[i]) {
            failf(p, "%s: unknown field", k);
            json_decref(spec);
            return -1;
        }
    }
    bool bad = false, own;
    int64_t co[YM_ITEM_CO_MAX];
    int nco = ids_of(spec, "co_units", co, YM_ITEM_CO_MAX);
    char *nodes = json_object_get(spec, "nodes") && !json_is_null(json_object_get(spec, "nodes"))
                      ? json_dumps(json_object_get(spec, "nodes"), JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int64_t rwd = int_of(spec, "return_workdays", 0, &bad);
    ym_item_spec s = {
        .source = p->name, .source_kind = str_of(spec, "source_kind", &bad), .record = str_of(spec, "record", &bad),
        .parent_id = int_of(spec, "parent_id", 0, &bad), .title = str_of(spec, "title", &bad),
        .content = str_of(spec, "content", &bad), .supervisor_unit = int_of(spec, "supervisor_unit", 0, &bad),
        .lead_unit = int_of(spec, "lead_unit", 0, &bad), .co_units = co, .nco = nco > 0 ? (size_t)nco : 0,
        .leader = str_of(spec, "leader", &bad), .deadline = str_of(spec, "deadline", &bad),
        .deadline_workdays = (int)int_of(spec, "deadline_workdays", 0, &bad), .nodes_json = nodes,
        .report_cycle = str_of(spec, "report_cycle", &bad), .created_by = by_user,
        .restricted = bool_of(spec, "restricted", &bad),
        .return_workdays = rwd < 0 || rwd > YM_ITEM_WORKDAYS_MAX ? -1 : (int)rwd,
    };
    bool assign = bool_of(spec, "assign", &bad);
    int64_t rc = -1;
    char err[512] = "";
    if (bad || nco < 0)
        failf(p, "a field of the item has the wrong type (see docs/api/items.md)");
    else if (ym_ps_begin(p, "the engine", &own)) {
        rc = ym_item_create(pdb(p), &s, err, sizeof err);
        if (rc > 0 && assign) {
            int a = ym_item_assign(pdb(p), rc, by_user, err, sizeof err);
            rc = a < 0 ? a : rc;
        }
        rc = ym_ps_end(p, own, item_error(p, rc, err));
    }
    free(nodes);
    json_decref(spec);
    return rc;
}

/* Is the item this plugin's own? 1 yes, 0 no (p->error set). */
static bool own_item(ym_plugin *p, int64_t id)
{
    char source[64] = "";
    int64_t sup, lead;
    if (ym_item_units(pdb(p), id, source, sizeof source, &sup, &lead) < 0 || strcmp(source, p->name) != 0) {
        failf(p, "no item %lld of the %s plugin", (long long)id, p->name);
        return false;
    }
    return true;
}

_Static_assert(YM_ITEM_EINVAL == YM_E_INVALID && YM_ITEM_ENOTFOUND == YM_E_NOTFOUND && YM_ITEM_ESTATE == YM_E_STATE &&
                   YM_ITEM_ELAG == YM_E_LAG && YM_ITEM_EDB == YM_E_DB,
               "the engine's codes are the API's");

static int64_t item_do(ym_plugin *p, ym_db *db, int64_t id, const char *action, int64_t by, json_t *a, bool *bad,
                       char *err, size_t errlen)
{
    int64_t files[YM_ITEM_FILES_MAX];
    if (!strcmp(action, "assign"))
        return ym_item_assign(db, id, by, err, errlen);
    if (!strcmp(action, "accept"))
        return ym_item_accept(db, id, by, err, errlen);
    if (!strcmp(action, "return"))
        return ym_item_return(db, id, by, str_of(a, "reason", bad), err, errlen);
    if (!strcmp(action, "report") || !strcmp(action, "complete")) {
        int n = ids_of(a, "file_ids", files, YM_ITEM_FILES_MAX);
        if (n < 0)
            return *bad = true, -1;
        if (!strcmp(action, "complete"))
            return ym_item_complete(db, id, by, str_of(a, "text", bad), files, (size_t)n, err, errlen);
        ym_item_report_args ra = {.text = str_of(a, "text", bad), .file_ids = files, .nfiles = (size_t)n,
                                  .node_id = int_of(a, "node_id", 0, bad), .percent = (int)int_of(a, "percent", -1, bad)};
        int64_t unit = int_of(a, "unit_id", 0, bad), sup = 0;
        char source[64];
        if (!unit && ym_item_units(db, id, source, sizeof source, &sup, &unit) < 0) /* as the route: the lead unit */
            unit = 0;
        return ym_item_report(db, id, by, unit, &ra, err, errlen);
    }
    if (!strcmp(action, "review"))
        return ym_item_review(db, id, by, bool_of(a, "accept", bad), str_of(a, "comment", bad), err, errlen);
    if (!strcmp(action, "close"))
        return ym_item_close(db, id, by, err, errlen);
    if (!strcmp(action, "extend"))
        return ym_item_extend_request(db, id, by, str_of(a, "until", bad), str_of(a, "reason", bad), err, errlen);
    if (!strcmp(action, "decide"))
        return ym_item_extend_decide(db, id, int_of(a, "extension_id", 0, bad), by, bool_of(a, "approve", bad),
                                     str_of(a, "comment", bad), err, errlen);
    if (!strcmp(action, "reason"))
        return ym_item_reason_add(db, id, by, str_of(a, "category", bad), str_of(a, "text", bad), err, errlen);
    if (!strcmp(action, "urge"))
        return ym_item_urge(db, id, by, str_of(a, "message", bad), err, errlen);
    if (!strcmp(action, "escalate"))
        return ym_item_escalate(db, id, by, bool_of(a, "on", bad), str_of(a, "reason", bad), err, errlen);
    if (!strcmp(action, "link"))
        return ym_item_link(db, id, by, str_of(a, "record", bad), err, errlen);
    if (!strcmp(action, "update"))
        return ym_item_update(db, id, by, a, err, errlen);
    if (!strcmp(action, "withdraw"))
        return ym_item_withdraw(db, id, by, str_of(a, "reason", bad), err, errlen);
    snprintf(err, errlen, "unknown action \"%.40s\"", action);
    return YM_ITEM_EINVAL;
}

int64_t ym_ps_item_act(ym_plugin *p, int64_t id, const char *action, int64_t by_user, const char *args_json)
{
    json_t *a = parse_object(p, args_json, "the arguments");
    bool bad = false, own;
    int64_t rc = -1;
    char err[512] = "";
    if (!a)
        return -1;
    if (!action)
        failf(p, "an action is needed");
    else if (pdb(p) && !own_item(p, id))
        rc = YM_E_NOTFOUND;
    else if (pdb(p) && ym_ps_begin(p, "the engine", &own)) {
        rc = item_do(p, pdb(p), id, action, by_user, a, &bad, err, sizeof err);
        if (bad && rc >= 0) /* the engine read a default where a wrong type was given */
            rc = YM_ITEM_EINVAL, snprintf(err, sizeof err, "an argument of %s has the wrong type", action);
        else if (bad && !err[0])
            snprintf(err, sizeof err, "an argument of %s has the wrong type", action);
        rc = ym_ps_end(p, own, item_error(p, rc, err));
    }
    json_decref(a);
    return rc;
}

json_t *ym_ps_item_get(ym_plugin *p, int64_t id)
{
    if (!pdb(p) || !own_item(p, id))
        return NULL;
    json_t *o = ym_item_json(pdb(p), id);
    if (!o)
        failf(p, "no item %lld", (long long)id);
    return o;
}

char *ym_ps_c_item_get(ym_plugin *p, int64_t id) { return ym_ps_text(ym_ps_item_get(p, id)); }

/* ---------- dispatches ---------- */

/* The engine's outcome as the API's code (yimen.h), its message kept. */
static int64_t dispatch_error(ym_plugin *p, int64_t rc, const ym_dispatch_err *e)
{
    if (rc >= 0)
        return rc;
    if (e->field[0])
        snprintf(p->error, sizeof p->error, "%s: %s", e->field, e->msg);
    else
        snprintf(p->error, sizeof p->error, "%s", e->msg[0] ? e->msg : "refused");
    return rc == YM_DISPATCH_NOT_FOUND ? YM_E_NOTFOUND : rc == YM_DISPATCH_FORBIDDEN ? YM_E_FORBIDDEN
         : rc == YM_DISPATCH_CONFLICT ? YM_E_STATE : rc == YM_DISPATCH_ERROR ? YM_E_DB : YM_E_INVALID;
}

int64_t ym_ps_dispatch_create(ym_plugin *p, const char *spec_json)
{
    json_t *spec = parse_object(p, spec_json, "the dispatch");
    if (!spec)
        return YM_E_INVALID;
    ym_dispatch_spec s = {0};
    ym_dispatch_recipient *rs = NULL;
    ym_escalation_step steps[YM_DISPATCH_MAX_STEPS];
    char *form = NULL;
    ym_dispatch_err e = {{0}, {0}};
    bool own;
    int64_t rc = ym_dispatch_spec_parse(spec, false, &s, &rs, steps, &form, &e);
    s.source = p->name;
    if (rc == 0 && ym_ps_begin(p, "the engine", &own))
        rc = ym_ps_end(p, own, dispatch_error(p, ym_dispatch_create_ex(pdb(p), &s, &e), &e));
    else if (rc != 0)
        rc = dispatch_error(p, rc, &e);
    free(rs);
    free(form);
    json_decref(spec);
    return rc;
}

/* The acting user as the engine checks them: an active account and its primary unit. */
static bool principal_of(ym_plugin *p, int64_t user_id, ym_principal *who)
{
    memset(who, 0, sizeof *who);
    sqlite3_stmt *st = ym_db_prepare(pdb(p), "core", "SELECT unit_id, username FROM core_users "
                                                     "WHERE id = ?1 AND status = 'active'");
    bool ok = st && sqlite3_bind_int64(st, 1, user_id) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        who->user_id = user_id;
        who->unit_id = sqlite3_column_int64(st, 0);
        snprintf(who->username, sizeof who->username, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    if (st)
        sqlite3_reset(st);
    if (!ok)
        failf(p, "no active user %lld", (long long)user_id);
    return ok;
}

/* Is the dispatch this plugin's own? */
static bool own_dispatch(ym_plugin *p, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(pdb(p), "core", "SELECT source FROM core_dispatches WHERE id = ?1");
    bool ok = st && sqlite3_bind_int64(st, 1, id) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(st, 0), p->name) == 0;
    if (st)
        sqlite3_reset(st);
    if (!ok)
        failf(p, "no dispatch %lld of the %s plugin", (long long)id, p->name);
    return ok;
}

static int64_t dispatch_do(ym_db *db, ym_principal *who, int64_t id, int64_t unit, const char *action, json_t *a,
                           ym_dispatch_err *e)
{
    json_t *v;
    size_t i;
    if (!strcmp(action, "read"))
        return ym_dispatch_mark_read(db, who, id) < 0 ? YM_DISPATCH_ERROR : 0;
    if (!strcmp(action, "sign"))
        return ym_dispatch_sign(db, who, id, unit, e);
    if (!strcmp(action, "reply"))
        return ym_dispatch_reply(db, who, id, unit, json_object_get(a, "answers"), e);
    if (!strcmp(action, "return")) {
        json_t *reason = json_object_get(a, "reason");
        if (reason && !json_is_string(reason))
            return snprintf(e->field, sizeof e->field, "reason"), snprintf(e->msg, sizeof e->msg, "a text"),
                   YM_DISPATCH_INVALID;
        return ym_dispatch_return(db, who, id, unit, json_string_value(reason), e);
    }
    if (!strcmp(action, "withdraw"))
        return ym_dispatch_withdraw(db, who, id, e);
    if (!strcmp(action, "forward")) {
        json_t *ids = json_object_get(a, "unit_ids"), *title = json_object_get(a, "title");
        int64_t units[YM_DISPATCH_MAX_RECIPIENTS > 1000 ? 1000 : YM_DISPATCH_MAX_RECIPIENTS];
        if (!json_is_array(ids) || json_array_size(ids) > sizeof units / sizeof *units || (title && !json_is_string(title)))
            return snprintf(e->field, sizeof e->field, "unit_ids"),
                   snprintf(e->msg, sizeof e->msg, "forward takes {unit_ids: [ids], title?}"), YM_DISPATCH_INVALID;
        json_array_foreach(ids, i, v) {
            if (!json_is_integer(v))
                return snprintf(e->field, sizeof e->field, "unit_ids"), snprintf(e->msg, sizeof e->msg, "ids"),
                       YM_DISPATCH_INVALID;
            units[i] = json_integer_value(v);
        }
        return ym_dispatch_forward(db, who, id, unit, units, json_array_size(ids), json_string_value(title), e);
    }
    snprintf(e->msg, sizeof e->msg, "unknown action \"%.40s\"", action);
    return YM_DISPATCH_INVALID;
}

int64_t ym_ps_dispatch_act(ym_plugin *p, int64_t id, const char *action, int64_t by_user, int64_t unit_id,
                           const char *args_json)
{
    json_t *a = parse_object(p, args_json, "the arguments");
    ym_principal who;
    ym_dispatch_err e = {{0}, {0}};
    bool own;
    int64_t rc = YM_E_INVALID;
    if (!a)
        return YM_E_INVALID;
    if (!action)
        failf(p, "an action is needed");
    else if (!pdb(p) || !own_dispatch(p, id))
        rc = YM_E_NOTFOUND;
    else if (!principal_of(p, by_user, &who))
        rc = YM_E_INVALID;
    else if (ym_ps_begin(p, "the engine", &own))
        rc = ym_ps_end(p, own, dispatch_error(p, dispatch_do(pdb(p), &who, id, unit_id, action, a, &e), &e));
    json_decref(a);
    return rc;
}

json_t *ym_ps_dispatch_board(ym_plugin *p, int64_t id)
{
    if (!pdb(p) || !own_dispatch(p, id))
        return NULL;
    json_t *o = ym_dispatch_board(pdb(p), id);
    if (!o)
        failf(p, "no dispatch %lld", (long long)id);
    return o;
}

char *ym_ps_c_dispatch_board(ym_plugin *p, int64_t id) { return ym_ps_text(ym_ps_dispatch_board(p, id)); }
