/* items: tracked items (督办事项) shared by supervision, tasks, proposals, projects: an
 * item with a lead unit, co-units, deadline, node plan and reporting cycle, its flow
 * (draft → assigned → accepted → in progress → completed → reviewed → closed), progress
 * reports, extensions, lag reasons readable by everyone, urges, links, and a colour
 * recomputed from the configured rules (items.colours) on every change and by a job. */
#ifndef YM_ITEMS_H
#define YM_ITEMS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "db.h"
#include "router.h"

#define YM_ITEM_TITLE_MAX 200        /* characters */
#define YM_ITEM_TEXT_MAX 10000       /* characters: content, report texts */
#define YM_ITEM_NOTE_MAX 2000        /* characters: reasons, comments, urge messages */
#define YM_ITEM_RECORD_MAX 128       /* bytes: "<plugin table>:<id>" */
#define YM_ITEM_NODES_MAX 50
#define YM_ITEM_CO_MAX 50
#define YM_ITEM_FILES_MAX 20
#define YM_ITEM_WORKDAYS_MAX 1000

/* Return codes of the writers (negative; an id or 0 is success). err holds the message;
 * for YM_ITEM_EINVAL it reads "<field>: <message>" (ym_item_err_field splits it). */
#define YM_ITEM_EINVAL (-1)     /* 400 invalid */
#define YM_ITEM_ENOTFOUND (-2)  /* 404: no such item (or extension, node) */
#define YM_ITEM_ESTATE (-3)     /* 409 wrong_state: not in this state, or not this unit's part */
#define YM_ITEM_ELAG (-4)       /* 409 lag_reason_required */
#define YM_ITEM_EDB (-5)        /* 503: database error */
#define YM_ITEM_EWINDOW (-6)    /* 409 return_window_closed: the return window is over (plugins: YM_E_STATE) */

typedef struct ym_item_spec {
    const char *source;          /* owning plugin ("supervision"): permissions <source>.manage/.handle */
    const char *source_kind;     /* "instruction"|"minutes"|"task_list"|"proposal"|"project"|"other" */
    const char *record;          /* link to the source record, "supervision_case:9" or NULL */
    int64_t parent_id;           /* spawned from another item, or 0 */
    const char *title, *content; /* title required; content may be NULL */
    int64_t supervisor_unit;     /* the supervising office */
    int64_t lead_unit;
    const int64_t *co_units;
    size_t nco;
    const char *leader;          /* responsible leader's name, or NULL */
    const char *deadline;        /* "YYYY-MM-DD", or NULL with deadline_workdays > 0 from assignment */
    int deadline_workdays;
    const char *nodes_json;      /* [{"title","deadline"}] or NULL; deadlines not after the item's */
    const char *report_cycle;    /* "weekly" | "monthly N" (1..31) | NULL */
    int64_t created_by;
    bool restricted;             /* 限阅: only its parties see it (404 to others, left out of lists) */
    int return_workdays;         /* the lead unit may return it within N working days of each assignment; 0: any time */
} ym_item_spec;

typedef struct ym_item_report_args {
    const char *text;            /* required */
    const int64_t *file_ids;     /* uploaded by the reporter, not attached yet */
    size_t nfiles;
    int64_t node_id;             /* 0: none; the lead unit's report on a node completes it unless percent < 100 */
    int percent;                 /* 0..100, or -1: not given */
} ym_item_report_args;

/* All writers run inside a write the caller holds (ym_db_write_begin) and check the
 * state and the acting unit's part, not permissions (the routes and plugins do that).
 * by_user is the acting user (0: the system). Each transition recomputes the colour. */
int64_t ym_item_create(ym_db *db, const ym_item_spec *s, char *err, size_t errlen);  /* draft: the id */
int ym_item_assign(ym_db *db, int64_t id, int64_t by_user, char *err, size_t errlen); /* draft|returned → assigned */
int ym_item_accept(ym_db *db, int64_t id, int64_t by_user, char *err, size_t errlen); /* assigned → accepted */
int ym_item_return(ym_db *db, int64_t id, int64_t by_user, const char *reason, char *err, size_t errlen);
/* A progress report of unit (the lead unit or a co-unit: its part) on an accepted or
 * in-progress item; the report id. The lead unit's report on a late item needs a lag
 * reason recorded since it became late (YM_ITEM_ELAG). */
int64_t ym_item_report(ym_db *db, int64_t id, int64_t by_user, int64_t unit, const ym_item_report_args *a,
                       char *err, size_t errlen);
/* The lead unit's completion report: accepted|in_progress → completed; the report id. */
int64_t ym_item_complete(ym_db *db, int64_t id, int64_t by_user, const char *text, const int64_t *file_ids,
                         size_t nfiles, char *err, size_t errlen);
/* completed → reviewed (accept) or back to in_progress. */
int ym_item_review(ym_db *db, int64_t id, int64_t by_user, bool accept, const char *comment, char *err,
                   size_t errlen);
int ym_item_close(ym_db *db, int64_t id, int64_t by_user, char *err, size_t errlen); /* reviewed → closed (销号) */
/* The lead unit asks for a later deadline (one pending at a time): the request id. */
int64_t ym_item_extend_request(ym_db *db, int64_t id, int64_t by_user, const char *until, const char *reason,
                               char *err, size_t errlen);
int ym_item_extend_decide(ym_db *db, int64_t id, int64_t ext_id, int64_t by_user, bool approve,
                          const char *comment, char *err, size_t errlen);
/* A lag reason of the lead unit (category from items.lag_categories): its id. */
int64_t ym_item_reason_add(ym_db *db, int64_t id, int64_t by_user, const char *category, const char *text,
                           char *err, size_t errlen);
/* 催办: an urgent notice to the lead unit (reaches notify.channels); by_user 0 = automatic. */
int ym_item_urge(ym_db *db, int64_t id, int64_t by_user, const char *message, char *err, size_t errlen);
/* Escalate by hand to red (on) or withdraw it. */
int ym_item_escalate(ym_db *db, int64_t id, int64_t by_user, bool on, const char *reason, char *err,
                     size_t errlen);
/* Links the item to a record of any plugin ("<table>:<id>"); the same link again is fine. */
int ym_item_link(ym_db *db, int64_t id, int64_t by_user, const char *record, char *err, size_t errlen);

/* Recompute at now (ms); on change: a timeline row, the event core.items.colour, a
 * notice to the lead unit, and an urge when the colour is in items.auto_urge.
 * 1 changed, 0 unchanged (or not an open item), -1 error. Inside a write. */
int ym_item_recolour(ym_db *db, int64_t id, int64_t now);
/* Every open item, in its own write: how many changed, or -1. */
int ym_items_recolour_all(ym_db *db, int64_t now);

/* The item as the API shows it: full (its parties) or the public view (全员督查); NULL if
 * unknown. ym_item_json is the full view. A restricted item has no public view: the
 * routes answer 404 to non-parties. */
json_t *ym_item_json(ym_db *db, int64_t id);
json_t *ym_item_view(ym_db *db, int64_t id, bool full);
/* Lag reasons, oldest first (public). */
json_t *ym_item_reasons_json(ym_db *db, int64_t id);
/* Statistics of items due from..to (days) by lead unit (0: every unit): see docs/api/items.md. */
json_t *ym_items_stats(ym_db *db, int64_t unit, int32_t from, int32_t to, int64_t now);

/* The units of an item: the source, supervisor and lead unit; 1 found, 0 unknown, -1 error. */
int ym_item_units(ym_db *db, int64_t id, char *source, size_t slen, int64_t *supervisor, int64_t *lead);
/* Is unit the lead (2), a co-unit (1) or neither (0) of the item; -1 error. */
int ym_item_unit_role(ym_db *db, int64_t id, int64_t unit);
/* May p read the files of a report (attached as "core_item_report:<id>")? The item's
 * parties may: the supervising side and the lead and co-units. 1, 0, -1 error. */
struct ym_principal;
int ym_item_report_readable(ym_db *db, struct ym_principal *p, int64_t report_id);

/* Splits "<field>: <message>" of an EINVAL err: the field into field, the message returned. */
const char *ym_item_err_field(const char *err, char *field, size_t flen);

/* ---------- configuration: the items section ----------
 * colours: [{from = "YYYY-MM-DD", blue_within = N, red_after = N}], ascending by from;
 * lag_categories: [string]; auto_urge: [colour]. Check one key's JSON value: 0, or -1
 * with the sub-path ("[2].red_after") in sub and the reason in why. */
int ym_items_config_check(const char *key, const json_t *v, char *sub, size_t sublen, char *why, size_t whylen);
json_t *ym_items_config_default(const char *key);   /* a new reference */
/* The rules this process uses (copied); NULL for a key keeps the default. */
void ym_items_configure(const json_t *colours, const json_t *lag_categories, const json_t *auto_urge);
/* items.remind_days: working days before each due date (deadline, node, report) at
 * which core.items_remind reminds the lead unit; NULL keeps the default {3, 1}. */
void ym_items_configure_remind(const json_t *remind_days);
/* core.items_remind at now (ms): the reminders that fell due, each sent once; how many
 * notices went out, or -1. In its own write. */
int ym_items_remind_all(ym_db *db, int64_t now);
/* The colour rule in effect on day. */
void ym_items_rule_at(int32_t day, int *blue_within, int *red_after);

/* /api/items... routes; with YIMEN_TEST_CLOCK=1 also POST /api/test/items. */
int ym_items_routes(ym_router *rt, char *err, size_t errlen);
struct ym_jobs;
/* core.items_recolour and core.items_remind: every 10 minutes. */
int ym_items_add_jobs(struct ym_jobs *j, ym_db *db);

#endif
