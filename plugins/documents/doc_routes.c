/* documents: reading — one document, its flow log (流转), its versions, and the lists
 * (keyset-paginated boxes: my drafts, awaiting my review / countersign / sign-off,
 * to dispatch, to receive, incoming to handle, circulating to me, archived). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "documents.h"

/* May the caller read this outgoing document: any documents permission of its unit, or
 * countersign for a unit it was sent to for countersigning. */
static int doc_may_see(ym_request *r, ym_plugin *self, const doc *d)
{
    static const char *const perms[] = {"documents.read", "documents.draft", "documents.review", "documents.signoff",
                                        "documents.send", NULL};
    for (int i = 0; perms[i]; i++)
        if (api->req_may(r, perms[i], d->unit_id) == 1)
            return 1;
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id FROM documents_countersigns WHERE doc_id = ?1");
    int ok = 0;
    if (st) {
        api->db_bind_int(st, 1, d->id);
        while (!ok && api->db_step(st) == YM_ROW)
            ok = api->req_may(r, "documents.countersign", api->db_column_int(st, 0)) == 1;
        api->db_reset(st);
    }
    return ok;
}

static int seen_doc(ym_request *r, ym_plugin *self, doc *d)
{
    int64_t id = id_param(r, "id");
    if (!id || doc_load(self, id, d) != 1 || !doc_may_see(r, self, d)) {
        api->resp_error(r, 404, "not_found", "no such document");
        return 0;
    }
    return 1;
}

static void answer(ym_request *r, ym_plugin *self, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        api->resp_json(r, 200, s);
    else
        internal_error(r, self, "cannot read");
    free(s);
}

/* GET /api/documents/:id */
static void get_doc(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (seen_doc(r, self, &d))
        answer_doc(r, self, d.id, 200);
}

json_t *flow_json(ym_plugin *self, int64_t docid, int64_t incoming)
{
    ym_stmt *st = api->db_prepare(self, "SELECT f.id, f.action, f.user_id, u.display_name, f.unit_id, n.name, f.comment, "
                                        "f.at, f.incoming_id FROM documents_flow f "
                                        "LEFT JOIN core_v_users u ON u.id = f.user_id "
                                        "LEFT JOIN core_v_units n ON n.id = f.unit_id "
                                        "WHERE f.doc_id = ?1 AND coalesce(f.incoming_id, 0) = ?2 ORDER BY f.id");
    json_t *items = json_array();
    if (!st)
        return items;
    api->db_bind_int(st, 1, docid);
    api->db_bind_int(st, 2, incoming);
    while (api->db_step(st) == YM_ROW) {
        json_t *row = json_pack("{s:I,s:s,s:{s:I,s:s?},s:{s:I,s:s?},s:o,s:o}", "id", (json_int_t)api->db_column_int(st, 0),
                                "action", api->db_column_text(st, 1), "user", "id", (json_int_t)api->db_column_int(st, 2),
                                "name", api->db_column_text(st, 3), "unit", "id", (json_int_t)api->db_column_int(st, 4),
                                "name", api->db_column_text(st, 5), "comment",
                                api->db_column_type(st, 6) == YM_NULL ? json_null() : json_string(api->db_column_text(st, 6)),
                                "at", time_json(api->db_column_int(st, 7)));
        if (row)
            json_array_append_new(items, row);
    }
    api->db_reset(st);
    return items;
}

/* GET /api/documents/:id/flow: the outgoing timeline. */
static void get_flow(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (seen_doc(r, self, &d))
        answer(r, self, json_pack("{s:o}", "items", flow_json(self, d.id, 0)));
}

/* GET /api/documents/:id/versions */
static void list_versions(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!seen_doc(r, self, &d))
        return;
    ym_stmt *st = api->db_prepare(self, "SELECT version, saved_by, saved_at FROM documents_versions WHERE doc_id = ?1 "
                                        "ORDER BY version");
    if (!st) {
        internal_error(r, self, "cannot read the versions");
        return;
    }
    json_t *items = json_array();
    api->db_bind_int(st, 1, d.id);
    while (api->db_step(st) == YM_ROW)
        json_array_append_new(items, json_pack("{s:I,s:I,s:o}", "version", (json_int_t)api->db_column_int(st, 0),
                                               "saved_by", (json_int_t)api->db_column_int(st, 1), "saved_at",
                                               time_json(api->db_column_int(st, 2))));
    api->db_reset(st);
    answer(r, self, json_pack("{s:o}", "items", items));
}

static json_t *version_elements(ym_plugin *self, int64_t docid, int64_t v, int64_t *by, int64_t *at)
{
    ym_stmt *st = api->db_prepare(self, "SELECT elements, saved_by, saved_at FROM documents_versions "
                                        "WHERE doc_id = ?1 AND version = ?2");
    json_t *el = NULL;
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, docid);
    api->db_bind_int(st, 2, v);
    if (api->db_step(st) == YM_ROW) {
        el = json_loads(api->db_column_text(st, 0), 0, NULL);
        *by = api->db_column_int(st, 1);
        *at = api->db_column_int(st, 2);
    }
    api->db_reset(st);
    return el;
}

/* GET /api/documents/:id/versions/:v */
static void get_version(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!seen_doc(r, self, &d))
        return;
    int64_t v = id_param(r, "v"), by = 0, at = 0;
    json_t *el = v ? version_elements(self, d.id, v, &by, &at) : NULL;
    if (!el) {
        api->resp_error(r, 404, "not_found", "no such version");
        return;
    }
    answer(r, self, json_pack("{s:I,s:I,s:o,s:I,s:o}", "document", (json_int_t)d.id, "version", (json_int_t)v,
                              "elements", el, "saved_by", (json_int_t)by, "saved_at", time_json(at)));
}

/* ---- the lists ---- */

#define FILTERS                                                                                                        \
    " AND (?3 IS NULL OR d.doc_type = ?3) AND (?4 IS NULL OR d.urgency = ?4) AND (?5 IS NULL OR d.secrecy = ?5)"       \
    " AND (?6 IS NULL OR d.doc_date >= ?6) AND (?7 IS NULL OR d.doc_date <= ?7)"

/* Each box: rows of (key, document id, incoming id or 0, unit to check perm on). */
static const struct box {
    const char *name, *perm, *perm2, *sql;
} BOXES[] = {
    {"drafts", NULL, NULL,
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.created_by = ?1 AND d.state = 'draft' AND d.id < ?2"
     FILTERS " ORDER BY d.id DESC"},
    {"review", "documents.review", NULL,
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'reviewing' AND d.id < ?2" FILTERS
     " ORDER BY d.id DESC"},
    {"countersign", "documents.countersign", NULL,
     "SELECT c.rowid, d.id, 0, c.unit_id FROM documents_countersigns c JOIN documents_docs d ON d.id = c.doc_id "
     "WHERE c.state = 'pending' AND d.state = 'countersigning' AND c.rowid < ?2" FILTERS " ORDER BY c.rowid DESC"},
    {"signoff", "documents.signoff", NULL,
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'signing' AND d.id < ?2" FILTERS
     " ORDER BY d.id DESC"},
    {"dispatch", "documents.send", NULL,
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'signed' AND d.id < ?2" FILTERS
     " ORDER BY d.id DESC"},
    {"sent", "documents.read", "documents.send",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'dispatched' AND d.id < ?2" FILTERS
     " ORDER BY d.id DESC"},
    {"archived", "documents.read", "documents.send",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'archived' AND d.id < ?2" FILTERS
     " ORDER BY d.id DESC"},
    {"to_receive", "documents.receive", NULL,
     "SELECT p.rowid, d.id, 0, p.unit_id FROM documents_recipients p JOIN documents_docs d ON d.id = p.doc_id "
     "WHERE p.rowid < ?2 AND NOT EXISTS (SELECT 1 FROM documents_incoming i WHERE i.doc_id = p.doc_id "
     "AND i.unit_id = p.unit_id)" FILTERS " ORDER BY p.rowid DESC"},
    {"incoming", "documents.receive", "documents.instruct",
     "SELECT i.id, d.id, i.id, i.unit_id FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
     "WHERE i.state IN ('registered', 'proposed', 'instructed', 'completed') AND i.id < ?2" FILTERS " ORDER BY i.id DESC"},
    {"handle", "documents.handle", NULL,
     "SELECT i.id, d.id, i.id, i.handler_unit FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
     "WHERE i.state = 'handling' AND i.id < ?2" FILTERS " ORDER BY i.id DESC"},
    {"circulating", NULL, NULL,
     "SELECT c.id, d.id, i.id, i.unit_id FROM documents_circulation c JOIN documents_incoming i ON i.id = c.incoming_id "
     "JOIN documents_docs d ON d.id = i.doc_id WHERE c.user_id = ?1 AND c.state = 'pending' AND c.id < ?2" FILTERS
     " ORDER BY c.id DESC"},
    {"archived_incoming", "documents.read", "documents.receive",
     "SELECT i.id, d.id, i.id, i.unit_id FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
     "WHERE i.state = 'archived' AND i.id < ?2" FILTERS " ORDER BY i.id DESC"},
    {NULL, NULL, NULL, NULL},
};

#define SCAN_MAX 5000   /* rows examined per page at most; then next says where to go on */

static void bind_opt(ym_stmt *st, int idx, const char *s)
{
    if (s)
        api->db_bind_text(st, idx, s);
    else
        api->db_bind_null(st, idx);
}

/* A summary for a list: the document without its body (and the incoming state). */
static json_t *list_item(ym_plugin *self, int64_t docid, int64_t incoming, int64_t unit)
{
    json_t *j = doc_json(self, docid, 0);
    if (!j)
        return NULL;
    json_object_del(json_object_get(j, "elements"), "body");
    if (incoming) {
        ym_stmt *st = api->db_prepare(self, "SELECT state, year, serial, deadline FROM documents_incoming WHERE id = ?1");
        if (st) {
            api->db_bind_int(st, 1, incoming);
            if (api->db_step(st) == YM_ROW)
                json_object_set_new(j, "incoming",
                                    json_pack("{s:I,s:s,s:I,s:I,s:I,s:o}", "id", (json_int_t)incoming, "state",
                                              api->db_column_text(st, 0), "year", (json_int_t)api->db_column_int(st, 1),
                                              "serial", (json_int_t)api->db_column_int(st, 2), "unit_id", (json_int_t)unit,
                                              "deadline", api->db_column_type(st, 3) == YM_NULL
                                                              ? json_null() : json_string(api->db_column_text(st, 3))));
            api->db_reset(st);
        }
    }
    return j;
}

static int query_int(ym_request *r, const char *name, long long def, long long lo, long long hi, long long *out)
{
    const char *s = api->req_query(r, name);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return *s && !*end && v >= lo && v <= hi ? 0 : -1;
}

/* GET /api/documents?box=&type=&urgency=&secrecy=&from=&to=&limit=&after= */
static void list_docs(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    const char *boxname = api->req_query(r, "box");
    const struct box *b = BOXES;
    while (b->name && (!boxname || strcmp(b->name, boxname) != 0))
        b++;
    if (!b->name) {
        api->resp_invalid(r, "box", "box must be drafts, review, countersign, signoff, dispatch, sent, archived, "
                                    "to_receive, incoming, handle, circulating or archived_incoming");
        return;
    }
    long long limit, after;
    if (query_int(r, "limit", 50, 1, 200, &limit) < 0) {
        api->resp_invalid(r, "limit", "limit must be a whole number from 1 to 200");
        return;
    }
    if (query_int(r, "after", INT64_MAX, 1, INT64_MAX, &after) < 0) {
        api->resp_invalid(r, "after", "after must be the next of the previous page");
        return;
    }
    const char *type = api->req_query(r, "type"), *urg = api->req_query(r, "urgency"),
               *sec = api->req_query(r, "secrecy"), *from = api->req_query(r, "from"), *to = api->req_query(r, "to");
    if (sec && secrecy_rank(sec) < 0) {
        api->resp_invalid(r, "secrecy", "secrecy must be 非密, 秘密, 机密 or 绝密");
        return;
    }
    if (urg && *urg && strcmp(urg, "特急") != 0 && strcmp(urg, "加急") != 0) {
        api->resp_invalid(r, "urgency", "urgency must be 特急, 加急 or empty");
        return;
    }
    if ((from && (strlen(from) != 10 || api->date_is_working_day(from) < 0)) ||
        (to && (strlen(to) != 10 || api->date_is_working_day(to) < 0))) {
        api->resp_invalid(r, from && (strlen(from) != 10 || api->date_is_working_day(from) < 0) ? "from" : "to",
                          "from and to are dates YYYY-MM-DD");
        return;
    }
    ym_stmt *st = api->db_prepare(self, b->sql);
    if (!st) {
        internal_error(r, self, "cannot read the list");
        return;
    }
    api->db_bind_int(st, 1, api->req_user_id(r));
    api->db_bind_int(st, 2, after);
    bind_opt(st, 3, type);
    bind_opt(st, 4, urg);
    bind_opt(st, 5, sec);
    bind_opt(st, 6, from);
    bind_opt(st, 7, to);
    /* collect keys first: building items prepares other statements */
    int64_t (*rows)[4] = calloc((size_t)limit, sizeof *rows);
    long long n = 0, scanned = 0;
    int64_t last = 0, next = 0;
    while (n < limit && api->db_step(st) == YM_ROW) {
        int64_t key = api->db_column_int(st, 0), unit = api->db_column_int(st, 3);
        last = key;
        if (++scanned > SCAN_MAX) {
            next = key + 1 > 0 ? key + 1 : 0;
            break;
        }
        if (b->perm && api->req_may(r, b->perm, unit) != 1 && !(b->perm2 && api->req_may(r, b->perm2, unit) == 1))
            continue;
        rows[n][0] = key;
        rows[n][1] = api->db_column_int(st, 1);
        rows[n][2] = api->db_column_int(st, 2);
        rows[n][3] = unit;
        n++;
    }
    api->db_reset(st);
    if (n == limit && n > 0)
        next = last;
    json_t *items = json_array();
    for (long long i = 0; i < n; i++) {
        json_t *it = list_item(self, rows[i][1], rows[i][2], rows[i][3]);
        if (it) {
            if (strcmp(b->name, "to_receive") == 0 || strcmp(b->name, "countersign") == 0)
                json_object_set_new(it, "for_unit", json_integer(rows[i][3]));
            json_array_append_new(items, it);
        }
    }
    free(rows);
    answer(r, self, json_pack("{s:o,s:o}", "items", items, "next", next ? json_integer(next) : json_null()));
}

int read_routes(ym_plugin *self)
{
    return api->route(self, "GET", "/api/documents", "user", list_docs, self) < 0 ||
                   api->route(self, "GET", "/api/documents/:id", "user", get_doc, self) < 0 ||
                   api->route(self, "GET", "/api/documents/:id/flow", "user", get_flow, self) < 0 ||
                   api->route(self, "GET", "/api/documents/:id/versions", "user", list_versions, self) < 0 ||
                   api->route(self, "GET", "/api/documents/:id/versions/:v", "user", get_version, self) < 0
               ? -1
               : 0;
}
