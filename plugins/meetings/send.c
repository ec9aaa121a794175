/* meetings: sending a notice through the dispatch engine, changing and cancelling it (each
 * withdraws the current dispatch and sends a new one that must be signed again), the
 * meeting's own states, the board with attending counts, and the deadline job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meetings.h"

#define MIN_MS 60000LL
#define REPLY_FORM "{\"fields\":[" \
    "{\"name\":\"attending\",\"label\":\"能否参会\",\"type\":\"boolean\",\"required\":true}," \
    "{\"name\":\"attendees\",\"label\":\"参会人员\",\"type\":\"list\",\"columns\":[\"name\",\"post\",\"phone\"],\"max\":50}," \
    "{\"name\":\"leave_reason\",\"label\":\"请假事由\",\"type\":\"string\",\"max\":500}]}"

/* The ladder of a notice: a warning escalates at 5, 10 and 15 minutes; a meeting by the
 * settings, each step kept only when it comes before the phone call at the deadline. */
static json_t *ladder(bool warning, bool cancel, int64_t sent, int64_t deadline)
{
    json_t *l = json_array();
    if (warning) {
        json_array_append_new(l, json_pack("{s:I,s:s}", "offset_ms", (json_int_t)(5 * MIN_MS), "action", "remind"));
        json_array_append_new(l, json_pack("{s:I,s:s}", "offset_ms", (json_int_t)(10 * MIN_MS), "action", "channel"));
        json_array_append_new(l, json_pack("{s:I,s:s}", "offset_ms", (json_int_t)(15 * MIN_MS), "action", "call"));
    } else {
        int64_t call_due = deadline ? deadline - mt_cfg.call_before_deadline_min * MIN_MS : INT64_MAX;
        if (sent + mt_cfg.remind_after_min * MIN_MS < call_due)
            json_array_append_new(l, json_pack("{s:I,s:s}", "offset_ms", (json_int_t)(mt_cfg.remind_after_min * MIN_MS),
                                               "action", "remind"));
        if (sent + mt_cfg.channel_after_min * MIN_MS < call_due)
            json_array_append_new(l, json_pack("{s:I,s:s}", "offset_ms", (json_int_t)(mt_cfg.channel_after_min * MIN_MS),
                                               "action", "channel"));
        if (!cancel && deadline && call_due > sent)
            json_array_append_new(l, json_pack("{s:I,s:b,s:s}", "offset_ms",
                                               (json_int_t)(mt_cfg.call_before_deadline_min * MIN_MS),
                                               "before_deadline", 1, "action", "call"));
    }
    if (mt_cfg.channel) {
        size_t i;
        json_t *s;
        json_array_foreach(l, i, s)
            if (!strcmp(json_string_value(json_object_get(s, "action")), "channel"))
                json_object_set_new(s, "channel", json_string(mt_cfg.channel));
    }
    return l;
}

/* Sends the meeting (as stored) to its recipients as a new dispatch of kind send, change
 * or cancel, inside the caller's write; records it as the meeting's current dispatch and
 * emits meetings.sent. Returns the dispatch id, or an engine error (< 0). */
static int64_t send_dispatch(ym_request *r, ym_plugin *self, int64_t id, const char *kind)
{
    mt_meeting m;
    if (mt_load(self, id, &m) != 1)
        return YM_E_DB;
    bool warning = !strcmp(m.type, "warning"), cancel = !strcmp(kind, "cancel");
    int64_t now = api->now();
    json_t *recips = json_array();
    int64_t units = 0, users = 0;
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id, user_id FROM meetings_recipients WHERE meeting_id = ?1 "
                                        "ORDER BY rowid");
    if (st) {
        api->db_bind_int(st, 1, id);
        while (api->db_step(st) == YM_ROW) {
            int64_t u = api->db_column_int(st, 0), p = api->db_column_int(st, 1);
            json_array_append_new(recips, u ? json_pack("{s:I,s:s}", "unit_id", (json_int_t)u, "kind", "main")
                                            : json_pack("{s:I,s:s}", "user_id", (json_int_t)p, "kind", "main"));
            u ? units++ : users++;
        }
        api->db_reset(st);
    }
    char title[800], record[48], link[64];
    snprintf(title, sizeof title, "%s%s", cancel ? "【取消】" : !strcmp(kind, "change") ? "【变更】" : warning ? "【预警】" : "",
             m.title);
    snprintf(record, sizeof record, "meetings_meetings:%lld", (long long)id);
    snprintf(link, sizeof link, "#/p/meetings/view?id=%lld", (long long)id);
    int64_t deadline = cancel ? 0 : m.reply_deadline;
    json_t *spec = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:o}", "record", record, "sender_unit",
                             (json_int_t)m.organiser_unit, "sender_user", (json_int_t)api->req_user_id(r), "title",
                             title, "urgency", warning ? "very_urgent" : cancel ? "urgent" : "normal", "link", link,
                             "recipients", recips);
    if (!cancel && !warning)
        json_object_set_new(spec, "reply_form", json_loads(REPLY_FORM, 0, NULL));
    if (deadline)
        json_object_set_new(spec, "deadline_at", json_integer(deadline));
    json_object_set_new(spec, "ladder", ladder(warning, cancel, now, deadline));
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    int64_t did = api->dispatch_create(self, text);
    free(text);
    if (did > 0) {
        st = api->db_prepare(self, "INSERT INTO meetings_dispatches (meeting_id, dispatch_id, kind, sent_at, sent_by) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5)");
        bool ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, did) == 0 &&
                  api->db_bind_text(st, 3, kind) == 0 && api->db_bind_int(st, 4, now) == 0 &&
                  api->db_bind_int(st, 5, api->req_user_id(r)) == 0 && api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
        st = ok ? api->db_prepare(self, "UPDATE meetings_meetings SET dispatch_id = ?2, sent_at = ?3, updated_at = ?3 "
                                        "WHERE id = ?1") : NULL;
        ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, did) == 0 &&
             api->db_bind_int(st, 3, now) == 0 && api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
        json_t *ev = json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:I,s:I,s:o,s:o}", "meeting_id", (json_int_t)id, "number",
                               json_string_value(json_object_get(m.j, "number")), "dispatch_id", (json_int_t)did,
                               "kind", kind, "type", m.type, "title", m.title, "units", (json_int_t)units, "users",
                               (json_int_t)users, "start_at", mt_time_json(m.start_at), "reply_deadline",
                               mt_time_json(deadline));
        char *payload = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        ok = ok && api->emit(self, "meetings.sent", payload) == 0;
        free(payload);
        if (!ok)
            did = YM_E_DB;
    }
    mt_free(&m);
    return did;
}

static bool ids_ok(json_t *v)
{
    size_t i;
    json_t *x;
    if (!v)
        return true;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, x) if (!json_is_integer(x) || json_integer_value(x) <= 0) return false;
    return true;
}

static int add_recipients(ym_plugin *self, int64_t id, json_t *list, bool unit)
{
    ym_stmt *st = api->db_prepare(self, "INSERT OR IGNORE INTO meetings_recipients (meeting_id, unit_id, user_id) "
                                        "VALUES (?1, ?2, ?3)");
    size_t i;
    json_t *x;
    if (!st)
        return -1;
    json_array_foreach(list, i, x) {
        int ok = api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, unit ? json_integer_value(x) : 0) == 0 &&
                 api->db_bind_int(st, 3, unit ? 0 : json_integer_value(x)) == 0 && api->db_step(st) == YM_DONE;
        api->db_reset(st);
        if (!ok)
            return -1;
    }
    return 0;
}

static int set_deadline(ym_plugin *self, int64_t id, int64_t deadline)
{
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET reply_deadline = ?2 WHERE id = ?1");
    int ok = st && api->db_bind_int(st, 1, id) == 0 && api->db_bind_int(st, 2, deadline) == 0 &&
             api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    return ok ? 0 : -1;
}

/* The deadline a send uses: the reply deadline, else the start (a meeting) or 15 minutes
 * from now (a warning). 0 and a 400 answered when it has passed. */
static int64_t effective_deadline(ym_request *r, mt_meeting *m)
{
    int64_t now = api->now();
    int64_t d = m->reply_deadline ? m->reply_deadline : !strcmp(m->type, "warning") ? now + 15 * MIN_MS : m->start_at;
    if (d <= now) {
        api->resp_invalid(r, "reply_deadline", "the reply deadline (or the start) has passed");
        return 0;
    }
    return d;
}

static void finish_write(ym_request *r, ym_plugin *self, int64_t id, int64_t did, bool ok, const char *action)
{
    char target[48], detail[64];
    snprintf(target, sizeof target, "meetings_meetings:%lld", (long long)id);
    snprintf(detail, sizeof detail, "{\"dispatch_id\":%lld}", (long long)did);
    ok = ok && did >= 0 && api->audit(r, action, target, "ok", did ? detail : NULL) == 0;
    api->db_write_end(self, ok);
    if (did < 0)
        mt_engine_error(r, self, did);
    else if (ok)
        mt_reply_meeting(r, self, 200, id);
    else
        api->resp_error(r, 500, "internal", "cannot save the meeting");
}

/* POST /api/meetings/:id/send {"unit_ids": [...], "user_ids": [...]} */
void mt_send(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    json_t *body = mt_body(r);
    static const char *const allowed[] = {"unit_ids", "user_ids", NULL};
    if (!body || !mt_only_fields(r, body, allowed))
        goto out;
    json_t *units = json_object_get(body, "unit_ids"), *users = json_object_get(body, "user_ids");
    if (!ids_ok(units) || !ids_ok(users)) {
        api->resp_invalid(r, !ids_ok(units) ? "unit_ids" : "user_ids", "a list of ids");
        goto out;
    }
    if (json_array_size(units) + json_array_size(users) == 0) {
        api->resp_invalid(r, "unit_ids", "send to at least one unit or person");
        goto out;
    }
    if (strcmp(m.state, "draft")) {
        api->resp_error(r, 409, "conflict", "only a draft is sent; use change or cancel");
        goto out;
    }
    int64_t deadline = effective_deadline(r, &m);
    if (!deadline)
        goto out;
    api->db_write_begin(self);
    bool ok = add_recipients(self, m.id, units, true) == 0 && add_recipients(self, m.id, users, false) == 0 &&
              set_deadline(self, m.id, deadline) == 0 && mt_set_state(self, m.id, "sent") == 0;
    int64_t did = ok ? send_dispatch(r, self, m.id, "send") : YM_E_DB;
    finish_write(r, self, m.id, did, ok, "meetings.send");
out:
    json_decref(body);
    mt_free(&m);
}

/* Withdraws the current dispatch (one already withdrawn is fine). */
static int64_t withdraw(ym_request *r, ym_plugin *self, mt_meeting *m)
{
    if (!m->dispatch_id)
        return 0;
    int64_t rc = api->dispatch_act(self, m->dispatch_id, "withdraw", api->req_user_id(r), 0, NULL);
    return rc == YM_E_STATE ? 0 : rc;
}

/* POST /api/meetings/:id/change {fields..., "note"} */
void mt_change(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    json_t *vals = NULL, *cur = NULL;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    json_t *body = mt_body(r);
    if (!body)
        goto out;
    static const char *const extra[] = {"note", NULL};
    json_t *note = json_object_get(body, "note");
    if (note && !(json_is_string(note) && json_string_length(note) <= 1500)) {
        api->resp_invalid(r, "note", "note must be a string of at most 500 characters");
        goto out;
    }
    if (json_object_get(body, "organiser_unit") || json_object_get(body, "type")) {
        api->resp_invalid(r, json_object_get(body, "type") ? "type" : "organiser_unit",
                          "the organiser and the type of a sent notice do not change");
        goto out;
    }
    if (strcmp(m.state, "sent") && strcmp(m.state, "changed")) {
        api->resp_error(r, 409, "conflict", "only a sent or changed notice is changed");
        goto out;
    }
    cur = mt_stored_vals(self, m.id);
    /* a new start without a new deadline: the old deadline may no longer fit */
    if (cur && json_object_get(body, "start_at") && !json_object_get(body, "reply_deadline"))
        json_object_set_new(cur, "reply_deadline", json_null());
    vals = cur ? mt_fields(r, self, body, cur, extra) : NULL;
    if (!vals || mt_room_clash(r, self, m.id, json_integer_value(json_object_get(vals, "room_id")),
                               json_integer_value(json_object_get(vals, "start_at")),
                               json_integer_value(json_object_get(vals, "duration_min"))))
        goto out;
    api->db_write_begin(self);
    bool ok = mt_store_vals(self, m.id, vals) == 0;
    int64_t did = YM_E_DB;
    if (ok) {
        mt_meeting n;
        ok = mt_load(self, m.id, &n) == 1;
        int64_t deadline = ok ? effective_deadline(r, &n) : 0;
        if (ok)
            mt_free(&n);
        if (ok && !deadline) {
            api->db_write_end(self, 0);
            goto out;
        }
        ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET change_note = ?2 WHERE id = ?1");
        ok = ok && set_deadline(self, m.id, deadline) == 0 && mt_set_state(self, m.id, "changed") == 0 && st &&
             api->db_bind_int(st, 1, m.id) == 0 &&
             (note ? api->db_bind_text(st, 2, json_string_value(note)) : api->db_bind_null(st, 2)) == 0 &&
             api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
        did = withdraw(r, self, &m);
        if (did >= 0)
            did = send_dispatch(r, self, m.id, "change");
    }
    finish_write(r, self, m.id, did, ok, "meetings.change");
out:
    json_decref(cur);
    json_decref(vals);
    json_decref(body);
    mt_free(&m);
}

/* POST /api/meetings/:id/cancel {"reason"} */
void mt_cancel(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    json_t *body = mt_body(r);
    static const char *const allowed[] = {"reason", NULL};
    if (!body || !mt_only_fields(r, body, allowed))
        goto out;
    json_t *reason = json_object_get(body, "reason");
    const char *s = json_string_value(reason);
    if (!s || !*s || json_string_length(reason) > 1500 || strchr(s, '\n')) {
        api->resp_invalid(r, "reason", "reason must be 1 to 500 characters on one line");
        goto out;
    }
    bool draft = !strcmp(m.state, "draft");
    if (!draft && strcmp(m.state, "sent") && strcmp(m.state, "changed")) {
        api->resp_error(r, 409, "conflict", "only a draft, sent or changed notice is cancelled");
        goto out;
    }
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET cancel_reason = ?2 WHERE id = ?1");
    bool ok = st && api->db_bind_int(st, 1, m.id) == 0 && api->db_bind_text(st, 2, s) == 0 &&
              api->db_step(st) == YM_DONE;
    if (st)
        api->db_reset(st);
    ok = ok && mt_set_state(self, m.id, "cancelled") == 0;
    int64_t did = draft ? 0 : withdraw(r, self, &m);   /* 0: a draft has no dispatch */
    if (!draft && did >= 0)
        did = send_dispatch(r, self, m.id, "cancel");
    finish_write(r, self, m.id, did, ok, "meetings.cancel");
out:
    json_decref(body);
    mt_free(&m);
}

static void move(ym_request *r, ym_plugin *self, const char *const *from, const char *to, const char *action)
{
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    bool allowed = false;
    for (; *from; from++)
        allowed = allowed || !strcmp(m.state, *from);
    if (!allowed) {
        char msg[96];
        snprintf(msg, sizeof msg, "a %s meeting cannot move to %s", m.state, to);
        api->resp_error(r, 409, "conflict", msg);
        mt_free(&m);
        return;
    }
    char target[48];
    snprintf(target, sizeof target, "meetings_meetings:%lld", (long long)m.id);
    api->db_write_begin(self);
    bool ok = mt_set_state(self, m.id, to) == 0;
    if (ok && !strcmp(to, "finished")) {
        ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET finished_at = ?2 WHERE id = ?1");
        ok = st && api->db_bind_int(st, 1, m.id) == 0 && api->db_bind_int(st, 2, api->now()) == 0 &&
             api->db_step(st) == YM_DONE;
        if (st)
            api->db_reset(st);
    }
    ok = ok && api->audit(r, action, target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    if (ok)
        mt_reply_meeting(r, self, 200, m.id);
    else
        api->resp_error(r, 500, "internal", "cannot save the meeting");
    mt_free(&m);
}

void mt_start(ym_request *r, void *ud)
{
    static const char *const from[] = {"sent", "changed", NULL};
    move(r, ud, from, "in_progress", "meetings.start");
}

void mt_finish(ym_request *r, void *ud)
{
    static const char *const from[] = {"sent", "changed", "in_progress", NULL};
    move(r, ud, from, "finished", "meetings.finish");
}

/* Attending counts and names from the replies of a board. */
json_t *mt_attendance(json_t *board)
{
    int64_t attending = 0, absent = 0, people = 0, no_reply = 0;
    json_t *names = json_array(), *leave = json_array(), *rc;
    size_t i;
    json_array_foreach(json_object_get(board, "receipts"), i, rc) {
        const char *state = json_string_value(json_object_get(rc, "state"));
        json_t *reply = json_object_get(rc, "reply"), *unit = json_object_get(rc, "unit");
        json_t *who = json_is_object(unit) ? unit : json_object_get(rc, "user");
        if (!json_is_object(reply)) {
            if (state && strcmp(state, "returned") && strcmp(state, "withdrawn"))
                no_reply++;
            continue;
        }
        if (json_is_true(json_object_get(reply, "attending"))) {
            attending++;
            size_t j;
            json_t *a;
            json_array_foreach(json_object_get(reply, "attendees"), j, a) {
                people++;
                json_t *n = json_pack("{s:O,s:O?,s:O?,s:O?}", "name", json_object_get(a, "name") ? json_object_get(a, "name") : json_null(),
                                      "post", json_object_get(a, "post"), "phone", json_object_get(a, "phone"),
                                      "unit", who);
                json_array_append_new(names, n);
            }
        } else {
            absent++;
            json_array_append_new(leave, json_pack("{s:O?,s:O?}", "unit", who, "leave_reason",
                                                   json_object_get(reply, "leave_reason")));
        }
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:o,s:o}", "attending_units", (json_int_t)attending, "absent_units",
                     (json_int_t)absent, "attendees", (json_int_t)people, "no_reply", (json_int_t)no_reply, "names",
                     names, "leave", leave);
}

/* GET /api/meetings/:id/board: the current dispatch's board, with the attendance. */
void mt_board(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    mt_meeting m;
    if (!mt_organiser(r, self, &m, "meetings.send"))
        return;
    if (!m.dispatch_id) {
        api->resp_error(r, 409, "conflict", "the notice has not been sent");
        mt_free(&m);
        return;
    }
    char *text = api->dispatch_board(self, m.dispatch_id);
    json_t *board = text ? json_loads(text, 0, NULL) : NULL;
    api->free(text);
    if (!board) {
        api->resp_error(r, 503, "storage_busy", "cannot read the board");
        mt_free(&m);
        return;
    }
    json_object_set_new(board, "attendance", mt_attendance(board));
    json_object_set(board, "meeting", m.j);
    if (!strcmp(m.type, "warning")) {
        /* a warning's board: who has not acknowledged first */
        json_t *sorted = json_array(), *rc;
        size_t i;
        for (int pass = 0; pass < 2; pass++)
            json_array_foreach(json_object_get(board, "receipts"), i, rc) {
                const char *s = json_string_value(json_object_get(rc, "state"));
                bool owing = s && (!strcmp(s, "delivered") || !strcmp(s, "read"));
                if (owing == (pass == 0))
                    json_array_append(sorted, rc);
            }
        json_object_set_new(board, "receipts", sorted);
    }
    ym_stmt *st = api->db_prepare(self, "SELECT count(*), coalesce(sum(late), 0) FROM meetings_checkins WHERE meeting_id = ?1");
    if (st) {
        api->db_bind_int(st, 1, m.id);
        if (api->db_step(st) == YM_ROW)
            json_object_set_new(board, "checkins", json_pack("{s:I,s:I}", "total", (json_int_t)api->db_column_int(st, 0),
                                                             "late", (json_int_t)api->db_column_int(st, 1)));
        api->db_reset(st);
    }
    mt_free(&m);
    mt_reply(r, 200, board);
}

/* ---- the job: the deadline warning to the convener, the reminder before the start ---- */

static void deadline_warning(ym_plugin *self, int64_t id, int64_t did, int64_t convener, const char *title)
{
    char *text = api->dispatch_board(self, did);
    json_t *board = text ? json_loads(text, 0, NULL) : NULL, *rc;
    api->free(text);
    char body[1600] = "", link[64], head[800];
    size_t i, n = 0, used = 0;
    json_array_foreach(json_object_get(board, "missing"), i, rc) {
        json_t *who = json_object_get(rc, "unit");
        if (!json_is_object(who))
            who = json_object_get(rc, "user");
        const char *name = json_string_value(json_object_get(who, "name"));
        n++;
        if (name && used + strlen(name) + 8 < 1400)
            used += snprintf(body + used, sizeof body - used, "%s%s", used ? "、" : "", name);
    }
    json_decref(board);
    snprintf(link, sizeof link, "#/p/meetings/view?id=%lld", (long long)id);
    snprintf(head, sizeof head, "回执截止：%s", title);
    if (n) {
        char full[1700];
        snprintf(full, sizeof full, "未签收或未回执 %zu 个：%s", n, body);
        api->notify(self, convener, "warning", head, full, link);
    }
    ym_stmt *st = api->db_prepare(self, "UPDATE meetings_meetings SET warned_dispatch = ?2 WHERE id = ?1");
    if (st) {
        api->db_bind_int(st, 1, id);
        api->db_bind_int(st, 2, did);
        api->db_step(st);
        api->db_reset(st);
    }
}

static void start_reminder(ym_plugin *self, int64_t id, const char *title, const char *sms)
{
    char head[800], link[64];
    snprintf(head, sizeof head, "会议提醒：%s", title);
    snprintf(link, sizeof link, "#/p/meetings/view?id=%lld", (long long)id);
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id, user_id FROM meetings_recipients WHERE meeting_id = ?1");
    int64_t ids[2][512];
    size_t n = 0;
    if (st) {
        api->db_bind_int(st, 1, id);
        while (n < 512 && api->db_step(st) == YM_ROW) {
            ids[0][n] = api->db_column_int(st, 0);
            ids[1][n++] = api->db_column_int(st, 1);
        }
        api->db_reset(st);
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[0][i])
            api->notify_unit(self, ids[0][i], 0, "reminder", head, sms, link);
        else
            api->notify(self, ids[1][i], "reminder", head, sms, link);
    }
    st = api->db_prepare(self, "UPDATE meetings_meetings SET prereminded = 1 WHERE id = ?1");
    if (st) {
        api->db_bind_int(st, 1, id);
        api->db_step(st);
        api->db_reset(st);
    }
}

int mt_deadline_job(ym_plugin *self, const char *name, void *ud)
{
    int64_t now = api->now();
    struct due { int64_t id, did, convener; char title[700], sms[1600]; bool warn; } *due = calloc(64, sizeof *due);
    size_t n = 0;
    if (!due)
        return -1;
    ym_stmt *st = api->db_prepare(self, "SELECT id, dispatch_id, convener_user, title, coalesce(sms_text, ''), "
        "reply_deadline <= ?1 AND (warned_dispatch IS NULL OR warned_dispatch <> dispatch_id) FROM meetings_meetings "
        "WHERE state IN ('sent', 'changed') AND dispatch_id IS NOT NULL AND ((reply_deadline <= ?1 AND "
        "(warned_dispatch IS NULL OR warned_dispatch <> dispatch_id)) OR (?2 > 0 AND type = 'meeting' AND "
        "prereminded = 0 AND start_at - ?2 <= ?1 AND start_at > ?1)) ORDER BY id LIMIT 64");
    if (!st) {
        free(due);
        return -1;
    }
    api->db_bind_int(st, 1, now);
    api->db_bind_int(st, 2, mt_cfg.remind_before_start_min * MIN_MS);
    while (api->db_step(st) == YM_ROW) {
        due[n].id = api->db_column_int(st, 0);
        due[n].did = api->db_column_int(st, 1);
        due[n].convener = api->db_column_int(st, 2);
        snprintf(due[n].title, sizeof due[n].title, "%s", api->db_column_text(st, 3));
        snprintf(due[n].sms, sizeof due[n].sms, "%s", api->db_column_text(st, 4));
        due[n++].warn = api->db_column_int(st, 5);
    }
    api->db_reset(st);
    if (n) {
        api->db_write_begin(self);
        for (size_t i = 0; i < n; i++) {
            if (due[i].warn)
                deadline_warning(self, due[i].id, due[i].did, due[i].convener, due[i].title);
            else
                start_reminder(self, due[i].id, due[i].title, due[i].sms);
        }
        api->db_write_end(self, 1);
    }
    free(due);
    return 0;
}
