/* dispatch_board: what the sender side sees of a dispatch (the board: counts, receipts,
 * missing, late, times, the tree of forwards), what GET /api/dispatches/:id shows the
 * caller, and the escalation ladder's job core.dispatch_escalate (each step once per
 * receipt still owing, in the order of the steps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dispatch.h"
#include "dispatch_private.h"
#include "api.h"
#include "clock.h"
#include "jobs.h"
#include "log.h"
#include "notify.h"
#include "search.h"
#include "todo.h"

/* ---------- the board ---------- */

static json_t *time_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() : ym_api_time(sqlite3_column_int64(st, col));
}

static json_t *ref_or_null(sqlite3_stmt *st, int idcol, int namecol)
{
    if (sqlite3_column_type(st, idcol) == SQLITE_NULL)
        return json_null();
    const char *nm = (const char *)sqlite3_column_text(st, namecol);
    return json_pack("{s:I,s:s}", "id", (json_int_t)sqlite3_column_int64(st, idcol), "name", nm ? nm : "");
}

#define RECEIPT_SELECT                                                                                               \
    "SELECT r.id, r.unit_id, un.name, r.user_id, pu.display_name, r.kind, r.state, r.reply_owed, r.delivered_at, "   \
    "r.read_at, r.read_by, rb.display_name, r.signed_at, r.signed_by, sb.display_name, r.replied_at, r.replied_by, " \
    "yb.display_name, r.reply, r.returned_at, r.returned_by, tb.display_name, r.return_reason, r.forwarded_at, "     \
    "(SELECT count(*) FROM core_dispatch_escalations x WHERE x.receipt_id = r.id) "                                  \
    "FROM core_dispatch_receipts r LEFT JOIN core_units un ON un.id = r.unit_id "                                   \
    "LEFT JOIN core_users pu ON pu.id = r.user_id LEFT JOIN core_users rb ON rb.id = r.read_by "                     \
    "LEFT JOIN core_users sb ON sb.id = r.signed_by LEFT JOIN core_users yb ON yb.id = r.replied_by "                \
    "LEFT JOIN core_users tb ON tb.id = r.returned_by "

static json_t *receipt_json(sqlite3_stmt *st)
{
    const char *reply = (const char *)sqlite3_column_text(st, 18);
    json_t *rj = reply ? json_loads(reply, 0, NULL) : NULL;
    return json_pack("{s:I,s:o,s:o,s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}",
        "id", (json_int_t)sqlite3_column_int64(st, 0), "unit", ref_or_null(st, 1, 2), "user", ref_or_null(st, 3, 4),
        "kind", (const char *)sqlite3_column_text(st, 5), "state", (const char *)sqlite3_column_text(st, 6),
        "reply_owed", sqlite3_column_int(st, 7) != 0, "delivered_at", time_or_null(st, 8),
        "read_at", time_or_null(st, 9), "read_by", ref_or_null(st, 10, 11),
        "signed_at", time_or_null(st, 12), "signed_by", ref_or_null(st, 13, 14),
        "replied_at", time_or_null(st, 15), "replied_by", ref_or_null(st, 16, 17), "reply", rj ? rj : json_null(),
        "returned_at", time_or_null(st, 19), "returned_by", ref_or_null(st, 20, 21),
        "return_reason", sqlite3_column_type(st, 22) == SQLITE_NULL ? json_null()
                                                                      : json_string((const char *)sqlite3_column_text(st, 22)),
        "forwarded_at", time_or_null(st, 23), "escalations", (json_int_t)sqlite3_column_int64(st, 24));
}

static json_t *summary_json(ym_db *db, const disp *d)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT u.name, p.display_name, d.record, d.parent_receipt_id FROM core_dispatches d "
        "JOIN core_units u ON u.id = d.sender_unit LEFT JOIN core_users p ON p.id = d.sender_user WHERE d.id = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, d->id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return NULL;
    }
    const char *pn = (const char *)sqlite3_column_text(st, 1);
    json_t *o = json_pack("{s:I,s:o,s:I,s:o,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:o,s:{s:I,s:s},s:o}",
        "id", (json_int_t)d->id, "parent_id", d->parent_id ? json_integer(d->parent_id) : json_null(),
        "root_id", (json_int_t)d->root_id,
        "parent_receipt_id", d->parent_id ? json_integer(sqlite3_column_int64(st, 3)) : json_null(),
        "source", d->source, "record", (const char *)sqlite3_column_text(st, 2), "title", d->title,
        "urgency", d->urgency, "link", d->has_link ? json_string(d->link) : json_null(),
        "reply_form", d->form ? json_incref(d->form) : json_null(),
        "deadline_at", d->deadline ? ym_api_time(d->deadline) : json_null(), "state", d->state,
        "sent_at", ym_api_time(d->sent_at), "sender_unit", "id", (json_int_t)d->sender_unit, "name",
        (const char *)sqlite3_column_text(st, 0),
        "sender_user", d->sender_user ? json_pack("{s:I,s:s}", "id", (json_int_t)d->sender_user, "name", pn ? pn : "")
                                      : json_null());
    sqlite3_reset(st);
    return o;
}

static json_t *board_of(ym_db *db, int64_t id, int depth)
{
    disp d;
    if (ym_dsp_load(db, id, &d) != 1)
        return NULL;
    json_t *b = summary_json(db, &d), *counts = ym_dsp_counts(db, id);
    sqlite3_stmt *st = ym_db_prepare(db, "core", RECEIPT_SELECT "WHERE r.dispatch_id = ?1 ORDER BY r.id");
    if (!b || !counts || !st) {
        json_decref(b);
        json_decref(counts);
        ym_dsp_free(&d);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    json_t *receipts = json_array(), *missing = json_array(), *late = json_array();
    int64_t now = ym_now(), full_sign = 0, full_reply = 0;
    bool all_signed = true, all_replied = true;
    int64_t owed = 0, signed_n = 0, replied_n = 0, open_n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *rj = receipt_json(st);
        const char *state = (const char *)sqlite3_column_text(st, 6);
        bool out = strcmp(state, "returned") == 0 || strcmp(state, "withdrawn") == 0;
        bool is_owed = sqlite3_column_int(st, 7) != 0;
        bool has_sign = sqlite3_column_type(st, 12) != SQLITE_NULL, has_reply = sqlite3_column_type(st, 15) != SQLITE_NULL;
        int64_t signed_at = sqlite3_column_int64(st, 12), replied_at = sqlite3_column_int64(st, 15);
        if (!out) {
            open_n++;
            signed_n += has_sign;
            owed += is_owed;
            replied_n += is_owed && has_reply;
            if (!has_sign)
                all_signed = false;
            else if (signed_at > full_sign)
                full_sign = signed_at;
            if (is_owed && !has_reply)
                all_replied = false;
            else if (is_owed && replied_at > full_reply)
                full_reply = replied_at;
            bool complete = has_sign && (!is_owed || has_reply);
            int64_t done_at = is_owed ? replied_at : signed_at;
            if (!complete)
                json_array_append(missing, rj);
            if (d.deadline && ((complete && done_at > d.deadline) || (!complete && now > d.deadline)))
                json_array_append(late, rj);
        }
        json_array_append_new(receipts, rj);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(b);
        json_decref(counts);
        json_decref(receipts);
        json_decref(missing);
        json_decref(late);
        ym_dsp_free(&d);
        return NULL;
    }
    json_object_set_new(counts, "signed_or_replied", json_integer(signed_n));
    json_object_set_new(counts, "reply_owed", json_integer(owed));
    json_object_set_new(counts, "replies", json_integer(replied_n));
    json_object_set_new(counts, "missing", json_integer((json_int_t)json_array_size(missing)));
    json_object_set_new(counts, "late", json_integer((json_int_t)json_array_size(late)));
    bool full = all_signed && open_n > 0, fullr = all_replied && owed > 0;
    json_object_set_new(b, "counts", counts);
    json_object_set_new(b, "full_receipt_at", full ? ym_api_time(full_sign) : json_null());
    json_object_set_new(b, "time_to_full_receipt_ms", full ? json_integer(full_sign - d.sent_at) : json_null());
    json_object_set_new(b, "full_reply_at", fullr ? ym_api_time(full_reply) : json_null());
    json_object_set_new(b, "time_to_full_reply_ms", fullr ? json_integer(full_reply - d.sent_at) : json_null());
    json_object_set_new(b, "receipts", receipts);
    json_object_set_new(b, "missing", missing);
    json_object_set_new(b, "late", late);
    ym_dsp_free(&d);
    /* the children (forwards), as boards of their own */
    json_t *children = json_array();
    st = ym_db_prepare(db, "core", "SELECT id FROM core_dispatches WHERE parent_id = ?1 ORDER BY id");
    int64_t kids[1024];
    size_t n = 0;
    if (st && depth < 8) {
        sqlite3_bind_int64(st, 1, id);
        while (sqlite3_step(st) == SQLITE_ROW && n < 1024)
            kids[n++] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *c = board_of(db, kids[i], depth + 1);
        if (c)
            json_array_append_new(children, c);
    }
    json_object_set_new(b, "children", children);
    return b;
}

json_t *ym_dispatch_board(ym_db *db, int64_t id)
{
    return board_of(db, id, 0);
}

json_t *ym_dispatch_view(ym_db *db, ym_principal *who, int64_t id, int *status)
{
    disp d;
    int rc = ym_dsp_load(db, id, &d);
    if (rc <= 0) {
        *status = rc < 0 ? YM_DISPATCH_ERROR : YM_DISPATCH_NOT_FOUND;
        return NULL;
    }
    int side = ym_dispatch_sender_side(db, who, id);
    sqlite3_stmt *st = side < 0 ? NULL : ym_db_prepare(db, "core",
        RECEIPT_SELECT "WHERE r.dispatch_id = ?2 AND (r.user_id = ?1 OR r.unit_id IN (" MY_UNITS ")) ORDER BY r.id");
    if (!st) {
        ym_dsp_free(&d);
        *status = YM_DISPATCH_ERROR;
        return NULL;
    }
    sqlite3_bind_int64(st, 1, who->user_id);
    sqlite3_bind_int64(st, 2, id);
    json_t *mine = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *rj = receipt_json(st);
        int64_t unit = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
        int act = unit ? ym_dsp_may_act(db, who, d.source, unit) : 1;
        json_object_set_new(rj, "may_act", json_boolean(act == 1));
        json_array_append_new(mine, rj);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || (side == 0 && json_array_size(mine) == 0)) {
        json_decref(mine);
        ym_dsp_free(&d);
        *status = rc != SQLITE_DONE ? YM_DISPATCH_ERROR : YM_DISPATCH_NOT_FOUND;
        return NULL;
    }
    json_t *o = summary_json(db, &d);
    ym_dsp_free(&d);
    if (!o) {
        json_decref(mine);
        *status = YM_DISPATCH_ERROR;
        return NULL;
    }
    json_object_set_new(o, "my_receipts", mine);
    json_object_set_new(o, "sender_side", json_boolean(side == 1));
    if (side == 1) {
        json_t *c = ym_dsp_counts(db, id);
        json_object_set_new(o, "counts", c ? c : json_null());
    }
    *status = YM_DISPATCH_OK;
    return o;
}

/* ---------- escalation ---------- */

typedef struct due_step {
    int64_t dispatch_id;
    int idx;
    char action[16], channel[64];
    bool has_channel, open;
} due_step;

/* Fires one step for one receipt. */
static int fire(ym_db *db, const disp *d, const due_step *s, int64_t rid, int64_t unit, int64_t user, const char *who_name,
                bool signed_already)
{
    char title[1200], lbuf[64], err[256];
    const char *what = signed_already ? "回执" : "签收";
    if (strcmp(s->action, "call") == 0) {
        char key[96];
        ym_dsp_call_key(key, sizeof key, d->id, rid);
        snprintf(title, sizeof title, "电话催办：%s 未%s %s", who_name, what, d->title);
        if (ym_search_utf8_len(title) > YM_TODO_TITLE_MAX)
            snprintf(title, sizeof title, "电话催办：%s 未%s", who_name, what);
        ym_todo t = {.unit_id = d->sender_unit, .role_key = "duty_officer", .title = title,
                     .link = ym_dsp_link_of(d, lbuf, sizeof lbuf), .kind = "call"};
        if (ym_todo_put(db, "core", key, &t, err, sizeof err) < 0) {
            ym_log(YM_LOG_WARN, "dispatch call to-do not written", "dispatch=%lld error=%s", (long long)d->id, err);
            return -1;
        }
        return 0;
    }
    snprintf(title, sizeof title, "催办：请%s《%s》", what, d->title);
    if (ym_search_utf8_len(title) > YM_NOTIFY_TITLE_MAX)
        snprintf(title, sizeof title, "催办：请%s", what);
    bool channel = strcmp(s->action, "channel") == 0;
    const char *one[2] = {s->has_channel ? s->channel : NULL, NULL};
    ym_notice n = {.severity = channel ? "urgent" : "reminder", .title = title, .link = ym_dsp_link_of(d, lbuf, sizeof lbuf),
                   .channels = channel ? (s->has_channel ? one : NULL) : (const char *const[]){NULL}};
    if (ym_dsp_notify_receipt(db, d, unit, user, &n, 0) < 0) {
        ym_log(YM_LOG_WARN, "dispatch reminder not written", "dispatch=%lld receipt=%lld", (long long)d->id,
               (long long)rid);
        return -1;
    }
    return 0;
}

/* One due step in its own write: 1 ran, 0 nothing due, -1 error. */
static int escalate_one(ym_db *db, int64_t now, int *fired)
{
    if (ym_db_write_begin(db) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT s.dispatch_id, s.idx, s.action, s.channel, d.state = 'open' FROM core_dispatch_steps s "
        "JOIN core_dispatches d ON d.id = s.dispatch_id WHERE s.fired_at IS NULL AND s.due_at <= ?1 "
        "ORDER BY s.due_at, s.dispatch_id, s.idx LIMIT 1");
    due_step s = {0};
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            s.dispatch_id = sqlite3_column_int64(st, 0);
            s.idx = sqlite3_column_int(st, 1);
            ym_dsp_copy_col(st, 2, s.action, sizeof s.action);
            s.has_channel = sqlite3_column_type(st, 3) != SQLITE_NULL;
            ym_dsp_copy_col(st, 3, s.channel, sizeof s.channel);
            s.open = sqlite3_column_int(st, 4) != 0;
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_ROW) {
        ym_db_write_end(db, rc == SQLITE_DONE);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    bool ok = true;
    disp d;
    if (s.open && ym_dsp_load(db, s.dispatch_id, &d) == 1) {
        /* the receipts still owing that have not had this step */
        st = ym_db_prepare(db, "core",
            "SELECT r.id, coalesce(r.unit_id, 0), coalesce(r.user_id, 0), coalesce(un.name, pu.display_name, ''), "
            "r.state = 'signed' FROM core_dispatch_receipts r LEFT JOIN core_units un ON un.id = r.unit_id "
            "LEFT JOIN core_users pu ON pu.id = r.user_id WHERE r.dispatch_id = ?1 AND r.esc_next <= ?2 "
            "AND (r.state IN ('delivered', 'read') OR (r.state = 'signed' AND r.reply_owed = 1)) "
            "AND NOT EXISTS (SELECT 1 FROM core_dispatch_escalations x WHERE x.receipt_id = r.id AND x.idx = ?2) "
            "ORDER BY r.id");
        typedef struct { int64_t rid, unit, user; char name[200]; bool sgn; } owing;
        owing *list = NULL;
        size_t n = 0, cap = 0;
        if (st) {
            sqlite3_bind_int64(st, 1, s.dispatch_id);
            sqlite3_bind_int(st, 2, s.idx);
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    list = realloc(list, cap * sizeof *list);
                    if (!list)
                        abort();
                }
                list[n].rid = sqlite3_column_int64(st, 0);
                list[n].unit = sqlite3_column_int64(st, 1);
                list[n].user = sqlite3_column_int64(st, 2);
                ym_dsp_copy_col(st, 3, list[n].name, sizeof list[n].name);
                list[n].sgn = sqlite3_column_int(st, 4) != 0;
                n++;
            }
            sqlite3_reset(st);
            ok = rc == SQLITE_DONE;
        } else {
            ok = false;
        }
        for (size_t i = 0; ok && i < n; i++) {
            st = ym_db_prepare(db, "core", "INSERT INTO core_dispatch_escalations (receipt_id, idx, action, fired_at) "
                                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
            ok = st != NULL;
            if (ok) {
                sqlite3_bind_int64(st, 1, list[i].rid);
                sqlite3_bind_int(st, 2, s.idx);
                sqlite3_bind_text(st, 3, s.action, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, now);
                ok = sqlite3_step(st) == SQLITE_DONE;
                sqlite3_reset(st);
            }
            if (ok) {
                fire(db, &d, &s, list[i].rid, list[i].unit, list[i].user, list[i].name, list[i].sgn);
                (*fired)++;
            }
        }
        free(list);
        ym_dsp_free(&d);
    }
    if (ok)
        ok = ym_dsp_step_sql(db, "UPDATE core_dispatch_receipts SET esc_next = ?2 + 1 WHERE dispatch_id = ?1 AND esc_next <= ?2",
                      s.dispatch_id, s.idx) >= 0;
    if (ok) {
        st = ym_db_prepare(db, "core", "UPDATE core_dispatch_steps SET fired_at = ?3 WHERE dispatch_id = ?1 AND idx = ?2");
        ok = st != NULL;
        if (ok) {
            sqlite3_bind_int64(st, 1, s.dispatch_id);
            sqlite3_bind_int(st, 2, s.idx);
            sqlite3_bind_int64(st, 3, now);
            ok = sqlite3_step(st) == SQLITE_DONE;
            sqlite3_reset(st);
        }
    }
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    return ok ? 1 : -1;
}

int ym_dispatch_escalate(ym_db *db)
{
    int64_t now = ym_now();
    int fired = 0;
    for (int i = 0; i < 10000; i++) {
        int rc = escalate_one(db, now, &fired);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
    }
    return fired;
}

static int escalate_job(void *ud, char *err, size_t errlen)
{
    int n = ym_dispatch_escalate(ud);
    if (n < 0) {
        snprintf(err, errlen, "%s", ym_db_errmsg(ud));
        return -1;
    }
    if (n > 0)
        ym_log(YM_LOG_INFO, "dispatch escalations fired", "count=%d", n);
    return 0;
}

int ym_dispatch_add_jobs(struct ym_jobs *j, ym_db *db)
{
    char err[256];
    if (ym_jobs_add(j, "core.dispatch_escalate", "core", "every 1m", escalate_job, db, NULL, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "core job not registered", "error=%s", err);
        return -1;
    }
    return 0;
}
