/* hello: the teaching C plugin: one table, CRUD routes under /api/hello/, two
 * permissions, a setting validated at init, an audit row for every write, and every
 * shared service of ABI minor 1: an event on create and a subscriber to another
 * plugin's events, a notification and a to-do for the creator, the search index, a live
 * event on update, attachments, and .xlsx export and import. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "yimen.h"

#define NAME_MAX_BYTES 200

static const ym_api *api;   /* set once by init; the same table for every request */
static int64_t max_items;   /* setting hello.max_items */
static const char *greeting; /* setting hello.greeting */

/* ---- small helpers ---- */

static int64_t id_param(ym_request *r)
{
    const char *s = api->req_param(r, "id");
    long long v;
    return ym_parse_int(s, 1, INT64_MAX, &v) ? v : 0;
}

static json_t *time_json(int64_t ms)
{
    char buf[40];
    api->time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

#define ITEM_COLUMNS "id, name, unit_id, created_by, created_at, updated_at"

/* One row of ITEM_COLUMNS as the API shows it: times in RFC 3339. */
static json_t *row_json(ym_stmt *st)
{
    return json_pack("{s:I,s:s,s:I,s:I,s:o,s:o}", "id", (json_int_t)api->db_column_int(st, 0), "name",
                     api->db_column_text(st, 1), "unit_id", (json_int_t)api->db_column_int(st, 2), "created_by",
                     (json_int_t)api->db_column_int(st, 3), "created_at", time_json(api->db_column_int(st, 4)),
                     "updated_at", time_json(api->db_column_int(st, 5)));
}

/* The item as JSON text, or NULL when it does not exist. */
static char *item_json(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT " ITEM_COLUMNS " FROM hello_items WHERE id = ?1");
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    char *text = NULL;
    if (api->db_step(st) == YM_ROW) {
        json_t *j = row_json(st);
        text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    api->db_reset(st);
    return text;
}

static int64_t item_unit(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id FROM hello_items WHERE id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int64_t unit = api->db_step(st) == YM_ROW ? api->db_column_int(st, 0) : 0;
    api->db_reset(st);
    return unit;
}

/* Validates {"name": "..."} and nothing else; answers 400 itself and returns NULL. */
static json_t *item_body(ym_request *r)
{
    if (!api->req_json_ok(r))
        return NULL;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL);
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        api->resp_invalid(r, "", "the body must be a JSON object");
        json_decref(body);
        return NULL;
    }
    json_object_foreach(body, key, v) {
        if (strcmp(key, "name") != 0) {
            api->resp_invalid(r, key, "unknown field");
            json_decref(body);
            return NULL;
        }
    }
    v = json_object_get(body, "name");
    const char *name = json_string_value(v);
    int ctrl = 0;
    for (size_t i = 0; name && i < json_string_length(v); i++)
        ctrl |= (unsigned char)name[i] < 0x20 || name[i] == 0x7f;
    if (!name || !json_string_length(v) || json_string_length(v) > NAME_MAX_BYTES || ctrl) {
        api->resp_invalid(r, "name", "name must be 1 to 200 bytes on one line (no control characters)");
        json_decref(body);
        return NULL;
    }
    return body;
}

/* ---- handlers ---- */

/* A whole decimal number in [lo, hi], or def when absent; -1 when malformed. */
static long long query_int(ym_request *r, const char *name, long long def, long long lo, long long hi)
{
    const char *s = api->req_query(r, name);
    long long v;
    return !s ? def : ym_parse_int(s, lo, hi, &v) ? v : -1;
}

static void list_items(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    long long limit = query_int(r, "limit", 50, 1, 100), after = query_int(r, "after", 0, 0, INT64_MAX);
    if (limit < 0 || after < 0) {
        api->resp_invalid(r, limit < 0 ? "limit" : "after",
                          limit < 0 ? "limit must be a whole number from 1 to 100" : "after must be an item id");
        return;
    }
    /* keyset paging over the caller's own unit */
    ym_stmt *st = api->db_prepare(self, "SELECT " ITEM_COLUMNS " FROM hello_items "
                                        "WHERE unit_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    if (!st) {
        api->resp_error(r, 500, "internal", "cannot read items");
        return;
    }
    api->db_bind_int(st, 1, api->req_unit_id(r));
    api->db_bind_int(st, 2, after);
    api->db_bind_int(st, 3, limit);
    json_t *items = json_array();
    while (api->db_step(st) == YM_ROW)
        json_array_append_new(items, row_json(st));
    api->db_reset(st);
    size_t n = json_array_size(items);
    json_t *last = n == (size_t)limit ? json_object_get(json_array_get(items, n - 1), "id") : NULL;
    json_t *out = json_pack("{s:o,s:O,s:s}", "items", items, "next", last ? last : json_null(), "greeting", greeting);
    char *text = json_dumps(out, JSON_COMPACT);
    api->resp_json(r, 200, text);
    free(text);
    json_decref(out);
}

static int count_items(ym_plugin *self)
{
    ym_stmt *st = api->db_prepare(self, "SELECT count(*) FROM hello_items");
    int n = st && api->db_step(st) == YM_ROW ? (int)api->db_column_int(st, 0) : -1;
    if (st)
        api->db_reset(st);
    return n;
}

static int item_services(ym_plugin *self, ym_request *r, int64_t id, const char *name);

static void create_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    /* an item belongs to the creator's unit: writing there is what the permission means */
    if (api->req_may(r, "hello.write", api->req_unit_id(r)) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not write hello items in your unit");
        return;
    }
    json_t *body = item_body(r);
    if (!body)
        return;
    if (count_items(self) >= max_items) {
        json_decref(body);
        api->resp_error(r, 409, "conflict", "hello.max_items reached");
        return;
    }
    int64_t now = api->now();
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "INSERT INTO hello_items (name, unit_id, created_by, created_at, updated_at) "
                                        "VALUES (?1, ?2, ?3, ?4, ?4)");
    int ok = st && api->db_bind_text(st, 1, json_string_value(json_object_get(body, "name"))) == 0 &&
             api->db_bind_int(st, 2, api->req_unit_id(r)) == 0 && api->db_bind_int(st, 3, api->req_user_id(r)) == 0 &&
             api->db_bind_int(st, 4, now) == 0 && api->db_step(st) == YM_DONE;
    int64_t id = ok ? api->db_last_insert_id(self) : 0;
    char target[32];
    snprintf(target, sizeof target, "hello_item:%lld", (long long)id);
    ok = ok && api->audit(r, "hello.create", target, "ok", NULL) == 0 &&
         item_services(self, r, id, json_string_value(json_object_get(body, "name"))) == 0;
    api->db_write_end(self, ok);
    json_decref(body);
    char *item = ok ? item_json(self, id) : NULL;
    if (item)
        api->resp_json(r, 201, item);
    else
        api->resp_error(r, 500, "internal", "cannot save the item");
    free(item);
}

/* In the creator's write, so all of it commits or none: the event, the search entry,
 * a to-do and a notification for the creator. Each fails with api->error(self). */
static int item_services(ym_plugin *self, ym_request *r, int64_t id, const char *name)
{
    char ref[40], link[64], today[40], due[11];
    int64_t uid = api->req_user_id(r), unit = api->req_unit_id(r);
    snprintf(ref, sizeof ref, "item:%lld", (long long)id);
    snprintf(link, sizeof link, "#/hello/items/%lld", (long long)id);
    json_t *ev = json_pack("{s:I,s:s,s:I,s:I}", "id", (json_int_t)id, "name", name, "unit_id", (json_int_t)unit,
                           "created_by", (json_int_t)uid);
    char *payload = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    /* due at the end of the second working day from today (holidays and 调休 counted) */
    api->time_format(api->now(), today, sizeof today);
    today[10] = 0;
    api->date_add_working_days(today, 2, due);
    int ok = api->emit(self, "hello.item.created", payload) == 0 &&
             api->search_put(self, "hello", ref, name, name, unit, "hello.read") == 0 &&
             api->todo_put(self, ref, uid, 0, NULL, name, link, api->date_end_ms(due), "confirm") > 0 &&
             api->notify(self, uid, "info", "示例条目已创建", name, link) > 0;
    if (!ok)
        api->log(self, YM_ERROR, api->error(self));
    free(payload);
    return ok ? 0 : -1;
}

/* 404 unless the item exists and the caller may use perm on its unit. */
static int64_t visible_item(ym_request *r, ym_plugin *self, const char *perm)
{
    int64_t id = id_param(r), unit = id ? item_unit(self, id) : 0;
    if (unit <= 0 || api->req_may(r, perm, unit) != 1) {
        api->resp_error(r, 404, "not_found", "no such item");
        return 0;
    }
    return id;
}

static void get_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.read");
    if (!id)
        return;
    char *item = item_json(self, id);
    api->resp_json(r, 200, item);
    free(item);
}

static void update_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.write");
    if (!id)
        return;
    json_t *body = item_body(r);
    if (!body)
        return;
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE hello_items SET name = ?1, updated_at = ?2 WHERE id = ?3");
    int ok = st && api->db_bind_text(st, 1, json_string_value(json_object_get(body, "name"))) == 0 &&
             api->db_bind_int(st, 2, api->now()) == 0 && api->db_bind_int(st, 3, id) == 0 && api->db_step(st) == YM_DONE;
    char target[32];
    snprintf(target, sizeof target, "hello_item:%lld", (long long)id);
    const char *name = json_string_value(json_object_get(body, "name"));
    char ref[40], data[300];
    snprintf(ref, sizeof ref, "item:%lld", (long long)id);
    json_t *d = json_pack("{s:I,s:s}", "id", (json_int_t)id, "name", name);
    char *dtext = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    snprintf(data, sizeof data, "%s", dtext ? dtext : "{}");
    free(dtext);
    /* the index follows the record; whoever watches the item sees the change live */
    ok = ok && api->audit(r, "hello.update", target, "ok", NULL) == 0 &&
         api->search_put(self, "hello", ref, name, name, item_unit(self, id), "hello.read") == 0 &&
         api->push(self, api->req_user_id(r), "hello.item.updated", data) > 0;
    api->db_write_end(self, ok);
    json_decref(body);
    char *item = ok ? item_json(self, id) : NULL;
    if (item)
        api->resp_json(r, 200, item);
    else
        api->resp_error(r, 500, "internal", "cannot save the item");
    free(item);
}

static void delete_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.write");
    if (!id)
        return;
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "DELETE FROM hello_items WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_step(st) == YM_DONE;
    char target[32];
    snprintf(target, sizeof target, "hello_item:%lld", (long long)id);
    char ref[40], owner[40];
    snprintf(ref, sizeof ref, "item:%lld", (long long)id);
    snprintf(owner, sizeof owner, "hello_items:%lld", (long long)id);
    ok = ok && api->audit(r, "hello.delete", target, "ok", NULL) == 0 && api->search_del(self, "hello", ref) >= 0 &&
         api->todo_resolve(self, ref, api->req_user_id(r)) >= 0 && api->file_detach(self, owner) >= 0;
    api->db_write_end(self, ok);
    if (ok)
        api->resp_send(r, 204, NULL, NULL, 0);
    else
        api->resp_error(r, 500, "internal", "cannot delete the item");
}

/* POST /api/hello/items/:id/confirm: the creator's to-do is done, everywhere. */
static void confirm_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.write");
    if (!id)
        return;
    char ref[40], out[40];
    snprintf(ref, sizeof ref, "item:%lld", (long long)id);
    int n = api->todo_resolve(self, ref, api->req_user_id(r));
    if (n < 0) {
        api->resp_error(r, 500, "internal", "cannot resolve the to-do");
        return;
    }
    snprintf(out, sizeof out, "{\"resolved\":%d}", n);
    api->resp_json(r, 200, out);
}

/* POST /api/hello/items/:id/files {"file_id": n}: attach a file the caller uploaded. */
static void attach_file(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.write");
    if (!id || !api->req_json_ok(r))
        return;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL);
    json_t *fid = json_object_get(body, "file_id");
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_integer(fid) || json_integer_value(fid) < 1) {
        api->resp_invalid(r, "file_id", "the body is {\"file_id\": <id of an uploaded file>}");
        json_decref(body);
        return;
    }
    char owner[40];
    snprintf(owner, sizeof owner, "hello_items:%lld", (long long)id);
    api->db_write_begin(self);
    int rc = api->file_attach(self, r, json_integer_value(fid), owner);
    api->db_write_end(self, rc == 0);
    json_decref(body);
    if (rc < 0)
        api->resp_invalid(r, "file_id", api->error(self));
    else
        api->resp_json(r, 200, "{\"attached\":true}");
}

/* GET /api/hello/items.xlsx: the caller's unit's items as a spreadsheet. */
static void export_items(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    ym_stmt *st = api->db_prepare(self, "SELECT id, name, created_at FROM hello_items WHERE unit_id = ?1 ORDER BY id");
    if (!st) {
        api->resp_error(r, 500, "internal", "cannot read items");
        return;
    }
    api->db_bind_int(st, 1, api->req_unit_id(r));
    json_t *rows = json_array();
    while (api->db_step(st) == YM_ROW) {
        char day[40];
        api->time_format(api->db_column_int(st, 2), day, sizeof day);
        day[10] = 0;
        json_array_append_new(rows, json_pack("[I,s,{s:s}]", (json_int_t)api->db_column_int(st, 0),
                                              api->db_column_text(st, 1), "date", day));
    }
    api->db_reset(st);
    json_t *sheet = json_pack("{s:s,s:[s,s,s],s:o}", "name", "示例条目", "header", "编号", "名称", "创建日期", "rows", rows);
    char *text = json_dumps(sheet, JSON_COMPACT);
    json_decref(sheet);
    api->resp_xlsx(self, r, "示例条目.xlsx", text);
    free(text);
}

/* POST /api/hello/items/import: an .xlsx whose first row is a header; the column titled
 * 名称 (else the first) holds the names. Every row becomes an item with everything a
 * created item has, all in one write: a bad row rolls back the rows before it too. */
static void import_items(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    if (api->req_may(r, "hello.write", api->req_unit_id(r)) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not write hello items in your unit");
        return;
    }
    size_t len;
    const char *data = api->req_body(r, &len);
    char *text = api->xlsx_rows(self, data, len);
    json_t *rows = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    size_t n = json_array_size(rows), col = 0, i;
    if (!json_is_array(rows) || n < 2) {
        api->resp_invalid(r, "", rows ? "the sheet has no rows after the header" : api->error(self));
        json_decref(rows);
        return;
    }
    json_t *head = json_array_get(rows, 0), *v;
    json_array_foreach(head, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "名称") == 0)
            col = i;
    }
    char why[160] = "";
    if (count_items(self) + (int64_t)(n - 1) > max_items)
        snprintf(why, sizeof why, "hello.max_items would be exceeded");
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "INSERT INTO hello_items (name, unit_id, created_by, created_at, updated_at) "
                                        "VALUES (?1, ?2, ?3, ?4, ?4)");
    int ok = st != NULL && !why[0];
    for (i = 1; ok && i < n; i++) {
        json_t *name = json_array_get(json_array_get(rows, i), col);
        if (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > NAME_MAX_BYTES) {
            snprintf(why, sizeof why, "row %zu, column %c: a name of 1 to 200 bytes is needed", i + 1, (char)('A' + col));
            ok = 0;
            break;
        }
        ok = api->db_bind_text(st, 1, json_string_value(name)) == 0 && api->db_bind_int(st, 2, api->req_unit_id(r)) == 0 &&
             api->db_bind_int(st, 3, api->req_user_id(r)) == 0 && api->db_bind_int(st, 4, api->now()) == 0 &&
             api->db_step(st) == YM_DONE;
        int64_t id = ok ? api->db_last_insert_id(self) : 0;
        api->db_reset(st);
        ok = ok && item_services(self, r, id, json_string_value(name)) == 0;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "{\"rows\":%zu}", n - 1);
    ok = ok && api->audit(r, "hello.import", "", "ok", detail) == 0;
    api->db_write_end(self, ok);
    json_decref(rows);
    snprintf(detail, sizeof detail, "{\"imported\":%zu}", n - 1);
    if (ok)
        api->resp_json(r, 201, detail);
    else if (why[0])
        api->resp_invalid(r, "", why);
    else
        api->resp_error(r, 500, "internal", "cannot save the items");
}

/* Another plugin's event (hello_lua.greeting.created), recorded in hello_seen. It runs in
 * a write of its own that also marks the delivery done: one row per event, even after a
 * crash. A greeting "让订阅失败" fails, to show retries with backoff in admin. */
static int on_greeting(ym_plugin *self, const char *name, const char *payload, void *ud)
{
    json_t *p = json_loads(payload, 0, NULL);
    const char *text = json_string_value(json_object_get(p, "text"));
    int fail = text && strcmp(text, "让订阅失败") == 0;
    json_decref(p);
    if (fail)
        return -1;
    ym_stmt *st = api->db_prepare(self, "INSERT INTO hello_seen (name, payload, seen_at) VALUES (?1, ?2, ?3)");
    int ok = st && api->db_bind_text(st, 1, name) == 0 && api->db_bind_text(st, 2, payload) == 0 &&
             api->db_bind_int(st, 3, api->now()) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    return ok ? 0 : -1;
}

/* GET /api/hello/seen: what the subscriber recorded (for the tests and the guide). */
static void list_seen(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    ym_stmt *st = api->db_prepare(self, "SELECT id, name, payload FROM hello_seen ORDER BY id");
    char *rows = st ? api->db_rows_json(st) : NULL;
    if (!rows) {
        api->resp_error(r, 500, "internal", "cannot read");
        return;
    }
    size_t n = strlen(rows) + 16;
    char *out = malloc(n);
    snprintf(out, n, "{\"items\":%s}", rows);
    api->resp_json(r, 200, out);
    free(out);
    api->free(rows);
}

/* ---- tracked items (ABI 1.2) ---- */

/* An engine failure as HTTP: its code says the status. */
static void engine_error(ym_request *r, ym_plugin *self, int64_t rc)
{
    int status = rc == YM_E_NOTFOUND ? 404 : rc == YM_E_STATE || rc == YM_E_LAG ? 409 : rc == YM_E_DB ? 503
               : rc == YM_E_FORBIDDEN ? 403 : 400;
    const char *code = rc == YM_E_NOTFOUND ? "not_found" : rc == YM_E_LAG ? "lag_reason_required"
                     : rc == YM_E_STATE ? "wrong_state" : rc == YM_E_DB ? "storage_busy"
                     : rc == YM_E_FORBIDDEN ? "forbidden" : "invalid";
    if (status == 400)
        api->resp_invalid(r, "", api->error(self));
    else
        api->resp_error(r, status, code, api->error(self));
}

/* POST /api/hello/items/:id/track {"lead_unit", "co_units", "deadline" | "deadline_workdays"}:
 * the caller's unit supervises the item as a tracked item (督办), assigned at once. From
 * then on its parties act through the core routes /api/items/:id/..., checked with
 * hello.manage (the supervising side) and hello.handle (lead and co-units). */
static void track_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.write");
    if (!id)
        return;
    if (api->req_may(r, "hello.manage", api->req_unit_id(r)) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not supervise items from your unit");
        return;
    }
    if (!api->req_json_ok(r))
        return;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL), *v;
    const char *key;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "lead_unit") && strcmp(key, "co_units") && strcmp(key, "deadline") &&
            strcmp(key, "deadline_workdays")) {
            api->resp_invalid(r, key, "unknown field");
            json_decref(body);
            return;
        }
    }
    if (!json_is_object(body)) {
        api->resp_invalid(r, "", "the body must be a JSON object");
        json_decref(body);
        return;
    }
    char record[40];
    snprintf(record, sizeof record, "hello_items:%lld", (long long)id);
    char *name = item_json(self, id);
    json_t *item = json_loads(name, 0, NULL);
    free(name);
    json_object_set_new(body, "source_kind", json_string("other"));
    json_object_set_new(body, "record", json_string(record));
    json_object_set(body, "title", json_object_get(item, "name"));
    json_object_set_new(body, "supervisor_unit", json_integer(api->req_unit_id(r)));
    json_object_set_new(body, "assign", json_true());
    json_decref(item);
    char *spec = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    api->db_write_begin(self);
    int64_t tid = api->item_create(self, api->req_user_id(r), spec);
    free(spec);
    char target[40];
    snprintf(target, sizeof target, "item:%lld", (long long)tid);
    int ok = tid > 0 && api->audit(r, "hello.track", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    if (tid <= 0) {
        engine_error(r, self, tid);
        return;
    }
    char *out = api->item_get(self, tid);
    if (ok && out)
        api->resp_json(r, 201, out);
    else
        api->resp_error(r, 500, "internal", "cannot save the tracked item");
    api->free(out);
}

/* POST /api/hello/tracked/:tid/urge {"message"}: the supervising side urges (催办) through
 * the plugin API rather than the core route, to show item_act. */
static void urge_tracked(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    if (api->req_may(r, "hello.manage", api->req_unit_id(r)) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not urge from your unit");
        return;
    }
    if (!api->req_json_ok(r))
        return;
    size_t len;
    const char *body = api->req_body(r, &len);
    int64_t tid = id_param(r);
    if (!tid) {
        api->resp_error(r, 404, "not_found", "no such tracked item");
        return;
    }
    int64_t rc = api->item_act(self, tid, "urge", api->req_user_id(r), body);
    if (rc < 0) {
        engine_error(r, self, rc);
        return;
    }
    char *out = api->item_get(self, tid);
    api->resp_json(r, 200, out);
    api->free(out);
}

/* ---- dispatch and receipt (ABI 1.2) ---- */

/* POST /api/hello/items/:id/dispatch {"unit_ids": [...], "deadline_in": s, "reply_form", "ladder"}:
 * send the item to units, each of which must sign for it (签收) and maybe reply; the
 * recipients act through /api/dispatches/:id/..., checked with hello.receive. */
static void dispatch_item(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = visible_item(r, self, "hello.read");
    if (!id)
        return;
    if (api->req_may(r, "hello.send", api->req_unit_id(r)) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not send from your unit");
        return;
    }
    if (!api->req_json_ok(r))
        return;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL), *units = json_object_get(body, "unit_ids"), *v;
    if (!json_is_object(body) || !json_is_array(units)) {
        api->resp_invalid(r, "unit_ids", "the body is {\"unit_ids\": [ids], \"deadline_in\": seconds, ...}");
        json_decref(body);
        return;
    }
    json_t *recipients = json_array();
    size_t i;
    json_array_foreach(units, i, v)
        json_array_append_new(recipients, json_pack("{s:O,s:s}", "unit_id", v, "kind", "main"));
    json_object_del(body, "unit_ids");
    char *name = item_json(self, id), record[40], link[48];
    json_t *item = json_loads(name, 0, NULL);
    free(name);
    snprintf(record, sizeof record, "hello_items:%lld", (long long)id);
    snprintf(link, sizeof link, "#/hello/items/%lld", (long long)id);
    json_object_set(body, "title", json_object_get(item, "name"));
    json_object_set_new(body, "record", json_string(record));
    json_object_set_new(body, "link", json_string(link));
    json_object_set_new(body, "sender_unit", json_integer(api->req_unit_id(r)));
    json_object_set_new(body, "sender_user", json_integer(api->req_user_id(r)));
    json_object_set_new(body, "recipients", recipients);
    json_decref(item);
    char *spec = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    api->db_write_begin(self);
    int64_t did = api->dispatch_create(self, spec);
    free(spec);
    char target[40];
    snprintf(target, sizeof target, "dispatch:%lld", (long long)did);
    int ok = did > 0 && api->audit(r, "hello.dispatch", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    if (did <= 0) {
        engine_error(r, self, did);
        return;
    }
    char *board = api->dispatch_board(self, did);
    if (ok && board)
        api->resp_json(r, 201, board);
    else
        api->resp_error(r, 500, "internal", "cannot save the dispatch");
    api->free(board);
}

/* POST /api/hello/dispatches/:id/sign: the caller signs for their unit through the plugin
 * API (dispatch_act) rather than the core route; the engine checks they may. */
static void sign_dispatch(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t did = id_param(r);
    int64_t rc = did ? api->dispatch_act(self, did, "sign", api->req_user_id(r), 0, NULL) : YM_E_NOTFOUND;
    if (rc < 0) {
        engine_error(r, self, rc);
        return;
    }
    api->resp_json(r, 200, "{\"signed\":true}");
}

/* ---- lifecycle ---- */

/* Settings are checked here: a bad value fails the plugin with the reason. */
static int check_settings(ym_plugin *self)
{
    for (size_t i = 0; api->setting_key(self, i); i++) {
        const char *k = api->setting_key(self, i);
        if (strcmp(k, "greeting") != 0 && strcmp(k, "max_items") != 0) {
            char why[96];
            snprintf(why, sizeof why, "hello.%s: unknown setting", k);
            api->fail(self, why);
            return -1;
        }
    }
    greeting = api->setting_string(self, "greeting", "你好");
    if (api->setting_has(self, "greeting") && api->setting_string(self, "greeting", NULL) == NULL) {
        api->fail(self, "hello.greeting: must be a string");
        return -1;
    }
    /* setting_int answers the default for a value that is not an integer: ask twice */
    bool is_int = api->setting_int(self, "max_items", -1) != -1 || api->setting_int(self, "max_items", -2) != -2;
    max_items = api->setting_int(self, "max_items", 1000);
    if ((api->setting_has(self, "max_items") && !is_int) || max_items < 1 || max_items > 1000000) {
        api->fail(self, "hello.max_items: must be an integer from 1 to 1000000");
        return -1;
    }
    return 0;
}

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    if (check_settings(self) < 0)
        return -1;
    if (api->permission(self, "hello.read", "查看示例条目", "read hello items") < 0 ||
        api->permission(self, "hello.write", "编辑示例条目", "edit hello items") < 0)
        return -1;
    if (api->route(self, "GET", "/api/hello/items", "hello.read", list_items, self) < 0 ||
        api->route(self, "POST", "/api/hello/items", "hello.write", create_item, self) < 0 ||
        api->route(self, "GET", "/api/hello/items/:id", "hello.read", get_item, self) < 0 ||
        api->route(self, "PATCH", "/api/hello/items/:id", "hello.write", update_item, self) < 0 ||
        api->route(self, "DELETE", "/api/hello/items/:id", "hello.write", delete_item, self) < 0)
        return -1;
    /* the shared services came with ABI minor 1: an older host has none of them */
    if (api->abi_minor < 1)
        return 0;
    if (api->route(self, "POST", "/api/hello/items/:id/confirm", "hello.write", confirm_item, self) < 0 ||
        api->route(self, "POST", "/api/hello/items/:id/files", "hello.write", attach_file, self) < 0 ||
        api->route(self, "GET", "/api/hello/items.xlsx", "hello.read", export_items, self) < 0 ||
        api->route(self, "POST", "/api/hello/items/import", "hello.write", import_items, self) < 0 ||
        api->route(self, "GET", "/api/hello/seen", "hello.read", list_seen, self) < 0 ||
        api->subscribe(self, "hello_lua.greeting.created", on_greeting, NULL) < 0)
        return -1;
    /* the engines came with ABI minor 2 */
    if (api->abi_minor < 2)
        return 0;
    if (api->permission(self, "hello.manage", "督办示例条目", "supervise hello items as tracked items") < 0 ||
        api->permission(self, "hello.handle", "办理示例督办", "handle tracked hello items") < 0 ||
        api->route(self, "POST", "/api/hello/items/:id/track", "hello.manage", track_item, self) < 0 ||
        api->route(self, "POST", "/api/hello/tracked/:id/urge", "hello.manage", urge_tracked, self) < 0 ||
        api->permission(self, "hello.send", "分发示例条目", "send hello items to units") < 0 ||
        api->permission(self, "hello.receive", "签收示例条目", "sign for hello items") < 0 ||
        api->route(self, "POST", "/api/hello/items/:id/dispatch", "hello.send", dispatch_item, self) < 0 ||
        api->route(self, "POST", "/api/hello/dispatches/:id/sign", "hello.receive", sign_dispatch, self) < 0)
        return -1;
    return 0;
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "hello", .version = "1.0.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = NULL, .stop = NULL,
};
