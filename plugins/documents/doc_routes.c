/* documents: reading — one document, its flow log (流转), its versions, and the lists
 * (keyset-paginated boxes: my drafts, awaiting my review / countersign / sign-off,
 * to dispatch, to receive, incoming to handle, circulating to me, archived). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "documents.h"

/* May the caller read this outgoing document: any documents permission of its unit, or
 * countersign for a unit it was sent to for countersigning. */
int doc_may_see(ym_request *r, ym_plugin *self, const doc *d)
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

int doc_seen(ym_request *r, ym_plugin *self, doc *d)
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
    if (doc_seen(r, self, &d))
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
    if (doc_seen(r, self, &d))
        answer(r, self, json_pack("{s:o}", "items", flow_json(self, d.id, 0)));
}

/* GET /api/documents/:id/versions */
static void list_versions(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!doc_seen(r, self, &d))
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
    if (!doc_seen(r, self, &d))
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

/* ---- the lists ----
 * Each box is a keyset query driven by an index of its own (schema/003_lists.sql), so a
 * page costs O(page) rows whatever the number of documents. The boxes that need a
 * permission on a unit first find the units where the caller has it (from the caller's
 * scope in one pass over the directory, never a check per row); then, for every unit,
 * one walk of the box's key index; for a few units, one query per unit merged here
 * (index on (unit, state) in key order); for many, one walk of the key index keeping the
 * rows of those units. The filters (type, urgency, secrecy, date) are checked on the
 * entries the index yields (covering indexes for the outgoing boxes). */

#define FILTERS                                                                                                        \
    " AND (?3 IS NULL OR d.doc_type = ?3) AND (?4 IS NULL OR d.urgency = ?4) AND (?5 IS NULL OR d.secrecy = ?5)"       \
    " AND (?6 IS NULL OR d.doc_date >= ?6) AND (?7 IS NULL OR d.doc_date <= ?7)"
#define ACTIVE_IN "('registered', 'proposed', 'instructed', 'completed')"

/* Each box: rows of (key, document id, incoming id or 0, unit); key and unit are the
 * columns of the keyset and of the unit the permission is checked on; no perm: the rows
 * are the caller's own (?1). set_sql: the query for many units when it differs (an index
 * the planner would not pick by itself). */
static const struct box {
    const char *name, *perm, *perm2, *key, *unit, *sql, *set_sql;
} BOXES[] = {
    {"drafts", NULL, NULL, "d.id", "d.unit_id",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.created_by = ?1 AND d.state = 'draft'", NULL},
    {"review", "documents.review", NULL, "d.id", "d.unit_id",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'reviewing'", NULL},
    {"countersign", "documents.countersign", NULL, "c.rowid", "c.unit_id",
     "SELECT c.rowid, d.id, 0, c.unit_id FROM documents_countersigns c JOIN documents_docs d ON d.id = c.doc_id "
     "WHERE c.state = 'pending' AND d.state = 'countersigning'", NULL},
    {"signoff", "documents.signoff", NULL, "d.id", "d.unit_id",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'signing'", NULL},
    {"dispatch", "documents.send", NULL, "d.id", "d.unit_id",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'signed'", NULL},
    {"sent", "documents.read", "documents.send", "d.id", "d.unit_id",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'dispatched'", NULL},
    {"archived", "documents.read", "documents.send", "d.id", "d.unit_id",
     "SELECT d.id, d.id, 0, d.unit_id FROM documents_docs d WHERE d.state = 'archived'", NULL},
    {"to_receive", "documents.receive", NULL, "p.rowid", "p.unit_id",
     "SELECT p.rowid, d.id, 0, p.unit_id FROM documents_recipients p JOIN documents_docs d ON d.id = p.doc_id "
     "WHERE p.received = 0", NULL},
    {"incoming", "documents.receive", "documents.instruct", "i.id", "i.unit_id",
     "SELECT i.id, d.id, i.id, i.unit_id FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
     "WHERE i.state IN " ACTIVE_IN,
     "SELECT i.id, d.id, i.id, i.unit_id FROM documents_incoming i INDEXED BY documents_incoming_active "
     "JOIN documents_docs d ON d.id = i.doc_id WHERE i.state IN " ACTIVE_IN},
    {"handle", "documents.handle", NULL, "i.id", "i.handler_unit",
     "SELECT i.id, d.id, i.id, i.handler_unit FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
     "WHERE i.state = 'handling'", NULL},
    {"circulating", NULL, NULL, "c.id", "i.unit_id",
     "SELECT c.id, d.id, i.id, i.unit_id FROM documents_circulation c JOIN documents_incoming i ON i.id = c.incoming_id "
     "JOIN documents_docs d ON d.id = i.doc_id WHERE c.user_id = ?1 AND c.state = 'pending'", NULL},
    {"archived_incoming", "documents.read", "documents.receive", "i.id", "i.unit_id",
     "SELECT i.id, d.id, i.id, i.unit_id FROM documents_incoming i JOIN documents_docs d ON d.id = i.doc_id "
     "WHERE i.state = 'archived'", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* Up to this many units: one query per unit, merged; more: one walk of the key index. */
#define PER_UNIT_MAX 48

enum { BY_NONE, BY_UNIT, BY_SET };

/* The box's query: its rows below ?2 with the filters, restricted to one unit (?8), to a
 * set of units (?8, ",3,17,") or (mine) to ?8 when not 0; ?9 rows at most. dated (one
 * unit of an outgoing box, from and to given): the rows come from the unit's date index,
 * the range [?6, ?7] read whole and sorted, instead of a walk of the key index down to it. */
static ym_stmt *box_stmt(ym_plugin *self, const struct box *b, int by, int dated)
{
    static const char DOCS_FROM[] = " FROM documents_docs d WHERE ";
    char sql[1400], base[600];
    const char *src = by != BY_UNIT && b->set_sql ? b->set_sql : b->sql, *at = strstr(src, DOCS_FROM);
    if (dated && by == BY_UNIT && at && strcmp(b->key, "d.id") == 0) {
        snprintf(base, sizeof base, "%.*s FROM documents_docs d INDEXED BY documents_docs_unit_date WHERE "
                 "d.doc_date BETWEEN ?6 AND ?7 AND %s", (int)(at - src), src, at + sizeof DOCS_FROM - 1);
        src = base;
    }
    /* the set is ",3,17,…,": a filter on the walk of the key index, not a way in */
    snprintf(sql, sizeof sql, "%s AND %s < ?2" FILTERS " AND %s%s%s ORDER BY %s DESC LIMIT ?9", src, b->key,
             by == BY_SET ? "instr(?8, ',' || " : by == BY_NONE ? "(?8 = 0 OR " : "", b->unit,
             by == BY_SET ? " || ',') > 0" : by == BY_NONE ? " = ?8)" : " = ?8", b->key);
    return api->db_prepare(self, sql);
}

/* Days since 1970-01-01 of a checked date YYYY-MM-DD. */
static long day_number(const char *s)
{
    long y = strtol(s, NULL, 10), m = strtol(s + 5, NULL, 10), d = strtol(s + 8, NULL, 10);
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* Is a date range better read from the date index than by walking the key index from the
 * newest row? The walk passes every row newer than to (about today - to days of rows);
 * the date index reads the range (to - from days) and sorts it. */
static int range_dated(const char *from, const char *to)
{
    if (!from || !to)
        return 0;
    char now[11];
    today(now);
    long f = day_number(from), t = day_number(to), n = day_number(now);
    return t >= f && t - f < n - t;
}

/* Does a scope ([{"p": path, "d": 0|1}], from req_scope) reach path? */
static int scope_covers(json_t *scope, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(scope, i, e) {
        const char *p = json_string_value(json_object_get(e, "p"));
        if (p && (json_integer_value(json_object_get(e, "d")) ? strncmp(path, p, strlen(p)) == 0 : strcmp(path, p) == 0))
            return 1;
    }
    return 0;
}

static json_t *scope_of(ym_request *r, const char *perm)
{
    if (!perm)
        return json_array();
    char *text = api->req_scope(r, perm);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    api->free(text);
    return j;
}

/* The units where the caller may see the box's rows (perm, or perm2): a malloc'ed array
 * and its count (only: that unit or none), -1 on error. One pass over the directory with
 * the caller's scope (req_scope); on a host without it, req_may unit by unit. */
static long box_units(ym_request *r, ym_plugin *self, const struct box *b, int64_t only, int64_t **out,
                      long *total)
{
    *out = NULL;
    *total = 0;
    if (api->req_may(r, b->perm, 0) != 1 && !(b->perm2 && api->req_may(r, b->perm2, 0) == 1))
        return 0;                       /* nowhere: no need to look unit by unit */
    json_t *s1 = NULL, *s2 = NULL;
    int scoped = api->abi_minor >= 5 && api->size > offsetof(ym_api, req_scope);
    if (scoped && (!(s1 = scope_of(r, b->perm)) || !(s2 = scope_of(r, b->perm2)))) {
        json_decref(s1);
        return -1;
    }
    size_t cap = 64, n = 0;
    int64_t *ids = malloc(cap * sizeof *ids);
    ym_stmt *st = ids ? api->db_prepare(self, only ? "SELECT id, path FROM core_v_units WHERE id = ?1"
                                                   : "SELECT id, path FROM core_v_units") : NULL;
    if (st && only)
        api->db_bind_int(st, 1, only);
    int rc = st ? 0 : -1;
    long skipped = 0;
    while (rc == 0 && api->db_step(st) == YM_ROW) {
        int64_t id = api->db_column_int(st, 0);
        const char *path = api->db_column_text(st, 1);
        if (scoped && !scope_covers(s1, path ? path : "") && !scope_covers(s2, path ? path : "")) {
            skipped++;
            continue;
        }
        if (n == cap) {
            int64_t *more = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!more) {
                rc = -1;
                break;
            }
            ids = more;
        }
        ids[n++] = id;
    }
    *total = (long)n + skipped;
    if (st)
        api->db_reset(st);
    json_decref(s1);
    json_decref(s2);
    if (rc < 0) {
        free(ids);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)      /* the scope said so already, or ask */
        if (scoped || api->req_may(r, b->perm, ids[i]) == 1 || (b->perm2 && api->req_may(r, b->perm2, ids[i]) == 1))
            ids[k++] = ids[i];
    *out = ids;
    return (long)k;
}

static void bind_opt(ym_stmt *st, int idx, const char *s)
{
    if (s)
        api->db_bind_text(st, idx, s);
    else
        api->db_bind_null(st, idx);
}

typedef struct list_row {
    int64_t key, doc, incoming, unit;
} list_row;

typedef struct list_q {
    const char *type, *urgency, *secrecy, *from, *to;
    int dated;                          /* range_dated(from, to) */
    int64_t user, after;
    long long limit;
} list_q;

/* Runs st (bound but for ?8) and appends its rows to rows[*n..]; -1 on a database error. */
static int box_rows(ym_stmt *st, const list_q *q, list_row *rows, size_t *n, size_t cap)
{
    api->db_bind_int(st, 1, q->user);
    api->db_bind_int(st, 2, q->after);
    bind_opt(st, 3, q->type);
    bind_opt(st, 4, q->urgency);
    bind_opt(st, 5, q->secrecy);
    bind_opt(st, 6, q->from);
    bind_opt(st, 7, q->to);
    api->db_bind_int(st, 9, q->limit + 1);
    int rc = YM_DONE;
    while (*n < cap && (rc = api->db_step(st)) == YM_ROW) {
        rows[*n] = (list_row){api->db_column_int(st, 0), api->db_column_int(st, 1), api->db_column_int(st, 2),
                              api->db_column_int(st, 3)};
        (*n)++;
    }
    api->db_reset(st);
    return rc == YM_ERR ? -1 : 0;
}

static int key_desc(const void *a, const void *b)
{
    int64_t x = ((const list_row *)a)->key, y = ((const list_row *)b)->key;
    return x < y ? 1 : x > y ? -1 : 0;
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
    *out = def;
    return !s || ym_parse_int(s, lo, hi, out) ? 0 : -1;
}

static int bad_date(const char *s)
{
    return s && (strlen(s) != 10 || api->date_is_working_day(s) < 0);
}

/* The page of box b: rows (limit + 1 at most, newest first) into rows; their count, or -1. */
static long box_page(ym_request *r, ym_plugin *self, const struct box *b, const list_q *q, int64_t unit,
                     list_row *rows)
{
    size_t n = 0, cap = (size_t)q->limit + 1;
    int64_t *units = NULL;
    long total = 0, k = b->perm ? box_units(r, self, b, unit, &units, &total) : 0;
    if (!b->perm || (k > PER_UNIT_MAX && k == total)) {
        /* the caller's own rows, or every unit of the directory: no unit to keep */
        free(units);
        ym_stmt *st = box_stmt(self, b, BY_NONE, 0);
        if (!st)
            return -1;
        api->db_bind_int(st, 8, unit);
        return box_rows(st, q, rows, &n, cap) < 0 ? -1 : (long)n;
    }
    if (k <= 0) {
        free(units);
        return k;
    }
    int rc = 0;
    if (k <= PER_UNIT_MAX) {
        /* each unit's newest rows, merged: the page is the newest of them all */
        list_row *all = k > 1 ? malloc((size_t)k * cap * sizeof *all) : rows;
        size_t m = 0;
        ym_stmt *st = all ? box_stmt(self, b, BY_UNIT, q->dated) : NULL;
        for (long i = 0; st && rc == 0 && i < k; i++) {
            api->db_bind_int(st, 8, units[i]);
            rc = box_rows(st, q, all, &m, m + cap);
        }
        if (!st)
            rc = -1;
        if (all && all != rows) {
            qsort(all, m, sizeof *all, key_desc);
            n = m < cap ? m : cap;
            memcpy(rows, all, n * sizeof *rows);
            free(all);
        } else
            n = m;
    } else {
        size_t cap_text = (size_t)k * 21 + 2, len = 1;
        char *text = malloc(cap_text);
        if (text) {
            text[0] = ',';
            for (long i = 0; i < k; i++)
                len += (size_t)snprintf(text + len, cap_text - len, "%lld,", (long long)units[i]);
        }
        ym_stmt *st = text ? box_stmt(self, b, BY_SET, 0) : NULL;
        if (st) {
            api->db_bind_text(st, 8, text);
            rc = box_rows(st, q, rows, &n, cap);
        } else
            rc = -1;
        free(text);
    }
    free(units);
    return rc < 0 ? -1 : (long)n;
}

/* GET /api/documents?box=&type=&urgency=&secrecy=&from=&to=&unit=&limit=&after= */
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
    list_q q = {.user = api->req_user_id(r)};
    long long after, unit;
    if (query_int(r, "limit", 50, 1, 200, &q.limit) < 0) {
        api->resp_invalid(r, "limit", "limit must be a whole number from 1 to 200");
        return;
    }
    if (query_int(r, "after", INT64_MAX, 1, INT64_MAX, &after) < 0) {
        api->resp_invalid(r, "after", "after must be the next of the previous page");
        return;
    }
    if (query_int(r, "unit", 0, 1, INT64_MAX, &unit) < 0) {
        api->resp_invalid(r, "unit", "unit must be a unit id");
        return;
    }
    q.after = after;
    q.type = api->req_query(r, "type");
    q.urgency = api->req_query(r, "urgency");
    q.secrecy = api->req_query(r, "secrecy");
    q.from = api->req_query(r, "from");
    q.to = api->req_query(r, "to");
    if (q.secrecy && secrecy_rank(q.secrecy) < 0) {
        api->resp_invalid(r, "secrecy", "secrecy must be 非密, 秘密, 机密 or 绝密");
        return;
    }
    if (q.urgency && *q.urgency && strcmp(q.urgency, "特急") != 0 && strcmp(q.urgency, "加急") != 0) {
        api->resp_invalid(r, "urgency", "urgency must be 特急, 加急 or empty");
        return;
    }
    if (bad_date(q.from) || bad_date(q.to)) {
        api->resp_invalid(r, bad_date(q.from) ? "from" : "to", "from and to are dates YYYY-MM-DD");
        return;
    }
    q.dated = range_dated(q.from, q.to);
    list_row *rows = malloc(((size_t)q.limit + 1) * sizeof *rows);
    long n = rows ? box_page(r, self, b, &q, unit, rows) : -1;
    if (n < 0) {
        free(rows);
        internal_error(r, self, "cannot read the list");
        return;
    }
    /* a row past the page: next is the key of the page's last row */
    int64_t next = n > q.limit ? rows[q.limit - 1].key : 0;
    if (n > q.limit)
        n = (long)q.limit;
    json_t *items = json_array();
    int for_unit = strcmp(b->name, "to_receive") == 0 || strcmp(b->name, "countersign") == 0;
    for (long i = 0; i < n; i++) {
        json_t *it = list_item(self, rows[i].doc, rows[i].incoming, rows[i].unit);
        if (it) {
            if (for_unit)
                json_object_set_new(it, "for_unit", json_integer(rows[i].unit));
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
                   api->route(self, "GET", "/api/documents/:id/versions/:v", "user", get_version, self) < 0 ||
                   annot_routes(self) < 0 || diff_routes(self) < 0 || archive_routes(self) < 0
               ? -1
               : 0;
}
