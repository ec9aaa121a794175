/* dispatch_signal: what a receipt's change tells people: the live "core.dispatch.receipt"
 * events to the sender side (and the senders of every ancestor dispatch), the to-do of the
 * unit that owes a signature or a reply, and the notifications to its clerks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dispatch.h"
#include "dispatch_private.h"
#include "access.h"
#include "api.h"
#include "channels.h"
#include "clock.h"
#include "files.h"
#include "jobs.h"
#include "log.h"
#include "notify.h"
#include "search.h"
#include "todo.h"

#define LIVE_TYPE "core.dispatch.receipt"

/* ---------- the live board events ---------- */

static bool push_add(int64_t *v, size_t *n, size_t cap, int64_t uid)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == uid)
            return false;
    if (*n < cap)
        v[(*n)++] = uid;
    return true;
}

json_t *ym_dsp_counts(ym_db *db, int64_t id)
{
    json_t *c = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "total", 0, "delivered", 0, "read", 0, "signed", 0,
                          "replied", 0, "returned", 0, "withdrawn", 0);
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT state, count(*) FROM core_dispatch_receipts WHERE dispatch_id = ?1 GROUP BY state");
    if (!st) {
        json_decref(c);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    json_int_t total = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_int_t n = sqlite3_column_int64(st, 1);
        json_object_set_new(c, (const char *)sqlite3_column_text(st, 0), json_integer(n));
        total += n;
    }
    sqlite3_reset(st);
    json_object_set_new(c, "total", json_integer(total));
    if (rc != SQLITE_DONE) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *ym_dispatch_counts(ym_db *db, int64_t id)
{
    return ym_dsp_counts(db, id);
}

/* A "core.dispatch.receipt" live event about receipt rid of d to the sender side of d and
 * of each ancestor: the sender user, and the holders of a grant on exactly the sender unit
 * of a role naming <source>.send or <source>.* (at most YM_DISPATCH_LIVE_MAX per level). */
int ym_dsp_push_receipt(ym_db *db, const disp *d, int64_t rid, const char *action, int64_t by, int64_t child)
{
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "SELECT coalesce(unit_id, 0), coalesce(user_id, 0), state FROM core_dispatch_receipts WHERE id = ?1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    json_t *data = json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:o,s:o}", "dispatch_id", (json_int_t)d->id, "root_id",
                             (json_int_t)d->root_id, "receipt_id", (json_int_t)rid, "unit_id",
                             (json_int_t)sqlite3_column_int64(st, 0), "user_id", (json_int_t)sqlite3_column_int64(st, 1),
                             "state", (const char *)sqlite3_column_text(st, 2), "action", action, "by",
                             by ? json_integer(by) : json_null(), "at", ym_api_time(ym_now()));
    sqlite3_reset(st);
    if (child)
        json_object_set_new(data, "child_id", json_integer(child));
    json_t *counts = ym_dsp_counts(db, d->id);
    if (counts)
        json_object_set_new(data, "counts", counts);
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    int64_t users[16 * (YM_DISPATCH_LIVE_MAX + 1)];
    size_t n = 0;
    int64_t cur = d->id;
    for (int depth = 0; cur > 0 && depth < 16; depth++) {
        disp x;
        if (ym_dsp_load(db, cur, &x) <= 0)
            break;
        ym_dsp_free(&x);
        if (x.sender_user)
            push_add(users, &n, sizeof users / sizeof *users, x.sender_user);
        char send[96];
        int64_t holders[YM_DISPATCH_LIVE_MAX];
        snprintf(send, sizeof send, "%s.send", x.source);
        long nh = ym_perm_holders(db, x.sender_unit, send, holders, YM_DISPATCH_LIVE_MAX);
        for (long i = 0; i < nh; i++)
            push_add(users, &n, sizeof users / sizeof *users, holders[i]);
        cur = x.parent_id;
    }
    int rc = 0;
    char err[256];
    for (size_t i = 0; i < n && text; i++)
        if (ym_notify_push(db, "core", users[i], LIVE_TYPE, text, err, sizeof err) < 0) {
            ym_log(YM_LOG_WARN, "dispatch live event not written", "user=%lld error=%s", (long long)users[i], err);
            rc = -1;
        }
    free(text);
    return rc;
}

/* ---------- to-dos and notifications of receipts ---------- */

static void todo_key(char *out, size_t len, int64_t did, int64_t rid)
{
    snprintf(out, len, "dispatch:%lld:r:%lld", (long long)did, (long long)rid);
}

void ym_dsp_call_key(char *out, size_t len, int64_t did, int64_t rid)
{
    snprintf(out, len, "dispatch:%lld:call:%lld", (long long)did, (long long)rid);
}

const char *ym_dsp_link_of(const disp *d, char *buf, size_t len)
{
    if (d->has_link)
        return d->link;
    snprintf(buf, len, "#/dispatches/%lld", (long long)d->id);
    return buf;
}

/* The to-do of a receipt: to sign, or (signed, reply owed) to reply. */
int ym_dsp_receipt_todo(ym_db *db, const disp *d, const rcpt *r, bool reply, ym_dispatch_err *e)
{
    char key[96], title[1200], lbuf[64];
    todo_key(key, sizeof key, d->id, r->id);
    snprintf(title, sizeof title, "%s：%s", reply ? "回执" : "签收", d->title);
    if (ym_search_utf8_len(title) > YM_TODO_TITLE_MAX) /* cut at a character boundary */
        snprintf(title, sizeof title, "%s", reply ? "回执" : "签收");
    ym_todo t = {.user_id = r->user_id, .unit_id = r->user_id ? 0 : r->unit_id, .role_key = r->user_id ? NULL : "clerk",
                 .title = title, .link = ym_dsp_link_of(d, lbuf, sizeof lbuf), .due_ms = d->deadline,
                 .kind = reply ? "reply" : "sign"};
    char err[256];
    if (ym_todo_put(db, "core", key, &t, err, sizeof err) < 0)
        return ym_dsp_seterr(e, YM_DISPATCH_ERROR, NULL, "to-do: %s", err);
    return 0;
}

/* Resolves the receipt's to-do and its duty officer's call. */
int ym_dsp_receipt_done(ym_db *db, const disp *d, int64_t rid, int64_t by)
{
    char key[96];
    todo_key(key, sizeof key, d->id, rid);
    if (ym_todo_resolve(db, "core", key, by) < 0)
        return -1;
    ym_dsp_call_key(key, sizeof key, d->id, rid);
    return ym_todo_resolve(db, "core", key, by) < 0 ? -1 : 0;
}

/* The users told about a unit receipt: clerks on exactly the unit, and holders of a grant
 * on exactly it of a role that names <source>.receive. */
#define CLERKS_OF_UNIT                                                                              \
    "SELECT DISTINCT g.user_id FROM core_grants g JOIN core_users u ON u.id = g.user_id "          \
    "WHERE g.unit_id = ?1 AND u.status = 'active' AND (g.role_id = ?2 OR g.role_id IN "             \
    "(SELECT role_id FROM core_role_permissions WHERE permission = ?3)) ORDER BY g.user_id"

/* Notifies the clerks of unit (or the person): how many, -1 error. */
int ym_dsp_notify_receipt(ym_db *db, const disp *d, int64_t unit, int64_t user, const ym_notice *n, int64_t role)
{
    char err[256];
    if (user)
        return ym_notify_user(db, "core", user, n, err, sizeof err) < 0 ? -1 : 1;
    char recv[96];
    snprintf(recv, sizeof recv, "%s.receive", d->source);
    sqlite3_stmt *st = ym_db_prepare(db, "core", CLERKS_OF_UNIT);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, unit);
    sqlite3_bind_int64(st, 2, role > 0 ? role : ym_dsp_clerk_role(db));
    sqlite3_bind_text(st, 3, recv, -1, SQLITE_TRANSIENT);
    int64_t ids[256];
    size_t k = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < 256)
        ids[k++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return -1;
    for (size_t i = 0; i < k; i++)
        if (ym_notify_user(db, "core", ids[i], n, err, sizeof err) < 0) {
            ym_log(YM_LOG_WARN, "dispatch notification not written", "user=%lld error=%s", (long long)ids[i], err);
            return -1;
        }
    return (int)k;
}
