/* dispatch: the engine of 分发/签收: creating a dispatch with its receipts, to-dos,
 * notifications and ladder in the caller's write; the receipt transitions (read, sign,
 * reply, return, forward) and withdrawal with their permission checks. The live events,
 * to-dos and notifications of receipts are in dispatch_signal.c, the board, the view and
 * the escalation job in dispatch_board.c, the routes in dispatch_routes.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dispatch.h"
#include "dispatch_private.h"
#include "api.h"
#include "channels.h"
#include "clock.h"
#include "files.h"
#include "jobs.h"
#include "log.h"
#include "notify.h"
#include "search.h"
#include "todo.h"

int ym_dsp_seterr(ym_dispatch_err *e, int code, const char *field, const char *fmt, ...)
{
    if (e) {
        snprintf(e->field, sizeof e->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int dberr(ym_db *db, ym_dispatch_err *e)
{
    return ym_dsp_seterr(e, YM_DISPATCH_ERROR, NULL, "database error: %s", ym_db_errmsg(db));
}

static bool link_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 500 || !ym_dsp_text_ok(s, 500))
        return false;
    return (s[0] == '#' && s[1] == '/') || (s[0] == '/' && s[1] != '/' && s[1] != '\\');
}

static int urgency_rank(const char *u)
{
    if (!u || strcmp(u, "normal") == 0)
        return 0;
    return strcmp(u, "urgent") == 0 ? 1 : strcmp(u, "very_urgent") == 0 ? 2 : -1;
}

int ym_dsp_step_sql(ym_db *db, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? (rc == SQLITE_ROW) : -1;
}

/* ---------- loading ---------- */


void ym_dsp_free(disp *d)
{
    json_decref(d->form);
    free(d->ladder);
    d->form = NULL;
    d->ladder = NULL;
}

void ym_dsp_copy_col(sqlite3_stmt *st, int col, char *out, size_t len)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    snprintf(out, len, "%s", s ? s : "");
}

/* 1 found, 0 not, -1 error. */
int ym_dsp_load(ym_db *db, int64_t id, disp *d)
{
    memset(d, 0, sizeof *d);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT id, coalesce(parent_id, 0), root_id, sender_unit, coalesce(sender_user, 0), coalesce(deadline_at, 0), "
        "sent_at, source, title, urgency, state, link, reply_form, ladder FROM core_dispatches WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        d->id = sqlite3_column_int64(st, 0);
        d->parent_id = sqlite3_column_int64(st, 1);
        d->root_id = sqlite3_column_int64(st, 2);
        d->sender_unit = sqlite3_column_int64(st, 3);
        d->sender_user = sqlite3_column_int64(st, 4);
        d->deadline = sqlite3_column_int64(st, 5);
        d->sent_at = sqlite3_column_int64(st, 6);
        ym_dsp_copy_col(st, 7, d->source, sizeof d->source);
        ym_dsp_copy_col(st, 8, d->title, sizeof d->title);
        ym_dsp_copy_col(st, 9, d->urgency, sizeof d->urgency);
        ym_dsp_copy_col(st, 10, d->state, sizeof d->state);
        d->has_link = sqlite3_column_type(st, 11) != SQLITE_NULL;
        ym_dsp_copy_col(st, 11, d->link, sizeof d->link);
        const char *f = (const char *)sqlite3_column_text(st, 12);
        d->form = f ? json_loads(f, 0, NULL) : NULL;
        const char *l = (const char *)sqlite3_column_text(st, 13);
        d->ladder = l ? strdup(l) : NULL;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

#define RCPT_COLS "id, coalesce(unit_id, 0), coalesce(user_id, 0), state, kind, reply_owed"

static void rcpt_row(sqlite3_stmt *st, rcpt *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->unit_id = sqlite3_column_int64(st, 1);
    r->user_id = sqlite3_column_int64(st, 2);
    ym_dsp_copy_col(st, 3, r->state, sizeof r->state);
    ym_dsp_copy_col(st, 4, r->kind, sizeof r->kind);
    r->reply_owed = sqlite3_column_int(st, 5) != 0;
}

static int rcpt_by(ym_db *db, const char *sql, int64_t a, int64_t b, rcpt *r)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rcpt_row(st, r);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int64_t ym_dsp_clerk_role(ym_db *db)
{
    return ym_role_id(db, "clerk");
}

/* May who act for unit's receipts (sign, reply, return, forward)? 1, 0, -1. */
int ym_dsp_may_act(ym_db *db, ym_principal *who, const char *source, int64_t unit)
{
    if (!who || !who->user_id)
        return 0;
    int rc = ym_dsp_step_sql(db, "SELECT 1 FROM core_grants g JOIN core_roles ro ON ro.id = g.role_id "
                          "WHERE g.user_id = ?1 AND g.unit_id = ?2 AND ro.key = 'clerk'", who->user_id, unit);
    if (rc < 0)
        return -1;
    if (rc == 1 && !who->token_perms) /* a token acts only through its own permissions */
        return 1;
    char perm[96];
    snprintf(perm, sizeof perm, "%s.receive", source);
    return ym_may(db, who, perm, unit);
}

int ym_dispatch_sender_side(ym_db *db, ym_principal *who, int64_t id)
{
    if (!who || !who->user_id)
        return 0;
    for (int depth = 0; id > 0 && depth < 16; depth++) {
        disp d;
        int rc = ym_dsp_load(db, id, &d);
        if (rc <= 0)
            return rc;
        ym_dsp_free(&d);
        if (d.sender_user == who->user_id)
            return 1;
        char perm[96];
        snprintf(perm, sizeof perm, "%s.send", d.source);
        rc = ym_may(db, who, perm, d.sender_unit);
        if (rc == 0 && d.parent_id)
            rc = ym_dsp_may_act(db, who, d.source, d.sender_unit);
        if (rc != 0)
            return rc;
        id = d.parent_id;
    }
    return 0;
}

/* Is who among the recipients (a person receipt, or staff of a recipient unit)? */
static int is_recipient(ym_db *db, ym_principal *who, int64_t id)
{
    return ym_dsp_step_sql(db, "SELECT 1 FROM core_dispatch_receipts WHERE dispatch_id = ?2 AND (user_id = ?1 OR unit_id IN ("
                        MY_UNITS ")) LIMIT 1", who->user_id, id);
}

int ym_dispatch_may_view(ym_db *db, ym_principal *who, int64_t id)
{
    if (!who || !who->user_id)
        return 0;
    int rc = is_recipient(db, who, id);
    return rc != 0 ? rc : ym_dispatch_sender_side(db, who, id);
}

/* ---------- create ---------- */

static json_t *ladder_json(const ym_escalation_step *l, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:b,s:s,s:o}", "offset_ms", (json_int_t)l[i].offset_ms,
                                           "before_deadline", l[i].before_deadline, "action", l[i].action, "channel",
                                           l[i].channel ? json_string(l[i].channel) : json_null()));
    return a;
}

static int64_t create_in(ym_db *db, const ym_dispatch_spec *s, int64_t parent, int64_t parent_receipt, int64_t root,
                         ym_dispatch_err *e)
{
    if (!ym_db_in_write(db))
        return ym_dsp_seterr(e, YM_DISPATCH_ERROR, NULL, "ym_dispatch_create must run inside a write");
    if (!s)
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "", "no dispatch given");
    if (!ym_dsp_name_ok(s->source, 48))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "source", "source must be a plugin name ([a-z][a-z0-9_]*)");
    if (s->record && *s->record && !ym_dsp_text_ok(s->record, 200))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "record", "record must be at most 200 characters on one line");
    if (!ym_dsp_text_ok(s->title, YM_DISPATCH_TITLE_MAX))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "title", "title must be 1 to %d characters on one line",
                      YM_DISPATCH_TITLE_MAX);
    if (urgency_rank(s->urgency) < 0)
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "urgency", "urgency must be normal, urgent or very_urgent");
    if (s->link && *s->link && !link_ok(s->link))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "link", "link must start with \"#/\" or \"/\" (at most 500 bytes)");
    if (s->deadline_ms < 0)
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "deadline", "deadline must be a time, or 0 for none");
    if (s->nrecipients < 1 || s->nrecipients > YM_DISPATCH_MAX_RECIPIENTS || !s->recipients)
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "recipients", "a dispatch has 1 to %d recipients",
                      YM_DISPATCH_MAX_RECIPIENTS);
    if (s->nladder > YM_DISPATCH_MAX_STEPS || (s->nladder && !s->ladder))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "ladder", "at most %d escalation steps", YM_DISPATCH_MAX_STEPS);
    json_t *form = NULL;
    if (s->reply_form_json) {
        char why[200];
        if (strlen(s->reply_form_json) > YM_DISPATCH_FORM_MAX || !(form = json_loads(s->reply_form_json, JSON_REJECT_DUPLICATES, NULL)))
            return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "reply_form", "reply_form must be JSON of at most %d bytes",
                          YM_DISPATCH_FORM_MAX);
        if (ym_dsp_form_check(form, why, sizeof why)) {
            json_decref(form);
            return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "reply_form", "%s", why);
        }
    }
    int64_t now = ym_now(), prev_due = INT64_MIN;
    for (size_t i = 0; i < s->nladder; i++) {
        const ym_escalation_step *l = &s->ladder[i];
        const char *a = l->action ? l->action : "";
        int64_t due = l->before_deadline ? s->deadline_ms - l->offset_ms : now + l->offset_ms;
        const char *why = NULL;
        if (strcmp(a, "remind") && strcmp(a, "channel") && strcmp(a, "call"))
            why = "action must be remind, channel or call";
        else if (l->offset_ms < 0 || l->offset_ms > 366LL * 86400000)
            why = "offset_ms must be from 0 to a year";
        else if (l->before_deadline && !s->deadline_ms)
            why = "a step before the deadline needs a deadline";
        else if (l->channel && (strcmp(a, "channel") || !ym_channels_known(l->channel)))
            why = "channel must name one of notify.channels, on a channel step only";
        else if (due < prev_due)
            why = "steps must be in the order of their due times";
        if (why) {
            json_decref(form);
            return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "ladder", "step %zu: %s", i, why);
        }
        prev_due = due;
    }
    if (ym_dsp_step_sql(db, "SELECT 1 FROM core_units WHERE id = ?1 AND ?2 = 0", s->sender_unit, 0) != 1 ||
        (s->sender_user && ym_dsp_step_sql(db, "SELECT 1 FROM core_users WHERE id = ?1 AND ?2 = 0", s->sender_user, 0) != 1)) {
        json_decref(form);
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, s->sender_user ? "sender" : "sender_unit",
                      "no such sender unit or user");
    }

    char *form_text = form ? json_dumps(form, JSON_COMPACT) : NULL;
    json_t *lj = ladder_json(s->ladder, s->nladder);
    char *ladder_text = s->nladder ? json_dumps(lj, JSON_COMPACT) : NULL;
    json_decref(lj);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_dispatches (parent_id, parent_receipt_id, root_id, source, record, sender_unit, sender_user, "
        "title, urgency, link, reply_form, deadline_at, ladder, sent_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id");
    int64_t id = 0;
    if (st) {
        if (parent) {
            sqlite3_bind_int64(st, 1, parent);
            sqlite3_bind_int64(st, 2, parent_receipt);
        }
        sqlite3_bind_int64(st, 3, root);
        sqlite3_bind_text(st, 4, s->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, s->record ? s->record : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, s->sender_unit);
        if (s->sender_user)
            sqlite3_bind_int64(st, 7, s->sender_user);
        sqlite3_bind_text(st, 8, s->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, s->urgency ? s->urgency : "normal", -1, SQLITE_STATIC);
        if (s->link && *s->link)
            sqlite3_bind_text(st, 10, s->link, -1, SQLITE_STATIC);
        if (form_text)
            sqlite3_bind_text(st, 11, form_text, -1, SQLITE_STATIC);
        if (s->deadline_ms)
            sqlite3_bind_int64(st, 12, s->deadline_ms);
        if (ladder_text)
            sqlite3_bind_text(st, 13, ladder_text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 14, now);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    free(form_text);
    free(ladder_text);
    json_decref(form);
    if (id <= 0)
        return dberr(db, e);
    if (!root && ym_dsp_step_sql(db, "UPDATE core_dispatches SET root_id = ?1 WHERE id = ?1 AND ?2 = 0", id, 0) < 0)
        return dberr(db, e);

    disp d;
    if (ym_dsp_load(db, id, &d) != 1)
        return dberr(db, e);
    int64_t result = id;
    char lbuf[64];
    int64_t role = ym_dsp_clerk_role(db);
    int rank = urgency_rank(s->urgency);
    char ntitle[1200], nbody[512];
    snprintf(ntitle, sizeof ntitle, "%s%s", rank == 2 ? "【特急】" : rank == 1 ? "【加急】" : "", s->title);
    if (ym_search_utf8_len(ntitle) > YM_NOTIFY_TITLE_MAX)
        snprintf(ntitle, sizeof ntitle, "%s", s->title);
    snprintf(nbody, sizeof nbody, "请签收%s", d.form ? "并填写回执" : "");
    ym_notice notice = {.severity = rank ? "warning" : "info", .title = ntitle, .body = nbody,
                        .link = ym_dsp_link_of(&d, lbuf, sizeof lbuf)};
    sqlite3_stmt *ins = ym_db_prepare(db, "core",
        "INSERT INTO core_dispatch_receipts (dispatch_id, unit_id, user_id, kind, reply_owed, delivered_at) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE (?2 IS NOT NULL AND EXISTS (SELECT 1 FROM core_units WHERE id = ?2 AND active = 1)) "
        "OR (?3 IS NOT NULL AND EXISTS (SELECT 1 FROM core_users WHERE id = ?3 AND status = 'active')) "
        "ON CONFLICT DO NOTHING RETURNING id");
    for (size_t i = 0; i < s->nrecipients && result > 0; i++) {
        const ym_dispatch_recipient *rp = &s->recipients[i];
        const char *kind = rp->kind ? rp->kind : "main";
        if ((rp->unit_id > 0) == (rp->user_id > 0) || rp->unit_id < 0 || rp->user_id < 0) {
            result = ym_dsp_seterr(e, YM_DISPATCH_INVALID, "recipients", "recipient %zu: a unit_id or a user_id", i);
            break;
        }
        if (strcmp(kind, "main") && strcmp(kind, "copy")) {
            result = ym_dsp_seterr(e, YM_DISPATCH_INVALID, "recipients", "recipient %zu: kind must be main or copy", i);
            break;
        }
        if (!ins) {
            result = dberr(db, e);
            break;
        }
        bool owed = d.form && strcmp(kind, "main") == 0;
        sqlite3_bind_int64(ins, 1, id);
        if (rp->unit_id)
            sqlite3_bind_int64(ins, 2, rp->unit_id);
        else
            sqlite3_bind_null(ins, 2);
        if (rp->user_id)
            sqlite3_bind_int64(ins, 3, rp->user_id);
        else
            sqlite3_bind_null(ins, 3);
        sqlite3_bind_text(ins, 4, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 5, owed);
        sqlite3_bind_int64(ins, 6, now);
        int rc = sqlite3_step(ins);
        int64_t rid = rc == SQLITE_ROW ? sqlite3_column_int64(ins, 0) : 0;
        if (rc == SQLITE_ROW)
            rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (rc != SQLITE_DONE) {
            result = dberr(db, e);
            break;
        }
        if (!rid) {
            int dup = ym_dsp_step_sql(db, rp->unit_id ? "SELECT 1 FROM core_dispatch_receipts WHERE dispatch_id = ?1 AND unit_id = ?2"
                                               : "SELECT 1 FROM core_dispatch_receipts WHERE dispatch_id = ?1 AND user_id = ?2",
                               id, rp->unit_id ? rp->unit_id : rp->user_id);
            result = ym_dsp_seterr(e, YM_DISPATCH_INVALID, "recipients", "recipient %zu: %s %s %lld", i,
                            dup == 1 ? "duplicate" : "no active", rp->unit_id ? "unit" : "user",
                            (long long)(rp->unit_id ? rp->unit_id : rp->user_id));
            break;
        }
        rcpt r = {.id = rid, .unit_id = rp->unit_id, .user_id = rp->user_id, .reply_owed = owed};
        if (ym_dsp_receipt_todo(db, &d, &r, false, e) < 0 || ym_dsp_notify_receipt(db, &d, rp->unit_id, rp->user_id, &notice, role) < 0) {
            if (!e || !e->msg[0])
                dberr(db, e);
            result = YM_DISPATCH_ERROR;
            break;
        }
    }
    for (size_t i = 0; i < s->nladder && result > 0; i++) {
        const ym_escalation_step *l = &s->ladder[i];
        st = ym_db_prepare(db, "core",
            "INSERT INTO core_dispatch_steps (dispatch_id, idx, offset_ms, before_deadline, action, channel, due_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!st) {
            result = dberr(db, e);
            break;
        }
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, (int)i);
        sqlite3_bind_int64(st, 3, l->offset_ms);
        sqlite3_bind_int(st, 4, l->before_deadline);
        sqlite3_bind_text(st, 5, l->action, -1, SQLITE_STATIC);
        if (l->channel)
            sqlite3_bind_text(st, 6, l->channel, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, l->before_deadline ? s->deadline_ms - l->offset_ms : now + l->offset_ms);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            result = dberr(db, e);
    }
    ym_dsp_free(&d);
    return result;
}

int64_t ym_dispatch_create_ex(ym_db *db, const ym_dispatch_spec *s, ym_dispatch_err *e)
{
    if (e)
        e->field[0] = e->msg[0] = 0;
    return create_in(db, s, 0, 0, 0, e);
}

int64_t ym_dispatch_create(ym_db *db, const ym_dispatch_spec *s, char *err, size_t errlen)
{
    ym_dispatch_err e = {{0}, {0}};
    int64_t id = create_in(db, s, 0, 0, 0, &e);
    if (id < 0 && err && errlen)
        snprintf(err, errlen, "%s%s%s", e.field, e.field[0] ? ": " : "", e.msg);
    return id < 0 ? -1 : id;
}

/* ---------- finding the receipt a user acts on ---------- */

/* Loads d and the receipt who acts on (see dispatch.h). */
static int acting_receipt(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, disp *d, rcpt *r,
                          ym_dispatch_err *e)
{
    if (e)
        e->field[0] = e->msg[0] = 0;
    int rc = ym_dsp_load(db, id, d);
    if (rc < 0)
        return dberr(db, e);
    if (rc == 0)
        return ym_dsp_seterr(e, YM_DISPATCH_NOT_FOUND, NULL, "no such dispatch");
    if (unit_id > 0) {
        rc = rcpt_by(db, "SELECT " RCPT_COLS " FROM core_dispatch_receipts WHERE dispatch_id = ?1 AND unit_id = ?2",
                     id, unit_id, r);
        int act = rc == 1 ? ym_dsp_may_act(db, who, d->source, unit_id) : 0;
        if (rc < 0 || act < 0)
            return dberr(db, e);
        if (act == 1)
            return 0;
    } else {
        rc = rcpt_by(db, "SELECT " RCPT_COLS " FROM core_dispatch_receipts WHERE dispatch_id = ?1 AND user_id = ?2",
                     id, who->user_id, r);
        if (rc < 0)
            return dberr(db, e);
        if (rc == 1)
            return 0;
        /* unit receipts of the caller's units, and those where they hold a grant */
        sqlite3_stmt *st = ym_db_prepare(db, "core",
            "SELECT " RCPT_COLS " FROM core_dispatch_receipts WHERE dispatch_id = ?2 AND unit_id IN (" MY_UNITS ") "
            "ORDER BY id");
        if (!st)
            return dberr(db, e);
        sqlite3_bind_int64(st, 1, who->user_id);
        sqlite3_bind_int64(st, 2, id);
        rcpt cand[8];
        int n = 0, found = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 8)
            rcpt_row(st, &cand[n++]);
        sqlite3_reset(st);
        for (int i = 0; i < n; i++) {
            int act = ym_dsp_may_act(db, who, d->source, cand[i].unit_id);
            if (act < 0)
                return dberr(db, e);
            if (act == 1 && found++ == 0)
                *r = cand[i];
        }
        if (found == 1)
            return 0;
        if (found > 1)
            return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "unit_id", "you act for several recipient units: give unit_id");
    }
    rc = ym_dispatch_may_view(db, who, id);
    if (rc < 0)
        return dberr(db, e);
    return rc == 1 ? ym_dsp_seterr(e, YM_DISPATCH_FORBIDDEN, NULL, "you may not act for this recipient")
                   : ym_dsp_seterr(e, YM_DISPATCH_NOT_FOUND, NULL, "no such dispatch");
}

static int conflict(ym_dispatch_err *e, const rcpt *r, const char *what)
{
    return ym_dsp_seterr(e, YM_DISPATCH_CONFLICT, NULL, "cannot %s: the receipt is %s", what, r->state);
}

/* UPDATE ... RETURNING id with ?1 receipt, ?2 now, ?3 user (and ?4 text): 1 changed, 0 not, -1. */
static int transition(ym_db *db, const char *sql, int64_t rid, int64_t by, const char *text)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core", sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, ym_now());
    sqlite3_bind_int64(st, 3, by);
    if (text)
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), changed = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? changed : -1;
}

int ym_dispatch_sign(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, ym_dispatch_err *e)
{
    disp d;
    rcpt r;
    int rc = acting_receipt(db, who, id, unit_id, &d, &r, e);
    if (rc == 0) {
        int ch = transition(db, "UPDATE core_dispatch_receipts SET state = 'signed', signed_at = ?2, signed_by = ?3, "
                                "read_at = coalesce(read_at, ?2), read_by = coalesce(read_by, ?3) "
                                "WHERE id = ?1 AND state IN ('delivered', 'read') RETURNING id", r.id, who->user_id, NULL);
        if (ch < 0)
            rc = dberr(db, e);
        else if (ch == 0)
            rc = conflict(e, &r, "sign");
        else if ((r.reply_owed ? ym_dsp_receipt_todo(db, &d, &r, true, e) : ym_dsp_receipt_done(db, &d, r.id, who->user_id)) < 0 ||
                 ym_dsp_push_receipt(db, &d, r.id, "sign", who->user_id, 0) < 0)
            rc = dberr(db, e);
    }
    ym_dsp_free(&d);
    return rc;
}

int ym_dispatch_reply(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, json_t *answers, ym_dispatch_err *e)
{
    disp d;
    rcpt r;
    int rc = acting_receipt(db, who, id, unit_id, &d, &r, e);
    if (rc == 0 && !r.reply_owed)
        rc = ym_dsp_seterr(e, YM_DISPATCH_CONFLICT, NULL, "no reply is owed on this receipt");
    char why[200];
    if (rc == 0 && ym_dsp_answers_check(d.form, answers, why, sizeof why))
        rc = ym_dsp_seterr(e, YM_DISPATCH_INVALID, "answers", "%s", why);
    char *text = rc == 0 ? json_dumps(answers, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (rc == 0 && (!text || strlen(text) > YM_DISPATCH_REPLY_MAX))
        rc = ym_dsp_seterr(e, YM_DISPATCH_INVALID, "answers", "answers are at most %d bytes of JSON", YM_DISPATCH_REPLY_MAX);
    if (rc == 0) {
        int ch = transition(db, "UPDATE core_dispatch_receipts SET state = 'replied', replied_at = ?2, replied_by = ?3, "
                                "reply = ?4, signed_at = coalesce(signed_at, ?2), signed_by = coalesce(signed_by, ?3), "
                                "read_at = coalesce(read_at, ?2), read_by = coalesce(read_by, ?3) "
                                "WHERE id = ?1 AND reply_owed = 1 AND state IN ('delivered', 'read', 'signed') RETURNING id",
                            r.id, who->user_id, text);
        if (ch < 0)
            rc = dberr(db, e);
        else if (ch == 0)
            rc = conflict(e, &r, "reply");
        else if (ym_dsp_receipt_done(db, &d, r.id, who->user_id) < 0 || ym_dsp_push_receipt(db, &d, r.id, "reply", who->user_id, 0) < 0)
            rc = dberr(db, e);
    }
    free(text);
    ym_dsp_free(&d);
    return rc;
}

int ym_dispatch_return(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, const char *reason,
                       ym_dispatch_err *e)
{
    disp d;
    rcpt r;
    if (!reason || !ym_dsp_text_ok(reason, YM_DISPATCH_REASON_MAX))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "reason", "reason must be 1 to %d characters on one line",
                      YM_DISPATCH_REASON_MAX);
    int rc = acting_receipt(db, who, id, unit_id, &d, &r, e);
    if (rc == 0) {
        int ch = transition(db, "UPDATE core_dispatch_receipts SET state = 'returned', returned_at = ?2, returned_by = ?3, "
                                "return_reason = ?4, read_at = coalesce(read_at, ?2), read_by = coalesce(read_by, ?3) "
                                "WHERE id = ?1 AND state IN ('delivered', 'read', 'signed') RETURNING id",
                            r.id, who->user_id, reason);
        if (ch < 0)
            rc = dberr(db, e);
        else if (ch == 0)
            rc = conflict(e, &r, "return");
        else if (ym_dsp_receipt_done(db, &d, r.id, who->user_id) < 0 || ym_dsp_push_receipt(db, &d, r.id, "return", who->user_id, 0) < 0)
            rc = dberr(db, e);
        if (rc == 0 && d.sender_user) { /* the sender hears of it in the inbox */
            char title[1200], body[2200], lbuf[64], err[256];
            snprintf(title, sizeof title, "退回：%s", d.title);
            if (ym_search_utf8_len(title) > YM_NOTIFY_TITLE_MAX)
                snprintf(title, sizeof title, "退回");
            snprintf(body, sizeof body, "退回原因：%s", reason);
            ym_notice n = {.severity = "warning", .title = title, .body = body, .link = ym_dsp_link_of(&d, lbuf, sizeof lbuf),
                           .channels = (const char *const[]){NULL}};
            if (ym_notify_user(db, "core", d.sender_user, &n, err, sizeof err) < 0)
                ym_log(YM_LOG_WARN, "return not notified", "dispatch=%lld error=%s", (long long)id, err);
        }
    }
    ym_dsp_free(&d);
    return rc;
}

/* The ladder stored as JSON back into steps (strings point into j). */
static size_t ladder_parse(json_t *j, ym_escalation_step *out, size_t cap)
{
    size_t i, n = 0;
    json_t *s;
    json_array_foreach(j, i, s) {
        if (n >= cap)
            break;
        out[n++] = (ym_escalation_step){.offset_ms = json_integer_value(json_object_get(s, "offset_ms")),
                                        .before_deadline = json_is_true(json_object_get(s, "before_deadline")),
                                        .action = json_string_value(json_object_get(s, "action")),
                                        .channel = json_string_value(json_object_get(s, "channel"))};
    }
    return n;
}

int64_t ym_dispatch_forward(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, const int64_t *unit_ids,
                            size_t n, const char *title, ym_dispatch_err *e)
{
    disp d;
    rcpt r;
    if (n < 1 || n > YM_DISPATCH_MAX_RECIPIENTS || !unit_ids)
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "unit_ids", "unit_ids: 1 to %d units", YM_DISPATCH_MAX_RECIPIENTS);
    if (title && !ym_dsp_text_ok(title, YM_DISPATCH_TITLE_MAX))
        return ym_dsp_seterr(e, YM_DISPATCH_INVALID, "title", "title must be 1 to %d characters on one line",
                      YM_DISPATCH_TITLE_MAX);
    int64_t rc = acting_receipt(db, who, id, unit_id, &d, &r, e);
    if (rc == 0 && !r.unit_id)
        rc = ym_dsp_seterr(e, YM_DISPATCH_CONFLICT, NULL, "only a unit forwards down its subtree");
    else if (rc == 0 && strcmp(d.state, "open"))
        rc = ym_dsp_seterr(e, YM_DISPATCH_CONFLICT, NULL, "the dispatch is withdrawn");
    else if (rc == 0 && strcmp(r.state, "signed") && strcmp(r.state, "replied"))
        rc = ym_dsp_seterr(e, YM_DISPATCH_CONFLICT, NULL, "sign for it before forwarding (the receipt is %s)", r.state);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* strictly inside the subtree, by the materialised path */
        int in = ym_dsp_step_sql(db, "SELECT 1 FROM core_units x JOIN core_units top ON top.id = ?2 WHERE x.id = ?1 "
                              "AND x.id <> top.id AND x.active = 1 AND substr(x.path, 1, length(top.path)) = top.path",
                          unit_ids[i], r.unit_id);
        if (in < 0)
            rc = dberr(db, e);
        else if (in == 0)
            rc = ym_dsp_seterr(e, YM_DISPATCH_INVALID, "unit_ids", "unit %lld is not an active unit below yours",
                        (long long)unit_ids[i]);
    }
    if (rc == 0) {
        ym_dispatch_recipient *rs = calloc(n, sizeof *rs);
        if (!rs)
            abort();
        for (size_t i = 0; i < n; i++)
            rs[i] = (ym_dispatch_recipient){.unit_id = unit_ids[i], .kind = "main"};
        json_t *lj = d.ladder ? json_loads(d.ladder, 0, NULL) : NULL;
        ym_escalation_step steps[YM_DISPATCH_MAX_STEPS];
        size_t nsteps = lj ? ladder_parse(lj, steps, YM_DISPATCH_MAX_STEPS) : 0;
        char *form = d.form ? json_dumps(d.form, JSON_COMPACT) : NULL;
        ym_dispatch_spec s = {.source = d.source, .sender_unit = r.unit_id, .sender_user = who->user_id,
                              .title = title ? title : d.title, .urgency = d.urgency, .link = d.has_link ? d.link : NULL,
                              .recipients = rs, .nrecipients = n, .reply_form_json = form, .deadline_ms = d.deadline,
                              .ladder = steps, .nladder = nsteps};
        sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT record FROM core_dispatches WHERE id = ?1");
        char record[256] = "";
        if (st) {
            sqlite3_bind_int64(st, 1, id);
            if (sqlite3_step(st) == SQLITE_ROW)
                ym_dsp_copy_col(st, 0, record, sizeof record);
            sqlite3_reset(st);
        }
        s.record = record;
        /* the child's ladder, counted from now: each step at its own due time (after the
         * forward, or before the shared deadline), one already past due at once, in order */
        int64_t now = ym_now(), prev = now;
        for (size_t i = 0; i < nsteps; i++) {
            int64_t due = steps[i].before_deadline ? d.deadline - steps[i].offset_ms : now + steps[i].offset_ms;
            if (due < prev)
                due = prev;
            steps[i].offset_ms = due - now;
            steps[i].before_deadline = false;
            prev = due;
        }
        rc = create_in(db, &s, id, r.id, d.root_id, e);
        free(form);
        json_decref(lj);
        free(rs);
        if (rc > 0) {
            int64_t child = rc;
            st = ym_db_prepare(db, "core", "UPDATE core_dispatch_receipts SET forwarded_at = ?3, forwarded_by = ?2 "
                                           "WHERE id = ?1");
            bool ok = st != NULL;
            if (ok) {
                sqlite3_bind_int64(st, 1, r.id);
                sqlite3_bind_int64(st, 2, who->user_id);
                sqlite3_bind_int64(st, 3, now);
                ok = sqlite3_step(st) == SQLITE_DONE;
                sqlite3_reset(st);
            }
            if (!ok || ym_dsp_push_receipt(db, &d, r.id, "forward", who->user_id, child) < 0)
                rc = dberr(db, e);
        }
    }
    ym_dsp_free(&d);
    return rc;
}

static int withdraw_tree(ym_db *db, int64_t id, int64_t by, int depth)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "dispatch:%lld:", (long long)id);
    if (ym_dsp_step_sql(db, "UPDATE core_dispatches SET state = 'withdrawn', withdrawn_at = ?2, withdrawn_by = nullif(?3, 0) "
                     "WHERE id = ?1 AND state = 'open'", id, ym_now()) < 0)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_dispatches SET withdrawn_by = nullif(?2, 0) WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, by);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (ym_dsp_step_sql(db, "UPDATE core_dispatch_receipts SET state = 'withdrawn' WHERE dispatch_id = ?1 "
                     "AND state IN ('delivered', 'read', 'signed') AND ?2 = 0", id, 0) < 0 ||
        ym_todo_resolve_prefix(db, "core", prefix, by) < 0)
        return -1;
    if (depth > 16)
        return 0;
    st = ym_db_prepare(db, "core", "SELECT id FROM core_dispatches WHERE parent_id = ?1 AND state = 'open' ORDER BY id");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int64_t kids[512];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < 512)
        kids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++)
        if (withdraw_tree(db, kids[i], by, depth + 1) < 0)
            return -1;
    return 0;
}

int ym_dispatch_withdraw(ym_db *db, ym_principal *who, int64_t id, ym_dispatch_err *e)
{
    if (e)
        e->field[0] = e->msg[0] = 0;
    disp d;
    int rc = ym_dsp_load(db, id, &d);
    if (rc <= 0)
        return rc < 0 ? dberr(db, e) : ym_dsp_seterr(e, YM_DISPATCH_NOT_FOUND, NULL, "no such dispatch");
    ym_dsp_free(&d);
    int side = ym_dispatch_sender_side(db, who, id);
    if (side < 0)
        return dberr(db, e);
    if (side == 0) {
        int view = ym_dispatch_may_view(db, who, id);
        return view < 0 ? dberr(db, e) : view ? ym_dsp_seterr(e, YM_DISPATCH_FORBIDDEN, NULL, "only the sender withdraws")
                                              : ym_dsp_seterr(e, YM_DISPATCH_NOT_FOUND, NULL, "no such dispatch");
    }
    if (strcmp(d.state, "open"))
        return ym_dsp_seterr(e, YM_DISPATCH_CONFLICT, NULL, "the dispatch is already withdrawn");
    return withdraw_tree(db, id, who->user_id, 0) < 0 ? dberr(db, e) : YM_DISPATCH_OK;
}

int ym_dispatch_mark_read(ym_db *db, ym_principal *who, int64_t id)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "UPDATE core_dispatch_receipts SET state = 'read', read_at = ?3, read_by = ?1 WHERE dispatch_id = ?2 "
        "AND state = 'delivered' AND (user_id = ?1 OR unit_id IN (" MY_UNITS ")) RETURNING id");
    if (!st)
        return YM_DISPATCH_ERROR;
    sqlite3_bind_int64(st, 1, who->user_id);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, ym_now());
    int64_t ids[64];
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (n < 64)
            ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return YM_DISPATCH_ERROR;
    if (n) {
        disp d;
        if (ym_dsp_load(db, id, &d) == 1)
            for (int i = 0; i < n; i++)
                ym_dsp_push_receipt(db, &d, ids[i], "read", who->user_id, 0);
        ym_dsp_free(&d);
    }
    return n;
}

