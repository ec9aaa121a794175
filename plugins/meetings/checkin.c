/* meetings: the rotating check-in code and check-in (签到), minutes (纪要) whose decisions
 * become tracked items, rooms, and statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "meetings.h"

#define WINDOW_MS 30000LL

static bool open_state(const char *s)
{
    return !strcmp(s, "sent") || !strcmp(s, "changed") || !strcmp(s, "in_progress");
}

/* The code of window win, made (a random 6-digit number) when asked for the first time;
 * "" when make is false and there is none. 0 ok, -1 error. */
static int window_code(ym_plugin *self, int64_t id, int64_t win, bool make, char code[8])
{
    code[0] = 0;
    if (make) {
        uint32_t x = 0;
        if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
            return -1;
        char fresh[8];
        snprintf(fresh, sizeof fresh, "%06u", (unsigned)(x % 1000000u));
        ym_stmt *st = api->db_prepare(self, "INSERT OR IGNORE INTO meetings_codes (meeting_id, win, code) VALUES (?1, ?2, ?3)");
        int ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, win) == 0 &&
                 api->db_bind_text(st, 3, fresh) == 0 && api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
        if (!ok)
            return -1;
    }
    ym_stmt *st = api->db_prepare(self, "SELECT code FROM meetings_codes WHERE meeting_id = ?1 AND win = ?2");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    api->db_bind_int(st, 2, win);
    if (api->db_step(st) == YM_ROW)
        snprintf(code, 8, "%s", api->db_column_text(st, 0));
    api->db_reset(st);
    return 0;
}

/* GET /api/meetings/:id/checkin-code (the organiser's screen) */
void mt_checkin_code(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    if (!open_state(m.state)) {
        api->resp_error(r, 409, "conflict", "check-in is open while the meeting is sent, changed or in progress");
        mt_free(&m);
        return;
    }
    int64_t now = api->now(), win = now / WINDOW_MS;
    char code[8];
    api->db_write_begin(self);
    int ok = window_code(self, m.id, win, true, code) == 0 && code[0];
    api->db_write_end(self, ok);
    if (!ok) {
        api->resp_error(r, 503, "storage_busy", "cannot make a code");
        mt_free(&m);
        return;
    }
    char link[96];
    snprintf(link, sizeof link, "#/p/meetings/checkin?m=%lld&c=%s", (long long)m.id, code);
    char *svg = api->qr_svg(link);
    json_t *out = json_pack("{s:I,s:s,s:o,s:o,s:s,s:s?}", "meeting_id", (json_int_t)m.id, "code", code, "expires_at",
                            mt_time_json((win + 1) * WINDOW_MS), "accepted_until",
                            mt_time_json((win + 2) * WINDOW_MS), "link", link, "svg", svg);
    api->free(svg);
    mt_free(&m);
    mt_reply(r, 200, out);
}

/* The live event "meetings.checkin" of a fresh check-in, inside the write, to the organising
 * side: the convener, the author, whoever sent the notice and the holders of meetings.send
 * on the organising unit (the board's viewers; the dispatch engine's "core.dispatch.receipt"
 * reaches the same people). 0 ok, -1 error. */
static int push_checkin(ym_plugin *self, mt_meeting *m, int64_t uid, int64_t unit, int64_t at, bool late)
{
    int64_t total = 0, n_late = 0, users[264];
    size_t n = 0;
    ym_stmt *st = api->db_prepare(self, "SELECT count(*), coalesce(sum(late), 0) FROM meetings_checkins "
                                        "WHERE meeting_id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, m->id);
    if (api->db_step(st) == YM_ROW) {
        total = api->db_column_int(st, 0);
        n_late = api->db_column_int(st, 1);
    }
    api->db_reset(st);
    st = api->db_prepare(self, "SELECT convener_user FROM meetings_meetings WHERE id = ?1 UNION SELECT created_by "
                               "FROM meetings_meetings WHERE id = ?1 UNION SELECT sent_by FROM meetings_dispatches "
                               "WHERE meeting_id = ?1 AND sent_by > 0");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, m->id);
    while (n < sizeof users / sizeof *users && api->db_step(st) == YM_ROW)
        users[n++] = api->db_column_int(st, 0);
    api->db_reset(st);
    /* and whoever may send for the organising unit: the board's other viewers */
    char *held = api->perm_holders(self, "meetings.send", m->organiser_unit);
    json_t *ids = held ? json_loads(held, 0, NULL) : NULL, *v;
    size_t j;
    api->free(held);
    json_array_foreach(ids, j, v) {
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = users[k] == json_integer_value(v);
        if (!seen && n < sizeof users / sizeof *users)
            users[n++] = json_integer_value(v);
    }
    json_decref(ids);
    json_t *data = json_pack("{s:I,s:I,s:I,s:I,s:o,s:b,s:{s:I,s:I}}", "meeting_id", (json_int_t)m->id, "dispatch_id",
                             (json_int_t)m->dispatch_id, "user_id", (json_int_t)uid, "unit_id", (json_int_t)unit, "at",
                             mt_time_json(at), "late", late, "checkins", "total", (json_int_t)total, "late",
                             (json_int_t)n_late);
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    int rc = text ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (api->push(self, users[i], "meetings.checkin", text) < 0)
            rc = -1;
    free(text);
    return rc;
}

/* POST /api/meetings/:id/checkin {"code"}: an invited attendee, signed in. */
void mt_checkin(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = mt_id_param(r), uid = api->req_user_id(r), unit = 0;
    mt_meeting m;
    int found = id ? mt_load(self, id, &m) : 0;
    if (found > 0 && strcmp(m.state, "draft"))
        unit = mt_invited_unit(r, self, id);   /* the unit the check-in counts for */
    if (found < 0 || unit < 0) {
        if (found > 0)
            mt_free(&m);
        api->resp_error(r, 503, "storage_busy", "cannot read the meeting");
        return;
    }
    if (!found || !strcmp(m.state, "draft") || !unit) {
        if (found)
            mt_free(&m);
        api->resp_error(r, 404, "not_found", "no such meeting among yours");
        return;
    }
    json_t *body = mt_body(r);
    static const char *const allowed[] = {"code", NULL};
    if (!body || !mt_only_fields(r, body, allowed))
        goto out;
    const char *code = json_string_value(json_object_get(body, "code"));
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6) {
        api->resp_invalid(r, "code", "code must be the 6 digits shown");
        goto out;
    }
    if (!open_state(m.state)) {
        api->resp_error(r, 409, "conflict", "check-in is closed for this meeting");
        goto out;
    }
    int64_t now = api->now(), win = now / WINDOW_MS;
    char cur[8], prev[8];
    if (window_code(self, id, win, false, cur) < 0 || window_code(self, id, win - 1, false, prev) < 0) {
        api->resp_error(r, 503, "storage_busy", "cannot read the codes");
        goto out;
    }
    if (strcmp(code, cur) && strcmp(code, prev)) {
        ym_stmt *st = api->db_prepare(self, "SELECT 1 FROM meetings_codes WHERE meeting_id = ?1 AND code = ?2 LIMIT 1");
        bool old = false;
        if (st) {
            api->db_bind_int(st, 1, id);
            api->db_bind_text(st, 2, code);
            old = api->db_step(st) == YM_ROW;
            api->db_reset(st);
        }
        if (old)
            api->resp_error(r, 409, "code_expired", "the code has expired: scan the code shown now");
        else
            api->resp_invalid(r, "code", "not the code of this meeting");
        goto out;
    }
    bool late = now > m.start_at;
    char target[48], detail[32];
    snprintf(target, sizeof target, "meetings_meetings:%lld", (long long)id);
    snprintf(detail, sizeof detail, "{\"late\":%s}", late ? "true" : "false");
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "INSERT OR IGNORE INTO meetings_checkins (meeting_id, user_id, unit_id, at, late) "
                                        "VALUES (?1, ?2, ?3, ?4, ?5)");
    int ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, uid) == 0 &&
             api->db_bind_int(st, 3, unit) == 0 && api->db_bind_int(st, 4, now) == 0 &&
             api->db_bind_int(st, 5, late) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    int fresh = ok && api->db_changes(self) == 1;
    ok = ok && (!fresh || (api->audit(r, "meetings.checkin", target, "ok", detail) == 0 &&
                           push_checkin(self, &m, uid, unit, now, late) == 0));
    api->db_write_end(self, ok);
    if (!ok)
        api->resp_error(r, 500, "internal", "cannot save the check-in");
    else if (!fresh)
        api->resp_error(r, 409, "already_checked_in", "you have checked in already");
    else
        mt_reply(r, 201, json_pack("{s:I,s:I,s:I,s:o,s:b}", "meeting_id", (json_int_t)id, "user_id", (json_int_t)uid,
                                   "unit_id", (json_int_t)unit, "at", mt_time_json(now), "late", late));
out:
    json_decref(body);
    mt_free(&m);
}

/* ---------------------------------------------------------------- minutes */

static bool line_ok(json_t *v, size_t max, bool multiline)
{
    return json_is_string(v) && ym_text_ok(json_string_value(v), json_string_length(v), 1, max, multiline);
}

static bool date_ok(json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == 10 && api->date_is_working_day(s) >= 0;
}

static json_t *minutes_json(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT text, decisions, created_by, created_at FROM meetings_minutes "
                                        "WHERE meeting_id = ?1");
    json_t *out = NULL;
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    if (api->db_step(st) == YM_ROW)
        out = json_pack("{s:I,s:s,s:o,s:I,s:o}", "meeting_id", (json_int_t)id, "text", api->db_column_text(st, 0),
                        "decisions", json_loads(api->db_column_text(st, 1), 0, NULL), "created_by",
                        (json_int_t)api->db_column_int(st, 2), "created_at", mt_time_json(api->db_column_int(st, 3)));
    api->db_reset(st);
    return out;
}

/* POST /api/meetings/:id/minutes {"text", "decisions": [{"text", "lead_unit", "deadline"}]} */
void mt_minutes(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.manage"))
        return;
    json_t *body = mt_body(r), *decisions = NULL, *d;
    static const char *const allowed[] = {"text", "decisions", NULL};
    if (!body || !mt_only_fields(r, body, allowed))
        goto out;
    if (!line_ok(json_object_get(body, "text"), 50000, true)) {
        api->resp_invalid(r, "text", "text must be 1 to 50000 characters");
        goto out;
    }
    decisions = json_object_get(body, "decisions");
    if (decisions && (!json_is_array(decisions) || json_array_size(decisions) > 100)) {
        api->resp_invalid(r, "decisions", "decisions must be a list of at most 100 {text, lead_unit, deadline}");
        goto out;
    }
    size_t i;
    json_array_foreach(decisions, i, d) {
        const char *k;
        json_t *v;
        bool ok = json_is_object(d) && line_ok(json_object_get(d, "text"), 200, false) &&
                  json_is_integer(json_object_get(d, "lead_unit")) && json_integer_value(json_object_get(d, "lead_unit")) > 0 &&
                  date_ok(json_object_get(d, "deadline"));
        json_object_foreach(d, k, v) ok = ok && (!strcmp(k, "text") || !strcmp(k, "lead_unit") || !strcmp(k, "deadline"));
        if (!ok) {
            char msg[160];
            snprintf(msg, sizeof msg, "decision %zu must be {text: 1-200 characters on one line, lead_unit: a unit id, "
                     "deadline: YYYY-MM-DD}", i + 1);
            api->resp_invalid(r, "decisions", msg);
            goto out;
        }
    }
    if (strcmp(m.state, "finished")) {
        api->resp_error(r, 409, "conflict", "minutes are published for a finished meeting (POST .../finish first)");
        goto out;
    }
    json_t *cur = minutes_json(self, m.id);
    if (cur) {
        json_decref(cur);
        api->resp_error(r, 409, "conflict", "the minutes of this meeting are published already");
        goto out;
    }
    char record[48];
    snprintf(record, sizeof record, "meetings_meetings:%lld", (long long)m.id);
    json_t *stored = json_array();
    api->db_write_begin(self);
    int64_t rc = 0;
    char why[300] = "";
    json_array_foreach(decisions, i, d) {
        json_t *spec = json_pack("{s:s,s:s,s:O,s:s,s:I,s:O,s:O,s:b}", "source_kind", "minutes", "record", record,
                                 "title", json_object_get(d, "text"), "content", m.title, "supervisor_unit",
                                 (json_int_t)m.organiser_unit, "lead_unit", json_object_get(d, "lead_unit"),
                                 "deadline", json_object_get(d, "deadline"), "assign", 1);
        char *text = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        rc = api->item_create(self, api->req_user_id(r), text);
        free(text);
        if (rc <= 0) {
            snprintf(why, sizeof why, "decision %zu: %s", i + 1, api->error(self));
            break;
        }
        json_t *one = json_deep_copy(d);
        json_object_set_new(one, "item_id", json_integer(rc));
        json_array_append_new(stored, one);
    }
    bool ok = rc >= 0;
    char *dtext = json_dumps(stored, JSON_COMPACT);
    if (ok) {
        ym_stmt *st = api->db_prepare(self, "INSERT INTO meetings_minutes (meeting_id, text, decisions, created_by, "
                                            "created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
        ok = st && api->db_bind_int(st, 1, m.id) == 0 &&
             api->db_bind_text(st, 2, json_string_value(json_object_get(body, "text"))) == 0 &&
             api->db_bind_text(st, 3, dtext) == 0 && api->db_bind_int(st, 4, api->req_user_id(r)) == 0 &&
             api->db_bind_int(st, 5, api->now()) == 0 && api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
        json_t *ev = json_pack("{s:I,s:O,s:s,s:I,s:O}", "meeting_id", (json_int_t)m.id, "number",
                               json_object_get(m.j, "number"), "title", m.title, "organiser_unit",
                               (json_int_t)m.organiser_unit, "decisions", stored);
        char *payload = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        ok = ok && api->emit(self, "meetings.minutes.published", payload) == 0 &&
             api->audit(r, "meetings.minutes", record, "ok", NULL) == 0;
        free(payload);
    }
    free(dtext);
    json_decref(stored);
    api->db_write_end(self, ok);
    if (rc < 0) {
        int status = rc == YM_E_NOTFOUND ? 404 : rc == YM_E_STATE ? 409 : rc == YM_E_DB ? 503 : rc == YM_E_FORBIDDEN ? 403 : 400;
        if (status == 400)
            api->resp_invalid(r, "decisions", why);
        else
            mt_engine_error(r, self, rc);
    } else if (!ok)
        api->resp_error(r, 500, "internal", "cannot save the minutes");
    else
        mt_reply(r, 201, minutes_json(self, m.id));
out:
    json_decref(body);
    mt_free(&m);
}

void mt_get_minutes(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_visible(r, self, &m))
        return;
    json_t *out = minutes_json(self, m.id);
    mt_free(&m);
    if (out)
        mt_reply(r, 200, out);
    else
        api->resp_error(r, 404, "not_found", "no minutes yet");
}

/* ---------------------------------------------------------------- statistics */

static int64_t ms_of(json_t *v)
{
    int64_t ms = 0;
    return json_is_string(v) && mt_parse_time(json_string_value(v), &ms) == 0 ? ms : 0;
}

static json_t *rate(int64_t num, int64_t den)
{
    return den > 0 ? json_real((double)num / (double)den) : json_null();
}

typedef struct {
    int64_t recipients, signed_n, sign_ms, replies, reply_owed, attending, expected, checked_in, late;
} tally;

/* Adds the receipts of a board (only unit's when unit > 0) to t. */
static void tally_board(json_t *board, int64_t unit, tally *t)
{
    int64_t sent = ms_of(json_object_get(board, "sent_at"));
    json_t *rc;
    size_t i;
    json_array_foreach(json_object_get(board, "receipts"), i, rc) {
        json_t *u = json_object_get(rc, "unit");
        if (unit > 0 && json_integer_value(json_object_get(u, "id")) != unit)
            continue;
        const char *s = json_string_value(json_object_get(rc, "state"));
        if (s && (!strcmp(s, "withdrawn") || !strcmp(s, "returned")))
            continue;
        t->recipients++;
        int64_t at = ms_of(json_object_get(rc, "signed_at"));
        if (at) {
            t->signed_n++;
            t->sign_ms += at - sent;
        }
        if (json_is_true(json_object_get(rc, "reply_owed")))
            t->reply_owed++;
        json_t *reply = json_object_get(rc, "reply");
        if (json_is_object(reply)) {
            t->replies++;
            if (json_is_true(json_object_get(reply, "attending"))) {
                size_t n = json_array_size(json_object_get(reply, "attendees"));
                t->attending++;
                t->expected += n ? (int64_t)n : 1;
            }
        }
    }
}

static void tally_checkins(ym_plugin *self, int64_t id, int64_t unit, tally *t)
{
    ym_stmt *st = api->db_prepare(self, "SELECT count(*), coalesce(sum(late), 0) FROM meetings_checkins "
                                        "WHERE meeting_id = ?1 AND (?2 = 0 OR unit_id = ?2)");
    if (!st)
        return;
    api->db_bind_int(st, 1, id);
    api->db_bind_int(st, 2, unit);
    if (api->db_step(st) == YM_ROW) {
        t->checked_in += api->db_column_int(st, 0);
        t->late += api->db_column_int(st, 1);
    }
    api->db_reset(st);
}

static json_t *tally_json(tally *t)
{
    return json_pack("{s:I,s:I,s:o,s:o,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:o,s:o}", "recipients", (json_int_t)t->recipients,
                     "signed", (json_int_t)t->signed_n, "sign_rate", rate(t->signed_n, t->recipients),
                     "mean_time_to_sign_ms", t->signed_n ? json_integer(t->sign_ms / t->signed_n) : json_null(),
                     "replies", (json_int_t)t->replies, "reply_owed", (json_int_t)t->reply_owed, "reply_rate",
                     rate(t->replies, t->reply_owed), "attending_units", (json_int_t)t->attending,
                     "attendees_expected", (json_int_t)t->expected, "checked_in", (json_int_t)t->checked_in, "late",
                     (json_int_t)t->late, "attendance_rate", rate(t->checked_in, t->expected), "on_time_rate",
                     rate(t->checked_in - t->late, t->checked_in));
}

static json_t *board_of(ym_plugin *self, int64_t did)
{
    char *text = did ? api->dispatch_board(self, did) : NULL;
    json_t *b = text ? json_loads(text, 0, NULL) : NULL;
    api->free(text);
    return b;
}

/* GET /api/meetings/:id/stats */
void mt_stats(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_visible(r, self, &m))
        return;
    if (api->req_may(r, "meetings.read", m.organiser_unit) != 1 && api->req_may(r, "meetings.send", m.organiser_unit) != 1) {
        api->resp_error(r, 403, "forbidden", "the organising side only");
        mt_free(&m);
        return;
    }
    tally t = {0};
    json_t *b = board_of(self, m.dispatch_id);
    if (b)
        tally_board(b, 0, &t);
    json_decref(b);
    tally_checkins(self, m.id, 0, &t);
    json_t *out = tally_json(&t);
    json_object_set_new(out, "meeting_id", json_integer(m.id));
    json_object_set_new(out, "dispatch_id", m.dispatch_id ? json_integer(m.dispatch_id) : json_null());
    mt_free(&m);
    mt_reply(r, 200, out);
}

/* GET /api/meetings/stats?unit=: a unit as a recipient, over its last 200 meetings. */
void mt_unit_stats(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    const char *s = api->req_query(r, "unit");
    char *end = NULL;
    long long unit = s ? strtoll(s, &end, 10) : api->req_unit_id(r);
    if (s && (!*s || *end || unit <= 0)) {
        api->resp_invalid(r, "unit", "unit must be a unit id");
        return;
    }
    if (api->req_may(r, "meetings.read", unit) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not read that unit's meetings");
        return;
    }
    ym_stmt *st = api->db_prepare(self, "SELECT m.id, m.dispatch_id FROM meetings_meetings m JOIN meetings_recipients x "
                                        "ON x.meeting_id = m.id AND x.unit_id = ?1 WHERE m.state <> 'draft' "
                                        "AND m.dispatch_id IS NOT NULL ORDER BY m.id DESC LIMIT 200");
    if (!st) {
        api->resp_error(r, 503, "storage_busy", "cannot read");
        return;
    }
    int64_t ids[200][2];
    size_t n = 0;
    api->db_bind_int(st, 1, unit);
    while (n < 200 && api->db_step(st) == YM_ROW) {
        ids[n][0] = api->db_column_int(st, 0);
        ids[n++][1] = api->db_column_int(st, 1);
    }
    api->db_reset(st);
    tally t = {0};
    for (size_t i = 0; i < n; i++) {
        json_t *b = board_of(self, ids[i][1]);
        if (b)
            tally_board(b, unit, &t);
        json_decref(b);
        tally_checkins(self, ids[i][0], unit, &t);
    }
    json_t *out = tally_json(&t);
    char name[400];
    json_object_set_new(out, "unit", json_pack("{s:I,s:s}", "id", (json_int_t)unit, "name",
                                               mt_unit_name(self, unit, name, sizeof name)));
    json_object_set_new(out, "meetings", json_integer((json_int_t)n));
    mt_reply(r, 200, out);
}

/* ---------------------------------------------------------------- rooms */

static json_t *room_row(ym_stmt *st)
{
    return json_pack("{s:I,s:s,s:I,s:I,s:b}", "id", (json_int_t)api->db_column_int(st, 0), "name",
                     api->db_column_text(st, 1), "capacity", (json_int_t)api->db_column_int(st, 2), "unit_id",
                     (json_int_t)api->db_column_int(st, 3), "active", (int)api->db_column_int(st, 4));
}

static json_t *room_json(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT id, name, capacity, unit_id, active FROM meetings_rooms WHERE id = ?1");
    json_t *j = NULL;
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    if (api->db_step(st) == YM_ROW)
        j = room_row(st);
    api->db_reset(st);
    return j;
}

void mt_rooms_list(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    ym_stmt *st = api->db_prepare(self, "SELECT id, name, capacity, unit_id, active FROM meetings_rooms WHERE active = 1 "
                                        "ORDER BY id");
    if (!st) {
        api->resp_error(r, 503, "storage_busy", "cannot read the rooms");
        return;
    }
    json_t *items = json_array();
    while (api->db_step(st) == YM_ROW)
        json_array_append_new(items, room_row(st));
    api->db_reset(st);
    mt_reply(r, 200, json_pack("{s:o,s:n}", "items", items, "next"));
}

/* {"name", "capacity"}: all required when creating. 0 ok, -1 answered. */
static int room_body(ym_request *r, json_t *body, bool partial)
{
    static const char *const allowed[] = {"name", "capacity", NULL};
    if (!mt_only_fields(r, body, allowed))
        return -1;
    json_t *name = json_object_get(body, "name"), *cap = json_object_get(body, "capacity");
    if ((name || !partial) && !line_ok(name, 100, false)) {
        api->resp_invalid(r, "name", "name must be 1 to 100 characters on one line");
        return -1;
    }
    if ((cap || !partial) && !(json_is_integer(cap) && json_integer_value(cap) >= 1 && json_integer_value(cap) <= 100000)) {
        api->resp_invalid(r, "capacity", "capacity must be a whole number from 1 to 100000");
        return -1;
    }
    return 0;
}

void mt_rooms_create(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    if (api->req_may(r, "meetings.send", api->req_unit_id(r)) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not add rooms for your unit");
        return;
    }
    json_t *body = mt_body(r);
    if (!body || room_body(r, body, false) < 0) {
        json_decref(body);
        return;
    }
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "INSERT INTO meetings_rooms (name, capacity, unit_id, created_at, updated_at) "
                                        "VALUES (?1, ?2, ?3, ?4, ?4)");
    int ok = st && api->db_bind_text(st, 1, json_string_value(json_object_get(body, "name"))) == 0 &&
             api->db_bind_int(st, 2, json_integer_value(json_object_get(body, "capacity"))) == 0 &&
             api->db_bind_int(st, 3, api->req_unit_id(r)) == 0 && api->db_bind_int(st, 4, api->now()) == 0 &&
             api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    int64_t id = ok ? api->db_last_insert_id(self) : 0;
    char target[40];
    snprintf(target, sizeof target, "meetings_rooms:%lld", (long long)id);
    ok = ok && api->audit(r, "meetings.room.create", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    json_decref(body);
    if (ok)
        mt_reply(r, 201, room_json(self, id));
    else
        api->resp_error(r, 500, "internal", "cannot save the room");
}

/* The active room of :id whose unit the caller may organise for; 404 otherwise. */
static int64_t my_room(ym_request *r, ym_plugin *self)
{
    int64_t id = mt_id_param(r);
    json_t *j = id ? room_json(self, id) : NULL;
    bool ok = j && json_is_true(json_object_get(j, "active")) &&
              api->req_may(r, "meetings.send", json_integer_value(json_object_get(j, "unit_id"))) == 1;
    json_decref(j);
    if (!ok)
        api->resp_error(r, 404, "not_found", "no such room of yours");
    return ok ? id : 0;
}

void mt_rooms_update(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = my_room(r, self);
    if (!id)
        return;
    json_t *body = mt_body(r);
    if (!body || room_body(r, body, true) < 0) {
        json_decref(body);
        return;
    }
    json_t *name = json_object_get(body, "name"), *cap = json_object_get(body, "capacity");
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_rooms SET name = coalesce(?2, name), capacity = "
                                        "coalesce(?3, capacity), updated_at = ?4 WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, id) == 0 &&
             (name ? api->db_bind_text(st, 2, json_string_value(name)) : api->db_bind_null(st, 2)) == 0 &&
             (cap ? api->db_bind_int(st, 3, json_integer_value(cap)) : api->db_bind_null(st, 3)) == 0 &&
             api->db_bind_int(st, 4, api->now()) == 0 && api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    char target[40];
    snprintf(target, sizeof target, "meetings_rooms:%lld", (long long)id);
    ok = ok && api->audit(r, "meetings.room.update", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    json_decref(body);
    if (ok)
        mt_reply(r, 200, room_json(self, id));
    else
        api->resp_error(r, 500, "internal", "cannot save the room");
}

/* DELETE: the room is retired (meetings booked in it keep their place). */
void mt_rooms_delete(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = my_room(r, self);
    if (!id)
        return;
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_rooms SET active = 0, updated_at = ?2 WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, api->now()) == 0 &&
             api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    char target[40];
    snprintf(target, sizeof target, "meetings_rooms:%lld", (long long)id);
    ok = ok && api->audit(r, "meetings.room.delete", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    if (ok)
        api->resp_send(r, 204, "application/json", "", 0);
    else
        api->resp_error(r, 500, "internal", "cannot delete the room");
}
