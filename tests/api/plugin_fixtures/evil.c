/* evil: a hostile plugin for the storage-isolation tests. It may use only its own
 * tables (evil_*) and read core_v_units / core_v_users; every route here tries
 * something else and reports what the database let it do.
 *   POST /api/evil/sql      the raw body is one SQL statement, run inside a write
 *   POST /api/evil/swap     a statement prepared on its own view, stepped after the
 *                           view was redefined over core_users (an automatic re-prepare)
 *   POST /api/evil/trigger  a statement prepared on its own table, stepped after a
 *                           trigger on that table was made to update core_users
 *   GET  /api/evil/units    reads core_v_units (allowed)
 * A refusal answers 500 {"error": {"code": "refused", "message": <db_errmsg>}}. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "yimen.h"

static const ym_api *api;

static void refused(ym_request *r, ym_plugin *self, const char *step)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", step, api->db_errmsg(self));
    api->resp_error(r, 500, "refused", msg);
}

static void rows_answer(ym_request *r, char *rows)
{
    json_t *j = json_loads(rows, 0, NULL);
    json_t *out = json_pack("{s:o}", "rows", j ? j : json_array());
    char *text = json_dumps(out, JSON_COMPACT);
    api->resp_json(r, 200, text);
    free(text);
    json_decref(out);
}

/* prepare + step to the end; 0 or -1 (db_errmsg says why) */
static int exec(ym_plugin *self, const char *sql)
{
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st)
        return -1;
    int rc;
    while ((rc = api->db_step(st)) == YM_ROW)
        ;
    api->db_reset(st);
    return rc == YM_DONE ? 0 : -1;
}

static void run_sql(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    size_t len;
    const char *body = api->req_body(r, &len);
    char sql[4096];
    snprintf(sql, sizeof sql, "%.*s", (int)(len < sizeof sql - 1 ? len : sizeof sql - 1), body);
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st) {
        refused(r, self, "prepare");
        api->db_write_end(self, 0);
        return;
    }
    char *rows = api->db_rows_json(st);
    if (!rows) {
        refused(r, self, "step");
        api->db_write_end(self, 0);
        return;
    }
    api->db_write_end(self, 1);
    rows_answer(r, rows);
    api->free(rows);
}

static void swap_view(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    ym_stmt *st = api->db_prepare(self, "SELECT x FROM evil_v");
    if (!st) {
        refused(r, self, "prepare");
        return;
    }
    api->db_write_begin(self);
    if (exec(self, "DROP VIEW evil_v") < 0) {
        refused(r, self, "drop view");
        api->db_write_end(self, 0);
        return;
    }
    if (exec(self, "CREATE VIEW evil_v AS SELECT username || ':' || ifnull(password_hash, '') AS x FROM core_users") < 0) {
        refused(r, self, "create view");
        api->db_write_end(self, 0);
        return;
    }
    char *rows = api->db_rows_json(st);
    if (!rows)
        refused(r, self, "step");
    /* put the view back either way: the savepoint of a refusal undoes the swap anyway */
    api->db_write_end(self, rows != NULL && exec(self, "DROP VIEW evil_v") == 0 &&
                                exec(self, "CREATE VIEW evil_v AS SELECT x FROM evil_t") == 0);
    if (rows)
        rows_answer(r, rows);
    api->free(rows);
}

static void plant_trigger(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    ym_stmt *ins = api->db_prepare(self, "INSERT INTO evil_log (x) VALUES ('t')");
    if (!ins) {
        refused(r, self, "prepare");
        return;
    }
    api->db_write_begin(self);
    if (exec(self, "CREATE TRIGGER evil_trg AFTER INSERT ON evil_log BEGIN "
                   "UPDATE core_users SET title = 'pwned' WHERE id = 1; END") < 0) {
        refused(r, self, "create trigger");
        api->db_write_end(self, 0);
        return;
    }
    int rc = api->db_step(ins);
    api->db_reset(ins);
    if (rc != YM_DONE) {
        refused(r, self, "step");
        api->db_write_end(self, 0);
        return;
    }
    api->db_write_end(self, exec(self, "DROP TRIGGER evil_trg") == 0);
    api->resp_json(r, 200, "{\"inserted\":true}");
}

static void units(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    ym_stmt *st = api->db_prepare(self, "SELECT (SELECT count(*) FROM core_v_units) AS units, "
                                        "(SELECT count(*) FROM core_v_users) AS users");
    if (!st) {
        refused(r, self, "prepare");
        return;
    }
    char *rows = api->db_rows_json(st);
    if (!rows) {
        refused(r, self, "step");
        return;
    }
    rows_answer(r, rows);
    api->free(rows);
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    if (api->permission(self, "evil.run", "试探", "probe") < 0)
        return -1;
    if (api->route(self, "POST", "/api/evil/sql", "evil.run", run_sql, self) < 0 ||
        api->route(self, "POST", "/api/evil/swap", "evil.run", swap_view, self) < 0 ||
        api->route(self, "POST", "/api/evil/trigger", "evil.run", plant_trigger, self) < 0 ||
        api->route(self, "GET", "/api/evil/units", "evil.run", units, self) < 0)
        return -1;
    return 0;
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "evil", .version = "0.6.6", .core_min = "0.1", .requires = NULL,
    .init = init, .start = NULL, .stop = NULL,
};
