/* meetings: shared declarations of the plugin's files. */
#ifndef MEETINGS_H
#define MEETINGS_H
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "yimen.h"

extern const ym_api *api;

/* settings (meetings = { ... } in yimen.conf) */
typedef struct {
    int64_t remind_after_min, channel_after_min, call_before_deadline_min, remind_before_start_min;
    const char *channel;   /* NULL: every channel the severity reaches */
} mt_settings;
extern mt_settings mt_cfg;

/* A meeting row: what the handlers need, and its public JSON (j). */
typedef struct {
    int64_t id, organiser_unit, convener_user, start_at, duration_min, room_id, reply_deadline, dispatch_id;
    char state[16], type[16], title[700], place[700];
    json_t *j;
} mt_meeting;

/* helpers (meetings.c) */
int64_t mt_id_param(ym_request *r);
json_t *mt_time_json(int64_t ms);
int mt_parse_time(const char *s, int64_t *ms);
json_t *mt_body(ym_request *r);   /* a JSON object body, or NULL after a 400 */
bool mt_in_list(const char *k, const char *const *l);
bool mt_only_fields(ym_request *r, json_t *body, const char *const *allowed);
void mt_engine_error(ym_request *r, ym_plugin *self, int64_t rc);
int mt_load(ym_plugin *self, int64_t id, mt_meeting *m);    /* 1 found, 0 not, -1 error */
void mt_free(mt_meeting *m);
/* Is the caller invited to meeting_id: a person recipient, staff of a recipient unit (their
 * unit), or a contact holding meetings.receive on one? The unit they are invited through
 * (their own unless only a contact), 0 when not invited, -1 on error. */
int64_t mt_invited_unit(ym_request *r, ym_plugin *self, int64_t meeting_id);
/* ",3,5,": the recipient units (of meeting id; 0 every meeting) the caller holds
 * meetings.receive on, besides their own (malloc'ed; NULL on error). */
char *mt_receive_units(ym_request *r, ym_plugin *self, int64_t id);
/* The meeting of :id when the caller may see it (perm on the organiser unit, or
 * invited); answers 404 and returns 0 otherwise. */
int mt_visible(ym_request *r, ym_plugin *self, mt_meeting *m);
/* ... and may do perm on the organiser unit: 403 otherwise. */
int mt_organiser(ym_request *r, ym_plugin *self, mt_meeting *m, const char *perm);
void mt_reply(ym_request *r, int status, json_t *j);   /* answers and decrefs */
void mt_reply_meeting(ym_request *r, ym_plugin *self, int status, int64_t id);
int mt_room_clash(ym_request *r, ym_plugin *self, int64_t id, int64_t room, int64_t start, int64_t dur);
const char *mt_unit_name(ym_plugin *self, int64_t unit, char *buf, size_t len);
int mt_set_state(ym_plugin *self, int64_t id, const char *state);

/* send.c */
void mt_send(ym_request *r, void *ud);
void mt_change(ym_request *r, void *ud);
void mt_cancel(ym_request *r, void *ud);
void mt_start(ym_request *r, void *ud);
void mt_finish(ym_request *r, void *ud);
void mt_board(ym_request *r, void *ud);
json_t *mt_attendance(json_t *board);
int mt_deadline_job(ym_plugin *self, const char *name, void *ud);

/* fields.c: validation of the notice's fields, shared by create, PATCH and change */
json_t *mt_fields(ym_request *r, ym_plugin *self, json_t *body, json_t *cur, const char *const *extra);
int mt_sms_text(json_t *vals);
bool mt_id_ok(json_t *v);
int mt_bind_vals(ym_stmt *st, json_t *vals);          /* ?2.. in the order of the fields */
json_t *mt_stored_vals(ym_plugin *self, int64_t id);  /* the stored values, as mt_fields takes them */
int mt_store_vals(ym_plugin *self, int64_t id, json_t *vals);

/* checkin.c */
void mt_checkin_code(ym_request *r, void *ud);
void mt_checkin(ym_request *r, void *ud);
void mt_minutes(ym_request *r, void *ud);
void mt_get_minutes(ym_request *r, void *ud);
void mt_stats(ym_request *r, void *ud);
void mt_unit_stats(ym_request *r, void *ud);
void mt_rooms_list(ym_request *r, void *ud);
void mt_rooms_create(ym_request *r, void *ud);
void mt_rooms_update(ym_request *r, void *ud);
void mt_rooms_delete(ym_request *r, void *ud);
#endif
