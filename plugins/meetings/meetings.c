/* meetings (会议通知): meeting notices sent through the dispatch engine. This file: the
 * notice record (CRUD, scope), shared helpers, settings and init. fields.c: validation of
 * the fields; send.c: send, change, cancel, start, finish, the board and the deadline job;
 * checkin.c: check-in, minutes, rooms and statistics. See docs/api/meetings.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "meetings.h"

const ym_api *api;
mt_settings mt_cfg;

/* ---------------------------------------------------------------- helpers */

int64_t mt_id_param(ym_request *r)
{
    const char *s = api->req_param(r, "id");
    long long v;
    return ym_parse_int(s, 1, INT64_MAX, &v) ? v : 0;
}

json_t *mt_time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    api->time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 with an offset: "2026-12-01T09:00[:00[.000]](Z|+08:00)" -> ms. 0 ok, -1 bad. */
int mt_parse_time(const char *s, int64_t *ms)
{
    if (!s || strlen(s) < 17 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2), mi = digits(s + 14, 2);
    int sec = 0, frac = 0;
    const char *p = s + 16;
    if (*p == ':') {
        sec = digits(p + 1, 2);
        p += 3;
        if (*p == '.') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 3)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return -1;
            for (; n < 3; n++)
                frac *= 10;
        }
    }
    int off = 0;
    if (*p == 'Z' && !p[1])
        off = 0;
    else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || om < 0 || oh > 14 || om > 59)
            return -1;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 59)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *ms = ((int64_t)timegm(&tm) - (int64_t)off * 60) * 1000 + frac;
    return 0;
}

json_t *mt_body(ym_request *r)
{
    if (!api->req_json_ok(r))
        return NULL;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = len ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : json_object();
    if (!json_is_object(body)) {
        api->resp_invalid(r, "", "the body must be a JSON object");
        json_decref(body);
        return NULL;
    }
    return body;
}

bool mt_in_list(const char *k, const char *const *l)
{
    for (; l && *l; l++)
        if (strcmp(k, *l) == 0)
            return true;
    return false;
}

bool mt_only_fields(ym_request *r, json_t *body, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (!mt_in_list(k, allowed)) {
            api->resp_invalid(r, k, "unknown field");
            return false;
        }
    }
    return true;
}

void mt_engine_error(ym_request *r, ym_plugin *self, int64_t rc)
{
    int status = rc == YM_E_NOTFOUND ? 404 : rc == YM_E_STATE || rc == YM_E_LAG ? 409 : rc == YM_E_DB ? 503
               : rc == YM_E_FORBIDDEN ? 403 : 400;
    const char *code = rc == YM_E_NOTFOUND ? "not_found" : rc == YM_E_LAG ? "lag_reason_required"
                     : rc == YM_E_STATE ? "conflict" : rc == YM_E_DB ? "storage_busy"
                     : rc == YM_E_FORBIDDEN ? "forbidden" : "invalid";
    const char *why = api->error(self);
    if (!why || !*why)
        why = "the change could not be saved";
    if (status == 400)
        api->resp_invalid(r, "", why);
    else
        api->resp_error(r, status, code, why);
}

void mt_reply(ym_request *r, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (text)
        api->resp_json(r, status, text);
    else
        api->resp_error(r, 500, "internal", "cannot encode");
    free(text);
    json_decref(j);
}

const char *mt_unit_name(ym_plugin *self, int64_t unit, char *buf, size_t len)
{
    ym_stmt *st = api->db_prepare(self, "SELECT name FROM core_v_units WHERE id = ?1");
    buf[0] = 0;
    if (!st)
        return buf;
    api->db_bind_int(st, 1, unit);
    if (api->db_step(st) == YM_ROW)
        snprintf(buf, len, "%s", api->db_column_text(st, 0));
    api->db_reset(st);
    return buf;
}

#define COLS "m.id, m.number, m.title, m.type, m.organiser_unit, m.convener_user, m.start_at, m.duration_min, " \
             "m.place, m.room_id, m.content, m.attendance, m.materials, m.reply_deadline, m.sms, m.sms_text, " \
             "m.state, m.dispatch_id, m.change_note, m.cancel_reason, m.created_by, m.created_at, m.updated_at, " \
             "m.sent_at, m.finished_at, u.name, p.display_name, r.name"
#define FROM " FROM meetings_meetings m LEFT JOIN core_v_units u ON u.id = m.organiser_unit " \
             "LEFT JOIN core_v_users p ON p.id = m.convener_user LEFT JOIN meetings_rooms r ON r.id = m.room_id"

static json_t *text_or_null(ym_stmt *st, int c)
{
    return api->db_column_type(st, c) == YM_NULL ? json_null() : json_string(api->db_column_text(st, c));
}

static json_t *int_or_null(ym_stmt *st, int c)
{
    return api->db_column_type(st, c) == YM_NULL ? json_null() : json_integer(api->db_column_int(st, c));
}

static json_t *row_json(ym_stmt *st)
{
    json_t *room = api->db_column_type(st, 9) == YM_NULL ? json_null()
                 : json_pack("{s:I,s:o}", "id", (json_int_t)api->db_column_int(st, 9), "name", text_or_null(st, 27));
    json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)api->db_column_int(st, 0), "number",
                          api->db_column_text(st, 1), "title", api->db_column_text(st, 2), "type",
                          api->db_column_text(st, 3));
    json_object_set_new(j, "organiser_unit", json_pack("{s:I,s:o}", "id", (json_int_t)api->db_column_int(st, 4),
                                                       "name", text_or_null(st, 25)));
    json_object_set_new(j, "convener", json_pack("{s:I,s:o}", "id", (json_int_t)api->db_column_int(st, 5), "name",
                                                 text_or_null(st, 26)));
    json_object_set_new(j, "start_at", mt_time_json(api->db_column_int(st, 6)));
    json_object_set_new(j, "duration_min", json_integer(api->db_column_int(st, 7)));
    json_object_set_new(j, "place", json_string(api->db_column_text(st, 8)));
    json_object_set_new(j, "room", room);
    json_object_set_new(j, "content", json_string(api->db_column_text(st, 10)));
    json_object_set_new(j, "attendance", json_string(api->db_column_text(st, 11)));
    json_object_set_new(j, "materials", json_string(api->db_column_text(st, 12)));
    json_object_set_new(j, "reply_deadline", api->db_column_type(st, 13) == YM_NULL ? json_null()
                                                 : mt_time_json(api->db_column_int(st, 13)));
    json_object_set_new(j, "sms", json_boolean(api->db_column_int(st, 14)));
    json_object_set_new(j, "sms_text", text_or_null(st, 15));
    json_object_set_new(j, "state", json_string(api->db_column_text(st, 16)));
    json_object_set_new(j, "dispatch_id", int_or_null(st, 17));
    json_object_set_new(j, "change_note", text_or_null(st, 18));
    json_object_set_new(j, "cancel_reason", text_or_null(st, 19));
    json_object_set_new(j, "created_by", json_integer(api->db_column_int(st, 20)));
    json_object_set_new(j, "created_at", mt_time_json(api->db_column_int(st, 21)));
    json_object_set_new(j, "updated_at", mt_time_json(api->db_column_int(st, 22)));
    json_object_set_new(j, "sent_at", api->db_column_type(st, 23) == YM_NULL ? json_null()
                                          : mt_time_json(api->db_column_int(st, 23)));
    json_object_set_new(j, "finished_at", api->db_column_type(st, 24) == YM_NULL ? json_null()
                                              : mt_time_json(api->db_column_int(st, 24)));
    return j;
}

int mt_load(ym_plugin *self, int64_t id, mt_meeting *m)
{
    memset(m, 0, sizeof *m);
    ym_stmt *st = api->db_prepare(self, "SELECT " COLS FROM " WHERE m.id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int found = 0;
    if (api->db_step(st) == YM_ROW) {
        found = 1;
        m->id = id;
        m->organiser_unit = api->db_column_int(st, 4);
        m->convener_user = api->db_column_int(st, 5);
        m->start_at = api->db_column_int(st, 6);
        m->duration_min = api->db_column_int(st, 7);
        m->room_id = api->db_column_type(st, 9) == YM_NULL ? 0 : api->db_column_int(st, 9);
        m->reply_deadline = api->db_column_type(st, 13) == YM_NULL ? 0 : api->db_column_int(st, 13);
        m->dispatch_id = api->db_column_type(st, 17) == YM_NULL ? 0 : api->db_column_int(st, 17);
        snprintf(m->state, sizeof m->state, "%s", api->db_column_text(st, 16));
        snprintf(m->type, sizeof m->type, "%s", api->db_column_text(st, 3));
        snprintf(m->title, sizeof m->title, "%s", api->db_column_text(st, 2));
        snprintf(m->place, sizeof m->place, "%s", api->db_column_text(st, 8));
        m->j = row_json(st);
    }
    api->db_reset(st);
    return found;
}

void mt_free(mt_meeting *m)
{
    json_decref(m->j);
    m->j = NULL;
}

/* The recipient units (of meeting id, or of every meeting when id is 0), other than the
 * caller's own, on which the caller holds meetings.receive: ",3,5," (malloc'ed; "," for
 * none), or NULL on error. A contact acts for a unit through such a grant. */
char *mt_receive_units(ym_request *r, ym_plugin *self, int64_t id)
{
    size_t cap = 256, len = 1, n = 0, ncap = 64;
    char *out = malloc(cap);
    int64_t *units = malloc(ncap * sizeof *units);
    if (!out || !units) {
        free(out);
        free(units);
        return NULL;
    }
    strcpy(out, ",");
    if (api->req_may(r, "meetings.receive", 0) != 1) {   /* none anywhere: the common case */
        free(units);
        return out;
    }
    ym_stmt *st = api->db_prepare(self, "SELECT DISTINCT unit_id FROM meetings_recipients WHERE unit_id > 0 AND "
                                        "unit_id <> ?2 AND (?1 = 0 OR meeting_id = ?1) ORDER BY unit_id");
    if (!st) {
        free(out);
        free(units);
        return NULL;
    }
    api->db_bind_int(st, 1, id);
    api->db_bind_int(st, 2, api->req_unit_id(r));
    while (api->db_step(st) == YM_ROW) {
        if (n == ncap) {
            int64_t *more = realloc(units, (ncap *= 2) * sizeof *units);
            if (!more)
                break;
            units = more;
        }
        units[n++] = api->db_column_int(st, 0);
    }
    api->db_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (api->req_may(r, "meetings.receive", units[i]) != 1)
            continue;
        if (len + 24 > cap) {
            char *more = realloc(out, cap *= 2);
            if (!more)
                break;
            out = more;
        }
        len += (size_t)snprintf(out + len, cap - len, "%lld,", (long long)units[i]);
    }
    free(units);
    return out;
}

int64_t mt_invited_unit(ym_request *r, ym_plugin *self, int64_t meeting_id)
{
    int64_t me = api->req_unit_id(r), uid = api->req_user_id(r);
    ym_stmt *st = api->db_prepare(self, "SELECT 1 FROM meetings_recipients WHERE meeting_id = ?1 AND "
                                        "((unit_id = ?2 AND ?2 > 0) OR (user_id = ?3 AND ?3 > 0)) LIMIT 1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, meeting_id);
    api->db_bind_int(st, 2, me);
    api->db_bind_int(st, 3, uid);
    bool yes = api->db_step(st) == YM_ROW;
    api->db_reset(st);
    if (yes)
        return me;
    char *units = mt_receive_units(r, self, meeting_id);
    if (!units)
        return -1;
    int64_t via = 0;
    if (units[1]) {
        st = api->db_prepare(self, "SELECT unit_id FROM meetings_recipients WHERE meeting_id = ?1 AND unit_id > 0 "
                                   "AND instr(?2, ',' || unit_id || ',') > 0 ORDER BY unit_id LIMIT 1");
        if (!st)
            via = -1;
        else {
            api->db_bind_int(st, 1, meeting_id);
            api->db_bind_text(st, 2, units);
            if (api->db_step(st) == YM_ROW)
                via = api->db_column_int(st, 0);
            api->db_reset(st);
        }
    }
    free(units);
    return via;
}

int mt_visible(ym_request *r, ym_plugin *self, mt_meeting *m)
{
    int64_t id = mt_id_param(r);
    int found = id ? mt_load(self, id, m) : 0;
    if (found < 0) {
        api->resp_error(r, 503, "storage_busy", "cannot read the meeting");
        return 0;
    }
    if (found && (api->req_may(r, "meetings.read", m->organiser_unit) == 1 ||
                  api->req_may(r, "meetings.send", m->organiser_unit) == 1 ||
                  (strcmp(m->state, "draft") != 0 && mt_invited_unit(r, self, id) > 0)))
        return 1;
    if (found)
        mt_free(m);
    api->resp_error(r, 404, "not_found", "no such meeting");
    return 0;
}

int mt_organiser(ym_request *r, ym_plugin *self, mt_meeting *m, const char *perm)
{
    if (!mt_visible(r, self, m))
        return 0;
    if (api->req_may(r, perm, m->organiser_unit) != 1) {
        mt_free(m);
        api->resp_error(r, 403, "forbidden", "only the organising unit may do that");
        return 0;
    }
    return 1;
}

void mt_reply_meeting(ym_request *r, ym_plugin *self, int status, int64_t id)
{
    mt_meeting m;
    if (mt_load(self, id, &m) != 1) {
        api->resp_error(r, 500, "internal", "cannot read the meeting");
        return;
    }
    mt_reply(r, status, json_incref(m.j));
    mt_free(&m);
}

int mt_set_state(ym_plugin *self, int64_t id, const char *state)
{
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET state = ?2, updated_at = ?3 WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_text(st, 2, state) == 0 &&
             api->db_bind_int(st, 3, api->now()) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    return ok ? 0 : -1;
}

/* 409 naming the other meeting when room is booked over [start, start+dur) by a meeting
 * that is not cancelled (nor id itself). 1 clash (answered), 0 free, -1 error (answered). */
int mt_room_clash(ym_request *r, ym_plugin *self, int64_t id, int64_t room, int64_t start, int64_t dur)
{
    if (!room)
        return 0;
    ym_stmt *st = api->db_prepare(self, "SELECT id, number, title, start_at FROM meetings_meetings WHERE room_id = ?1 "
                                        "AND id <> ?2 AND state NOT IN ('cancelled', 'finished') AND start_at < ?4 AND "
                                        "start_at + duration_min * 60000 > ?3 ORDER BY start_at LIMIT 1");
    if (!st) {
        api->resp_error(r, 503, "storage_busy", "cannot read the rooms");
        return -1;
    }
    api->db_bind_int(st, 1, room);
    api->db_bind_int(st, 2, id);
    api->db_bind_int(st, 3, start);
    api->db_bind_int(st, 4, start + dur * 60000);
    int clash = 0;
    if (api->db_step(st) == YM_ROW) {
        char msg[900], when[40];
        api->time_format(api->db_column_int(st, 3), when, sizeof when);
        snprintf(msg, sizeof msg, "the room is booked then by meeting %lld %s 《%s》 at %s",
                 (long long)api->db_column_int(st, 0), api->db_column_text(st, 1), api->db_column_text(st, 2), when);
        clash = 1;
        api->db_reset(st);
        api->resp_error(r, 409, "room_conflict", msg);
        return clash;
    }
    api->db_reset(st);
    return 0;
}

/* ---------------------------------------------------------------- CRUD */

static long long query_int(ym_request *r, const char *name, long long def, long long lo, long long hi)
{
    const char *s = api->req_query(r, name);
    long long v;
    return !s ? def : ym_parse_int(s, lo, hi, &v) ? v : -1;
}

/* GET /api/meetings?box=organised|invited&unit=&state=&limit=&after= */
static void list_meetings(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    const char *box = api->req_query(r, "box"), *state = api->req_query(r, "state");
    long long limit = query_int(r, "limit", 50, 1, 200), after = query_int(r, "after", 0, 0, INT64_MAX);
    long long unit = query_int(r, "unit", api->req_unit_id(r), 1, INT64_MAX);
    bool invited = box && !strcmp(box, "invited");
    static const char *const states[] = {"draft", "sent", "changed", "cancelled", "in_progress", "finished", NULL};
    if (box && !invited && strcmp(box, "organised")) {
        api->resp_invalid(r, "box", "box is organised or invited");
        return;
    }
    if (limit < 0 || after < 0 || unit < 0 || (state && !mt_in_list(state, states))) {
        api->resp_invalid(r, limit < 0 ? "limit" : after < 0 ? "after" : unit < 0 ? "unit" : "state",
                          "limit 1-200, after an id, unit an id, state a meeting state");
        return;
    }
    if (!invited && api->req_may(r, "meetings.read", unit) != 1 && api->req_may(r, "meetings.send", unit) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not read the meetings of that unit");
        return;
    }
    /* invited: to the caller, to their unit, or to a unit they receive for (a contact) */
    char *via = invited ? mt_receive_units(r, self, 0) : NULL;
    ym_stmt *st = invited && !via ? NULL : api->db_prepare(self, invited
        ? "SELECT " COLS FROM " WHERE m.id IN (SELECT meeting_id FROM meetings_recipients WHERE (unit_id = ?1 AND ?1 > 0) "
          "OR (user_id = ?4 AND ?4 > 0) OR (unit_id > 0 AND instr(?6, ',' || unit_id || ',') > 0)) AND m.state <> 'draft' "
          "AND (?2 = 0 OR m.id < ?2) AND (?5 IS NULL OR m.state = ?5) ORDER BY m.id DESC LIMIT ?3"
        : "SELECT " COLS FROM " WHERE m.organiser_unit = ?1 AND (?2 = 0 OR m.id < ?2) AND (?4 = ?4) "
          "AND (?5 IS NULL OR m.state = ?5) AND (?6 IS NULL) ORDER BY m.id DESC LIMIT ?3");
    if (!st) {
        free(via);
        api->resp_error(r, 503, "storage_busy", "cannot read the meetings");
        return;
    }
    if (via)
        api->db_bind_text(st, 6, via);
    else
        api->db_bind_null(st, 6);
    api->db_bind_int(st, 1, invited ? api->req_unit_id(r) : unit);
    api->db_bind_int(st, 2, after);
    api->db_bind_int(st, 3, limit);
    api->db_bind_int(st, 4, api->req_user_id(r));
    if (state)
        api->db_bind_text(st, 5, state);
    else
        api->db_bind_null(st, 5);
    json_t *items = json_array();
    while (api->db_step(st) == YM_ROW)
        json_array_append_new(items, row_json(st));
    api->db_reset(st);
    free(via);
    size_t n = json_array_size(items);
    json_t *last = n == (size_t)limit ? json_object_get(json_array_get(items, n - 1), "id") : NULL;
    mt_reply(r, 200, json_pack("{s:o,s:O}", "items", items, "next", last ? last : json_null()));
}

static void get_meeting(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_visible(r, self, &m))
        return;
    json_t *j = json_incref(m.j);
    json_t *rec = json_array();
    ym_stmt *st = api->db_prepare(self, "SELECT x.unit_id, x.user_id, u.name, p.display_name FROM meetings_recipients x "
                                        "LEFT JOIN core_v_units u ON u.id = x.unit_id LEFT JOIN core_v_users p ON "
                                        "p.id = x.user_id WHERE x.meeting_id = ?1 ORDER BY x.unit_id, x.user_id");
    if (st) {
        api->db_bind_int(st, 1, m.id);
        while (api->db_step(st) == YM_ROW)
            json_array_append_new(rec, api->db_column_int(st, 0)
                ? json_pack("{s:I,s:o}", "unit_id", (json_int_t)api->db_column_int(st, 0), "name", text_or_null(st, 2))
                : json_pack("{s:I,s:o}", "user_id", (json_int_t)api->db_column_int(st, 1), "name", text_or_null(st, 3)));
        api->db_reset(st);
    }
    json_object_set_new(j, "recipients", rec);
    mt_free(&m);
    mt_reply(r, 200, j);
}

static const char *const CREATE_EXTRA[] = {"file_ids", NULL};

static bool file_ids_ok(ym_request *r, json_t *body)
{
    json_t *f = json_object_get(body, "file_ids"), *v;
    size_t i;
    if (!f)
        return true;
    bool ok = json_is_array(f) && json_array_size(f) <= 20;
    json_array_foreach(f, i, v) ok = ok && mt_id_ok(v);
    if (!ok)
        api->resp_invalid(r, "file_ids", "file_ids must be a list of at most 20 file ids");
    return ok;
}

static void create_meeting(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    json_t *body = mt_body(r);
    if (!body)
        return;
    json_t *defaults = json_pack("{s:n,s:s,s:I,s:I,s:I,s:i,s:s,s:n,s:s,s:s,s:s,s:n,s:b,s:n}", "title", "type",
                                 "meeting", "organiser_unit", (json_int_t)api->req_unit_id(r), "convener_user",
                                 (json_int_t)api->req_user_id(r), "start_at", (json_int_t)0, "duration_min", 60,
                                 "place", "", "room_id", "content", "", "attendance", "", "materials", "",
                                 "reply_deadline", "sms", 0, "sms_text");
    json_t *vals = file_ids_ok(r, body) ? mt_fields(r, self, body, defaults, CREATE_EXTRA) : NULL;
    json_decref(defaults);
    if (!vals || mt_room_clash(r, self, 0, json_integer_value(json_object_get(vals, "room_id")),
                               json_integer_value(json_object_get(vals, "start_at")),
                               json_integer_value(json_object_get(vals, "duration_min")))) {
        json_decref(body);
        json_decref(vals);
        return;
    }
    int64_t now = api->now();
    char year[40];
    api->time_format(now, year, sizeof year);
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "INSERT INTO meetings_meetings (number, title, type, organiser_unit, "
                                        "convener_user, start_at, duration_min, place, room_id, content, attendance, "
                                        "materials, reply_deadline, sms, sms_text, state, created_by, created_at, "
                                        "updated_at) VALUES ('', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                                        "?14, ?15, 'draft', ?16, ?17, ?17)");
    int ok = st && api->db_bind_int(st, 1, 0) == 0 && mt_bind_vals(st, vals) == 0 &&
             api->db_bind_int(st, 16, api->req_user_id(r)) == 0 && api->db_bind_int(st, 17, now) == 0 &&
             api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    int64_t id = ok ? api->db_last_insert_id(self) : 0;
    char number[40], target[40];
    snprintf(number, sizeof number, "HY%.4s-%04lld", year, (long long)id);
    snprintf(target, sizeof target, "meetings_meetings:%lld", (long long)id);
    st = ok ? api->db_prepare(self, "UPDATE meetings_meetings SET number = ?2 WHERE id = ?1") : NULL;
    ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_text(st, 2, number) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    json_t *files = json_object_get(body, "file_ids"), *f;
    size_t i;
    const char *why = NULL;
    json_array_foreach(files, i, f) {
        if (ok && api->file_attach(self, r, json_integer_value(f), target) < 0) {
            ok = 0;
            why = api->error(self);
        }
    }
    char *why_copy = why ? strdup(why) : NULL;
    ok = ok && api->audit(r, "meetings.create", target, "ok", NULL) == 0 &&
         api->search_put(self, "meetings", target, json_string_value(json_object_get(vals, "title")),
                         json_string_value(json_object_get(vals, "content")),
                         json_integer_value(json_object_get(vals, "organiser_unit")), "meetings.read") == 0;
    api->db_write_end(self, ok);
    json_decref(body);
    json_decref(vals);
    if (why_copy)
        api->resp_invalid(r, "file_ids", why_copy);
    else if (ok)
        mt_reply_meeting(r, self, 201, id);
    else
        api->resp_error(r, 500, "internal", "cannot save the meeting");
    free(why_copy);
}

/* PATCH /api/meetings/:id: a draft only (a sent notice changes through /change). */
static void update_meeting(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    json_t *body = mt_body(r);
    if (!body) {
        mt_free(&m);
        return;
    }
    if (strcmp(m.state, "draft")) {
        api->resp_error(r, 409, "conflict", "only a draft is edited; change a sent notice with POST .../change");
        goto out;
    }
    json_t *cur = mt_stored_vals(self, m.id);
    json_t *vals = cur ? mt_fields(r, self, body, cur, NULL) : NULL;
    json_decref(cur);
    if (!vals)
        goto out;
    if (!mt_room_clash(r, self, m.id, json_integer_value(json_object_get(vals, "room_id")),
                       json_integer_value(json_object_get(vals, "start_at")),
                       json_integer_value(json_object_get(vals, "duration_min")))) {
        char target[40];
        snprintf(target, sizeof target, "meetings_meetings:%lld", (long long)m.id);
        api->db_write_begin(self);
        int ok = mt_store_vals(self, m.id, vals) == 0 && api->audit(r, "meetings.update", target, "ok", NULL) == 0;
        api->db_write_end(self, ok);
        if (ok)
            mt_reply_meeting(r, self, 200, m.id);
        else
            api->resp_error(r, 500, "internal", "cannot save the meeting");
    }
    json_decref(vals);
out:
    json_decref(body);
    mt_free(&m);
}

static void delete_meeting(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    if (strcmp(m.state, "draft")) {
        api->resp_error(r, 409, "conflict", "only a draft is deleted; cancel a sent notice");
        mt_free(&m);
        return;
    }
    char target[40];
    snprintf(target, sizeof target, "meetings_meetings:%lld", (long long)m.id);
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "DELETE FROM meetings_meetings WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, m.id) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    ok = ok && api->file_detach(self, target) >= 0 && api->search_del(self, "meetings", target) >= 0 &&
         api->audit(r, "meetings.delete", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    mt_free(&m);
    if (ok)
        api->resp_send(r, 204, "application/json", "", 0);
    else
        api->resp_error(r, 500, "internal", "cannot delete the meeting");
}

/* ---------------------------------------------------------------- settings and init */

static int int_setting(ym_plugin *self, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    bool is_int = api->setting_int(self, key, -1) != -1 || api->setting_int(self, key, -2) != -2;
    *out = api->setting_int(self, key, def);
    if ((api->setting_has(self, key) && !is_int) || *out < lo || *out > hi) {
        char why[160];
        snprintf(why, sizeof why, "meetings.%s: must be a whole number from %lld to %lld", key, (long long)lo,
                 (long long)hi);
        api->fail(self, why);
        return -1;
    }
    return 0;
}

static int check_settings(ym_plugin *self)
{
    static const char *const keys[] = {"remind_after_min", "channel_after_min", "call_before_deadline_min",
                                       "remind_before_start_min", "channel", NULL};
    for (size_t i = 0; api->setting_key(self, i); i++) {
        if (!mt_in_list(api->setting_key(self, i), keys)) {
            char why[128];
            snprintf(why, sizeof why, "meetings.%s: unknown setting", api->setting_key(self, i));
            api->fail(self, why);
            return -1;
        }
    }
    if (int_setting(self, "remind_after_min", 60, 1, 10080, &mt_cfg.remind_after_min) < 0 ||
        int_setting(self, "channel_after_min", 120, 1, 10080, &mt_cfg.channel_after_min) < 0 ||
        int_setting(self, "call_before_deadline_min", 0, 0, 10080, &mt_cfg.call_before_deadline_min) < 0 ||
        int_setting(self, "remind_before_start_min", 30, 0, 10080, &mt_cfg.remind_before_start_min) < 0)
        return -1;
    if (mt_cfg.channel_after_min < mt_cfg.remind_after_min) {
        api->fail(self, "meetings.channel_after_min: must not be before remind_after_min");
        return -1;
    }
    mt_cfg.channel = api->setting_string(self, "channel", NULL);
    if (api->setting_has(self, "channel") && !mt_cfg.channel) {
        api->fail(self, "meetings.channel: must be a string (a notify.channels name)");
        return -1;
    }
    return 0;
}

typedef struct {
    const char *method, *path, *perm;
    ym_handler_fn fn;
} route_def;

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    if (api->abi_minor < 6) {
        api->fail(self, "meetings needs a host of ABI 1.6 or newer");
        return -1;
    }
    if (check_settings(self) < 0)
        return -1;
    if (api->permission(self, "meetings.read", "查看会议", "view meetings and their lists") < 0 ||
        api->permission(self, "meetings.send", "组织会议", "organise meetings: create, send, change, cancel") < 0 ||
        api->permission(self, "meetings.receive", "签收会议通知", "sign for and reply to meeting notices") < 0 ||
        api->permission(self, "meetings.manage", "督办会议纪要", "publish minutes and supervise their decisions") < 0 ||
        api->permission(self, "meetings.handle", "办理会议决定", "handle decisions of minutes as tracked items") < 0)
        return -1;
    static const route_def routes[] = {
        {"GET", "/api/meetings", "user", list_meetings},   /* organised: meetings.read; invited: anyone */
        {"POST", "/api/meetings", "meetings.send", create_meeting},
        {"GET", "/api/meetings/stats", "meetings.read", mt_unit_stats},
        {"GET", "/api/meetings/rooms", "user", mt_rooms_list},
        {"POST", "/api/meetings/rooms", "meetings.send", mt_rooms_create},
        {"PATCH", "/api/meetings/rooms/:id", "meetings.send", mt_rooms_update},
        {"DELETE", "/api/meetings/rooms/:id", "meetings.send", mt_rooms_delete},
        {"GET", "/api/meetings/:id", "user", get_meeting},
        {"PATCH", "/api/meetings/:id", "meetings.send", update_meeting},
        {"DELETE", "/api/meetings/:id", "meetings.send", delete_meeting},
        {"POST", "/api/meetings/:id/send", "meetings.send", mt_send},
        {"POST", "/api/meetings/:id/change", "meetings.send", mt_change},
        {"POST", "/api/meetings/:id/cancel", "meetings.send", mt_cancel},
        {"POST", "/api/meetings/:id/start", "meetings.send", mt_start},
        {"POST", "/api/meetings/:id/finish", "meetings.send", mt_finish},
        {"GET", "/api/meetings/:id/board", "meetings.send", mt_board},
        {"GET", "/api/meetings/:id/stats", "user", mt_stats},
        {"GET", "/api/meetings/:id/checkin-code", "meetings.send", mt_checkin_code},
        {"POST", "/api/meetings/:id/checkin", "user", mt_checkin},
        {"POST", "/api/meetings/:id/minutes", "meetings.manage", mt_minutes},
        {"GET", "/api/meetings/:id/minutes", "user", mt_get_minutes},
        {NULL, NULL, NULL, NULL}};
    for (const route_def *d = routes; d->method; d++)
        if (api->route(self, d->method, d->path, d->perm, d->fn, self) < 0)
            return -1;
    if (api->job(self, "meetings.deadline", "every 1m", mt_deadline_job, NULL) < 0)
        return -1;
    return 0;
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = YM_ABI_MINOR, .size = sizeof(ym_plugin_def),
    .name = "meetings", .version = "0.1.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = NULL, .stop = NULL,
};
