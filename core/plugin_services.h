/* plugin_services: the shared services (events, notifications, to-dos, search,
 * attachments, spreadsheets) under a plugin's name, for the C API (ym_api, ABI minor 1)
 * and the Lua module alike. Failures return -1 (or NULL) with the reason in p->error. */
#ifndef YM_PLUGIN_SERVICES_H
#define YM_PLUGIN_SERVICES_H
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "plugin.h"
#include "events.h"
#include "notify.h"
#include "todo.h"

const char *ym_ps_error(ym_plugin *p);
/* Sets p->error (what api->error answers) and returns -1. */
int ym_ps_fail(ym_plugin *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ym_db *ym_ps_db(ym_plugin *p);       /* the plugin's worker database, or NULL */
char *ym_ps_text(json_t *o);
/* A savepoint for one service call (inside the plugin's write, or alone), and its end:
 * released when rc >= 0, else rolled back; returns rc (or -1 when the release failed). */
bool ym_ps_begin(ym_plugin *p, const char *what, bool *own);
int64_t ym_ps_end(ym_plugin *p, bool own, int64_t rc);         /* compact JSON text of o (malloc'ed), dropping o; NULL for NULL */
int ym_ps_emit(ym_plugin *p, const char *name, const char *payload);
/* Only inside init; fn as the events service calls it. */
int ym_ps_subscribe(ym_plugin *p, const char *pattern, ym_event_fn fn, void *ud, void (*ud_free)(void *));
int64_t ym_ps_notify(ym_plugin *p, int64_t user_id, const ym_notice *n);
int64_t ym_ps_notify_unit(ym_plugin *p, int64_t unit_id, bool subtree, const ym_notice *n);
int64_t ym_ps_push(ym_plugin *p, int64_t user_id, const char *type, const char *data_json);
int64_t ym_ps_todo_put(ym_plugin *p, const char *key, const ym_todo *t);
int ym_ps_todo_resolve(ym_plugin *p, const char *key, int64_t by_user, bool prefix);
int ym_ps_search_put(ym_plugin *p, const char *kind, const char *ref, const char *title, const char *body,
                     int64_t unit_id, const char *perm);
int ym_ps_search_del(ym_plugin *p, const char *kind, const char *ref);
int ym_ps_file_attach(ym_plugin *p, ym_request *r, int64_t file_id, const char *owner_ref);
int ym_ps_file_detach(ym_plugin *p, const char *owner_ref);
/* Answers r with the .xlsx of sheet (or a 500): 0 or -1. */
int ym_ps_send_xlsx(ym_plugin *p, ym_request *r, const char *filename, const json_t *sheet);
json_t *ym_ps_xlsx_rows(ym_plugin *p, const void *data, size_t len);

/* The ym_api entries of these, with the C API's argument shapes. */
int ym_ps_subscribe_c(ym_plugin *p, const char *pattern,
                      int (*fn)(ym_plugin *self, const char *name, const char *payload_json, void *ud), void *ud);
int64_t ym_ps_c_notify(ym_plugin *p, int64_t user, const char *sev, const char *title, const char *body,
                       const char *link);
int64_t ym_ps_c_notify_unit(ym_plugin *p, int64_t unit, int subtree, const char *sev, const char *title,
                            const char *body, const char *link);
int64_t ym_ps_c_todo_put(ym_plugin *p, const char *key, int64_t user_id, int64_t unit_id, const char *role,
                         const char *title, const char *link, int64_t due_ms, const char *kind);
int ym_ps_c_todo_resolve(ym_plugin *p, const char *key, int64_t by);
int ym_ps_c_todo_resolve_prefix(ym_plugin *p, const char *key, int64_t by);
void ym_ps_c_resp_xlsx(ym_plugin *p, ym_request *r, const char *filename, const char *sheet_json);
char *ym_ps_c_xlsx_rows(ym_plugin *p, const void *data, size_t len);
/* The engines (plugin_engines.c): specs and arguments as JSON. */
int64_t ym_ps_item_create(ym_plugin *p, int64_t by_user, const char *spec_json);
int64_t ym_ps_item_act(ym_plugin *p, int64_t id, const char *action, int64_t by_user, const char *args_json);
json_t *ym_ps_item_get(ym_plugin *p, int64_t id);
char *ym_ps_c_item_get(ym_plugin *p, int64_t id);
int64_t ym_ps_dispatch_create(ym_plugin *p, const char *spec_json);
int64_t ym_ps_dispatch_act(ym_plugin *p, int64_t id, const char *action, int64_t by_user, int64_t unit_id,
                           const char *args_json);
json_t *ym_ps_dispatch_board(ym_plugin *p, int64_t id);
char *ym_ps_c_dispatch_board(ym_plugin *p, int64_t id);
/* ABI minor 4 (plugin_files.c) */
char *ym_ps_file_info(ym_plugin *p, int64_t file_id);
const char *ym_ps_data_path(ym_plugin *p);
int ym_ps_queue_work(ym_plugin *p, void (*work)(void *ud), void (*done)(ym_plugin *p, void *ud), void *ud);
/* ABI minor 6 (plugin_files.c) */
char *ym_ps_perm_holders(ym_plugin *p, const char *perm, int64_t unit);
#endif
