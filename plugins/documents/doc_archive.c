/* documents: the retention period (保管期限) of an archived document and the yearly
 * archive export: a zip with a JSON manifest at DA/T 22 item level (件号, 档号, 题名,
 * 文号, 责任者, 日期, 页数, 附件数, 密级, 保管期限) and, per document, its record,
 * versions, flow log, annotations and attachment files. The period is chosen at
 * archiving (PUT .../retention) and otherwise defaults per document type from the
 * setting documents.retention ("函=定期10年,通知=定期30年,*=定期30年"). The zip is
 * compressed on the thread pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>
#include "documents.h"

static const char *const PERIODS[] = {"永久", "定期30年", "定期10年", NULL};
static const char *const PERIOD_CODES[] = {"Y", "D30", "D10", NULL};

/* the defaults: kept for good what binds or is published; routine business 30 or 10 years */
static const char *DEFAULTS = "决议=永久,决定=永久,命令=永久,公报=永久,公告=永久,议案=永久,纪要=定期30年,"
                              "通告=定期30年,意见=定期30年,通知=定期30年,通报=定期30年,报告=定期30年,"
                              "请示=定期30年,批复=定期30年,函=定期10年,*=定期30年";
static json_t *g_retention;   /* type → period */

static int period_index(const char *s)
{
    for (int i = 0; s && PERIODS[i]; i++)
        if (strcmp(s, PERIODS[i]) == 0)
            return i;
    return -1;
}

/* "type=period,..." into g_retention; -1 when malformed. */
static int parse_retention(const char *spec)
{
    char *copy = strdup(spec), *save = NULL;
    int ok = copy != NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; ok && tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        ok = eq && eq > tok && period_index(eq + 1) >= 0;
        if (ok) {
            *eq = 0;
            json_object_set_new(g_retention, tok, json_string(eq + 1));
        }
    }
    free(copy);
    return ok ? 0 : -1;
}

static const char *default_period(const char *type)
{
    const char *p = json_string_value(json_object_get(g_retention, type ? type : ""));
    return p ? p : json_string_value(json_object_get(g_retention, "*"));
}

/* The chosen period of a document, or its type's default; *chosen says which. */
static const char *doc_period(ym_plugin *self, int64_t docid, const char *type, int *chosen)
{
    ym_stmt *st = api->db_prepare(self, "SELECT period FROM documents_retention WHERE doc_id = ?1");
    int i = -1;
    if (st) {
        api->db_bind_int(st, 1, docid);
        if (api->db_step(st) == YM_ROW)
            i = period_index(api->db_column_text(st, 0));
        api->db_reset(st);
    }
    *chosen = i >= 0;
    return i >= 0 ? PERIODS[i] : default_period(type);
}

static char *doc_type_of(ym_plugin *self, int64_t docid)
{
    ym_stmt *st = api->db_prepare(self, "SELECT doc_type FROM documents_docs WHERE id = ?1");
    char *t = NULL;
    if (st) {
        api->db_bind_int(st, 1, docid);
        if (api->db_step(st) == YM_ROW)
            t = strdup(api->db_column_text(st, 0));
        api->db_reset(st);
    }
    return t;
}

static void answer_retention(ym_request *r, ym_plugin *self, int64_t docid, int status)
{
    char *type = doc_type_of(self, docid);
    int chosen;
    const char *p = doc_period(self, docid, type, &chosen);
    char buf[256];
    snprintf(buf, sizeof buf, "{\"document\":%lld,\"period\":\"%s\",\"chosen\":%s}", (long long)docid, p,
             chosen ? "true" : "false");
    free(type);
    api->resp_json(r, status, buf);
}

/* GET /api/documents/:id/retention */
static void get_retention(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!doc_seen(r, self, &d))
        return;
    answer_retention(r, self, d.id, 200);
}

/* PUT /api/documents/:id/retention {period}: by who archives (documents.send), once the
 * document is dispatched or archived. */
static void put_retention(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const KEYS[] = {"period", NULL};
    doc d;
    if (!doc_visible(r, self, "documents.send", &d))
        return;
    json_t *b = body_object(r, KEYS);
    if (!b)
        return;
    const char *p = json_string_value(json_object_get(b, "period"));
    int pi = period_index(p);
    json_decref(b);
    if (pi < 0) {
        api->resp_invalid(r, "period", "period must be 永久, 定期30年 or 定期10年");
        return;
    }
    if (strcmp(d.state, "dispatched") != 0 && strcmp(d.state, "archived") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "the document is %s; the retention period is chosen at archiving", d.state);
        api->resp_error(r, 409, "conflict", msg);
        return;
    }
    int ok = api->db_write_begin(self) == 0;
    if (ok) {
        ym_stmt *st = api->db_prepare(self, "INSERT INTO documents_retention (doc_id, period, set_by, set_at) "
                                            "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (doc_id) DO UPDATE SET "
                                            "period = excluded.period, set_by = excluded.set_by, set_at = excluded.set_at");
        ok = st != NULL;
        if (ok) {
            api->db_bind_int(st, 1, d.id);
            api->db_bind_text(st, 2, PERIODS[pi]);
            api->db_bind_int(st, 3, api->req_user_id(r));
            api->db_bind_int(st, 4, api->now());
            ok = api->db_step(st) == YM_DONE;
            api->db_reset(st);
        }
        char tgt[48], detail[96];
        snprintf(tgt, sizeof tgt, "doc:%lld", (long long)d.id);
        snprintf(detail, sizeof detail, "{\"period\":\"%s\"}", PERIODS[pi]);
        ok = ok && api->audit(r, "documents.retention", tgt, "ok", detail) == 0;
        ok = api->db_write_end(self, ok) == 0 && ok;
    }
    if (ok)
        answer_retention(r, self, d.id, 200);
    else
        internal_error(r, self, "cannot set the retention period");
}

/* ---- the export ---- */

typedef struct export_job {
    ym_request *r;
    zip_source_t *src;    /* the zip in memory */
    zip_t *za;
    char *out;
    size_t len;
    char filename[64];
} export_job;

static int add_json(zip_t *za, const char *name, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
    json_decref(j);
    zip_source_t *zs = s ? zip_source_buffer(za, s, strlen(s), 1) : NULL;
    if (!zs) {
        free(s);
        return -1;
    }
    if (zip_file_add(za, name, zs, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) {
        zip_source_free(zs);
        return -1;
    }
    return 0;
}

static json_t *versions_json(ym_plugin *self, int64_t docid)
{
    ym_stmt *st = api->db_prepare(self, "SELECT version, elements, saved_by, saved_at FROM documents_versions "
                                        "WHERE doc_id = ?1 ORDER BY version");
    json_t *items = json_array();
    if (!st)
        return items;
    api->db_bind_int(st, 1, docid);
    while (api->db_step(st) == YM_ROW) {
        json_t *el = json_loads(api->db_column_text(st, 1), 0, NULL);
        json_array_append_new(items, json_pack("{s:I,s:o,s:I,s:o}", "version", (json_int_t)api->db_column_int(st, 0),
                                               "elements", el ? el : json_object(), "saved_by",
                                               (json_int_t)api->db_column_int(st, 2), "saved_at",
                                               time_json(api->db_column_int(st, 3))));
    }
    api->db_reset(st);
    return items;
}

/* The flow of the document and of each of its incoming records. */
static json_t *all_flow(ym_plugin *self, int64_t docid)
{
    json_t *j = json_pack("{s:o,s:o}", "outgoing", flow_json(self, docid, 0), "incoming", json_object());
    ym_stmt *st = api->db_prepare(self, "SELECT id FROM documents_incoming WHERE doc_id = ?1 ORDER BY id");
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (st) {
        api->db_bind_int(st, 1, docid);
        while (api->db_step(st) == YM_ROW) {
            if (n == cap) {
                int64_t *g = realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof *ids);
                if (!g)
                    break;
                ids = g;
            }
            ids[n++] = api->db_column_int(st, 0);
        }
        api->db_reset(st);
    }
    for (size_t i = 0; i < n; i++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)ids[i]);
        json_object_set_new(json_object_get(j, "incoming"), key, flow_json(self, docid, ids[i]));
    }
    free(ids);
    return j;
}

/* DA/T 22 date: YYYYMMDD */
static void dat_date(const char *ymd, char out[9])
{
    out[0] = 0;
    if (ymd && strlen(ymd) == 10)
        snprintf(out, 9, "%.4s%.2s%.2s", ymd, ymd + 5, ymd + 8);
}

static void export_work(void *ud)
{
    export_job *j = ud;
    if (zip_close(j->za) < 0) {
        zip_discard(j->za);
        return;
    }
    zip_stat_t zst;
    if (zip_source_stat(j->src, &zst) < 0 || !(zst.valid & ZIP_STAT_SIZE) || zip_source_open(j->src) < 0)
        return;
    j->out = malloc(zst.size ? zst.size : 1);
    if (j->out && zip_source_read(j->src, j->out, zst.size) == (zip_int64_t)zst.size) {
        j->len = zst.size;
    } else {
        free(j->out);
        j->out = NULL;
    }
    zip_source_close(j->src);
}

static void export_done(ym_plugin *self, void *ud)
{
    export_job *j = ud;
    if (j->out)
        api->resp_send(j->r, 200, "application/zip", j->out, j->len);
    else
        internal_error(j->r, self, "cannot write the archive");
    free(j->out);
    zip_source_free(j->src);
    free(j);
}

typedef struct arch_row {
    int64_t id, incoming, archived_at;   /* the document; its incoming record (收文) or 0 (发文) */
    int period, chosen;
} arch_row;

static int by_period(const void *a, const void *b)
{
    const arch_row *x = a, *y = b;
    if (x->period != y->period)
        return x->period - y->period;
    if (x->archived_at != y->archived_at)
        return x->archived_at < y->archived_at ? -1 : 1;
    return x->id != y->id ? (x->id > y->id) - (x->id < y->id) : (x->incoming > y->incoming) - (x->incoming < y->incoming);
}

/* Adds one document's folder; fills its manifest item. An incoming record (收文) has
 * its register entry and flow, and the annotations of the unit's people; an outgoing
 * document (发文) its versions, every flow and all annotations. */
static int add_document(ym_plugin *self, zip_t *za, const arch_row *a, int64_t unit, const char *folder, json_t *item)
{
    char name[600];
    json_t *dj = doc_json(self, a->id, 1), *atts = attachments_json(self, a->id), *v;
    if (!dj)
        return -1;
    json_t *el = json_object_get(dj, "elements");
    int64_t pages = 0;
    size_t i;
    json_array_foreach(atts, i, v) pages += json_integer_value(json_object_get(v, "pages"));
    char date[9];
    dat_date(json_string_value(json_object_get(el, "doc_date")), date);
    const char *organ = json_string_value(json_object_get(el, "issuer_organ"));
    json_object_set_new(item, "题名", json_string(json_string_value(json_object_get(el, "title"))));
    json_object_set(item, "文号", json_object_get(dj, "number"));
    json_object_set_new(item, "责任者", organ ? json_string(organ) : json_null());
    json_object_set_new(item, "日期", json_string(date));
    json_object_set_new(item, "页数", json_integer(pages));
    json_object_set_new(item, "附件数", json_integer((json_int_t)json_array_size(atts)));
    json_object_set(item, "密级", json_object_get(el, "secrecy") ? json_object_get(el, "secrecy") : json_string("非密"));
    json_object_set_new(item, "保管期限", json_string(PERIODS[a->period]));
    json_object_set(item, "文种", json_object_get(el, "doc_type"));
    json_object_set_new(item, "类别", json_string(a->incoming ? "收文" : "发文"));
    json_object_set_new(item, "document_id", json_integer(a->id));
    json_object_set_new(item, "path", json_string(folder));
    json_t *files = json_array();
    int rc = 0;
    snprintf(name, sizeof name, "%s/document.json", folder);
    rc |= add_json(za, name, dj);
    if (a->incoming) {
        json_t *in = incoming_json(self, a->incoming);
        char no[32];
        snprintf(no, sizeof no, "%lld-%04lld", (long long)json_integer_value(json_object_get(in, "year")),
                 (long long)json_integer_value(json_object_get(in, "serial")));
        json_object_set_new(item, "收文号", json_string(no));
        json_object_set_new(item, "incoming_id", json_integer(a->incoming));
        snprintf(name, sizeof name, "%s/incoming.json", folder);
        rc |= add_json(za, name, in);
        snprintf(name, sizeof name, "%s/flow.json", folder);
        rc |= add_json(za, name, json_pack("{s:o}", "incoming", flow_json(self, a->id, a->incoming)));
    } else {
        snprintf(name, sizeof name, "%s/versions.json", folder);
        rc |= add_json(za, name, versions_json(self, a->id));
        snprintf(name, sizeof name, "%s/flow.json", folder);
        rc |= add_json(za, name, all_flow(self, a->id));
    }
    snprintf(name, sizeof name, "%s/annotations.json", folder);
    rc |= add_json(za, name, annotations_json(self, a->id, -1, 0, 0, a->incoming ? unit : 0));
    json_array_foreach(atts, i, v) {
        int64_t fid = json_integer_value(json_object_get(v, "file_id"));
        char *info = api->file_info(self, fid);
        json_t *fi = info ? json_loads(info, 0, NULL) : NULL;
        api->free(info);
        const char *path = json_string_value(json_object_get(fi, "path"));
        snprintf(name, sizeof name, "%s/attachments/%lld-%s", folder, (long long)fid,
                 json_string_value(json_object_get(v, "name")));
        zip_source_t *zs = path ? zip_source_file(za, path, 0, -1) : NULL;
        if (!zs || zip_file_add(za, name, zs, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) {
            if (zs)
                zip_source_free(zs);
            rc = -1;
        }
        json_array_append_new(files, json_string(name));
        json_decref(fi);
    }
    json_object_set_new(item, "files", files);
    json_decref(atts);
    return rc ? -1 : 0;
}

/* Appends the rows (id, archived_at, incoming id or 0) of sql (?1 unit, ?2..?3 the year's
 * ms range) to *rows; 0, or -1. */
static int collect_year(ym_plugin *self, const char *sql, int64_t unit, int64_t from, int64_t to, arch_row **rows,
                        size_t *n, size_t *cap)
{
    ym_stmt *st = api->db_prepare(self, sql);
    if (!st)
        return -1;
    api->db_bind_int(st, 1, unit);
    api->db_bind_int(st, 2, from);
    api->db_bind_int(st, 3, to);
    int rc = 0;
    while (api->db_step(st) == YM_ROW) {
        if (*n == *cap) {
            arch_row *g = realloc(*rows, (*cap = *cap ? *cap * 2 : 64) * sizeof **rows);
            if (!g) {
                rc = -1;
                break;
            }
            *rows = g;
        }
        arch_row *a = &(*rows)[(*n)++];
        memset(a, 0, sizeof *a);
        a->id = api->db_column_int(st, 0);
        a->archived_at = api->db_column_int(st, 1);
        a->incoming = api->db_column_int(st, 2);
    }
    api->db_reset(st);
    return rc;
}

/* GET /api/documents/archives/:year?unit=<id>: the unit's documents archived in that year,
 * sent (发文, by documents.send) and received (收文, by documents.receive). */
static void export_year(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    int64_t year = id_param(r, "year"), unit = api->req_unit_id(r);
    const char *us = api->req_query(r, "unit");
    if (year < 1900 || year > 9999) {
        api->resp_invalid(r, "year", "year must be a year such as 2026");
        return;
    }
    if (us) {
        char *end;
        unit = strtoll(us, &end, 10);
        if (!*us || *end || unit <= 0) {
            api->resp_invalid(r, "unit", "unit must be a unit id");
            return;
        }
    }
    int sent = api->req_may(r, "documents.send", unit) == 1, received = api->req_may(r, "documents.receive", unit) == 1;
    if (!sent && !received) {
        api->resp_error(r, 403, "forbidden", "the archive export needs documents.send or documents.receive on the unit");
        return;
    }
    /* the year in the server's time zone: after the last ms of the year before, up to its own */
    char d0[16], d1[16];
    snprintf(d0, sizeof d0, "%04d-12-31", (int)year - 1);
    snprintf(d1, sizeof d1, "%04d-12-31", (int)year);
    int64_t from = api->date_end_ms(d0), to = api->date_end_ms(d1);
    arch_row *rows = NULL;
    size_t n = 0, cap = 0;
    /* outgoing documents (发文) for documents.send; incoming records (收文) for
     * documents.receive, whose last change is the archiving */
    int rc = sent ? collect_year(self, "SELECT id, archived_at, 0 FROM documents_docs WHERE unit_id = ?1 AND "
                                       "state = 'archived' AND archived_at > ?2 AND archived_at <= ?3 "
                                       "ORDER BY archived_at, id", unit, from, to, &rows, &n, &cap) : 0;
    size_t outgoing = n;
    if (rc == 0 && received)
        rc = collect_year(self, "SELECT doc_id, updated_at, id FROM documents_incoming WHERE unit_id = ?1 AND "
                                "state = 'archived' AND updated_at > ?2 AND updated_at <= ?3 "
                                "ORDER BY updated_at, id", unit, from, to, &rows, &n, &cap);
    if (rc < 0) {
        free(rows);
        internal_error(r, self, "cannot read the archive");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *type = doc_type_of(self, rows[i].id);
        if (i < outgoing)
            rows[i].period = period_index(doc_period(self, rows[i].id, type, &rows[i].chosen));
        else
            rows[i].period = period_index(default_period(type));
        free(type);
    }
    qsort(rows, n, sizeof *rows, by_period);
    export_job *j = calloc(1, sizeof *j);
    zip_error_t ze;
    zip_error_init(&ze);
    if (j && (j->src = zip_source_buffer_create(NULL, 0, 0, &ze))) {
        zip_source_keep(j->src);
        j->za = zip_open_from_source(j->src, ZIP_TRUNCATE, &ze);
    }
    zip_error_fini(&ze);
    if (!j || !j->za) {
        if (j && j->src)
            zip_source_free(j->src);
        free(j);
        free(rows);
        internal_error(r, self, "cannot start the archive");
        return;
    }
    json_t *items = json_array();
    int seq = 0, last_period = -1;
    for (size_t i = 0; i < n; i++) {
        seq = rows[i].period == last_period ? seq + 1 : 1;
        last_period = rows[i].period;
        char num[8], code[64];
        snprintf(num, sizeof num, "%04d", seq);
        snprintf(code, sizeof code, "%lld-%s-%s", (long long)year, PERIOD_CODES[rows[i].period], num);
        json_t *item = json_pack("{s:s,s:s}", "件号", num, "档号", code);
        rc |= add_document(self, j->za, &rows[i], unit, code, item);
        json_array_append_new(items, item);
    }
    free(rows);
    char when[40];
    api->time_format(api->now(), when, sizeof when);
    rc |= add_json(j->za, "manifest.json",
                   json_pack("{s:s,s:I,s:o,s:s,s:I,s:o}", "standard", "DA/T 22-2015", "year", (json_int_t)year, "unit",
                             unit_ref(self, unit), "exported_at", when, "count", (json_int_t)n, "items", items));
    char tgt[48], detail[64];
    snprintf(tgt, sizeof tgt, "unit:%lld", (long long)unit);
    snprintf(detail, sizeof detail, "{\"year\":%lld,\"count\":%zu}", (long long)year, n);
    if (rc == 0)
        api->audit(r, "documents.archive_export", tgt, "ok", detail);
    j->r = r;
    if (rc != 0 || api->queue_work(self, export_work, export_done, j) < 0) {
        zip_discard(j->za);
        zip_source_free(j->src);
        free(j);
        internal_error(r, self, "cannot write the archive");
    }
}

int archive_routes(ym_plugin *self)
{
    g_retention = json_object();
    const char *spec = api->setting_string(self, "retention", NULL);
    if (parse_retention(DEFAULTS) < 0 || (spec && parse_retention(spec) < 0)) {
        api->fail(self, "documents.retention: must be \"<文种>=<永久|定期30年|定期10年>,...\" (\"*\" for the rest)");
        return -1;
    }
    return api->route(self, "GET", "/api/documents/:id/retention", "user", get_retention, self) < 0 ||
                   api->route(self, "PUT", "/api/documents/:id/retention", "documents.send", put_retention, self) < 0 ||
                   api->route(self, "GET", "/api/documents/archives/:year", "user", export_year, self) < 0
               ? -1
               : 0;
}
