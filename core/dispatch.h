/* dispatch: 分发/签收. A plugin (documents, meetings, warnings, duty) sends a thing to
 * many units and persons; each recipient has a receipt that walks delivered -> read ->
 * signed (签收) -> replied (回执), or is returned (退回); a unit may forward (转发) down
 * its own subtree, which makes child dispatches; an escalation ladder reminds, sends
 * through an outbound channel, then gives the sending unit's duty officers a phone-call
 * to-do; a live board counts it all. Routes: /api/dispatches... (dispatch_routes.c).
 *
 * Who may do what (docs/api/dispatch.md says the same):
 *  - act for a unit receipt (sign, reply, return, forward): a user with a grant of the
 *    role clerk on exactly that unit, or anyone ym_may(<source>.receive, unit);
 *    for a person receipt: that person only;
 *  - be notified and get the to-do of a unit receipt: the clerk-role holders of exactly
 *    that unit plus holders of a grant on exactly that unit of a role that names
 *    <source>.receive (patterns such as "*" do not count: admins are not spammed);
 *  - the sender side of a dispatch: its sender_user, anyone ym_may(<source>.send,
 *    sender_unit), for a forwarded (child) dispatch whoever may act for the forwarding
 *    unit, and the sender side of every ancestor: it sees the dispatch and its board;
 *  - view: the sender side, the staff of a recipient unit (primary unit, extra
 *    membership or any grant on exactly that unit), a recipient person. Anyone else gets
 *    "not found", never "forbidden". */
#ifndef YM_DISPATCH_H
#define YM_DISPATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "db.h"
#include "identity.h"
#include "router.h"

#define YM_DISPATCH_MAX_RECIPIENTS 5000
#define YM_DISPATCH_MAX_STEPS 10
#define YM_DISPATCH_TITLE_MAX 200        /* characters */
#define YM_DISPATCH_REASON_MAX 500       /* characters */
#define YM_DISPATCH_FORM_MAX 8192        /* bytes of the reply form's JSON */
#define YM_DISPATCH_REPLY_MAX 16384      /* bytes of a reply's JSON */
#define YM_DISPATCH_LIVE_MAX 50          /* sender-side users a receipt event goes to, per level */

typedef struct ym_dispatch_recipient {
    int64_t unit_id;                     /* a unit, or 0 */
    int64_t user_id;                     /* a person, or 0 (exactly one of the two) */
    const char *kind;                    /* "main" (主送, also NULL) or "copy" (抄送) */
} ym_dispatch_recipient;

typedef struct ym_escalation_step {
    int64_t offset_ms;                   /* after sent_at, or before the deadline */
    bool before_deadline;                /* needs a deadline */
    const char *action;                  /* "remind" | "channel" | "call" */
    const char *channel;                 /* for "channel": a notify.channels name, NULL = by severity */
} ym_escalation_step;

typedef struct ym_dispatch_spec {
    const char *source;                  /* owning plugin ("documents"), [a-z][a-z0-9_]* */
    const char *record;                  /* its record, "documents_doc:17" (may be NULL) */
    int64_t sender_unit, sender_user;    /* sender_user may be 0 (the system) */
    const char *title, *urgency, *link;  /* urgency "normal" (also NULL), "urgent", "very_urgent" */
    const ym_dispatch_recipient *recipients;
    size_t nrecipients;
    const char *reply_form_json;         /* NULL: no reply owed; else {"fields": [...]} */
    int64_t deadline_ms;                 /* 0: none */
    const ym_escalation_step *ladder;    /* steps in the order of their due times */
    size_t nladder;
} ym_dispatch_spec;

/* Outcomes of the transitions (the routes map them to HTTP statuses). */
enum {
    YM_DISPATCH_OK = 0,
    YM_DISPATCH_INVALID = -1,            /* 400: err says what, field names the member */
    YM_DISPATCH_NOT_FOUND = -2,          /* 404: no such dispatch, or the caller may not see it */
    YM_DISPATCH_FORBIDDEN = -3,          /* 403: may see it, may not do this */
    YM_DISPATCH_CONFLICT = -4,           /* 409: not allowed from the current state */
    YM_DISPATCH_ERROR = -5               /* 503: database error */
};

/* The outcome's detail: the message, and the member at fault for YM_DISPATCH_INVALID. */
typedef struct ym_dispatch_err {
    char field[64];
    char msg[256];
} ym_dispatch_err;

/* A spec from JSON (dispatch_spec.c has the shape); "source" only when with_source.
 * *rs and *form are malloc'ed (the caller frees them, also on failure); steps holds
 * YM_DISPATCH_MAX_STEPS. 0, or YM_DISPATCH_INVALID with e filled. */
int ym_dispatch_spec_parse(json_t *body, bool with_source, ym_dispatch_spec *s, ym_dispatch_recipient **rs,
                           ym_escalation_step *steps, char **form, ym_dispatch_err *e);

/* Inside a write: creates the dispatch, one receipt per recipient, a to-do per receipt
 * (role clerk on the unit, or the person), a notification to the clerks of each recipient
 * unit (or the person) and the ladder. Returns the id, or -1 with the reason in err. */
int64_t ym_dispatch_create(ym_db *db, const ym_dispatch_spec *s, char *err, size_t errlen);
/* The same with the member at fault (for the routes). */
int64_t ym_dispatch_create_ex(ym_db *db, const ym_dispatch_spec *s, ym_dispatch_err *e);

/* Transitions for a user (same checks as the routes), each inside a write the caller
 * holds. unit_id picks the receipt when the caller may act for several (0: the only one
 * they may act for; a person receipt of theirs first). Return YM_DISPATCH_*. */
int ym_dispatch_sign(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, ym_dispatch_err *e);
/* answers: the object the reply form describes; validated against it. */
int ym_dispatch_reply(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, json_t *answers,
                      ym_dispatch_err *e);
int ym_dispatch_return(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, const char *reason,
                       ym_dispatch_err *e);
/* A child dispatch to units strictly inside the forwarding unit's subtree (from a signed
 * or replied unit receipt): its id, or a YM_DISPATCH_* code (< 0). title NULL: the same. */
int64_t ym_dispatch_forward(ym_db *db, ym_principal *who, int64_t id, int64_t unit_id, const int64_t *unit_ids,
                            size_t n, const char *title, ym_dispatch_err *e);
/* The sender side withdraws an open dispatch and all its descendants: open receipts
 * become withdrawn, their to-dos are resolved. */
int ym_dispatch_withdraw(ym_db *db, ym_principal *who, int64_t id, ym_dispatch_err *e);
/* First open by someone of a recipient unit (or the person): read for each of the
 * caller's receipts still delivered. How many were marked, or YM_DISPATCH_ERROR. */
int ym_dispatch_mark_read(ym_db *db, ym_principal *who, int64_t id);

/* What GET .../board answers (counts, receipts, missing, late, times, children); NULL
 * when unknown or on a database error. No permission check: the caller checks. */
json_t *ym_dispatch_board(ym_db *db, int64_t id);
/* {"total", "delivered", "read", "signed", "replied", "returned", "withdrawn"} of id's
 * receipts; NULL on a database error. */
json_t *ym_dispatch_counts(ym_db *db, int64_t id);
/* The dispatch as GET /api/dispatches/:id shows it to who (with "my" receipts and what
 * they may do): NULL with *status = YM_DISPATCH_NOT_FOUND or _ERROR. */
json_t *ym_dispatch_view(ym_db *db, ym_principal *who, int64_t id, int *status);
/* 1 the caller is on the sender side of id (or an ancestor), 0 not, -1 error. */
int ym_dispatch_sender_side(ym_db *db, ym_principal *who, int64_t id);
/* 1 the caller may see id, 0 not (or unknown), -1 error. */
int ym_dispatch_may_view(ym_db *db, ym_principal *who, int64_t id);

/* The escalation: fires every due step for the receipts still owing (each once), in
 * its own writes. How many receipt-steps fired, or -1. */
int ym_dispatch_escalate(ym_db *db);
struct ym_jobs;
/* core.dispatch_escalate, every 1m. */
int ym_dispatch_add_jobs(struct ym_jobs *j, ym_db *db);
/* /api/dispatches...; with YIMEN_TEST_CLOCK=1 also POST /api/test/dispatches and the
 * permissions test.send / test.receive. */
int ym_dispatch_routes(ym_router *rt, char *err, size_t errlen);

#endif
