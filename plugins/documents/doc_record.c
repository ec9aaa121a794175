/* documents: the record (GB/T 9704-2012 elements), its validation per type, shared
 * helpers, settings and init. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "documents.h"

const ym_api *api;
int max_secrecy_rank;
const char *max_secrecy_name;
const char *role_reviewer, *role_countersign, *role_leader, *role_clerk;

static const char *const SECRECY[] = {"非密", "秘密", "机密", "绝密", NULL};
static const char *const TYPES[] = {"决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知",
                                    "通报", "报告", "请示", "批复", "议案", "函", "纪要", NULL};
/* types addressed to nobody in particular (published): no 主送 required */
static const char *const NO_MAIN_TO[] = {"决议", "命令", "公报", "公告", "通告", "纪要", NULL};
/* types without a 发文机关署名 */
static const char *const NO_SIGNATURE[] = {"命令", "纪要", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return i;
    return -1;
}

int secrecy_rank(const char *s)
{
    return in_list(s, SECRECY);
}

/* ---- small helpers ---- */

int64_t id_param(ym_request *r, const char *name)
{
    const char *s = api->req_param(r, name);
    long long v;
    return ym_parse_int(s, 1, INT64_MAX, &v) ? v : 0;
}

json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    api->time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

void today(char out[11])
{
    char buf[40];
    api->time_format(api->now(), buf, sizeof buf);
    memcpy(out, buf, 10);
    out[10] = 0;
}

int this_year(void)
{
    char d[11];
    today(d);
    return atoi(d);
}

json_t *body_object(ym_request *r, const char *const *keys)
{
    size_t len;
    const char *text = api->req_body(r, &len);
    if (!text || len == 0)                 /* no body: an empty object */
        return json_object();
    if (!api->req_json_ok(r))
        return NULL;
    json_t *body = json_loadb(text, len, 0, NULL), *v;
    const char *key;
    if (!json_is_object(body)) {
        api->resp_invalid(r, "", "the body must be a JSON object");
        json_decref(body);
        return NULL;
    }
    json_object_foreach(body, key, v) {
        if (in_list(key, keys) < 0) {
            api->resp_invalid(r, key, "unknown field");
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

static int one_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int opt_text(ym_request *r, json_t *body, const char *key, size_t max_chars, int required, const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
    } else if (json_is_string(v) && json_string_length(v) > 0 && ym_utf8_len(json_string_value(v)) <= max_chars) {
        *out = json_string_value(v);
        return 0;
    }
    char msg[120];
    snprintf(msg, sizeof msg, "%s must be a string of 1 to %zu characters%s", key, max_chars,
             required ? "" : " (or absent)");
    api->resp_invalid(r, key, msg);
    return -1;
}

void engine_error(ym_request *r, ym_plugin *self, int64_t rc)
{
    int status = rc == YM_E_NOTFOUND ? 404 : rc == YM_E_STATE || rc == YM_E_LAG ? 409 : rc == YM_E_DB ? 503
               : rc == YM_E_FORBIDDEN ? 403 : 400;
    const char *code = rc == YM_E_NOTFOUND ? "not_found" : rc == YM_E_LAG ? "lag_reason_required"
                     : rc == YM_E_STATE ? "conflict" : rc == YM_E_DB ? "storage_busy"
                     : rc == YM_E_FORBIDDEN ? "forbidden" : "invalid";
    if (status == 400)
        api->resp_invalid(r, "", api->error(self));
    else
        api->resp_error(r, status, code, api->error(self));
}

void internal_error(ym_request *r, ym_plugin *self, const char *what)
{
    const char *why = api->error(self);
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %s", what, why && *why ? why : api->db_errmsg(self));
    api->log(self, YM_ERROR, msg);
    api->resp_error(r, 500, "internal", what);
}

/* ---- the elements ---- */

enum { E_STR, E_LIST, E_BOOL, E_DATE };
static const struct element {
    const char *name;
    int kind;
    size_t max;         /* characters (strings, list entries) */
} ELEMENTS[] = {
    {"copy_no", E_STR, 6},           {"secrecy", E_STR, 4},          {"secrecy_period", E_STR, 20},
    {"urgency", E_STR, 4},           {"issuer_organ", E_STR, 200},   {"org_code", E_STR, 30},
    {"title", E_STR, 200},           {"main_to", E_LIST, 100},       {"body", E_STR, 200000},
    {"attachment_notes", E_STR, 2000}, {"signature_organ", E_STR, 200}, {"doc_date", E_DATE, 10},
    {"seal", E_BOOL, 0},             {"notes", E_STR, 2000},         {"copy_to", E_LIST, 100},
    {"printer_organ", E_STR, 200},   {"print_date", E_DATE, 10},     {"doc_type", E_STR, 4},
    {NULL, 0, 0},
};

static int bad(char *field, size_t flen, char *msg, size_t mlen, const char *f, const char *m)
{
    snprintf(field, flen, "%s", f);
    snprintf(msg, mlen, "%s", m);
    return -1;
}

static int present(json_t *el, const char *key)
{
    json_t *v = json_object_get(el, key);
    return v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 0) &&
           (!json_is_array(v) || json_array_size(v) > 0);
}

int elements_check(json_t *el, char *field, size_t flen, char *msg, size_t mlen)
{
    const char *key;
    json_t *v;
    char m[200];
    json_object_foreach(el, key, v) {
        const struct element *e = ELEMENTS;
        while (e->name && strcmp(e->name, key) != 0)
            e++;
        if (!e->name)
            return bad(field, flen, msg, mlen, key, "unknown field");
        if (json_is_null(v))
            continue;
        if (e->kind == E_BOOL && !json_is_boolean(v))
            return bad(field, flen, msg, mlen, key, "must be true or false");
        if (e->kind == E_STR || e->kind == E_DATE) {
            const char *s = json_string_value(v);
            int multi = strcmp(key, "body") == 0 || strcmp(key, "attachment_notes") == 0 || strcmp(key, "notes") == 0;
            if (!s || ym_utf8_len(s) > e->max || (!multi && !one_line(s))) {
                snprintf(m, sizeof m, "must be a string of at most %zu characters%s", e->max, multi ? "" : " on one line");
                return bad(field, flen, msg, mlen, key, m);
            }
            if (e->kind == E_DATE && *s && (strlen(s) != 10 || api->date_is_working_day(s) < 0))
                return bad(field, flen, msg, mlen, key, "must be a date YYYY-MM-DD");
        }
        if (e->kind == E_LIST) {
            size_t i;
            json_t *x;
            if (!json_is_array(v) || json_array_size(v) > 500)
                return bad(field, flen, msg, mlen, key, "must be a list of at most 500 organ names");
            json_array_foreach(v, i, x) {
                const char *s = json_string_value(x);
                if (!s || !*s || ym_utf8_len(s) > e->max || !one_line(s))
                    return bad(field, flen, msg, mlen, key, "each entry must be an organ name of 1 to 100 characters");
            }
        }
    }
    /* the closed lists */
    const char *type = json_string_value(json_object_get(el, "doc_type"));
    if (!present(el, "doc_type"))
        return bad(field, flen, msg, mlen, "doc_type", "文种 (doc_type) is required");
    if (in_list(type, TYPES) < 0)
        return bad(field, flen, msg, mlen, "doc_type",
                   "文种 must be one of 决议 决定 命令 公报 公告 通告 意见 通知 通报 报告 请示 批复 议案 函 纪要");
    const char *sec = present(el, "secrecy") ? json_string_value(json_object_get(el, "secrecy")) : "非密";
    int rank = secrecy_rank(sec);
    if (rank < 0)
        return bad(field, flen, msg, mlen, "secrecy", "密级 must be 非密, 秘密, 机密 or 绝密");
    if (rank > max_secrecy_rank) {
        snprintf(m, sizeof m, "this network may carry documents up to %s only: a %s document must not be entered here",
                 max_secrecy_name, sec);
        return bad(field, flen, msg, mlen, "secrecy", m);
    }
    const char *urg = json_string_value(json_object_get(el, "urgency"));
    if (urg && *urg && strcmp(urg, "特急") != 0 && strcmp(urg, "加急") != 0)
        return bad(field, flen, msg, mlen, "urgency", "紧急程度 must be 特急, 加急 or empty");
    const char *copy = json_string_value(json_object_get(el, "copy_no"));
    if (copy && *copy) {
        if (strlen(copy) != 6 || strspn(copy, "0123456789") != 6)
            return bad(field, flen, msg, mlen, "copy_no", "份号 must be 6 digits");
    }
    /* required per type */
    static const char *const ALWAYS[] = {"title", "issuer_organ", "org_code", "body", "doc_date", NULL};
    static const char *const LABEL[] = {"标题", "发文机关", "机关代字", "正文", "成文日期", NULL};
    for (int i = 0; ALWAYS[i]; i++)
        if (!present(el, ALWAYS[i])) {
            snprintf(m, sizeof m, "%s (%s) is required", LABEL[i], ALWAYS[i]);
            return bad(field, flen, msg, mlen, ALWAYS[i], m);
        }
    if (in_list(type, NO_MAIN_TO) < 0 && !present(el, "main_to")) {
        snprintf(m, sizeof m, "主送机关 (main_to) is required for a %s", type);
        return bad(field, flen, msg, mlen, "main_to", m);
    }
    if (strcmp(type, "请示") == 0 && json_array_size(json_object_get(el, "main_to")) != 1)
        return bad(field, flen, msg, mlen, "main_to", "a 请示 has exactly one 主送机关 (一文一事, 不多头请示)");
    if (in_list(type, NO_SIGNATURE) < 0 && !present(el, "signature_organ")) {
        snprintf(m, sizeof m, "发文机关署名 (signature_organ) is required for a %s", type);
        return bad(field, flen, msg, mlen, "signature_organ", m);
    }
    if (rank > 0) {
        if (!present(el, "secrecy_period"))
            return bad(field, flen, msg, mlen, "secrecy_period", "a classified document needs its 保密期限 (secrecy_period)");
        if (!present(el, "copy_no"))
            return bad(field, flen, msg, mlen, "copy_no", "a classified document needs its 份号 (copy_no)");
    }
    return 0;
}

/* ---- storage helpers ---- */

int flow_add(ym_plugin *self, int64_t docid, int64_t incoming, int64_t user, int64_t unit, const char *action,
             const char *comment)
{
    ym_stmt *st = api->db_prepare(self, "INSERT INTO documents_flow (doc_id, incoming_id, user_id, unit_id, action, "
                                        "comment, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, docid);
    if (incoming)
        api->db_bind_int(st, 2, incoming);
    else
        api->db_bind_null(st, 2);
    api->db_bind_int(st, 3, user);
    api->db_bind_int(st, 4, unit);
    api->db_bind_text(st, 5, action);
    if (comment)
        api->db_bind_text(st, 6, comment);
    else
        api->db_bind_null(st, 6);
    api->db_bind_int(st, 7, api->now());
    int rc = api->db_step(st) == YM_DONE ? 0 : -1;
    api->db_reset(st);
    return rc;
}

int64_t counter_next(ym_plugin *self, const char *key, int year)
{
    /* one statement: atomic however many workers sign off at once */
    ym_stmt *st = api->db_prepare(self, "INSERT INTO documents_counters (key, year, last) VALUES (?1, ?2, 1) "
                                        "ON CONFLICT (key, year) DO UPDATE SET last = last + 1 RETURNING last");
    if (!st)
        return -1;
    api->db_bind_text(st, 1, key);
    api->db_bind_int(st, 2, year);
    int64_t v = api->db_step(st) == YM_ROW ? api->db_column_int(st, 0) : -1;
    while (v > 0 && api->db_step(st) == YM_ROW)
        ;
    api->db_reset(st);
    return v;
}

char *user_name(ym_plugin *self, int64_t uid)
{
    ym_stmt *st = api->db_prepare(self, "SELECT display_name FROM core_v_users WHERE id = ?1");
    char *s = NULL;
    if (st) {
        api->db_bind_int(st, 1, uid);
        if (api->db_step(st) == YM_ROW && api->db_column_text(st, 0))
            s = strdup(api->db_column_text(st, 0));
        api->db_reset(st);
    }
    return s ? s : strdup("");
}

int unit_exists(ym_plugin *self, int64_t unit)
{
    ym_stmt *st = api->db_prepare(self, "SELECT 1 FROM core_v_units WHERE id = ?1 AND active = 1");
    if (!st)
        return 0;
    api->db_bind_int(st, 1, unit);
    int ok = api->db_step(st) == YM_ROW;
    api->db_reset(st);
    return ok;
}

json_t *unit_ref(ym_plugin *self, int64_t unit)
{
    if (unit <= 0)
        return json_null();
    ym_stmt *st = api->db_prepare(self, "SELECT name FROM core_v_units WHERE id = ?1");
    json_t *j = NULL;
    if (st) {
        api->db_bind_int(st, 1, unit);
        if (api->db_step(st) == YM_ROW)
            j = json_pack("{s:I,s:s}", "id", (json_int_t)unit, "name", api->db_column_text(st, 0));
        api->db_reset(st);
    }
    return j ? j : json_pack("{s:I,s:n}", "id", (json_int_t)unit, "name");
}

#define DOC_COLS "id, unit_id, state, version, year, serial, signer_id, dispatch_id, created_by, org_code, title"

int doc_load(ym_plugin *self, int64_t id, doc *d)
{
    ym_stmt *st = api->db_prepare(self, "SELECT " DOC_COLS " FROM documents_docs WHERE id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int found = api->db_step(st) == YM_ROW;
    if (found) {
        memset(d, 0, sizeof *d);
        d->id = api->db_column_int(st, 0);
        d->unit_id = api->db_column_int(st, 1);
        snprintf(d->state, sizeof d->state, "%s", api->db_column_text(st, 2));
        d->version = api->db_column_int(st, 3);
        d->year = api->db_column_int(st, 4);
        d->serial = api->db_column_int(st, 5);
        d->signer_id = api->db_column_int(st, 6);
        d->dispatch_id = api->db_column_int(st, 7);
        d->created_by = api->db_column_int(st, 8);
        snprintf(d->org_code, sizeof d->org_code, "%s", api->db_column_text(st, 9));
        snprintf(d->title, sizeof d->title, "%s", api->db_column_text(st, 10));
    }
    api->db_reset(st);
    return found;
}

json_t *body_text(ym_request *r, const char *const *keys, const char *key, size_t max_chars, int required,
                  const char **out)
{
    json_t *b = body_object(r, keys);
    if (b && key && opt_text(r, b, key, max_chars, required, out) < 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

void conflict(ym_request *r, const char *noun, const char *state, const char *wanted)
{
    char msg[200];
    if (strcmp(state, "archived") == 0)
        snprintf(msg, sizeof msg, "the %s is archived and sealed: it cannot change any more", noun);
    else
        snprintf(msg, sizeof msg, "the %s is %s; this needs it %s", noun, state, wanted);
    api->resp_error(r, 409, "conflict", msg);
}

int state_is(ym_request *r, json_t *body, const char *noun, const char *state, const char *one, const char *other,
             const char *wanted)
{
    if (strcmp(state, one) == 0 || (other && strcmp(state, other) == 0))
        return 1;
    json_decref(body);
    conflict(r, noun, state, wanted);
    return 0;
}

void step_end(ym_request *r, ym_plugin *self, int ok, json_t *body, answer_fn *answer, int64_t id, const char *fail)
{
    api->db_write_end(self, ok);
    json_decref(body);
    if (ok)
        answer(r, self, id, 200);
    else
        internal_error(r, self, fail);
}

int doc_visible(ym_request *r, ym_plugin *self, const char *perm, doc *d)
{
    int64_t id = id_param(r, "id");
    if (!id || doc_load(self, id, d) != 1 || api->req_may(r, perm, d->unit_id) != 1) {
        api->resp_error(r, 404, "not_found", "no such document");
        return 0;
    }
    return 1;
}

static json_t *text_or_null(ym_stmt *st, int col)
{
    const char *s = api->db_column_type(st, col) == YM_NULL ? NULL : api->db_column_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *int_or_null(ym_stmt *st, int col)
{
    return api->db_column_type(st, col) == YM_NULL ? json_null() : json_integer(api->db_column_int(st, col));
}

json_t *doc_json(ym_plugin *self, int64_t id, int full)
{
    ym_stmt *st = api->db_prepare(self, "SELECT id, unit_id, state, version, year, serial, number, signer, signer_id, "
                                        "dispatch_id, created_by, created_at, updated_at, archived_at, elements "
                                        "FROM documents_docs WHERE id = ?1");
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, id);
    json_t *j = NULL;
    if (api->db_step(st) == YM_ROW) {
        int64_t unit = api->db_column_int(st, 1);
        json_t *el = json_loads(api->db_column_text(st, 14), 0, NULL);
        j = json_pack("{s:I,s:I,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o}", "id",
                      (json_int_t)api->db_column_int(st, 0), "unit_id", (json_int_t)unit, "state",
                      api->db_column_text(st, 2), "version", (json_int_t)api->db_column_int(st, 3), "year",
                      int_or_null(st, 4), "serial", int_or_null(st, 5), "number", text_or_null(st, 6), "signer",
                      text_or_null(st, 7), "signer_id", int_or_null(st, 8), "dispatch_id", int_or_null(st, 9),
                      "created_by", (json_int_t)api->db_column_int(st, 10), "created_at",
                      time_json(api->db_column_int(st, 11)), "updated_at", time_json(api->db_column_int(st, 12)),
                      "archived_at", time_json(api->db_column_type(st, 13) == YM_NULL ? 0 : api->db_column_int(st, 13)),
                      "elements", el ? el : json_object());
    }
    api->db_reset(st);
    if (!j || !full)
        return j;
    json_object_set_new(j, "unit", unit_ref(self, json_integer_value(json_object_get(j, "unit_id"))));
    json_t *cs = json_array();
    st = api->db_prepare(self, "SELECT unit_id, state, user_id, comment, at FROM documents_countersigns "
                               "WHERE doc_id = ?1 ORDER BY unit_id");
    if (st) {
        api->db_bind_int(st, 1, id);
        while (api->db_step(st) == YM_ROW)
            json_array_append_new(cs, json_pack("{s:I,s:s,s:o,s:o,s:o}", "unit_id",
                                                (json_int_t)api->db_column_int(st, 0), "state",
                                                api->db_column_text(st, 1), "user_id", int_or_null(st, 2), "comment",
                                                text_or_null(st, 3), "at",
                                                time_json(api->db_column_type(st, 4) == YM_NULL ? 0
                                                                                                : api->db_column_int(st, 4))));
        api->db_reset(st);
    }
    json_object_set_new(j, "countersigns", cs);
    json_t *rc = json_array();
    st = api->db_prepare(self, "SELECT unit_id, kind FROM documents_recipients WHERE doc_id = ?1 ORDER BY kind DESC, unit_id");
    if (st) {
        api->db_bind_int(st, 1, id);
        while (api->db_step(st) == YM_ROW)
            json_array_append_new(rc, json_pack("{s:I,s:s}", "unit_id", (json_int_t)api->db_column_int(st, 0), "kind",
                                                api->db_column_text(st, 1)));
        api->db_reset(st);
    }
    json_object_set_new(j, "recipients", rc);
    return j;
}

char *doc_text(ym_plugin *self, int64_t id)
{
    json_t *j = doc_json(self, id, 1);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

void answer_doc(ym_request *r, ym_plugin *self, int64_t id, int status)
{
    char *s = doc_text(self, id);
    if (s)
        api->resp_json(r, status, s);
    else
        internal_error(r, self, "cannot read the document");
    free(s);
}

/* The search entry of an outgoing document: title, number, body; for readers of its unit. */
int search_doc(ym_plugin *self, int64_t id)
{
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id, title, number, json_extract(elements, '$.body') "
                                        "FROM documents_docs WHERE id = ?1");
    if (!st)
        return -1;
    api->db_bind_int(st, 1, id);
    int rc = -1;
    if (api->db_step(st) == YM_ROW) {
        int64_t unit = api->db_column_int(st, 0);
        char *title = strdup(api->db_column_text(st, 1));
        const char *num = api->db_column_type(st, 2) == YM_NULL ? "" : api->db_column_text(st, 2);
        const char *body = api->db_column_type(st, 3) == YM_NULL ? "" : api->db_column_text(st, 3);
        size_t n = strlen(num) + strlen(body) + 4;
        char *text = malloc(n), ref[40];
        snprintf(text, n, "%s\n%s", num, body);
        snprintf(ref, sizeof ref, "doc:%lld", (long long)id);
        api->db_reset(st);
        rc = api->search_put(self, "documents", ref, title, text, unit, "documents.read");
        free(title);
        free(text);
        return rc;
    }
    api->db_reset(st);
    return rc;
}

/* The search entry of a draft from its elements as just stored (a draft has no number
 * yet): the same entry as search_doc without reading the row back. */
int search_draft(ym_plugin *self, int64_t id, int64_t unit, json_t *el)
{
    const char *title = json_string_value(json_object_get(el, "title"));
    const char *body = json_string_value(json_object_get(el, "body"));
    size_t n = (body ? strlen(body) : 0) + 2;
    char *text = malloc(n), ref[40];
    if (!text)
        return -1;
    snprintf(text, n, "\n%s", body ? body : "");
    snprintf(ref, sizeof ref, "doc:%lld", (long long)id);
    int rc = api->search_put(self, "documents", ref, title ? title : "", text, unit, "documents.read");
    free(text);
    return rc;
}

/* ---- settings and init ---- */

static int check_settings(ym_plugin *self)
{
    static const char *const KEYS[] = {"max_secrecy", "reviewer_role", "countersign_role", "leader_role", "clerk_role",
                                       "retention", NULL};
    for (size_t i = 0; api->setting_key(self, i); i++) {
        const char *k = api->setting_key(self, i);
        if (in_list(k, KEYS) < 0) {
            char why[96];
            snprintf(why, sizeof why, "documents.%s: unknown setting", k);
            api->fail(self, why);
            return -1;
        }
        if (!api->setting_string(self, k, NULL)) {
            char why[96];
            snprintf(why, sizeof why, "documents.%s: must be a string", k);
            api->fail(self, why);
            return -1;
        }
    }
    max_secrecy_name = api->setting_string(self, "max_secrecy", "非密");
    max_secrecy_rank = secrecy_rank(max_secrecy_name);
    if (max_secrecy_rank < 0) {
        api->fail(self, "documents.max_secrecy: must be 非密, 秘密, 机密 or 绝密");
        return -1;
    }
    role_reviewer = api->setting_string(self, "reviewer_role", "doc_reviewer");
    role_countersign = api->setting_string(self, "countersign_role", "doc_countersign");
    role_leader = api->setting_string(self, "leader_role", "leader");
    role_clerk = api->setting_string(self, "clerk_role", "clerk");
    return 0;
}

static const struct {
    const char *name, *zh, *en;
} PERMS[] = {
    {"documents.read", "查阅公文", "read documents of a unit"},
    {"documents.draft", "拟稿", "draft outgoing documents"},
    {"documents.review", "核稿", "review drafts"},
    {"documents.countersign", "会签", "countersign for one's unit"},
    {"documents.signoff", "签发", "sign off documents (leaders); void numbers"},
    {"documents.send", "封发", "dispatch signed documents and archive them"},
    {"documents.receive", "收文登记", "sign for, register, propose, assign and archive incoming documents"},
    {"documents.instruct", "领导批示", "give instructions on incoming documents"},
    {"documents.handle", "承办", "handle incoming documents for one's department"},
    {"documents.manage", "公文督办", "the supervising side of tracked items made of instructions"},
    {NULL, NULL, NULL},
};

static int init(ym_plugin *self, const ym_api *a)
{
    api = a;
    if (api->abi_minor < 2) {
        api->fail(self, "documents needs a host of ABI 1.2 or newer (the dispatch and tracked-item engines)");
        return -1;
    }
    if (check_settings(self) < 0)
        return -1;
    for (int i = 0; PERMS[i].name; i++)
        if (api->permission(self, PERMS[i].name, PERMS[i].zh, PERMS[i].en) < 0)
            return -1;
    if (read_routes(self) < 0 || out_routes(self) < 0 || in_routes(self) < 0)
        return -1;
    return 0;
}

const ym_plugin_def yimen_plugin = {
    .abi_major = YM_ABI_MAJOR, .abi_minor = 2, .size = sizeof(ym_plugin_def),
    .name = "documents", .version = "0.1.0", .core_min = "0.1", .requires = NULL,
    .init = init, .start = NULL, .stop = NULL,
};
