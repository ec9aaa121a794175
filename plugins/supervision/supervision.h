/* supervision (督查督办): cases on the core's tracked-items engine. */
#ifndef SUPERVISION_H
#define SUPERVISION_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "yimen.h"

extern const ym_api *api;

typedef struct sv_config {
    int64_t office_unit;       /* supervisor of cases taken in from events; 0 = the event's own unit */
    int default_workdays;      /* deadline of event cases without one */
    bool auto_assign;          /* event cases assigned at once instead of proposed (draft) */
    const char *notice_schedule;
    int return_workdays;       /* a case may be returned within this many working days of assignment */
} sv_config;
extern sv_config sv_cfg;

/* a new case: what the intake paths fill in */
typedef struct sv_new {
    const char *origin, *source_kind, *source_ref, *source_record, *title, *text, *leader, *deadline, *report_cycle;
    int64_t leader_user, supervisor_unit, lead_unit, by_user;
    int64_t parent_item;       /* decomposition: the parent case's item, else 0 */
    int64_t co[50];
    size_t nco;
    int workdays;
    json_t *nodes;
    bool restricted, assign;
} sv_new;

/* one case row */
typedef struct sv_case {
    int64_t id, item_id, leader_user, supervisor_unit, lead_unit, created_by, escalated_at, created_at;
    bool restricted;
    char origin[16], source_kind[16], source_ref[160], source_record[160], title[640], leader[200];
    char *original_text;
} sv_case;

/* intake.c */
int64_t sv_case_create(ym_plugin *self, const sv_new *n);     /* case id, or a YM_E_* code */
void sv_create_case(ym_request *r, void *ud);
int sv_on_instruction(ym_plugin *self, const char *name, const char *payload, void *ud);
int sv_on_minutes(ym_plugin *self, const char *name, const char *payload, void *ud);
int sv_on_task_lagging(ym_plugin *self, const char *name, const char *payload, void *ud);
void sv_engine_error(ym_request *r, ym_plugin *self, int64_t rc);
void sv_clip(const char *s, size_t max_chars, char *out, size_t outlen);
/* co_units (an array of at most 50 unit ids; absent: none) into n->co: NULL, or what is wrong. */
const char *sv_take_co_units(json_t *v, sv_new *n);
/* A decimal id (1..18 digits) from a path or query parameter, or -1. */
int64_t sv_parse_id(const char *s);

/* board.c */
int sv_case_load(ym_plugin *self, int64_t id, sv_case *c);    /* 1 found, 0 none, -1 error */
void sv_case_free(sv_case *c);
bool sv_party(ym_request *r, ym_plugin *self, const sv_case *c);
json_t *sv_item(ym_plugin *self, int64_t item_id);
json_t *sv_case_json(ym_plugin *self, const sv_case *c, bool full);
void sv_get_case(ym_request *r, void *ud);
void sv_board(ym_request *r, void *ud);
void sv_league(ym_request *r, void *ud);
json_t *sv_league_json(ym_plugin *self, const char *from, const char *to);
void sv_today(char out[11]);

/* handling.c */
void sv_decompose(ym_request *r, void *ud);
void sv_return_case(ym_request *r, void *ud);
json_t *sv_children_json(ym_plugin *self, int64_t item_id);
void sv_case_actions(ym_request *r, ym_plugin *self, const sv_case *c, json_t *o);

/* notices.c */
int sv_escalate_job(ym_plugin *self, const char *name, void *ud);
int sv_notice_job(ym_plugin *self, const char *name, void *ud);
void sv_run_escalation(ym_request *r, void *ud);
void sv_make_notice(ym_request *r, void *ud);
void sv_latest_notice(ym_request *r, void *ud);
void sv_latest_xlsx(ym_request *r, void *ud);
#endif
