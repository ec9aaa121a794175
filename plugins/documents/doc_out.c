/* documents: the outgoing flow (发文). draft (拟稿, every save a version) → reviewing
 * (核稿) → countersigning (会签, parallel, other units) → signing (签发) → signed (the
 * number is given inside the sign-off write) → dispatched (分发, the dispatch engine) →
 * archived (归档, sealed). Each reviewing step may send the draft back with a comment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "documents.h"

/* UPDATE … WHERE state = from: 1 when it moved (0: someone moved it meanwhile). */
static int move(ym_plugin *self, int64_t id, const char *from, const char *to)
{
    ym_stmt *st = api->db_prepare(self, "UPDATE documents_docs SET state = ?1, updated_at = ?2 WHERE id = ?3 AND state = ?4");
    if (!st)
        return -1;
    api->db_bind_text(st, 1, to);
    api->db_bind_int(st, 2, api->now());
    api->db_bind_int(st, 3, id);
    api->db_bind_text(st, 4, from);
    int rc = api->db_step(st) == YM_DONE ? api->db_changes(self) : -1;
    api->db_reset(st);
    return rc;
}

/* 1 when the document is in state; else frees body, answers 409, 0. */
static int doc_is(ym_request *r, json_t *body, const doc *d, const char *state, const char *wanted)
{
    return state_is(r, body, "document", d->state, state, NULL, wanted);
}

static int audit_doc(ym_request *r, const char *action, int64_t id, const char *detail)
{
    char target[40];
    snprintf(target, sizeof target, "documents_doc:%lld", (long long)id);
    return api->audit(r, action, target, "ok", detail);
}

/* The to-do a step opens: for role (a setting) in the document's unit, or for the
 * drafter when role is NULL. */
typedef struct next_todo {
    const char *suffix, *what, *kind;
    const char *const *role;
} next_todo;
static const next_todo TODO_REVIEW = {"review", "核稿", "review", &role_reviewer};
static const next_todo TODO_SIGNOFF = {"signoff", "签发", "signoff", &role_leader};
static const next_todo TODO_REDO = {"redo", "退回修改", "redo", NULL};
static const next_todo TODO_DISPATCH = {"dispatch", "分发", "dispatch", NULL};

/* Resolves the document's open to-dos, then opens the next one (t NULL: none). */
static int todo_next(ym_plugin *self, ym_request *r, const doc *d, const next_todo *t)
{
    char key[80], title[800], link[48];
    snprintf(key, sizeof key, "doc:%lld:", (long long)d->id);
    if (api->todo_resolve_prefix(self, key, api->req_user_id(r)) < 0)
        return -1;
    if (!t)
        return 0;
    int64_t user = t->role ? 0 : d->created_by, unit = t->role ? d->unit_id : 0;
    const char *role = t->role ? *t->role : NULL;
    snprintf(key, sizeof key, "doc:%lld:%s", (long long)d->id, t->suffix);
    snprintf(title, sizeof title, "%s：%s", t->what, d->title);
    snprintf(link, sizeof link, "#/documents/%lld", (long long)d->id);
    if (api->todo_put(self, key, user, unit, role, title, link, 0, t->kind) > 0)
        return 0;
    if (user > 0)
        return -1;
    /* a role the county has not set up (settings *_role): the step goes on without its to-do */
    char why[300];
    snprintf(why, sizeof why, "no to-do for role %s: %s", role ? role : "?", api->error(self));
    api->log(self, YM_WARN, why);
    return 0;
}

/* A step's move (from → to) in the caller's write: the state, the flow row of the caller
 * in their unit, the next to-do. */
static int step_move(ym_plugin *self, ym_request *r, const doc *d, const char *from, const char *to, const char *action,
                     const char *comment, const next_todo *t)
{
    return move(self, d->id, from, to) == 1 &&
                   flow_add(self, d->id, 0, api->req_user_id(r), api->req_unit_id(r), action, comment) == 0 &&
                   todo_next(self, r, d, t) == 0
               ? 0
               : -1;
}

/* Writes the elements as the current version of a draft and keeps a copy in
 * documents_versions: id 0 inserts a new draft of unit (one row write, its indexes once);
 * else updates draft id (the state is checked in the same statement). The document's id,
 * 0 when id is no longer a draft, -1 on error. */
static int64_t store(ym_plugin *self, int64_t id, int64_t unit, json_t *el, int64_t version, int64_t uid)
{
    char *text = json_dumps(el, JSON_COMPACT | JSON_SORT_KEYS);
    const char *sec = json_string_value(json_object_get(el, "secrecy"));
    const char *urg = json_string_value(json_object_get(el, "urgency"));
    ym_stmt *st = api->db_prepare(self, id ? "UPDATE documents_docs SET doc_type = ?1, title = ?2, urgency = ?3, "
                                             "secrecy = ?4, org_code = ?5, doc_date = ?6, elements = ?7, version = ?8, "
                                             "updated_at = ?9 WHERE id = ?10 AND state = 'draft'"
                                           : "INSERT INTO documents_docs (doc_type, title, urgency, secrecy, org_code, "
                                             "doc_date, elements, version, updated_at, created_at, unit_id, state, "
                                             "created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, 'draft', ?11)");
    int64_t now = api->now(), out = -1;
    if (st && text) {
        api->db_bind_text(st, 1, json_string_value(json_object_get(el, "doc_type")));
        api->db_bind_text(st, 2, json_string_value(json_object_get(el, "title")));
        api->db_bind_text(st, 3, urg ? urg : "");
        api->db_bind_text(st, 4, sec && *sec ? sec : "非密");
        api->db_bind_text(st, 5, json_string_value(json_object_get(el, "org_code")));
        api->db_bind_text(st, 6, json_string_value(json_object_get(el, "doc_date")));
        api->db_bind_text(st, 7, text);
        api->db_bind_int(st, 8, version);
        api->db_bind_int(st, 9, now);
        api->db_bind_int(st, 10, id ? id : unit);
        if (!id)
            api->db_bind_int(st, 11, uid);
        if (api->db_step(st) == YM_DONE)
            out = id ? (api->db_changes(self) == 1 ? id : 0) : api->db_last_insert_id(self);
        api->db_reset(st);
    }
    st = out > 0 ? api->db_prepare(self, "INSERT INTO documents_versions (doc_id, version, elements, saved_by, saved_at) "
                                         "VALUES (?1, ?2, ?3, ?4, ?5)") : NULL;
    if (st) {
        api->db_bind_int(st, 1, out);
        api->db_bind_int(st, 2, version);
        api->db_bind_text(st, 3, text);
        api->db_bind_int(st, 4, uid);
        api->db_bind_int(st, 5, now);
        if (api->db_step(st) != YM_DONE)
            out = -1;
        api->db_reset(st);
    } else if (out > 0)
        out = -1;
    free(text);
    return out;
}

/* The request body as elements; answers 400 itself. With base, the body is merged into
 * it (a null removes an element). */
static json_t *elements_body(ym_request *r, json_t *base)
{
    if (!api->req_json_ok(r))
        return NULL;
    size_t len;
    const char *text = api->req_body(r, &len);
    json_t *body = json_loadb(text, len, 0, NULL);
    if (!json_is_object(body)) {
        api->resp_invalid(r, "", "the body must be a JSON object of document elements");
        json_decref(body);
        return NULL;
    }
    json_t *el = base ? json_deep_copy(base) : json_object(), *v;
    const char *key;
    json_object_foreach(body, key, v) {
        if (json_is_null(v))
            json_object_del(el, key);
        else
            json_object_set(el, key, v);
    }
    /* unknown or mistyped keys of the body itself are reported even when null */
    json_object_foreach(body, key, v) {
        if (json_is_null(v) && !json_object_get(el, key))
            json_object_set(el, key, v);
    }
    json_decref(body);
    char field[64], msg[300];
    if (elements_check(el, field, sizeof field, msg, sizeof msg) < 0) {
        api->resp_invalid(r, field, msg);
        json_decref(el);
        return NULL;
    }
    /* drop the nulls kept for checking */
    void *tmp;
    json_object_foreach_safe(el, tmp, key, v) {
        if (json_is_null(v))
            json_object_del(el, key);
    }
    if (!json_object_get(el, "secrecy"))
        json_object_set_new(el, "secrecy", json_string("非密"));
    return el;
}

/* POST /api/documents: a new draft in the caller's unit (version 1). */
static void create_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t unit = api->req_unit_id(r), uid = api->req_user_id(r);
    if (api->req_may(r, "documents.draft", unit) != 1) {
        api->resp_error(r, 403, "forbidden", "you may not draft documents in your unit");
        return;
    }
    json_t *el = elements_body(r, NULL);
    if (!el)
        return;
    api->db_write_begin(self);
    int64_t id = store(self, 0, unit, el, 1, uid);
    int ok = id > 0 && flow_add(self, id, 0, uid, unit, "draft", NULL) == 0 && search_draft(self, id, unit, el) == 0 &&
             audit_doc(r, "documents.create", id, NULL) == 0;
    api->db_write_end(self, ok);
    json_decref(el);
    if (ok)
        answer_doc(r, self, id, 201);
    else
        internal_error(r, self, "cannot save the document");
}

/* PATCH /api/documents/:id: a new version of a draft (elements merged; null removes). */
static void update_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!doc_visible(r, self, "documents.draft", &d))
        return;
    json_t *cur = doc_json(self, d.id, 0);
    json_t *el = cur ? elements_body(r, json_object_get(cur, "elements")) : NULL;
    json_decref(cur);
    if (!el)
        return;
    if (!doc_is(r, el, &d, "draft", "a draft (send it back first)"))
        return;
    int64_t uid = api->req_user_id(r);
    char detail[40];
    snprintf(detail, sizeof detail, "{\"version\":%lld}", (long long)d.version + 1);
    api->db_write_begin(self);
    int ok = store(self, d.id, d.unit_id, el, d.version + 1, uid) == d.id &&
             flow_add(self, d.id, 0, uid, api->req_unit_id(r), "save", NULL) == 0 &&
             search_draft(self, d.id, d.unit_id, el) == 0 &&
             audit_doc(r, "documents.update", d.id, detail) == 0;
    step_end(r, self, ok, el, answer_doc, d.id, "cannot save the document");
}

static const char *const COMMENT_ONLY[] = {"comment", NULL};

/* "pass"/"agree"/"approve" (1) or "return" (0); -1 answered 400. */
static int decision(ym_request *r, json_t *b, const char *yes)
{
    const char *s = json_string_value(json_object_get(b, "decision"));
    if (s && strcmp(s, yes) == 0)
        return 1;
    if (s && strcmp(s, "return") == 0)
        return 0;
    char msg[80];
    snprintf(msg, sizeof msg, "decision must be \"%s\" or \"return\"", yes);
    api->resp_invalid(r, "decision", msg);
    return -1;
}

/* The prologue of a step: the document (404; perm on its unit, NULL: any), a body of
 * keys (400/415) with its decision when yes is given (*yes_out: yes 1, "return" 0) and its
 * text key (required, or when sending back). NULL when answered. */
static json_t *doc_step(ym_request *r, ym_plugin *self, const char *perm, doc *d, const char *const *keys,
                        const char *yes, int *yes_out, const char *key, size_t max_chars, int required,
                        const char **text)
{
    if (perm ? !doc_visible(r, self, perm, d) : doc_load(self, id_param(r, "id"), d) != 1) {
        if (!perm)
            api->resp_error(r, 404, "not_found", "no such document");
        return NULL;
    }
    json_t *b = body_object(r, keys);
    if (b && yes && (*yes_out = decision(r, b, yes)) < 0) {
        json_decref(b);
        return NULL;
    }
    if (b && key && opt_text(r, b, key, max_chars, required || (yes && !*yes_out), text) < 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

/* POST /api/documents/:id/submit {comment}: draft → reviewing (核稿). */
static void submit_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    const char *comment;
    json_t *b = doc_step(r, self, "documents.draft", &d, COMMENT_ONLY, NULL, NULL, "comment", 2000, 0, &comment);
    if (!b || !doc_is(r, b, &d, "draft", "a draft"))
        return;
    api->db_write_begin(self);
    int ok = step_move(self, r, &d, "draft", "reviewing", "submit", comment, &TODO_REVIEW) == 0 &&
             audit_doc(r, "documents.submit", d.id, NULL) == 0;
    step_end(r, self, ok, b, answer_doc, d.id, "cannot submit the document");
}

/* Back to the drafter with a comment (退回), from any reviewing step. */
static int send_back(ym_plugin *self, ym_request *r, const doc *d, const char *from, const char *comment)
{
    ym_stmt *st = api->db_prepare(self, "DELETE FROM documents_countersigns WHERE doc_id = ?1");
    int ok = st != NULL;
    if (ok) {
        api->db_bind_int(st, 1, d->id);
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    }
    char detail[64];
    snprintf(detail, sizeof detail, "{\"from\":\"%s\"}", from);
    return ok && step_move(self, r, d, from, "draft", "return", comment, &TODO_REDO) == 0 &&
                   audit_doc(r, "documents.return", d->id, detail) == 0
               ? 0
               : -1;
}

/* POST /api/documents/:id/review {decision, comment, countersign_units}: reviewing →
 * countersigning (when units are named) or signing; or back to the drafter. */
static void review_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"decision", "comment", "countersign_units", NULL};
    doc d;
    const char *comment;
    int yes;
    json_t *b = doc_step(r, self, "documents.review", &d, keys, "pass", &yes, "comment", 2000, 0, &comment), *units, *v;
    if (!b)
        return;
    units = json_object_get(b, "countersign_units");
    size_t i, n = json_array_size(units);
    int badu = units && (!json_is_array(units) || n > 200);
    json_array_foreach(units, i, v) {
        int64_t u = json_integer_value(v);
        badu |= !json_is_integer(v) || u == d.unit_id || !unit_exists(self, u);
        for (size_t k = 0; k < i; k++)
            badu |= json_integer_value(json_array_get(units, k)) == u;
    }
    if (badu) {
        json_decref(b);
        api->resp_invalid(r, "countersign_units", "countersign_units must be a list of other, active units, each once");
        return;
    }
    if (!doc_is(r, b, &d, "reviewing", "under review"))
        return;
    api->db_write_begin(self);
    int ok;
    if (!yes)
        ok = send_back(self, r, &d, "reviewing", comment) == 0;
    else {
        const char *to = n ? "countersigning" : "signing";
        ok = step_move(self, r, &d, "reviewing", to, "review", comment, n ? NULL : &TODO_SIGNOFF) == 0 &&
             audit_doc(r, "documents.review", d.id, NULL) == 0;
        ym_stmt *st = api->db_prepare(self, "INSERT INTO documents_countersigns (doc_id, unit_id, state) "
                                            "VALUES (?1, ?2, 'pending')");
        for (i = 0; ok && i < n; i++) {
            int64_t u = json_integer_value(json_array_get(units, i));
            char suffix[40];
            snprintf(suffix, sizeof suffix, "cs:%lld", (long long)u);
            api->db_bind_int(st, 1, d.id);
            api->db_bind_int(st, 2, u);
            ok = api->db_step(st) == YM_DONE;
            api->db_reset(st);
            char key[80], title[800], link[48];
            snprintf(key, sizeof key, "doc:%lld:cs:%lld", (long long)d.id, (long long)u);
            snprintf(title, sizeof title, "会签：%s", d.title);
            snprintf(link, sizeof link, "#/documents/%lld", (long long)d.id);
            if (ok && api->todo_put(self, key, 0, u, role_countersign, title, link, 0, "countersign") <= 0)
                api->log(self, YM_WARN, api->error(self));   /* no such role here: no to-do */
        }
    }
    step_end(r, self, ok, b, answer_doc, d.id, "cannot record the review");
}

/* POST /api/documents/:id/countersign {decision, comment, unit_id}: a countersigning
 * unit agrees (the last one moves it to signing) or sends it back. */
static void countersign_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"decision", "comment", "unit_id", NULL};
    doc d;
    const char *comment;
    int yes;
    json_t *b = doc_step(r, self, NULL, &d, keys, "agree", &yes, "comment", 2000, 0, &comment);
    if (!b)
        return;
    int64_t id = d.id;
    json_t *want = json_object_get(b, "unit_id");
    if (want && (!json_is_integer(want) || json_integer_value(want) < 1)) {
        json_decref(b);
        api->resp_invalid(r, "unit_id", "unit_id must be the id of a countersigning unit");
        return;
    }
    /* the caller's countersigning unit: a row of this document where they hold the permission */
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id, state FROM documents_countersigns WHERE doc_id = ?1 ORDER BY unit_id");
    int64_t unit = 0;
    int pending = 0;
    if (st) {
        api->db_bind_int(st, 1, id);
        while (api->db_step(st) == YM_ROW) {
            int64_t u = api->db_column_int(st, 0);
            if ((!want || json_integer_value(want) == u) && api->req_may(r, "documents.countersign", u) == 1 &&
                (!unit || !pending)) {
                int p = strcmp(api->db_column_text(st, 1), "pending") == 0;
                if (!unit || p) {
                    unit = u;
                    pending = p;
                }
            }
        }
        api->db_reset(st);
    }
    if (!unit) {
        json_decref(b);
        api->resp_error(r, 404, "not_found", "no such document");
        return;
    }
    if (strcmp(d.state, "countersigning") != 0 || !pending) {
        json_decref(b);
        if (strcmp(d.state, "countersigning") == 0)
            api->resp_error(r, 409, "conflict", "your unit has countersigned already");
        else
            conflict(r, "document", d.state, "in countersigning");
        return;
    }
    int64_t uid = api->req_user_id(r);
    api->db_write_begin(self);
    int ok;
    if (!yes)
        ok = send_back(self, r, &d, "countersigning", comment) == 0;
    else {
        st = api->db_prepare(self, "UPDATE documents_countersigns SET state = 'agreed', user_id = ?1, comment = ?2, at = ?3 "
                                   "WHERE doc_id = ?4 AND unit_id = ?5 AND state = 'pending'");
        ok = st != NULL;
        if (ok) {
            api->db_bind_int(st, 1, uid);
            if (comment)
                api->db_bind_text(st, 2, comment);
            else
                api->db_bind_null(st, 2);
            api->db_bind_int(st, 3, api->now());
            api->db_bind_int(st, 4, id);
            api->db_bind_int(st, 5, unit);
            ok = api->db_step(st) == YM_DONE && api->db_changes(self) == 1;
            api->db_reset(st);
        }
        char key[80];
        snprintf(key, sizeof key, "doc:%lld:cs:%lld", (long long)id, (long long)unit);
        ok = ok && flow_add(self, id, 0, uid, unit, "countersign", comment) == 0 &&
             api->todo_resolve(self, key, uid) >= 0 && audit_doc(r, "documents.countersign", id, NULL) == 0;
        st = ok ? api->db_prepare(self, "SELECT count(*) FROM documents_countersigns WHERE doc_id = ?1 AND state = 'pending'")
                : NULL;
        int64_t left = -1;
        if (st) {
            api->db_bind_int(st, 1, id);
            left = api->db_step(st) == YM_ROW ? api->db_column_int(st, 0) : -1;
            api->db_reset(st);
        }
        ok = ok && left >= 0;
        if (ok && left == 0)
            ok = move(self, id, "countersigning", "signing") == 1 && todo_next(self, r, &d, &TODO_SIGNOFF) == 0;
    }
    step_end(r, self, ok, b, answer_doc, id, "cannot record the countersign");
}

/* POST /api/documents/:id/signoff {decision, comment}: a leader signs off (签发) and the
 * number is given in the same write, or sends it back. */
static void signoff_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"decision", "comment", NULL};
    doc d;
    const char *comment;
    int yes;
    json_t *b = doc_step(r, self, "documents.signoff", &d, keys, "approve", &yes, "comment", 2000, 0, &comment);
    if (!b || !doc_is(r, b, &d, "signing", "awaiting sign-off"))
        return;
    int64_t uid = api->req_user_id(r);
    api->db_write_begin(self);
    int ok;
    if (!yes)
        ok = send_back(self, r, &d, "signing", comment) == 0;
    else {
        int year = this_year();
        char key[120], number[200], detail[240];
        snprintf(key, sizeof key, "out:%s", d.org_code);
        /* the state moves first: a second sign-off of the same draft finds nothing to move */
        ok = move(self, d.id, "signing", "signed") == 1;
        int64_t serial = ok ? counter_next(self, key, year) : -1;
        ok = ok && serial > 0;
        snprintf(number, sizeof number, "%s〔%d〕%lld号", d.org_code, year, (long long)serial);
        char *name = user_name(self, uid);
        ym_stmt *st = ok ? api->db_prepare(self, "UPDATE documents_docs SET year = ?1, serial = ?2, number = ?3, "
                                                 "signer = ?4, signer_id = ?5 WHERE id = ?6") : NULL;
        if (st) {
            api->db_bind_int(st, 1, year);
            api->db_bind_int(st, 2, serial);
            api->db_bind_text(st, 3, number);
            api->db_bind_text(st, 4, name);
            api->db_bind_int(st, 5, uid);
            api->db_bind_int(st, 6, d.id);
            ok = api->db_step(st) == YM_DONE;
            api->db_reset(st);
        } else
            ok = 0;
        free(name);
        st = ok ? api->db_prepare(self, "INSERT INTO documents_numbers (org_code, year, serial, number, doc_id, state, "
                                        "given_by, given_at) VALUES (?1, ?2, ?3, ?4, ?5, 'used', ?6, ?7)") : NULL;
        if (st) {
            api->db_bind_text(st, 1, d.org_code);
            api->db_bind_int(st, 2, year);
            api->db_bind_int(st, 3, serial);
            api->db_bind_text(st, 4, number);
            api->db_bind_int(st, 5, d.id);
            api->db_bind_int(st, 6, uid);
            api->db_bind_int(st, 7, api->now());
            ok = api->db_step(st) == YM_DONE;
            api->db_reset(st);
        } else
            ok = 0;
        json_t *dj = json_pack("{s:s}", "number", number);
        char *dt = json_dumps(dj, JSON_COMPACT);
        snprintf(detail, sizeof detail, "%s", dt ? dt : "{}");
        free(dt);
        json_decref(dj);
        ok = ok && flow_add(self, d.id, 0, uid, api->req_unit_id(r), "signoff", comment) == 0 &&
             todo_next(self, r, &d, &TODO_DISPATCH) == 0 && search_doc(self, d.id) == 0 &&
             audit_doc(r, "documents.signoff", d.id, detail) == 0;
    }
    step_end(r, self, ok, b, answer_doc, d.id, "cannot record the sign-off");
}

/* POST /api/documents/:id/void-number {reason}: the number of a signed, not yet
 * dispatched document is voided (its row stays, marked void) and the document waits for
 * sign-off again. */
static void void_number(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"reason", NULL};
    doc d;
    const char *reason;
    json_t *b = doc_step(r, self, "documents.signoff", &d, keys, NULL, NULL, "reason", 500, 1, &reason);
    if (!b || !doc_is(r, b, &d, "signed", "signed and not yet dispatched"))
        return;
    int64_t uid = api->req_user_id(r);
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE documents_numbers SET state = 'void', voided_by = ?1, voided_at = ?2, "
                                        "reason = ?3 WHERE doc_id = ?4 AND state = 'used'");
    int ok = st != NULL;
    if (ok) {
        api->db_bind_int(st, 1, uid);
        api->db_bind_int(st, 2, api->now());
        api->db_bind_text(st, 3, reason);
        api->db_bind_int(st, 4, d.id);
        ok = api->db_step(st) == YM_DONE && api->db_changes(self) == 1;
        api->db_reset(st);
    }
    st = ok ? api->db_prepare(self, "UPDATE documents_docs SET year = NULL, serial = NULL, number = NULL, signer = NULL, "
                                    "signer_id = NULL WHERE id = ?1") : NULL;
    if (st) {
        api->db_bind_int(st, 1, d.id);
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    } else
        ok = 0;
    ok = ok && step_move(self, r, &d, "signed", "signing", "void_number", reason, &TODO_SIGNOFF) == 0 &&
         search_doc(self, d.id) == 0 && audit_doc(r, "documents.void_number", d.id, NULL) == 0;
    step_end(r, self, ok, b, answer_doc, d.id, "cannot void the number");
}

/* Reads a list of unit ids into recipients (as kind); 0 ok, -1 answered 400. */
static int unit_list(ym_request *r, ym_plugin *self, json_t *b, const char *key, const char *kind, json_t *recipients,
                     int64_t own)
{
    json_t *v = json_object_get(b, key), *x;
    size_t i, k;
    if (!v)
        return 0;
    int bad = !json_is_array(v) || json_array_size(v) > 5000;
    json_array_foreach(v, i, x) {
        int64_t u = json_integer_value(x);
        if (bad || !json_is_integer(x) || u == own || !unit_exists(self, u)) {
            bad = 1;
            break;
        }
        json_t *y;
        json_array_foreach(recipients, k, y)
            bad |= json_integer_value(json_object_get(y, "unit_id")) == u;
        json_array_append_new(recipients, json_pack("{s:I,s:s}", "unit_id", (json_int_t)u, "kind", kind));
    }
    if (bad) {
        char msg[120];
        snprintf(msg, sizeof msg, "%s must be a list of active units other than the sender, each named once", key);
        api->resp_invalid(r, key, msg);
        return -1;
    }
    return 0;
}

/* POST /api/documents/:id/dispatch {main, copy, deadline_in}: one dispatch through the
 * engine to every recipient unit; the units sign for it at /api/dispatches/:id/sign. */
static void dispatch_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const keys[] = {"main", "copy", "deadline_in", NULL};
    doc d;
    json_t *b = doc_step(r, self, "documents.send", &d, keys, NULL, NULL, NULL, 0, 0, NULL);
    if (!b)
        return;
    json_t *recipients = json_array(), *dl = json_object_get(b, "deadline_in");
    if (unit_list(r, self, b, "main", "main", recipients, d.unit_id) < 0 ||
        unit_list(r, self, b, "copy", "copy", recipients, d.unit_id) < 0) {
        json_decref(b);
        json_decref(recipients);
        return;
    }
    if (!json_array_size(recipients) || (dl && (!json_is_integer(dl) || json_integer_value(dl) < 60))) {
        api->resp_invalid(r, dl && json_array_size(recipients) ? "deadline_in" : "main",
                          json_array_size(recipients) ? "deadline_in must be a number of seconds, at least 60"
                                                      : "name at least one recipient unit in main or copy");
        json_decref(b);
        json_decref(recipients);
        return;
    }
    if (!doc_is(r, b, &d, "signed", "signed")) {
        json_decref(recipients);
        return;
    }
    json_t *full = doc_json(self, d.id, 0);
    const char *urg = json_string_value(json_object_get(json_object_get(full, "elements"), "urgency"));
    const char *number = json_string_value(json_object_get(full, "number"));
    char record[48], link[48], title[900];
    snprintf(record, sizeof record, "documents_docs:%lld", (long long)d.id);
    snprintf(link, sizeof link, "#/documents/%lld", (long long)d.id);
    snprintf(title, sizeof title, "%s", d.title);
    int64_t uid = api->req_user_id(r);
    json_t *spec = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:O}", "record", record, "sender_unit", (json_int_t)d.unit_id,
                             "sender_user", (json_int_t)uid, "title", title, "urgency",
                             urg && strcmp(urg, "特急") == 0 ? "very_urgent" : urg && strcmp(urg, "加急") == 0 ? "urgent"
                                                                                                            : "normal",
                             "link", link, "recipients", recipients);
    if (dl)
        json_object_set(spec, "deadline_in", dl);
    char *spec_text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    api->db_write_begin(self);
    int64_t did = api->dispatch_create(self, spec_text);
    free(spec_text);
    int ok = did > 0 && move(self, d.id, "signed", "dispatched") == 1;
    ym_stmt *st = ok ? api->db_prepare(self, "UPDATE documents_docs SET dispatch_id = ?1 WHERE id = ?2") : NULL;
    if (st) {
        api->db_bind_int(st, 1, did);
        api->db_bind_int(st, 2, d.id);
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    } else
        ok = 0;
    st = ok ? api->db_prepare(self, "INSERT INTO documents_recipients (doc_id, unit_id, kind) VALUES (?1, ?2, ?3)") : NULL;
    json_t *units = json_array(), *x;
    size_t i;
    json_array_foreach(recipients, i, x) {
        if (!ok)
            break;
        api->db_bind_int(st, 1, d.id);
        api->db_bind_int(st, 2, json_integer_value(json_object_get(x, "unit_id")));
        api->db_bind_text(st, 3, json_string_value(json_object_get(x, "kind")));
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
        json_array_append(units, json_object_get(x, "unit_id"));
    }
    json_t *ev = json_pack("{s:I,s:s,s:s,s:I,s:I,s:O}", "document", (json_int_t)d.id, "number", number ? number : "",
                           "title", d.title, "dispatch", (json_int_t)did, "unit_id", (json_int_t)d.unit_id, "units",
                           units);
    char *payload = json_dumps(ev, JSON_COMPACT), detail[80];
    json_decref(ev);
    json_decref(units);
    snprintf(detail, sizeof detail, "{\"dispatch\":%lld,\"recipients\":%zu}", (long long)did, json_array_size(recipients));
    ok = ok && flow_add(self, d.id, 0, uid, api->req_unit_id(r), "dispatch", NULL) == 0 &&
         todo_next(self, r, &d, NULL) == 0 && api->emit(self, "documents.dispatched", payload) == 0 &&
         audit_doc(r, "documents.dispatch", d.id, detail) == 0;
    free(payload);
    api->db_write_end(self, ok);
    json_decref(full);
    json_decref(b);
    json_decref(recipients);
    if (did <= 0)
        engine_error(r, self, did);
    else if (ok)
        answer_doc(r, self, d.id, 200);
    else
        internal_error(r, self, "cannot dispatch the document");
}

/* POST /api/documents/:id/archive {comment}: dispatched → archived (sealed). */
static void archive_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    const char *comment;
    json_t *b = doc_step(r, self, "documents.send", &d, COMMENT_ONLY, NULL, NULL, "comment", 2000, 0, &comment);
    if (!b || !doc_is(r, b, &d, "dispatched", "dispatched"))
        return;
    char payload[120];
    snprintf(payload, sizeof payload, "{\"document\":%lld,\"kind\":\"outgoing\",\"unit_id\":%lld}", (long long)d.id,
             (long long)d.unit_id);
    api->db_write_begin(self);
    ym_stmt *st = api->db_prepare(self, "UPDATE documents_docs SET archived_at = ?1 WHERE id = ?2");
    int ok = st != NULL;
    if (ok) {
        api->db_bind_int(st, 1, api->now());
        api->db_bind_int(st, 2, d.id);
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    }
    ok = ok && step_move(self, r, &d, "dispatched", "archived", "archive", comment, NULL) == 0 &&
         api->emit(self, "documents.archived", payload) == 0 && audit_doc(r, "documents.archive", d.id, NULL) == 0;
    step_end(r, self, ok, b, answer_doc, d.id, "cannot archive the document");
}

/* GET /api/documents/units: the active units to pick recipients (分发) or countersigning
 * units (会签) from, for whoever may dispatch or review somewhere; no units.read needed. */
static void list_units(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    if (api->req_may(r, "documents.send", 0) != 1 && api->req_may(r, "documents.review", 0) != 1) {
        api->resp_error(r, 403, "forbidden", "documents.send or documents.review is needed to pick units");
        return;
    }
    ym_stmt *st = api->db_prepare(self, "SELECT id, parent_id, kind, name, short_name, sort, active FROM core_v_units "
                                        "WHERE active = 1 ORDER BY id");
    char *rows = st ? api->db_rows_json(st) : NULL;
    if (!rows) {
        internal_error(r, self, "cannot read the units");
        return;
    }
    size_t n = strlen(rows) + 16;
    char *text = malloc(n);
    if (text) {
        snprintf(text, n, "{\"items\":%s}", rows);
        api->resp_json(r, 200, text);
    } else
        internal_error(r, self, "cannot read the units");
    free(text);
    api->free(rows);
}

int out_routes(ym_plugin *self)
{
    return api->route(self, "GET", "/api/documents/units", "user", list_units, self) < 0 ||
                   api->route(self, "POST", "/api/documents", "documents.draft", create_doc, self) < 0 ||
                   api->route(self, "PATCH", "/api/documents/:id", "documents.draft", update_doc, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/submit", "documents.draft", submit_doc, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/review", "documents.review", review_doc, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/countersign", "documents.countersign", countersign_doc,
                              self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/signoff", "documents.signoff", signoff_doc, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/void-number", "documents.signoff", void_number, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/dispatch", "documents.send", dispatch_doc, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/archive", "documents.send", archive_doc, self) < 0
               ? -1
               : 0;
}
