/* documents: the incoming flow (收文) at a recipient unit. After the unit signed for
 * the dispatch (/api/dispatches/:id/sign): registered (登记, the unit's serial) →
 * proposed (拟办) → instructed (批示; an event, maybe a tracked item) → handling (承办 by
 * a department, with a deadline) → completed (办结) → archived. Circulation (传阅) to
 * people, in sequence or in parallel, runs beside it until archived. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "documents.h"

#define IN_COLS "id, doc_id, unit_id, dispatch_id, year, serial, leader_id, item_id, handler_unit, state"

int incoming_load(ym_plugin *self, int64_t id, in_rec *in)
{
    ym_stmt *st = api->db_prepare(self, "SELECT " IN_COLS " FROM documents_incoming WHERE id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int found = api->db_step(st) == YM_ROW;
    if (found) {
        memset(in, 0, sizeof *in);
        in->id = api->db_column_int(st, 0);
        in->doc_id = api->db_column_int(st, 1);
        in->unit_id = api->db_column_int(st, 2);
        in->dispatch_id = api->db_column_int(st, 3);
        in->year = api->db_column_int(st, 4);
        in->serial = api->db_column_int(st, 5);
        in->leader_id = api->db_column_int(st, 6);
        in->item_id = api->db_column_int(st, 7);
        in->handler_unit = api->db_column_int(st, 8);
        snprintf(in->state, sizeof in->state, "%s", api->db_column_text(st, 9));
    }
    api->db_reset(st);
    return found;
}

static int circulation_row(ym_plugin *self, int64_t in, int64_t user, char *state, size_t len)
{
    ym_stmt *st = api->db_prepare(self, "SELECT state FROM documents_circulation WHERE incoming_id = ?1 AND user_id = ?2");
    if (!st)
        return 0;
    api->db_bind_int(st, 1, in);
    api->db_bind_int(st, 2, user);
    int found = api->db_step(st) == YM_ROW;
    if (found && state)
        snprintf(state, len, "%s", api->db_column_text(st, 0));
    api->db_reset(st);
    return found;
}

int incoming_may_see(ym_request *r, ym_plugin *self, const in_rec *in)
{
    return api->req_may(r, "documents.read", in->unit_id) == 1 || api->req_may(r, "documents.receive", in->unit_id) == 1 ||
           (in->handler_unit && api->req_may(r, "documents.handle", in->handler_unit) == 1) ||
           circulation_row(self, in->id, api->req_user_id(r), NULL, 0);
}

static json_t *opt_text_col(ym_stmt *st, int col)
{
    return api->db_column_type(st, col) == YM_NULL ? json_null() : json_string(api->db_column_text(st, col));
}

static json_t *opt_int_col(ym_stmt *st, int col)
{
    return api->db_column_type(st, col) == YM_NULL ? json_null() : json_integer(api->db_column_int(st, col));
}

json_t *incoming_json(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT id, doc_id, unit_id, dispatch_id, state, year, serial, proposal, "
                                        "instruction, leader_id, item_id, handler_unit, deadline, result, registered_by, "
                                        "created_at, updated_at FROM documents_incoming WHERE id = ?1");
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    json_t *j = NULL;
    int64_t docid = 0, unit = 0, handler = 0;
    if (api->db_step(st) == YM_ROW) {
        char no[40];
        docid = api->db_column_int(st, 1);
        unit = api->db_column_int(st, 2);
        handler = api->db_column_int(st, 11);
        snprintf(no, sizeof no, "%lld-%04lld", (long long)api->db_column_int(st, 5), (long long)api->db_column_int(st, 6));
        j = json_pack("{s:I,s:s,s:I,s:s,s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o}", "id",
                      (json_int_t)api->db_column_int(st, 0), "kind", "incoming", "dispatch_id",
                      (json_int_t)api->db_column_int(st, 3), "state", api->db_column_text(st, 4), "year",
                      (json_int_t)api->db_column_int(st, 5), "serial", (json_int_t)api->db_column_int(st, 6),
                      "register_no", no, "proposal", opt_text_col(st, 7), "instruction", opt_text_col(st, 8),
                      "leader_id", opt_int_col(st, 9), "item_id", opt_int_col(st, 10), "deadline", opt_text_col(st, 12),
                      "result", opt_text_col(st, 13), "registered_by", (json_int_t)api->db_column_int(st, 14),
                      "created_at", time_json(api->db_column_int(st, 15)), "updated_at",
                      time_json(api->db_column_int(st, 16)));
    }
    api->db_reset(st);
    if (!j)
        return NULL;
    json_object_set_new(j, "unit", unit_ref(self, unit));
    json_object_set_new(j, "handler_unit", unit_ref(self, handler));
    json_t *dj = doc_json(self, docid, 0);
    if (dj) {
        /* what a recipient sees of the sent document: the record, not its drafting history */
        json_object_del(dj, "created_by");
        json_object_set_new(dj, "unit", unit_ref(self, json_integer_value(json_object_get(dj, "unit_id"))));
    }
    json_object_set_new(j, "document", dj ? dj : json_null());
    json_t *circ = json_array();
    st = api->db_prepare(self, "SELECT c.user_id, c.seq, c.mode, c.state, c.comment, c.read_at, u.display_name "
                               "FROM documents_circulation c LEFT JOIN core_v_users u ON u.id = c.user_id "
                               "WHERE c.incoming_id = ?1 ORDER BY c.seq, c.id");
    if (st) {
        api->db_bind_int(st, 1, id);
        while (api->db_step(st) == YM_ROW)
            json_array_append_new(circ, json_pack("{s:I,s:o,s:I,s:s,s:s,s:o,s:o}", "user_id",
                                                  (json_int_t)api->db_column_int(st, 0), "name", opt_text_col(st, 6),
                                                  "seq",
                                                  (json_int_t)api->db_column_int(st, 1), "mode", api->db_column_text(st, 2),
                                                  "state", api->db_column_text(st, 3), "comment", opt_text_col(st, 4),
                                                  "read_at", time_json(api->db_column_type(st, 5) == YM_NULL
                                                                           ? 0 : api->db_column_int(st, 5))));
        api->db_reset(st);
    }
    json_object_set_new(j, "circulation", circ);
    return j;
}

static void answer_incoming(ym_request *r, ym_plugin *self, int64_t id, int status)
{
    json_t *j = incoming_json(self, id);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        api->resp_json(r, status, s);
    else
        internal_error(r, self, "cannot read the incoming document");
    free(s);
}

static int audit_in(ym_request *r, const char *action, int64_t id, const char *detail)
{
    char target[40];
    snprintf(target, sizeof target, "documents_incoming:%lld", (long long)id);
    return api->audit(r, action, target, "ok", detail);
}

/* Resolves the record's open to-dos ("in:<id>:" but the circulation's), opens the next. */
static int in_todo(ym_plugin *self, ym_request *r, int64_t id, const char *suffix, int64_t user, int64_t unit,
                   const char *role, const char *what, int64_t due_ms)
{
    char key[80], title[800], link[56];
    snprintf(key, sizeof key, "in:%lld:step:", (long long)id);
    if (api->todo_resolve_prefix(self, key, api->req_user_id(r)) < 0)
        return -1;
    if (!suffix)
        return 0;
    ym_stmt *st = api->db_prepare(self, "SELECT d.title FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
                                        "WHERE i.id = ?1");
    char doc_title[640] = "";
    if (st) {
        api->db_bind_int(st, 1, id);
        if (api->db_step(st) == YM_ROW)
            snprintf(doc_title, sizeof doc_title, "%s", api->db_column_text(st, 0));
        api->db_reset(st);
    }
    snprintf(key, sizeof key, "in:%lld:step:%s", (long long)id, suffix);
    snprintf(title, sizeof title, "%s：%s", what, doc_title);
    snprintf(link, sizeof link, "#/documents/incoming/%lld", (long long)id);
    if (api->todo_put(self, key, user, unit, role, title, link, due_ms, suffix) > 0)
        return 0;
    if (user > 0)
        return -1;
    /* a role the county has not set up (settings *_role): the step goes on without its to-do */
    char why[300];
    snprintf(why, sizeof why, "no to-do for role %s: %s", role ? role : "?", api->error(self));
    api->log(self, YM_WARN, why);
    return 0;
}

/* The move of a record, UPDATE … SET state = to[, set] WHERE state = from (or from2),
 * prepared and bound but for set's own parameters (?6 on): a step writes the row once. */
static ym_stmt *in_move_stmt(ym_plugin *self, int64_t id, const char *from, const char *from2, const char *to,
                             const char *set)
{
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE documents_incoming SET state = ?1, updated_at = ?2%s WHERE id = ?3 "
                              "AND state IN (?4, ?5)", set);
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st)
        return NULL;
    api->db_bind_text(st, 1, to);
    api->db_bind_int(st, 2, api->now());
    api->db_bind_int(st, 3, id);
    api->db_bind_text(st, 4, from);
    api->db_bind_text(st, 5, from2 ? from2 : from);
    return st;
}

/* Runs a move: 1 when it moved, 0 when the state was another, -1 on error. */
static int in_move_run(ym_plugin *self, ym_stmt *st)
{
    if (!st)
        return -1;
    int rc = api->db_step(st) == YM_DONE ? api->db_changes(self) : -1;
    api->db_reset(st);
    return rc;
}

static int in_move(ym_plugin *self, int64_t id, const char *from, const char *from2, const char *to)
{
    return in_move_run(self, in_move_stmt(self, id, from, from2, to, ""));
}

/* A move that also sets one text column (a literal name) to text. */
static int in_move_text(ym_plugin *self, int64_t id, const char *from, const char *to, const char *set,
                        const char *text)
{
    ym_stmt *st = in_move_stmt(self, id, from, NULL, to, set);
    if (st) {
        if (text)
            api->db_bind_text(st, 6, text);
        else
            api->db_bind_null(st, 6);
    }
    return in_move_run(self, st);
}

/* 1 when the record is in state one (or other); else frees body, answers 409, 0. */
static int in_is(ym_request *r, json_t *body, const in_rec *in, const char *one, const char *other, const char *wanted)
{
    return state_is(r, body, "incoming document", in->state, one, other, wanted);
}

/* The prologue of a step: loads :id and checks perm on the receiving unit (or, with
 * handler, on the handling department) — 404 otherwise —, then a body of keys with its
 * text key (key NULL: none). NULL when answered. */
static json_t *in_step(ym_request *r, ym_plugin *self, const char *perm, int handler, in_rec *in,
                       const char *const *keys, const char *key, size_t max_chars, int required, const char **text)
{
    int64_t id = id_param(r, "id");
    if (!id || incoming_load(self, id, in) != 1 ||
        !((handler && in->handler_unit && api->req_may(r, perm, in->handler_unit) == 1) ||
          api->req_may(r, perm, in->unit_id) == 1)) {
        api->resp_error(r, 404, "not_found", "no such incoming document");
        return NULL;
    }
    return body_text(r, keys, key, max_chars, required, text);
}

/* POST /api/documents/incoming {dispatch_id, unit_id}: register (登记) a document the
 * unit has signed for; the unit's serial for the year is given in the same write. */
static void register_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"dispatch_id", "unit_id", NULL};
    json_t *b = body_object(r, keys);
    if (!b)
        return;
    json_t *dj = json_object_get(b, "dispatch_id"), *uj = json_object_get(b, "unit_id");
    if (!json_is_integer(dj) || json_integer_value(dj) < 1 || (uj && (!json_is_integer(uj) || json_integer_value(uj) < 1))) {
        api->resp_invalid(r, json_is_integer(dj) && json_integer_value(dj) > 0 ? "unit_id" : "dispatch_id",
                          "dispatch_id (and unit_id when given) must be ids");
        json_decref(b);
        return;
    }
    int64_t did = json_integer_value(dj), want = uj ? json_integer_value(uj) : 0;
    json_decref(b);
    /* the caller's receipt: a unit receipt where they may receive, a signed one first */
    ym_stmt *rs = api->db_prepare(self,
        "SELECT unit_id, state, record FROM core_v_dispatch_receipts WHERE dispatch_id = ?1 AND source = 'documents' "
        "AND unit_id IS NOT NULL AND (?2 = 0 OR unit_id = ?2) ORDER BY state IN ('signed', 'replied') DESC, id");
    if (!rs) {
        internal_error(r, self, "cannot read the dispatch");
        return;
    }
    api->db_bind_int(rs, 1, did);
    api->db_bind_int(rs, 2, want);
    int64_t unit = 0, docid = 0;
    char rstate[16] = "";
    while (!unit && api->db_step(rs) == YM_ROW) {
        int64_t u = api->db_column_int(rs, 0);
        const char *record = api->db_column_text(rs, 2);
        if (!docid && record && strncmp(record, "documents_docs:", 15) == 0)
            docid = atoll(record + 15);
        if (api->req_may(r, "documents.receive", u) == 1) {
            unit = u;
            snprintf(rstate, sizeof rstate, "%s", api->db_column_text(rs, 1) ? api->db_column_text(rs, 1) : "");
        }
    }
    api->db_reset(rs);
    doc d;
    if (!docid || !unit || doc_load(self, docid, &d) != 1) {
        api->resp_error(r, 404, "not_found", "no such dispatch of a document for your unit");
        return;
    }
    if (strcmp(rstate, "signed") != 0 && strcmp(rstate, "replied") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "the receipt is %s: sign for it first (POST /api/dispatches/%lld/sign)",
                 rstate[0] ? rstate : "?", (long long)did);
        api->resp_error(r, 409, "conflict", msg);
        return;
    }
    ym_stmt *st = api->db_prepare(self, "SELECT id FROM documents_incoming WHERE doc_id = ?1 AND unit_id = ?2");
    int64_t existing = 0;
    if (st) {
        api->db_bind_int(st, 1, docid);
        api->db_bind_int(st, 2, unit);
        existing = api->db_step(st) == YM_ROW ? api->db_column_int(st, 0) : 0;
        api->db_reset(st);
    }
    if (existing) {
        char msg[120];
        snprintf(msg, sizeof msg, "registered already as incoming document %lld", (long long)existing);
        api->resp_error(r, 409, "conflict", msg);
        return;
    }
    int64_t uid = api->req_user_id(r);
    int year = this_year();
    char key[40];
    snprintf(key, sizeof key, "in:%lld", (long long)unit);
    api->db_write_begin(self);
    int64_t serial = counter_next(self, key, year);
    st = serial > 0 ? api->db_prepare(self, "INSERT INTO documents_incoming (doc_id, unit_id, dispatch_id, state, year, "
                                            "serial, registered_by, created_at, updated_at) "
                                            "VALUES (?1, ?2, ?3, 'registered', ?4, ?5, ?6, ?7, ?7)") : NULL;
    int ok = st != NULL;
    if (ok) {
        api->db_bind_int(st, 1, docid);
        api->db_bind_int(st, 2, unit);
        api->db_bind_int(st, 3, did);
        api->db_bind_int(st, 4, year);
        api->db_bind_int(st, 5, serial);
        api->db_bind_int(st, 6, uid);
        api->db_bind_int(st, 7, api->now());
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    }
    int64_t id = ok ? api->db_last_insert_id(self) : 0;
    char ref[40];
    snprintf(ref, sizeof ref, "in:%lld", (long long)id);
    /* the recipient row leaves the unit's to_receive list */
    st = ok ? api->db_prepare(self, "UPDATE documents_recipients SET received = 1 WHERE doc_id = ?1 AND unit_id = ?2")
            : NULL;
    if (st) {
        api->db_bind_int(st, 1, docid);
        api->db_bind_int(st, 2, unit);
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    } else
        ok = 0;
    ok = ok && flow_add(self, docid, id, uid, unit, "register", NULL) == 0 &&
         in_todo(self, r, id, "propose", 0, unit, role_clerk, "拟办", 0) == 0 &&
         api->search_put(self, "documents.incoming", ref, d.title, d.title, unit, "documents.read") == 0 &&
         audit_in(r, "documents.register", id, NULL) == 0;
    api->db_write_end(self, ok);
    if (ok)
        answer_incoming(r, self, id, 201);
    else
        internal_error(r, self, "cannot register the document");
}

static const char *const OPINION[] = {"opinion", NULL};

/* POST /api/documents/incoming/:id/propose {opinion}: registered → proposed (拟办). */
static void propose_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    in_rec in;
    const char *opinion;
    json_t *b = in_step(r, self, "documents.receive", 0, &in, OPINION, "opinion", 2000, 1, &opinion);
    if (!b || !in_is(r, b, &in, "registered", NULL, "registered"))
        return;
    api->db_write_begin(self);
    int ok = in_move_text(self, in.id, "registered", "proposed", ", proposal = ?6", opinion) == 1 &&
             flow_add(self, in.doc_id, in.id, api->req_user_id(r), in.unit_id, "propose", opinion) == 0 &&
             in_todo(self, r, in.id, "instruct", 0, in.unit_id, role_leader, "批示", 0) == 0 &&
             audit_in(r, "documents.propose", in.id, NULL) == 0;
    step_end(r, self, ok, b, answer_incoming, in.id, "cannot record the proposal");
}

/* POST /api/documents/incoming/:id/instruct {text, units, track}: a leader's 批示;
 * emits documents.instruction.created; with track, a tracked item (督办) of the 批示. */
static void instruct_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"text", "units", "track", NULL};
    in_rec in;
    const char *text;
    json_t *b = in_step(r, self, "documents.instruct", 0, &in, keys, "text", 2000, 1, &text), *units, *track, *v;
    if (!b)
        return;
    units = json_object_get(b, "units");
    track = json_object_get(b, "track");
    size_t i;
    int bad = units && (!json_is_array(units) || json_array_size(units) > 500);
    json_array_foreach(units, i, v)
        bad |= !json_is_integer(v) || !unit_exists(self, json_integer_value(v));
    if (bad) {
        json_decref(b);
        api->resp_invalid(r, "units", "units must be a list of active unit ids");
        return;
    }
    if (track && !json_is_object(track)) {
        json_decref(b);
        api->resp_invalid(r, "track", "track must be an object {lead_unit, co_units, deadline | deadline_workdays}");
        return;
    }
    if (!in_is(r, b, &in, "registered", "proposed", "registered or proposed"))
        return;
    int64_t uid = api->req_user_id(r);
    char *leader = user_name(self, uid);
    doc d;
    doc_load(self, in.doc_id, &d);
    api->db_write_begin(self);
    int64_t item = 0;
    int ok = 1;
    if (track) {
        static const char *const tkeys[] = {"lead_unit", "co_units", "deadline", "deadline_workdays", NULL};
        json_t *spec = json_object();
        const char *k;
        json_object_foreach(track, k, v) {
            int known = 0;
            for (int t = 0; tkeys[t]; t++)
                known |= strcmp(k, tkeys[t]) == 0;
            if (known)
                json_object_set(spec, k, v);
            else
                bad = 1;
        }
        char record[48];
        snprintf(record, sizeof record, "documents_incoming:%lld", (long long)in.id);
        json_object_set_new(spec, "source_kind", json_string("instruction"));
        json_object_set_new(spec, "record", json_string(record));
        json_object_set_new(spec, "title", json_string(d.title));
        json_object_set_new(spec, "content", json_string(text));
        json_object_set_new(spec, "supervisor_unit", json_integer(in.unit_id));
        json_object_set_new(spec, "leader", json_string(leader));
        json_object_set_new(spec, "assign", json_true());
        char *spec_text = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        item = bad ? YM_E_INVALID : api->item_create(self, uid, spec_text);
        free(spec_text);
        ok = item > 0;
    }
    json_t *ev = json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:O,s:o}", "document", (json_int_t)in.doc_id, "incoming",
                           (json_int_t)in.id, "unit_id", (json_int_t)in.unit_id, "leader", (json_int_t)uid,
                           "leader_name", leader, "text", text, "units", units ? units : json_array(), "item",
                           item > 0 ? json_integer(item) : json_null());
    if (!units)
        json_decref(json_object_get(ev, "units"));
    char *payload = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    ym_stmt *st = ok ? in_move_stmt(self, in.id, "registered", "proposed", "instructed",
                                    ", instruction = ?6, leader_id = ?7, item_id = ?8") : NULL;
    if (st) {
        api->db_bind_text(st, 6, text);
        api->db_bind_int(st, 7, uid);
        if (item > 0)
            api->db_bind_int(st, 8, item);
        else
            api->db_bind_null(st, 8);
    }
    ok = ok && in_move_run(self, st) == 1 &&
         flow_add(self, in.doc_id, in.id, uid, in.unit_id, "instruct", text) == 0 &&
         api->emit(self, "documents.instruction.created", payload) == 0 &&
         in_todo(self, r, in.id, "assign", 0, in.unit_id, role_clerk, "分办", 0) == 0 &&
         audit_in(r, "documents.instruct", in.id, NULL) == 0;
    api->db_write_end(self, ok);
    free(payload);
    free(leader);
    json_decref(b);
    if (track && item <= 0) {
        if (bad)
            api->resp_invalid(r, "track", "track takes lead_unit, co_units, deadline or deadline_workdays");
        else
            engine_error(r, self, item);
    } else if (ok)
        answer_incoming(r, self, in.id, 200);
    else
        internal_error(r, self, "cannot record the instruction");
}

/* POST /api/documents/incoming/:id/assign {department, deadline}: → handling (承办). */
static void assign_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"department", "deadline", "comment", NULL};
    in_rec in;
    const char *comment;
    json_t *b = in_step(r, self, "documents.receive", 0, &in, keys, "comment", 2000, 0, &comment);
    if (!b)
        return;
    json_t *dep = json_object_get(b, "department");
    const char *deadline = json_string_value(json_object_get(b, "deadline"));
    if (!json_is_integer(dep) || !unit_exists(self, json_integer_value(dep))) {
        json_decref(b);
        api->resp_invalid(r, "department", "department must be the id of an active unit");
        return;
    }
    if (!deadline || strlen(deadline) != 10 || api->date_is_working_day(deadline) < 0) {
        json_decref(b);
        api->resp_invalid(r, "deadline", "deadline must be a date YYYY-MM-DD");
        return;
    }
    if (!in_is(r, b, &in, "proposed", "instructed", "proposed or instructed"))
        return;
    int64_t dept = json_integer_value(dep), uid = api->req_user_id(r);
    api->db_write_begin(self);
    ym_stmt *st = in_move_stmt(self, in.id, "proposed", "instructed", "handling", ", handler_unit = ?6, deadline = ?7");
    if (st) {
        api->db_bind_int(st, 6, dept);
        api->db_bind_text(st, 7, deadline);
    }
    int ok = in_move_run(self, st) == 1 &&
         flow_add(self, in.doc_id, in.id, uid, in.unit_id, "assign", comment) == 0 &&
         in_todo(self, r, in.id, "handle", 0, dept, role_clerk, "承办", api->date_end_ms(deadline)) == 0 &&
         audit_in(r, "documents.assign", in.id, NULL) == 0;
    step_end(r, self, ok, b, answer_incoming, in.id, "cannot assign the document");
}

/* POST /api/documents/incoming/:id/complete {result}: the handling department → completed. */
static void complete_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"result", NULL};
    in_rec in;
    const char *result;
    json_t *b = in_step(r, self, "documents.handle", 1, &in, keys, "result", 2000, 1, &result);
    if (!b || !in_is(r, b, &in, "handling", NULL, "being handled"))
        return;
    int64_t uid = api->req_user_id(r);
    api->db_write_begin(self);
    int ok = in_move_text(self, in.id, "handling", "completed", ", result = ?6", result) == 1 &&
             flow_add(self, in.doc_id, in.id, uid, in.handler_unit ? in.handler_unit : in.unit_id, "complete", result) == 0 &&
             in_todo(self, r, in.id, "archive", 0, in.unit_id, role_clerk, "归档", 0) == 0 &&
             audit_in(r, "documents.complete", in.id, NULL) == 0;
    step_end(r, self, ok, b, answer_incoming, in.id, "cannot complete the document");
}

/* POST /api/documents/incoming/:id/archive: completed → archived (sealed). */
static void archive_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"comment", NULL};
    in_rec in;
    const char *comment;
    json_t *b = in_step(r, self, "documents.receive", 0, &in, keys, "comment", 2000, 0, &comment);
    if (!b || !in_is(r, b, &in, "completed", NULL, "completed"))
        return;
    char payload[160], prefix[40];
    snprintf(payload, sizeof payload, "{\"document\":%lld,\"incoming\":%lld,\"kind\":\"incoming\",\"unit_id\":%lld}",
             (long long)in.doc_id, (long long)in.id, (long long)in.unit_id);
    snprintf(prefix, sizeof prefix, "in:%lld:", (long long)in.id);
    api->db_write_begin(self);
    int ok = in_move(self, in.id, "completed", NULL, "archived") == 1 &&
             flow_add(self, in.doc_id, in.id, api->req_user_id(r), in.unit_id, "archive", comment) == 0 &&
             api->todo_resolve_prefix(self, prefix, api->req_user_id(r)) >= 0 &&
             api->emit(self, "documents.archived", payload) == 0 && audit_in(r, "documents.archive", in.id, NULL) == 0;
    step_end(r, self, ok, b, answer_incoming, in.id, "cannot archive the document");
}

static int circ_todo(ym_plugin *self, int64_t in, int64_t user)
{
    char key[80], title[800], link[56];
    ym_stmt *st = api->db_prepare(self, "SELECT d.title FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
                                        "WHERE i.id = ?1");
    char doc_title[640] = "";
    if (st) {
        api->db_bind_int(st, 1, in);
        if (api->db_step(st) == YM_ROW)
            snprintf(doc_title, sizeof doc_title, "%s", api->db_column_text(st, 0));
        api->db_reset(st);
    }
    snprintf(key, sizeof key, "in:%lld:read:%lld", (long long)in, (long long)user);
    snprintf(title, sizeof title, "传阅：%s", doc_title);
    snprintf(link, sizeof link, "#/documents/incoming/%lld", (long long)in);
    return api->todo_put(self, key, user, 0, NULL, title, link, 0, "read") > 0 ? 0 : -1;
}

/* POST /api/documents/incoming/:id/circulate {user_ids, mode}: 传阅 to people, in
 * "sequence" (one after the other) or "parallel". */
static void circulate_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"user_ids", "mode", NULL};
    in_rec in;
    json_t *b = in_step(r, self, "documents.receive", 0, &in, keys, NULL, 0, 0, NULL);
    if (!b)
        return;
    json_t *users = json_object_get(b, "user_ids"), *v;
    const char *mode = json_string_value(json_object_get(b, "mode"));
    int seqmode = mode && strcmp(mode, "sequence") == 0;
    if (!mode || (!seqmode && strcmp(mode, "parallel") != 0)) {
        json_decref(b);
        api->resp_invalid(r, "mode", "mode must be \"sequence\" or \"parallel\"");
        return;
    }
    size_t i, n = json_array_size(users);
    int bad = !json_is_array(users) || n == 0 || n > 200;
    ym_stmt *st = api->db_prepare(self, "SELECT 1 FROM core_v_users WHERE id = ?1 AND status = 'active'");
    json_array_foreach(users, i, v) {
        int64_t u = json_integer_value(v);
        bad |= !json_is_integer(v) || !st || circulation_row(self, in.id, u, NULL, 0);
        for (size_t k = 0; k < i; k++)
            bad |= json_integer_value(json_array_get(users, k)) == u;
        if (!bad) {
            api->db_bind_int(st, 1, u);
            bad |= api->db_step(st) != YM_ROW;
            api->db_reset(st);
        }
    }
    if (bad) {
        json_decref(b);
        api->resp_invalid(r, "user_ids", "user_ids must be 1 to 200 active users, each once, not yet on the circulation");
        return;
    }
    if (strcmp(in.state, "archived") == 0) {
        json_decref(b);
        conflict(r, "incoming document", in.state, "not archived");
        return;
    }
    int64_t uid = api->req_user_id(r), seq = 0;
    st = api->db_prepare(self, "SELECT coalesce(max(seq), 0), count(*) FILTER (WHERE state = 'pending' AND mode = 'sequence') "
                               "FROM documents_circulation WHERE incoming_id = ?1");
    int64_t seq_pending = 0;
    if (st) {
        api->db_bind_int(st, 1, in.id);
        if (api->db_step(st) == YM_ROW) {
            seq = api->db_column_int(st, 0);
            seq_pending = api->db_column_int(st, 1);
        }
        api->db_reset(st);
    }
    api->db_write_begin(self);
    st = api->db_prepare(self, "INSERT INTO documents_circulation (incoming_id, user_id, seq, mode, state) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)");
    int ok = st != NULL;
    json_array_foreach(users, i, v) {
        if (!ok)
            break;
        int64_t u = json_integer_value(v);
        /* in sequence, only the first of the line reads now (after any earlier line) */
        int now = !seqmode || (i == 0 && !seq_pending);
        api->db_bind_int(st, 1, in.id);
        api->db_bind_int(st, 2, u);
        api->db_bind_int(st, 3, ++seq);
        api->db_bind_text(st, 4, seqmode ? "sequence" : "parallel");
        api->db_bind_text(st, 5, now ? "pending" : "waiting");
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
        ok = ok && (!now || circ_todo(self, in.id, u) == 0);
    }
    char detail[64];
    snprintf(detail, sizeof detail, "{\"mode\":\"%s\",\"users\":%zu}", seqmode ? "sequence" : "parallel", n);
    ok = ok && flow_add(self, in.doc_id, in.id, uid, in.unit_id, "circulate", NULL) == 0 &&
         audit_in(r, "documents.circulate", in.id, detail) == 0;
    step_end(r, self, ok, b, answer_incoming, in.id, "cannot circulate the document");
}

/* POST /api/documents/incoming/:id/read {comment}: the caller has read it (圈阅); in a
 * sequence the next reader's turn begins. */
static void read_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"comment", NULL};
    int64_t id = id_param(r, "id"), uid = api->req_user_id(r);
    in_rec in;
    char state[16] = "";
    if (!id || incoming_load(self, id, &in) != 1 || !circulation_row(self, id, uid, state, sizeof state)) {
        api->resp_error(r, 404, "not_found", "no such incoming document on your circulation");
        return;
    }
    const char *comment;
    json_t *b = body_text(r, keys, "comment", 2000, 0, &comment);
    if (!b)
        return;
    if (strcmp(state, "pending") != 0) {
        json_decref(b);
        api->resp_error(r, 409, "conflict", strcmp(state, "read") == 0 ? "you have read it already"
                                                                         : "it is not your turn yet: an earlier reader has it");
        return;
    }
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE documents_circulation SET state = 'read', comment = ?1, read_at = ?2 "
                                        "WHERE incoming_id = ?3 AND user_id = ?4 AND state = 'pending'");
    int ok = st != NULL;
    if (ok) {
        if (comment)
            api->db_bind_text(st, 1, comment);
        else
            api->db_bind_null(st, 1);
        api->db_bind_int(st, 2, api->now());
        api->db_bind_int(st, 3, id);
        api->db_bind_int(st, 4, uid);
        ok = api->db_step(st) == YM_DONE && api->db_changes(self) == 1;
        api->db_reset(st);
    }
    /* the next in line, if no one of the sequence still has it */
    st = ok ? api->db_prepare(self, "SELECT user_id FROM documents_circulation WHERE incoming_id = ?1 AND state = 'waiting' "
                                    "AND NOT EXISTS (SELECT 1 FROM documents_circulation WHERE incoming_id = ?1 "
                                    "AND mode = 'sequence' AND state = 'pending') ORDER BY seq LIMIT 1") : NULL;
    int64_t next = 0;
    if (st) {
        api->db_bind_int(st, 1, id);
        next = api->db_step(st) == YM_ROW ? api->db_column_int(st, 0) : 0;
        api->db_reset(st);
    }
    if (ok && next) {
        st = api->db_prepare(self, "UPDATE documents_circulation SET state = 'pending' WHERE incoming_id = ?1 AND user_id = ?2");
        ok = st != NULL;
        if (ok) {
            api->db_bind_int(st, 1, id);
            api->db_bind_int(st, 2, next);
            ok = api->db_step(st) == YM_DONE;
            api->db_reset(st);
        }
        ok = ok && circ_todo(self, id, next) == 0;
    }
    char key[80];
    snprintf(key, sizeof key, "in:%lld:read:%lld", (long long)id, (long long)uid);
    ok = ok && api->todo_resolve(self, key, uid) >= 0 &&
         flow_add(self, in.doc_id, id, uid, api->req_unit_id(r), "read", comment) == 0 &&
         audit_in(r, "documents.read", id, NULL) == 0;
    step_end(r, self, ok, b, answer_incoming, id, "cannot record the reading");
}

/* GET /api/documents/incoming/:id */
static void get_incoming(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t id = id_param(r, "id");
    in_rec in;
    if (!id || incoming_load(self, id, &in) != 1 || !incoming_may_see(r, self, &in)) {
        api->resp_error(r, 404, "not_found", "no such incoming document");
        return;
    }
    json_t *j = incoming_json(self, id);
    if (j)
        json_object_set_new(j, "flow", flow_json(self, in.doc_id, id));
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        api->resp_json(r, 200, s);
    else
        internal_error(r, self, "cannot read the incoming document");
    free(s);
}

int in_routes(ym_plugin *self)
{
    return api->route(self, "POST", "/api/documents/incoming", "documents.receive", register_incoming, self) < 0 ||
                   api->route(self, "GET", "/api/documents/incoming/:id", "user", get_incoming, self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/propose", "documents.receive", propose_incoming,
                              self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/instruct", "documents.instruct",
                              instruct_incoming, self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/assign", "documents.receive", assign_incoming,
                              self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/complete", "documents.handle",
                              complete_incoming, self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/archive", "documents.receive",
                              archive_incoming, self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/circulate", "documents.receive",
                              circulate_incoming, self) < 0 ||
                   api->route(self, "POST", "/api/documents/incoming/:id/read", "user", read_incoming, self) < 0
               ? -1
               : 0;
}
