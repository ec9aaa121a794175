/* meetings: the notice's fields: validation of a create, a PATCH or a change over the
 * stored values (or the defaults), the generated SMS text, and reading and writing them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meetings.h"
static const char *const FIELDS[] = {"title", "type", "organiser_unit", "convener_user", "start_at", "duration_min",
                                     "place", "room_id", "content", "attendance", "materials", "reply_deadline",
                                     "sms", "sms_text", NULL};

/* A string of min..max characters; multi-line allows \n, \r and \t. */
static bool text_ok(json_t *v, size_t min, size_t max, bool multiline)
{
    return json_is_string(v) && ym_text_ok(json_string_value(v), json_string_length(v), min, max, multiline);
}

bool mt_id_ok(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0;
}

static bool exists(ym_plugin *self, const char *sql, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st)
        return false;
    api->db_bind_int(st, 1, id);
    bool yes = api->db_step(st) == YM_ROW;
    api->db_reset(st);
    return yes;
}

/* The SMS text: "12月1日 09:00在县政府三楼会议室开会，议题：…" (or 【预警】title for a warning). */
int mt_sms_text(json_t *vals)
{
    char when[40], text[1800];
    const char *title = json_string_value(json_object_get(vals, "title"));
    if (strcmp(json_string_value(json_object_get(vals, "type")), "warning") == 0) {
        snprintf(text, sizeof text, "【预警】%s", title);
    } else {
        api->time_format(json_integer_value(json_object_get(vals, "start_at")), when, sizeof when);
        snprintf(text, sizeof text, "%d月%d日 %.5s在%s开会，议题：%s", atoi(when + 5), atoi(when + 8), when + 11,
                 json_string_value(json_object_get(vals, "place")), title);
    }
    json_object_set_new(vals, "sms_text", json_string(text));
    return 0;
}

/* Validates body's fields over cur (the stored values, or the defaults) and returns the
 * merged values (times in ms), or NULL after answering 400 / 403. */
json_t *mt_fields(ym_request *r, ym_plugin *self, json_t *body, json_t *cur, const char *const *extra)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (!mt_in_list(k, FIELDS) && !mt_in_list(k, extra)) {
            api->resp_invalid(r, k, "unknown field");
            return NULL;
        }
    }
    json_t *vals = json_deep_copy(cur);
    const char *bad = NULL, *why = NULL;
    json_object_foreach(body, k, v) {
        if (mt_in_list(k, extra))
            continue;
        int64_t ms;
        if (!strcmp(k, "title") && !text_ok(v, 1, 200, false))
            bad = k, why = "title must be 1 to 200 characters on one line";
        else if (!strcmp(k, "type") && !(json_is_string(v) && (!strcmp(json_string_value(v), "meeting") ||
                                                               !strcmp(json_string_value(v), "warning"))))
            bad = k, why = "type must be \"meeting\" or \"warning\"";
        else if ((!strcmp(k, "organiser_unit") || !strcmp(k, "convener_user")) && !mt_id_ok(v))
            bad = k, why = "must be an id";
        else if ((!strcmp(k, "start_at") || !strcmp(k, "reply_deadline")) && !(json_is_null(v) && !strcmp(k, "reply_deadline")) &&
                 (!json_is_string(v) || mt_parse_time(json_string_value(v), &ms) < 0))
            bad = k, why = "must be a time in RFC 3339 with an offset (2026-12-01T09:00:00+08:00)";
        else if (!strcmp(k, "duration_min") && !(json_is_integer(v) && json_integer_value(v) >= 1 &&
                                                 json_integer_value(v) <= 1440))
            bad = k, why = "duration_min must be a whole number of minutes from 1 to 1440";
        else if (!strcmp(k, "place") && !(json_is_string(v) && (!json_string_length(v) || text_ok(v, 0, 200, false))))
            bad = k, why = "place must be at most 200 characters on one line";
        else if (!strcmp(k, "room_id") && !json_is_null(v) && !mt_id_ok(v))
            bad = k, why = "room_id must be a room id or null";
        else if (!strcmp(k, "content") && !text_ok(v, 0, 20000, true))
            bad = k, why = "content must be a string of at most 20000 characters";
        else if (!strcmp(k, "attendance") && !text_ok(v, 0, 500, true))
            bad = k, why = "attendance must be a string of at most 500 characters";
        else if (!strcmp(k, "materials") && !text_ok(v, 0, 2000, true))
            bad = k, why = "materials must be a string of at most 2000 characters";
        else if (!strcmp(k, "sms") && !json_is_boolean(v))
            bad = k, why = "sms must be true or false";
        else if (!strcmp(k, "sms_text") && !json_is_null(v) && !text_ok(v, 1, 500, false))
            bad = k, why = "sms_text must be 1 to 500 characters on one line, or null (generated)";
        if (bad)
            break;
        if ((!strcmp(k, "start_at") || !strcmp(k, "reply_deadline")) && json_is_string(v))
            json_object_set_new(vals, k, json_integer(ms));
        else
            json_object_set(vals, k, v);
    }
    if (!bad) {
        json_t *title = json_object_get(vals, "title");
        bool warning = !strcmp(json_string_value(json_object_get(vals, "type")), "warning");
        int64_t start = json_integer_value(json_object_get(vals, "start_at"));
        json_t *dl = json_object_get(vals, "reply_deadline"), *room = json_object_get(vals, "room_id");
        if (!json_is_string(title))
            bad = "title", why = "title is required";
        else if (!start && !warning)
            bad = "start_at", why = "start_at is required";
        else if (json_is_integer(dl) && !warning && json_integer_value(dl) > start)
            bad = "reply_deadline", why = "reply_deadline must not be after start_at";
        else if (!exists(self, "SELECT 1 FROM core_v_units WHERE id = ?1 AND active = 1",
                         json_integer_value(json_object_get(vals, "organiser_unit"))))
            bad = "organiser_unit", why = "no such active unit";
        else if (!exists(self, "SELECT 1 FROM core_v_users WHERE id = ?1",
                         json_integer_value(json_object_get(vals, "convener_user"))))
            bad = "convener_user", why = "no such user";
        else if (json_is_integer(room) &&
                 !exists(self, "SELECT 1 FROM meetings_rooms WHERE id = ?1 AND active = 1", json_integer_value(room)))
            bad = "room_id", why = "no such room";
        else if (!json_string_length(json_object_get(vals, "place")) && !json_is_integer(room) && !warning)
            bad = "place", why = "a place or a room is required";
        if (!bad && !start)
            json_object_set_new(vals, "start_at", json_integer(api->now()));
    }
    if (bad) {
        api->resp_invalid(r, bad, why);
        json_decref(vals);
        return NULL;
    }
    json_t *room = json_object_get(vals, "room_id");
    if (json_is_integer(room) && !json_string_length(json_object_get(vals, "place"))) {
        char name[700] = "";
        ym_stmt *st = api->db_prepare(self, "SELECT name FROM meetings_rooms WHERE id = ?1");
        if (st) {
            api->db_bind_int(st, 1, json_integer_value(room));
            if (api->db_step(st) == YM_ROW)
                snprintf(name, sizeof name, "%s", api->db_column_text(st, 0));
            api->db_reset(st);
        }
        json_object_set_new(vals, "place", json_string(name));
    }
    if (!json_is_string(json_object_get(body, "sms_text")))
        mt_sms_text(vals);
    if (api->req_may(r, "meetings.send", json_integer_value(json_object_get(vals, "organiser_unit"))) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not organise meetings for that unit (meetings.send)");
        json_decref(vals);
        return NULL;
    }
    return vals;
}

/* Binds the values of vals to ?2.. of a statement in FIELDS order (?1 is left to the caller). */
int mt_bind_vals(ym_stmt *st, json_t *vals)
{
    int rc = 0;
    for (int i = 0; FIELDS[i]; i++) {
        json_t *v = json_object_get(vals, FIELDS[i]);
        if (json_is_integer(v))
            rc |= api->db_bind_int(st, i + 2, json_integer_value(v));
        else if (json_is_boolean(v))
            rc |= api->db_bind_int(st, i + 2, json_is_true(v));
        else if (json_is_string(v))
            rc |= api->db_bind_text(st, i + 2, json_string_value(v));
        else
            rc |= api->db_bind_null(st, i + 2);
    }
    return rc;
}

/* The stored values of a meeting in the form mt_fields works on. */
json_t *mt_stored_vals(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT title, type, organiser_unit, convener_user, start_at, duration_min, "
                                        "place, room_id, content, attendance, materials, reply_deadline, sms, sms_text "
                                        "FROM meetings_meetings WHERE id = ?1");
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    json_t *vals = NULL;
    if (api->db_step(st) == YM_ROW) {
        vals = json_object();
        for (int i = 0; FIELDS[i]; i++) {
            int t = api->db_column_type(st, i);
            json_t *v = t == YM_NULL ? json_null() : t == YM_INTEGER ? json_integer(api->db_column_int(st, i))
                      : json_string(api->db_column_text(st, i));
            if (!strcmp(FIELDS[i], "sms"))
                v = (json_decref(v), json_boolean(api->db_column_int(st, i)));
            json_object_set_new(vals, FIELDS[i], v);
        }
    }
    api->db_reset(st);
    return vals;
}

/* The update of a meeting's fields (PATCH and change). */
int mt_store_vals(ym_plugin *self, int64_t id, json_t *vals)
{
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET title = ?2, type = ?3, organiser_unit = ?4, "
                                        "convener_user = ?5, start_at = ?6, duration_min = ?7, place = ?8, room_id = ?9, "
                                        "content = ?10, attendance = ?11, materials = ?12, reply_deadline = ?13, "
                                        "sms = ?14, sms_text = ?15, updated_at = ?16 WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, id) == 0 && mt_bind_vals(st, vals) == 0 &&
             api->db_bind_int(st, 16, api->now()) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    return ok ? 0 : -1;
}

