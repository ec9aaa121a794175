/* plugin_api: the ym_api table handed to C plugins: thin, checked wrappers over
 * the core's request, response, storage and audit services. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"
#include "http.h"
#include "json.h"
#include "auth.h"
#include "clock.h"
#include "log.h"
#include "calendar.h"
#include "jobs.h"
#include "plugin_services.h"
#include "totp.h"
#include "directory.h"

#define STMT(s) ((sqlite3_stmt *)(s))

static ym_db *pdb(ym_plugin *p) { return p->host->db; }

/* The worker's one connection: a statement handle alone does not name it, and a
 * plugin statement is always stepped as its owner (ym_db_step). */
static ym_db *g_db;

void ym_plugin_api_bind(ym_db *db) { g_db = db; }

/* ---- registration, settings, services ---- */

static int api_route(ym_plugin *self, const char *method, const char *path, const char *perm, ym_handler_fn h, void *ud)
{
    return ym_plugin_add_route(self, method, path, perm, h, ud);
}

static int api_permission(ym_plugin *self, const char *name, const char *zh, const char *en)
{
    return ym_plugin_add_permission(self, name, zh, en);
}

static json_t *setting(ym_plugin *self, const char *key)
{
    return self->settings && key ? json_object_get(self->settings, key) : NULL;
}

static const char *api_setting_string(ym_plugin *self, const char *key, const char *def)
{
    json_t *v = setting(self, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

static int64_t api_setting_int(ym_plugin *self, const char *key, int64_t def)
{
    json_t *v = setting(self, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static int api_setting_bool(ym_plugin *self, const char *key, int def)
{
    json_t *v = setting(self, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static int api_setting_has(ym_plugin *self, const char *key) { return setting(self, key) != NULL; }

static const char *api_setting_key(ym_plugin *self, size_t i)
{
    if (!json_is_object(self->settings))
        return NULL;
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(self->settings, k, v) {
        if (n++ == i)
            return k;
    }
    return NULL;
}

static void api_fail(ym_plugin *self, const char *reason) { ym_plugin_fail(self, reason); }

static void api_log(ym_plugin *self, int level, const char *msg)
{
    ym_log(level < 0 || level > 3 ? YM_LOG_INFO : (ym_log_level)level, msg ? msg : "", "plugin=%s", self->name);
}

static int64_t api_now(void) { return ym_now(); }
static const char *api_name(ym_plugin *self) { return self->name; }

/* ---- the request ---- */

static const char *api_req_method(ym_request *r) { return r->method_name; }
static const char *api_req_path(ym_request *r) { return r->path; }
static const char *api_req_param(ym_request *r, const char *name) { return ym_req_param(r, name); }
static const char *api_req_header(ym_request *r, const char *name) { return ym_req_header(r, name); }

static const char *api_req_query(ym_request *r, const char *name)
{
    char *v = ym_req_query(r, name);
    if (!v)
        return NULL;
    const char *kept = ym_req_keep(r, v); /* lives as long as the request */
    free(v);
    return kept;
}

static const char *api_req_body(ym_request *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

static int64_t api_req_user_id(ym_request *r) { return r->who ? r->who->user_id : 0; }
static int64_t api_req_unit_id(ym_request *r) { return r->who ? r->who->unit_id : 0; }
static const char *api_req_username(ym_request *r) { return r->who ? r->who->username : ""; }

static int api_req_may(ym_request *r, const char *perm, int64_t unit)
{
    return r->who ? ym_may(ym_server_db(ym_req_server(r)), r->who, perm, unit) : 0;
}

static char *api_req_scope(ym_request *r, const char *perm)
{
    json_t *scope = r->who ? ym_scope_get(ym_server_db(ym_req_server(r)), r->who, perm) : json_array();
    char *text = scope ? json_dumps(scope, JSON_COMPACT) : NULL;
    json_decref(scope);
    return text;
}

static int api_req_json_ok(ym_request *r)
{
    json_t *j = ym_req_json(r);
    json_decref(j);
    return j != NULL;
}

/* ---- the response ---- */

static void api_resp_json(ym_request *r, int status, const char *text)
{
    if (!text || !ym_json_depth_ok(text, strlen(text), 512)) {
        ym_resp_error(r, 500, "internal", "the plugin produced no JSON");
        return;
    }
    ym_resp_send(r, status, "application/json", text, strlen(text), NULL);
}

static void api_resp_error(ym_request *r, int status, const char *code, const char *msg)
{
    ym_resp_error(r, status < 400 || status > 599 ? 500 : status, code ? code : "error", "%s", msg ? msg : "");
}

static void api_resp_invalid(ym_request *r, const char *field, const char *msg)
{
    ym_resp_invalid(r, field ? field : "", "%s", msg ? msg : "invalid");
}

static void api_resp_send(ym_request *r, int status, const char *ctype, const void *body, size_t len)
{
    ym_resp_send(r, status, ctype, body, len, NULL);
}

/* ---- storage ---- */

static ym_stmt *api_db_prepare(ym_plugin *self, const char *sql)
{

    return sql ? (ym_stmt *)ym_db_prepare(pdb(self), self->name, sql) : NULL;
}

static int rc_of(int rc) { return rc == SQLITE_OK ? 0 : -1; }
static int api_bind_int(ym_stmt *s, int i, int64_t v) { return rc_of(sqlite3_bind_int64(STMT(s), i, v)); }
static int api_bind_double(ym_stmt *s, int i, double v) { return rc_of(sqlite3_bind_double(STMT(s), i, v)); }
static int api_bind_null(ym_stmt *s, int i) { return rc_of(sqlite3_bind_null(STMT(s), i)); }

static int api_bind_text(ym_stmt *s, int i, const char *v)
{
    return rc_of(v ? sqlite3_bind_text(STMT(s), i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(STMT(s), i));
}

static int api_step(ym_stmt *s)
{
    int rc = ym_db_step(g_db, STMT(s));
    return rc == SQLITE_ROW ? YM_ROW : rc == SQLITE_DONE ? YM_DONE : YM_ERR;
}

static int api_column_count(ym_stmt *s) { return sqlite3_column_count(STMT(s)); }
static const char *api_column_name(ym_stmt *s, int c) { return sqlite3_column_name(STMT(s), c); }
static int api_column_type(ym_stmt *s, int c) { return sqlite3_column_type(STMT(s), c); }
static int64_t api_column_int(ym_stmt *s, int c) { return sqlite3_column_int64(STMT(s), c); }
static double api_column_double(ym_stmt *s, int c) { return sqlite3_column_double(STMT(s), c); }
static const char *api_column_text(ym_stmt *s, int c) { return (const char *)sqlite3_column_text(STMT(s), c); }
static void api_reset(ym_stmt *s) { sqlite3_reset(STMT(s)); }

static json_t *column_json(sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, c));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, c));
    case SQLITE_NULL: return json_null();
    default: return json_stringn((const char *)sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c));
    }
}

static char *api_rows_json(ym_stmt *s)
{
    sqlite3_stmt *st = STMT(s);
    json_t *rows = json_array();
    int rc;
    while ((rc = ym_db_step(g_db, st)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int c = 0; c < sqlite3_column_count(st); c++)
            json_object_set_new(row, sqlite3_column_name(st, c), column_json(st, c));
        json_array_append_new(rows, row);
    }
    sqlite3_reset(st);
    char *text = rc == SQLITE_DONE ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    return text;
}

static int api_write_begin(ym_plugin *self) { return ym_db_write_begin(pdb(self)); }
static int api_write_end(ym_plugin *self, int ok) { return ym_db_write_end(pdb(self), ok != 0); }
static int64_t api_last_id(ym_plugin *self) { return sqlite3_last_insert_rowid(ym_db_handle(pdb(self))); }
static int api_changes(ym_plugin *self) { return sqlite3_changes(ym_db_handle(pdb(self))); }
static const char *api_errmsg(ym_plugin *self) { return ym_db_errmsg(pdb(self)); }

static int api_audit(ym_request *r, const char *action, const char *target, const char *result, const char *detail)
{
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
    if (detail && !d)
        return -1;
    int rc = ym_audit_req(r, action, target, result ? result : "ok", d);
    json_decref(d);
    return rc;
}

static int api_is_working_day(const char *date)
{
    int32_t d;
    return ym_date_parse(date, &d) < 0 ? -1 : ym_calendar_is_working_day(ym_calendar_current(), d);
}

static int api_add_working_days(const char *date, int n, char out[11])
{
    int32_t d;
    if (ym_date_parse(date, &d) < 0)
        return -1;
    ym_date_format(ym_calendar_add_working_days(ym_calendar_current(), d, n), out);
    return 0;
}

static int64_t api_date_end_ms(const char *date)
{
    int32_t d;
    return ym_date_parse(date, &d) < 0 ? -1 : ym_date_end_ms(d);
}

/* A plugin's job as a core job. */
typedef struct plugin_job {
    ym_plugin *p;
    int (*fn)(ym_plugin *self, const char *name, void *ud);
    void *ud;
    char name[64];
} plugin_job;

static int run_plugin_job(void *ud, char *err, size_t errlen)
{
    plugin_job *b = ud;
    if (b->fn(b->p, b->name, b->ud) == 0)
        return 0;
    snprintf(err, errlen, "the %s plugin reported a failure", b->p->name);
    return -1;
}

static int api_job(ym_plugin *self, const char *name, const char *schedule,
                   int (*fn)(ym_plugin *self, const char *name, void *ud), void *ud)
{
    char err[256];
    if (!self->in_init) {
        ym_log(YM_LOG_ERROR, "registration outside init refused", "plugin=%s job=%s", self->name, name ? name : "");
        return -1;
    }
    ym_jobs *j = ym_jobs_current();
    plugin_job *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    *b = (plugin_job){.p = self, .fn = fn, .ud = ud};
    snprintf(b->name, sizeof b->name, "%s", name ? name : "");
    if (!j) {
        snprintf(err, sizeof err, "job %s: this process runs no jobs", b->name);
    } else if (ym_jobs_add(j, name, self->name, schedule, run_plugin_job, b, free, err, sizeof err) == 0) {
        return 0;
    }
    free(b);
    ym_plugin_fail(self, err);
    return -1;
}

static const ym_api g_api = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_api),
    .route = api_route, .permission = api_permission,
    .setting_string = api_setting_string, .setting_int = api_setting_int, .setting_bool = api_setting_bool,
    .setting_has = api_setting_has, .setting_key = api_setting_key, .fail = api_fail,
    .log = api_log, .now = api_now, .time_format = ym_time_format, .name = api_name,
    .req_method = api_req_method, .req_path = api_req_path, .req_param = api_req_param, .req_query = api_req_query,
    .req_header = api_req_header, .req_body = api_req_body, .req_user_id = api_req_user_id,
    .req_unit_id = api_req_unit_id, .req_username = api_req_username, .req_may = api_req_may,
    .req_json_ok = api_req_json_ok,
    .resp_json = api_resp_json, .resp_error = api_resp_error, .resp_invalid = api_resp_invalid,
    .resp_send = api_resp_send,
    .db_prepare = api_db_prepare, .db_bind_int = api_bind_int, .db_bind_double = api_bind_double,
    .db_bind_text = api_bind_text, .db_bind_null = api_bind_null, .db_step = api_step,
    .db_column_count = api_column_count, .db_column_name = api_column_name, .db_column_type = api_column_type,
    .db_column_int = api_column_int, .db_column_double = api_column_double, .db_column_text = api_column_text,
    .db_reset = api_reset, .db_rows_json = api_rows_json, .db_write_begin = api_write_begin,
    .db_write_end = api_write_end, .db_last_insert_id = api_last_id, .db_changes = api_changes,
    .db_errmsg = api_errmsg, .audit = api_audit, .free = free,
    .date_is_working_day = api_is_working_day, .date_add_working_days = api_add_working_days,
    .date_end_ms = api_date_end_ms, .job = api_job,
    .error = ym_ps_error, .emit = ym_ps_emit, .subscribe = ym_ps_subscribe_c, .notify = ym_ps_c_notify,
    .notify_unit = ym_ps_c_notify_unit, .push = ym_ps_push, .todo_put = ym_ps_c_todo_put,
    .todo_resolve = ym_ps_c_todo_resolve, .todo_resolve_prefix = ym_ps_c_todo_resolve_prefix,
    .search_put = ym_ps_search_put, .search_del = ym_ps_search_del, .file_attach = ym_ps_file_attach,
    .file_detach = ym_ps_file_detach, .resp_xlsx = ym_ps_c_resp_xlsx, .xlsx_rows = ym_ps_c_xlsx_rows,
    .item_create = ym_ps_item_create, .item_act = ym_ps_item_act, .item_get = ym_ps_c_item_get,
    .dispatch_create = ym_ps_dispatch_create, .dispatch_act = ym_ps_dispatch_act,
    .dispatch_board = ym_ps_c_dispatch_board, .qr_svg = ym_qr_svg,
    .file_info = ym_ps_file_info, .data_path = ym_ps_data_path, .queue_work = ym_ps_queue_work,
    .req_scope = api_req_scope, .perm_holders = ym_ps_perm_holders,
};

const ym_api *ym_plugin_api(void) { return &g_api; }
