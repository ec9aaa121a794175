/* dispatch_private: what dispatch.c shares with dispatch_board.c (not for plugins). */
#ifndef YM_DISPATCH_PRIVATE_H
#define YM_DISPATCH_PRIVATE_H
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "db.h"
#include "dispatch.h"
#include "notify.h"

/* The units a user belongs to: primary, extra memberships, and any grant on exactly a unit. */
#define MY_UNITS                                                                                    \
    "SELECT unit_id FROM core_users WHERE id = ?1 UNION SELECT unit_id FROM core_user_units WHERE " \
    "user_id = ?1 UNION SELECT unit_id FROM core_grants WHERE user_id = ?1"

typedef struct disp {
    int64_t id, parent_id, root_id, sender_unit, sender_user, deadline, sent_at;
    char source[64], title[1024], urgency[16], state[16], link[512];
    bool has_link;
    json_t *form;                        /* NULL: no reply */
    char *ladder;                        /* JSON, or NULL */
} disp;

/* One receipt: a recipient unit's (or person's) state. */
typedef struct rcpt {
    int64_t id, unit_id, user_id;
    char state[16], kind[8];
    bool reply_owed;
} rcpt;

/* 1 found, 0 not, -1 error; ym_dsp_free releases what it loaded. */
int ym_dsp_load(ym_db *db, int64_t id, disp *d);
void ym_dsp_free(disp *d);
void ym_dsp_copy_col(sqlite3_stmt *st, int col, char *out, size_t len);
/* A statement with ?1 = a and ?2 = b: 1 it gave a row, 0 none, -1 error. */
int ym_dsp_step_sql(ym_db *db, const char *sql, int64_t a, int64_t b);
json_t *ym_dsp_counts(ym_db *db, int64_t id);
int64_t ym_dsp_clerk_role(ym_db *db);
/* May who act for unit's receipts of a dispatch of source? 1, 0, -1. */
int ym_dsp_may_act(ym_db *db, ym_principal *who, const char *source, int64_t unit);
const char *ym_dsp_link_of(const disp *d, char *buf, size_t len);
void ym_dsp_call_key(char *out, size_t len, int64_t did, int64_t rid);
/* Notifies the clerks of unit (role 0: looked up), or the person: how many, -1. */
int ym_dsp_notify_receipt(ym_db *db, const disp *d, int64_t unit, int64_t user, const ym_notice *n, int64_t role);
/* The reply form ({"fields": [...]}) and a reply's answers against it (dispatch_spec.c):
 * NULL when fine, else the member at fault with the reason in why. */
const char *ym_dsp_form_check(json_t *form, char *why, size_t len);
const char *ym_dsp_answers_check(json_t *form, json_t *answers, char *why, size_t len);
/* UTF-8 of 1..max characters without control characters; a name [a-z][a-z0-9_]{0,max-1}. */
bool ym_dsp_text_ok(const char *s, long max);
bool ym_dsp_name_ok(const char *s, size_t max);
/* dispatch_signal.c: a receipt's live event to the sender side; its to-do (sign, or reply
 * when one is owed); its to-do resolved. 0, or -1 (with e filled for the to-do). */
int ym_dsp_push_receipt(ym_db *db, const disp *d, int64_t rid, const char *action, int64_t by, int64_t child);
int ym_dsp_receipt_todo(ym_db *db, const disp *d, const rcpt *r, bool reply, ym_dispatch_err *e);
int ym_dsp_receipt_done(ym_db *db, const disp *d, int64_t rid, int64_t by);
/* Fills e (when not NULL) with the field and the message; returns code. */
int ym_dsp_seterr(ym_dispatch_err *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#endif
