/* Intake (立项): by hand (POST /api/supervision/cases) and from the events of documents
 * (a leader's 批示), meetings (each decision of published minutes) and tasks (a lagging
 * task). Every case is one tracked item of the core engine, record supervision_cases:<id>,
 * linked to its source record. Event intake is idempotent per source (source_ref is
 * unique) and proposes the case (draft) for the office to assign, unless auto_assign. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "supervision.h"

static const char *const KINDS[] = {"instruction", "minutes", "task_list", "proposal", "project", "other", NULL};

/* An engine failure as HTTP; a 400 names the field the engine's message starts with. */
void sv_engine_error(ym_request *r, ym_plugin *self, int64_t rc)
{
    const char *msg = api->error(self) ? api->error(self) : "refused";
    if (rc == YM_E_INVALID || rc >= 0) {
        char field[40] = "";
        const char *c = strchr(msg, ':');
        if (c && c - msg < (long)sizeof field && !memchr(msg, ' ', (size_t)(c - msg)))
            snprintf(field, sizeof field, "%.*s", (int)(c - msg), msg);
        api->resp_invalid(r, field, msg);
        return;
    }
    int status = rc == YM_E_NOTFOUND ? 404 : rc == YM_E_STATE || rc == YM_E_LAG ? 409 : rc == YM_E_DB ? 503 : 403;
    const char *code = rc == YM_E_NOTFOUND ? "not_found" : rc == YM_E_LAG ? "lag_reason_required"
                     : rc == YM_E_STATE ? "wrong_state" : rc == YM_E_DB ? "storage_busy" : "forbidden";
    api->resp_error(r, status, code, msg);
}

/* s up to its first line break, cut to max_chars characters ("…" added when cut) */
void sv_clip(const char *s, size_t max_chars, char *out, size_t outlen)
{
    size_t n = 0, chars = 0;
    while (s[n] && s[n] != '\n' && s[n] != '\r') {
        if (((unsigned char)s[n] & 0xC0) != 0x80) {
            if (chars == max_chars)
                break;
            chars++;
        }
        n++;
    }
    bool cut = s[n] && s[n] != '\n' && s[n] != '\r';
    if (n + 4 > outlen)
        n = outlen > 4 ? outlen - 4 : 0;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    snprintf(out, outlen, "%.*s%s", (int)n, s, cut ? "…" : "");
}

static int exists(ym_plugin *self, const char *sql, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int rc = api->db_step(st);
    api->db_reset(st);
    return rc == YM_ROW ? 1 : rc == YM_DONE ? 0 : -1;
}

static int exec_ii(ym_plugin *self, const char *sql, int64_t a, int64_t b, const char *t)
{
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st)
        return -1;
    int ok = api->db_bind_int(st, 1, a) == 0 && api->db_bind_int(st, 2, b) == 0 &&
             (!t || api->db_bind_text(st, 3, t) == 0) && api->db_step(st) == YM_DONE;
    api->db_reset(st);
    return ok ? 0 : -1;
}

/* The case row, its item and its units; inside the caller's write (or the delivery's). */
int64_t sv_case_create(ym_plugin *self, const sv_new *n)
{
    ym_stmt *st = api->db_prepare(self,
        "INSERT INTO supervision_cases (origin, source_kind, source_ref, source_record, title, original_text, leader, "
        "leader_user, supervisor_unit, lead_unit, restricted, created_by, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!st)
        return YM_E_DB;
    const char *texts[] = {n->origin, n->source_kind, n->source_ref, n->source_record, n->title, n->text, n->leader};
    int ok = 1;
    for (int i = 0; i < 7; i++)
        ok = ok && (texts[i] ? api->db_bind_text(st, i + 1, texts[i]) : api->db_bind_null(st, i + 1)) == 0;
    ok = ok && (n->leader_user ? api->db_bind_int(st, 8, n->leader_user) : api->db_bind_null(st, 8)) == 0 &&
         api->db_bind_int(st, 9, n->supervisor_unit) == 0 && api->db_bind_int(st, 10, n->lead_unit) == 0 &&
         api->db_bind_int(st, 11, n->restricted) == 0 && api->db_bind_int(st, 12, n->by_user) == 0 &&
         api->db_bind_int(st, 13, api->now()) == 0 && api->db_step(st) == YM_DONE;
    api->db_reset(st);
    if (!ok)
        return YM_E_DB;
    int64_t id = api->db_last_insert_id(self);
    char record[48];
    snprintf(record, sizeof record, "supervision_cases:%lld", (long long)id);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:I,s:I,s:b}", "source_kind", n->source_kind, "record", record,
                             "title", n->title, "supervisor_unit", (json_int_t)n->supervisor_unit, "lead_unit",
                             (json_int_t)n->lead_unit, "assign", n->assign);
    if (n->parent_item)
        json_object_set_new(spec, "parent_id", json_integer(n->parent_item));
    if (n->restricted) /* the engine hides it too: 404 on /api/items to non-parties */
        json_object_set_new(spec, "restricted", json_true());
    /* the return window: the engine refuses a return after it, on every route */
    json_object_set_new(spec, "return_workdays", json_integer(sv_cfg.return_workdays));
    if (n->text)
        json_object_set_new(spec, "content", json_string(n->text));
    if (n->leader)
        json_object_set_new(spec, "leader", json_string(n->leader));
    if (n->deadline)
        json_object_set_new(spec, "deadline", json_string(n->deadline));
    else
        json_object_set_new(spec, "deadline_workdays", json_integer(n->workdays));
    if (n->nco) {
        json_t *co = json_array();
        for (size_t i = 0; i < n->nco; i++)
            json_array_append_new(co, json_integer(n->co[i]));
        json_object_set_new(spec, "co_units", co);
    }
    if (n->nodes)
        json_object_set(spec, "nodes", n->nodes);
    if (n->report_cycle)
        json_object_set_new(spec, "report_cycle", json_string(n->report_cycle));
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    int64_t item = text ? api->item_create(self, n->by_user, text) : YM_E_DB;
    free(text);
    if (item <= 0) {   /* refused: take the row back (an event delivery would commit it) */
        ym_stmt *del = api->db_prepare(self, "DELETE FROM supervision_cases WHERE id = ?1");
        if (!del)
            return YM_E_DB;
        api->db_bind_int(del, 1, id);
        int done = api->db_step(del) == YM_DONE;
        api->db_reset(del);
        return done && item ? item : YM_E_DB;
    }
    if (exec_ii(self, "UPDATE supervision_cases SET item_id = ?2 WHERE id = ?1", id, item, NULL) < 0 ||
        exec_ii(self, "INSERT INTO supervision_case_units (case_id, unit_id, role) VALUES (?1, ?2, ?3)", id,
                n->lead_unit, "lead") < 0)
        return YM_E_DB;
    for (size_t i = 0; i < n->nco; i++)
        if (exec_ii(self, "INSERT INTO supervision_case_units (case_id, unit_id, role) VALUES (?1, ?2, ?3)", id,
                    n->co[i], "co") < 0)
            return YM_E_DB;
    if (n->source_record) {
        json_t *a = json_pack("{s:s}", "record", n->source_record);
        char *args = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        int64_t rc = api->item_act(self, item, "link", n->by_user, args);
        free(args);
        if (rc < 0)
            return rc;
    }
    return id;
}

/* ---------------------------------------------------------------- by hand */

static bool is_date(const char *s)
{
    return s && strlen(s) == 10 && api->date_is_working_day(s) >= 0;
}

static bool is_record(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c || c == s || !c[1] || strlen(s) > 128 || s[0] < 'a' || s[0] > 'z')
        return false;
    for (const char *p = s; p < c; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    for (const char *p = c + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_-.:", *p)))
            return false;
    return true;
}

const char *sv_take_co_units(json_t *v, sv_new *n)
{
    size_t i;
    json_t *u;
    n->nco = 0;
    if (!v)
        return NULL;
    if (!json_is_array(v) || json_array_size(v) > sizeof n->co / sizeof n->co[0])
        return "an array of at most 50 unit ids";
    json_array_foreach(v, i, u) {
        if (!json_is_integer(u) || json_integer_value(u) <= 0)
            return "an array of unit ids";
        n->co[n->nco++] = json_integer_value(u);
    }
    return NULL;
}

/* checks the body into n; answers 400/403 itself and returns false */
static bool hand_body(ym_request *r, ym_plugin *self, json_t *body, sv_new *n, char *title, size_t tlen)
{
    static const char *const fields[] = {"source_kind", "title", "text", "leader", "leader_user", "lead_unit",
                                         "co_units", "deadline", "deadline_workdays", "nodes", "report_cycle",
                                         "restricted", "supervisor_unit", "source_record", "assign", NULL};
    const char *key;
    json_t *v;
    if (!json_is_object(body)) {
        api->resp_invalid(r, "", "the body must be a JSON object");
        return false;
    }
    json_object_foreach(body, key, v) {
        bool known = false;
        for (size_t i = 0; fields[i]; i++)
            known = known || strcmp(key, fields[i]) == 0;
        if (!known) {
            api->resp_invalid(r, key, "unknown field");
            return false;
        }
    }
#define BAD(f, m) do { api->resp_invalid(r, f, m); return false; } while (0)
    n->origin = "hand";
    n->source_kind = json_string_value(json_object_get(body, "source_kind"));
    bool kind_ok = false;
    for (size_t i = 0; n->source_kind && KINDS[i]; i++)
        kind_ok = kind_ok || strcmp(n->source_kind, KINDS[i]) == 0;
    if (!kind_ok)
        BAD("source_kind", "expected instruction, minutes, task_list, proposal, project or other");
    n->text = json_string_value(json_object_get(body, "text"));
    if (!n->text || !*n->text || ym_utf8_len(n->text) > 10000)
        BAD("text", "the original text (批示, decision, task) of 1 to 10000 characters is required");
    v = json_object_get(body, "title");
    if (v) {
        const char *t = json_string_value(v);
        if (!t || !*t || ym_utf8_len(t) > 200 || strpbrk(t, "\r\n"))
            BAD("title", "1 to 200 characters on one line");
        snprintf(title, tlen, "%s", t);
    } else {
        sv_clip(n->text, 60, title, tlen);
    }
    n->title = title;
    v = json_object_get(body, "leader");
    if (v && (!json_is_string(v) || !json_string_length(v) || ym_utf8_len(json_string_value(v)) > 64))
        BAD("leader", "the leader's name, 1 to 64 characters");
    n->leader = json_string_value(v);
    v = json_object_get(body, "leader_user");
    if (v) {
        int rc = json_is_integer(v) ? exists(self, "SELECT 1 FROM core_v_users WHERE id = ?1", json_integer_value(v)) : 0;
        if (rc < 0) {
            api->resp_error(r, 503, "storage_busy", "cannot read users");
            return false;
        }
        if (rc == 0)
            BAD("leader_user", "no such user");
        n->leader_user = json_integer_value(v);
    }
    v = json_object_get(body, "lead_unit");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        BAD("lead_unit", "a unit id is required");
    n->lead_unit = json_integer_value(v);
    const char *why = sv_take_co_units(json_object_get(body, "co_units"), n);
    if (why)
        BAD("co_units", why);
    json_t *dl = json_object_get(body, "deadline"), *wd = json_object_get(body, "deadline_workdays");
    if (dl && wd)
        BAD("deadline", "give a date or deadline_workdays, not both");
    if (!dl && !wd)
        BAD("deadline", "a deadline (YYYY-MM-DD) or deadline_workdays is required");
    if (dl && !is_date(json_string_value(dl)))
        BAD("deadline", "expected YYYY-MM-DD");
    if (wd && (!json_is_integer(wd) || json_integer_value(wd) < 1 || json_integer_value(wd) > 1000))
        BAD("deadline_workdays", "1 to 1000 working days");
    n->deadline = json_string_value(dl);
    n->workdays = wd ? (int)json_integer_value(wd) : 0;
    v = json_object_get(body, "nodes");
    if (v && !json_is_array(v))
        BAD("nodes", "an array of {\"title\", \"deadline\"}");
    n->nodes = v;
    v = json_object_get(body, "report_cycle");
    if (v && !json_is_string(v))
        BAD("report_cycle", "expected \"weekly\" or \"monthly N\"");
    n->report_cycle = json_string_value(v);
    v = json_object_get(body, "restricted");
    if (v && !json_is_boolean(v))
        BAD("restricted", "true or false");
    n->restricted = json_is_true(v);
    v = json_object_get(body, "assign");
    if (v && !json_is_boolean(v))
        BAD("assign", "true or false");
    n->assign = !v || json_is_true(v);
    v = json_object_get(body, "source_record");
    if (v && (!json_is_string(v) || !is_record(json_string_value(v))))
        BAD("source_record", "expected \"<table>:<id>\"");
    n->source_record = json_string_value(v);
    v = json_object_get(body, "supervisor_unit");
    if (v && (!json_is_integer(v) || json_integer_value(v) <= 0))
        BAD("supervisor_unit", "a unit id");
    n->supervisor_unit = v ? json_integer_value(v) : api->req_unit_id(r);
#undef BAD
    if (api->req_may(r, "supervision.manage", n->supervisor_unit) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not take in cases for that unit");
        return false;
    }
    n->by_user = api->req_user_id(r);
    return true;
}

/* POST /api/supervision/cases */
void sv_create_case(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    if (!api->req_json_ok(r))
        return;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL);
    sv_new n = {0};
    char title[640];
    if (!hand_body(r, self, body, &n, title, sizeof title)) {
        json_decref(body);
        return;
    }
    api->db_write_begin(self);
    int64_t id = sv_case_create(self, &n);
    char target[48];
    snprintf(target, sizeof target, "supervision_cases:%lld", (long long)id);
    int ok = id > 0 && api->audit(r, "supervision.create", target, "ok", NULL) == 0;
    api->db_write_end(self, ok);
    json_decref(body);
    if (id <= 0) {
        sv_engine_error(r, self, id);
        return;
    }
    sv_case c;
    json_t *out = ok && sv_case_load(self, id, &c) == 1 ? sv_case_json(self, &c, true) : NULL;
    if (out) {
        sv_case_free(&c);
        char *s = json_dumps(out, JSON_COMPACT);
        api->resp_json(r, 201, s);
        free(s);
        json_decref(out);
    } else {
        api->resp_error(r, 500, "internal", "cannot save the case");
    }
}

/* ---------------------------------------------------------------- from events */

static int already(ym_plugin *self, const char *ref)
{
    ym_stmt *st = api->db_prepare(self, "SELECT 1 FROM supervision_cases WHERE source_ref = ?1");
    if (!st)
        return -1;
    api->db_bind_text(st, 1, ref);
    int rc = api->db_step(st);
    api->db_reset(st);
    return rc == YM_ROW ? 1 : rc == YM_DONE ? 0 : -1;
}

/* Creates an event case; a case the engine refuses (an unknown unit, a bad date) is logged
 * and skipped rather than retried for ever; a busy database is retried. */
static int event_case(ym_plugin *self, const char *event, sv_new *n)
{
    int rc = already(self, n->source_ref);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    n->assign = sv_cfg.auto_assign;
    if (!n->deadline && !n->workdays)
        n->workdays = sv_cfg.default_workdays;
    if (sv_cfg.office_unit)
        n->supervisor_unit = sv_cfg.office_unit;
    int64_t id = sv_case_create(self, n);
    if (id == YM_E_DB || (id < 0 && already(self, n->source_ref) != 0))
        return -1;   /* retried (the whole delivery is rolled back) */
    if (id < 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s: no case for %s: %s", event, n->source_ref, api->error(self));
        api->log(self, YM_WARN, msg);
        return 0;   /* skip: the refusal would recur on every retry */
    }
    return 0;
}

int sv_on_instruction(ym_plugin *self, const char *name, const char *payload, void *ud)
{
    json_t *p = json_loads(payload, 0, NULL);
    int64_t incoming = json_integer_value(json_object_get(p, "incoming"));
    int64_t unit = json_integer_value(json_object_get(p, "unit_id"));
    const char *text = json_string_value(json_object_get(p, "text"));
    if (!incoming || !unit || !text || !*text) {
        api->log(self, YM_WARN, "documents.instruction.created without incoming, unit_id or text: ignored");
        json_decref(p);
        return 0;
    }
    char ref[64], title[640], head[400];
    snprintf(ref, sizeof ref, "documents_incoming:%lld", (long long)incoming);
    sv_clip(text, 60, head, sizeof head);
    snprintf(title, sizeof title, "领导批示：%s", head);
    sv_new n = {.origin = "documents", .source_kind = "instruction", .source_ref = ref, .source_record = ref,
                .title = title, .text = text, .supervisor_unit = unit, .lead_unit = unit};
    json_t *leader = json_object_get(p, "leader");
    n.leader_user = json_is_integer(leader) ? json_integer_value(leader) : 0;
    n.by_user = n.leader_user;
    const char *lname = json_string_value(json_object_get(p, "leader_name"));
    char lbuf[200];
    if (lname && *lname) {
        sv_clip(lname, 64, lbuf, sizeof lbuf);
        n.leader = lbuf;
    }
    json_t *units = json_object_get(p, "units"), *u;
    size_t i;
    json_array_foreach(units, i, u) {
        if (!json_is_integer(u))
            continue;
        if (i == 0)
            n.lead_unit = json_integer_value(u);
        else if (n.nco < 50 && json_integer_value(u) != n.lead_unit)
            n.co[n.nco++] = json_integer_value(u);
    }
    int rc = event_case(self, name, &n);
    json_decref(p);
    return rc;
}

int sv_on_minutes(ym_plugin *self, const char *name, const char *payload, void *ud)
{
    json_t *p = json_loads(payload, 0, NULL);
    int64_t meeting = json_integer_value(json_object_get(p, "meeting_id"));
    int64_t organiser = json_integer_value(json_object_get(p, "organiser_unit"));
    const char *mtitle = json_string_value(json_object_get(p, "title"));
    const char *number = json_string_value(json_object_get(p, "number"));
    json_t *decisions = json_object_get(p, "decisions"), *d;
    size_t i;
    int rc = 0;
    if (!meeting || !organiser) {
        api->log(self, YM_WARN, "meetings.minutes.published without meeting_id or organiser_unit: ignored");
        json_decref(p);
        return 0;
    }
    json_array_foreach(decisions, i, d) {
        const char *text = json_string_value(json_object_get(d, "text"));
        int64_t lead = json_integer_value(json_object_get(d, "lead_unit"));
        const char *deadline = json_string_value(json_object_get(d, "deadline"));
        if (!text || !*text || lead <= 0)
            continue;
        char ref[80], record[64], title[640], *content = NULL;
        snprintf(ref, sizeof ref, "meetings_meetings:%lld#%zu", (long long)meeting, i + 1);
        snprintf(record, sizeof record, "meetings_meetings:%lld", (long long)meeting);
        sv_clip(text, 200, title, sizeof title);
        if (asprintf(&content, "%s\n（会议纪要：%s%s%s，第%zu项决定）", text, mtitle ? mtitle : "", number ? " " : "",
                     number ? number : "", i + 1) < 0) {
            rc = -1;
            break;
        }
        sv_new n = {.origin = "meetings", .source_kind = "minutes", .source_ref = ref, .source_record = record,
                    .title = title, .text = content, .supervisor_unit = organiser, .lead_unit = lead,
                    .deadline = is_date(deadline) ? deadline : NULL};
        rc = event_case(self, name, &n);
        free(content);
        if (rc < 0)
            break;
    }
    json_decref(p);
    return rc;
}

int sv_on_task_lagging(ym_plugin *self, const char *name, const char *payload, void *ud)
{
    json_t *p = json_loads(payload, 0, NULL);
    int64_t task = json_integer_value(json_object_get(p, "task_id"));
    int64_t lead = json_integer_value(json_object_get(p, "lead_unit"));
    const char *ttitle = json_string_value(json_object_get(p, "title"));
    const char *deadline = json_string_value(json_object_get(p, "deadline"));
    const char *record = json_string_value(json_object_get(p, "record"));
    if (!task || lead <= 0 || !ttitle || !*ttitle) {
        api->log(self, YM_WARN, "tasks.lagging without task_id, lead_unit or title: ignored");
        json_decref(p);
        return 0;
    }
    char ref[64], title[640], head[600], *content = NULL;
    snprintf(ref, sizeof ref, "tasks:%lld", (long long)task);
    sv_clip(ttitle, 190, head, sizeof head);
    snprintf(title, sizeof title, "滞后任务：%s", head);
    const char *colour = json_string_value(json_object_get(p, "colour"));
    const char *since = json_string_value(json_object_get(p, "since"));
    if (asprintf(&content, "%s\n（任务清单滞后%s%s%s%s）", ttitle, colour ? "，灯色 " : "", colour ? colour : "",
                 since ? "，自 " : "", since ? since : "") < 0) {
        json_decref(p);
        return -1;
    }
    sv_new n = {.origin = "tasks", .source_kind = "task_list", .source_ref = ref,
                .source_record = record && is_record(record) ? record : NULL, .title = title, .text = content,
                .supervisor_unit = lead, .lead_unit = lead, .deadline = is_date(deadline) ? deadline : NULL};
    int rc = event_case(self, name, &n);
    free(content);
    json_decref(p);
    return rc;
}
