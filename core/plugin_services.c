/* plugin_services: the shared services as C plugins call them through ym_api (ABI
 * minor 1): events, notifications, to-dos, search, attachments and spreadsheets. Each
 * call is the core service under the plugin's name; a failure leaves its reason for
 * api->error(self). The Lua module (lua_services.c) calls the same functions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "plugin_services.h"
#include "events.h"
#include "notify.h"
#include "todo.h"
#include "search.h"
#include "files.h"
#include "sheets.h"
#include "identity.h"
#include "http.h"
#include "log.h"

int ym_ps_fail(ym_plugin *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
    return -1;
}

#define failf ym_ps_fail

ym_db *ym_ps_db(ym_plugin *p) { return p->host ? p->host->db : NULL; }
#define pdb ym_ps_db

char *ym_ps_text(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* Each writer is a savepoint of its own, inside the plugin's open write when there is
 * one (so it commits or rolls back with the plugin's rows) or alone: a call that fails
 * half-way takes back what it wrote, and nothing of the plugin's. */
bool ym_ps_begin(ym_plugin *p, const char *what, bool *own)
{
    ym_db *db = pdb(p);
    *own = false;
    if (!db) {
        failf(p, "no database in this process (%s)", what);
        return false;
    }
    if (ym_db_write_begin(db) < 0) {
        failf(p, "cannot begin a write for %s: %s", what, ym_db_errmsg(db));
        return false;
    }
    *own = true;
    return true;
}

int64_t ym_ps_end(ym_plugin *p, bool own, int64_t rc)
{
    if (own && ym_db_write_end(pdb(p), rc >= 0) < 0 && rc >= 0)
        return failf(p, "the write failed: %s", ym_db_errmsg(pdb(p)));
    return rc;
}

const char *ym_ps_error(ym_plugin *p) { return p->error; }

/* "<plugin>" or "<plugin>.<what>" / "<plugin>_<what>" (sep '.' or '_'). */
static bool owned(const ym_plugin *p, const char *s, const char *seps)
{
    size_t n = strlen(p->name);
    return s && strncmp(s, p->name, n) == 0 && (s[n] == 0 || (strchr(seps, s[n]) && s[n + 1]));
}

/* ---------- events ---------- */

int ym_ps_emit(ym_plugin *p, const char *name, const char *payload)
{
    bool own;
    if (!ym_ps_begin(p, "emit", &own))
        return -1;
    return (int)ym_ps_end(p, own, ym_events_emit(pdb(p), p->name, name, payload, p->error, sizeof p->error) < 0 ? -1 : 0);
}

int ym_ps_subscribe(ym_plugin *p, const char *pattern, ym_event_fn fn, void *ud, void (*ud_free)(void *))
{
    ym_events *ev = ym_events_current();
    if (!p->in_init)
        return failf(p, "only inside init");
    if (!ev)
        return failf(p, "this process delivers no events");
    return ym_events_subscribe(ev, p->name, pattern, fn, ud, ud_free, p->error, sizeof p->error);
}

typedef struct c_sub {
    ym_plugin *p;
    int (*fn)(ym_plugin *self, const char *name, const char *payload_json, void *ud);
    void *ud;
} c_sub;

static int run_c_sub(void *ud, int64_t event_id, const char *name, const char *source, const char *payload,
                     char *err, size_t errlen)
{
    c_sub *s = ud;
    s->p->error[0] = 0;
    if (s->fn(s->p, name, payload, s->ud) == 0)
        return 0;
    snprintf(err, errlen, "%s", s->p->error[0] ? s->p->error : "the subscriber reported a failure");
    return -1;
}

int ym_ps_subscribe_c(ym_plugin *p, const char *pattern,
                      int (*fn)(ym_plugin *self, const char *name, const char *payload_json, void *ud), void *ud)
{
    c_sub *s = malloc(sizeof *s);
    if (!s || !fn) {
        free(s);
        return failf(p, "no function");
    }
    *s = (c_sub){p, fn, ud};
    if (ym_ps_subscribe(p, pattern, run_c_sub, s, free) < 0) {
        char why[300];
        snprintf(why, sizeof why, "subscribe %s: %s", pattern ? pattern : "(null)", p->error);
        free(s);
        ym_plugin_fail(p, why);
        return -1;
    }
    return 0;
}

/* ---------- notifications ---------- */

int64_t ym_ps_notify(ym_plugin *p, int64_t user_id, const ym_notice *n)
{
    bool own;
    if (!ym_ps_begin(p, "notify", &own))
        return -1;
    return ym_ps_end(p, own, ym_notify_user(pdb(p), p->name, user_id, n, p->error, sizeof p->error));
}

int64_t ym_ps_notify_unit(ym_plugin *p, int64_t unit_id, bool subtree, const ym_notice *n)
{
    bool own;
    if (!ym_ps_begin(p, "notify_unit", &own))
        return -1;
    return ym_ps_end(p, own, ym_notify_unit(pdb(p), p->name, unit_id, subtree, n, p->error, sizeof p->error));
}

int64_t ym_ps_push(ym_plugin *p, int64_t user_id, const char *type, const char *data_json)
{
    bool own;
    if (!ym_ps_begin(p, "push", &own))
        return -1;
    return ym_ps_end(p, own, ym_notify_push(pdb(p), p->name, user_id, type, data_json, p->error, sizeof p->error));
}

int64_t ym_ps_c_notify(ym_plugin *p, int64_t user, const char *sev, const char *title, const char *body, const char *link)
{
    ym_notice n = {.severity = sev, .title = title, .body = body, .link = link};
    return ym_ps_notify(p, user, &n);
}

int64_t ym_ps_c_notify_unit(ym_plugin *p, int64_t unit, int subtree, const char *sev, const char *title,
                             const char *body, const char *link)
{
    ym_notice n = {.severity = sev, .title = title, .body = body, .link = link};
    return ym_ps_notify_unit(p, unit, subtree != 0, &n);
}

/* ---------- to-dos ---------- */

int64_t ym_ps_todo_put(ym_plugin *p, const char *key, const ym_todo *t)
{
    bool own;
    if (!ym_ps_begin(p, "todo_put", &own))
        return -1;
    return ym_ps_end(p, own, ym_todo_put(pdb(p), p->name, key, t, p->error, sizeof p->error));
}

int64_t ym_ps_c_todo_put(ym_plugin *p, const char *key, int64_t user_id, int64_t unit_id, const char *role,
                          const char *title, const char *link, int64_t due_ms, const char *kind)
{
    ym_todo t = {.user_id = user_id, .unit_id = unit_id, .role_key = role, .title = title, .link = link,
                 .due_ms = due_ms, .kind = kind};
    return ym_ps_todo_put(p, key, &t);
}

int ym_ps_todo_resolve(ym_plugin *p, const char *key, int64_t by_user, bool prefix)
{
    bool own;
    if (!key || !*key)
        return failf(p, "a key is needed");
    if (!ym_ps_begin(p, "todo_resolve", &own))
        return -1;
    int rc = prefix ? ym_todo_resolve_prefix(pdb(p), p->name, key, by_user)
                    : ym_todo_resolve(pdb(p), p->name, key, by_user);
    if (rc < 0)
        failf(p, "%s", ym_db_errmsg(pdb(p)));
    return (int)ym_ps_end(p, own, rc);
}

int ym_ps_c_todo_resolve(ym_plugin *p, const char *key, int64_t by) { return ym_ps_todo_resolve(p, key, by, false); }
int ym_ps_c_todo_resolve_prefix(ym_plugin *p, const char *key, int64_t by) { return ym_ps_todo_resolve(p, key, by, true); }

/* ---------- search ---------- */

int ym_ps_search_put(ym_plugin *p, const char *kind, const char *ref, const char *title, const char *body,
                     int64_t unit_id, const char *perm)
{
    bool own;
    if (!owned(p, kind, "."))
        return failf(p, "the kind must be \"%s\" or \"%s.<what>\"", p->name, p->name);
    if (!ref || !*ref || strlen(ref) > 200)
        return failf(p, "ref must be 1 to 200 bytes");
    if (!perm || !ym_perm_known(perm))
        return failf(p, "\"%s\" is not a registered permission", perm ? perm : "(null)");
    if (!ym_ps_begin(p, "search_put", &own))
        return -1;
    int rc = ym_search_put(pdb(p), kind, ref, title, body, unit_id, perm);
    if (rc < 0)
        failf(p, "%s", ym_db_errmsg(pdb(p)));
    return (int)ym_ps_end(p, own, rc);
}

int ym_ps_search_del(ym_plugin *p, const char *kind, const char *ref)
{
    bool own;
    if (!owned(p, kind, "."))
        return failf(p, "the kind must be \"%s\" or \"%s.<what>\"", p->name, p->name);
    if (!ref || !*ref)
        return failf(p, "a ref is needed");
    if (!ym_ps_begin(p, "search_del", &own))
        return -1;
    int rc = ym_search_del(pdb(p), kind, ref);
    if (rc < 0)
        failf(p, "%s", ym_db_errmsg(pdb(p)));
    return (int)ym_ps_end(p, own, rc);
}

/* ---------- attachments ---------- */

int ym_ps_file_attach(ym_plugin *p, ym_request *r, int64_t file_id, const char *owner_ref)
{
    bool own;
    if (!owned(p, owner_ref, "_:"))
        return failf(p, "the record must be named \"%s_<table>:<id>\"", p->name);
    if (!r || !r->who)
        return failf(p, "only for a signed-in request");
    if (!ym_ps_begin(p, "file_attach", &own))
        return -1;
    int rc = ym_files_attach(pdb(p), file_id, r->who->user_id, owner_ref, p->error, sizeof p->error) < 0 ? -1 : 0;
    return (int)ym_ps_end(p, own, rc);
}

int ym_ps_file_detach(ym_plugin *p, const char *owner_ref)
{
    bool own;
    if (!owned(p, owner_ref, "_:"))
        return failf(p, "the record must be named \"%s_<table>:<id>\"", p->name);
    if (!ym_ps_begin(p, "file_detach", &own))
        return -1;
    int n = ym_files_detach_owner(pdb(p), owner_ref);
    if (n < 0)
        failf(p, "%s", ym_db_errmsg(pdb(p)));
    return (int)ym_ps_end(p, own, n);
}

/* ---------- spreadsheets ---------- */

static void tmpdir(ym_plugin *p, char *out, size_t len)
{
    snprintf(out, len, "%s/tmp", p->host && p->host->cfg ? p->host->cfg->data_dir : "/tmp");
    mkdir(out, 0700);
}

int ym_ps_send_xlsx(ym_plugin *p, ym_request *r, const char *filename, const json_t *sheet)
{
    char dir[4200], disp[1200], err[256];
    char *data = NULL;
    size_t len = 0;
    tmpdir(p, dir, sizeof dir);
    if (ym_sheet_json_xlsx(sheet, dir, &data, &len, err, sizeof err) < 0) {
        failf(p, "%s", err);
        ym_log(YM_LOG_ERROR, "spreadsheet export failed", "plugin=%s error=%s", p->name, err);
        ym_resp_error(r, 500, "export_failed", "the spreadsheet could not be made");
        return -1;
    }
    char hdr[1300];
    size_t n = ym_files_disposition("attachment", filename && *filename ? filename : "export.xlsx", disp, sizeof disp);
    snprintf(hdr, sizeof hdr, "Content-Disposition: %s\r\nCache-Control: no-store\r\n", n ? disp : "attachment");
    ym_resp_send(r, 200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", data, len, hdr);
    free(data);
    return 0;
}

json_t *ym_ps_xlsx_rows(ym_plugin *p, const void *data, size_t len)
{
    char dir[4200];
    tmpdir(p, dir, sizeof dir);
    json_t *rows = ym_sheet_xlsx_json(data, len, dir, p->error, sizeof p->error);
    return rows;
}

void ym_ps_c_resp_xlsx(ym_plugin *p, ym_request *r, const char *filename, const char *sheet_json)
{
    json_t *sheet = sheet_json ? json_loads(sheet_json, 0, NULL) : NULL;
    if (!sheet) {
        failf(p, "the sheet is not JSON");
        ym_log(YM_LOG_ERROR, "spreadsheet export failed", "plugin=%s error=the sheet is not JSON", p->name);
        ym_resp_error(r, 500, "export_failed", "the spreadsheet could not be made");
        return;
    }
    ym_ps_send_xlsx(p, r, filename, sheet);
    json_decref(sheet);
}

char *ym_ps_c_xlsx_rows(ym_plugin *p, const void *data, size_t len) { return ym_ps_text(ym_ps_xlsx_rows(p, data, len)); }
