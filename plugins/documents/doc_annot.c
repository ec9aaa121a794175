/* documents: attachments of a document and annotations (在线画线/圈阅).
 * A file uploaded through the core's files service is attached to the document
 * ("documents_docs:<id>"); a PDF's page count and page sizes are read once, at attach.
 * Annotations are data, never burned into a file: per user, per page of an attachment
 * (target = its file id) or of the body (target 0), strokes (polyline), circles and
 * marks, in the order drawn. Coordinates are fractions of the page (0..1), so they
 * replay at any scale. A reader lists their own; with documents.annotations on the
 * document's unit (or a recipient unit) everyone's. Nothing changes once archived. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "documents.h"

#define MAX_ITEMS 200        /* annotations saved in one request */
#define MAX_POINTS 2000      /* points of one stroke */
#define MAX_BODY (512 * 1024)
#define MAX_BODY_PAGE 100    /* pages of the body a client may lay out */
#define MAX_ATTACHMENTS 50

static const char *const SYMBOLS[] = {"check", "cross", "question", "star", NULL};

int doc_reader(ym_request *r, ym_plugin *self, doc *d)
{
    int64_t id = id_param(r, "id");
    if (id && doc_load(self, id, d) == 1) {
        if (doc_may_see(r, self, d))
            return 1;
        /* a reader of one of its incoming records, 64 at a time (loading one prepares
         * other statements) */
        int64_t last = 0;
        for (;;) {
            ym_stmt *st = api->db_prepare(self, "SELECT id FROM documents_incoming WHERE doc_id = ?1 AND id > ?2 "
                                                "ORDER BY id LIMIT 64");
            int64_t ids[64];
            int n = 0;
            if (!st)
                break;
            api->db_bind_int(st, 1, d->id);
            api->db_bind_int(st, 2, last);
            while (n < 64 && api->db_step(st) == YM_ROW)
                ids[n++] = api->db_column_int(st, 0);
            api->db_reset(st);
            for (int i = 0; i < n; i++) {
                in_rec in;
                if (incoming_load(self, ids[i], &in) == 1 && incoming_may_see(r, self, &in))
                    return 1;
            }
            if (n < 64)
                break;
            last = ids[63];
        }
    }
    api->resp_error(r, 404, "not_found", "no such document");
    return 0;
}

/* May the caller see everyone's annotations of d? */
static int sees_all(ym_request *r, ym_plugin *self, const doc *d)
{
    if (api->req_may(r, "documents.annotations", d->unit_id) == 1)
        return 1;
    ym_stmt *st = api->db_prepare(self, "SELECT unit_id FROM documents_incoming WHERE doc_id = ?1");
    int ok = 0;
    if (st) {
        api->db_bind_int(st, 1, d->id);
        while (!ok && api->db_step(st) == YM_ROW)
            ok = api->req_may(r, "documents.annotations", api->db_column_int(st, 0)) == 1;
        api->db_reset(st);
    }
    return ok;
}

static void answer_json(ym_request *r, ym_plugin *self, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        api->resp_json(r, status, s);
    else
        internal_error(r, self, "cannot read");
    free(s);
}

/* ---- attachments ---- */

json_t *attachments_json(ym_plugin *self, int64_t docid)
{
    ym_stmt *st = api->db_prepare(self, "SELECT file_id, name, type, size, sha256, pages, page_sizes, added_by, added_at "
                                        "FROM documents_attachments WHERE doc_id = ?1 ORDER BY added_at, file_id");
    json_t *items = json_array();
    if (!st)
        return items;
    api->db_bind_int(st, 1, docid);
    while (api->db_step(st) == YM_ROW) {
        json_t *sizes = json_loads(api->db_column_text(st, 6), 0, NULL);
        json_array_append_new(items, json_pack("{s:I,s:s,s:s,s:I,s:s,s:I,s:o,s:I,s:o}", "file_id",
                                               (json_int_t)api->db_column_int(st, 0), "name", api->db_column_text(st, 1),
                                               "type", api->db_column_text(st, 2), "size",
                                               (json_int_t)api->db_column_int(st, 3), "sha256", api->db_column_text(st, 4),
                                               "pages", (json_int_t)api->db_column_int(st, 5), "page_sizes",
                                               sizes ? sizes : json_array(), "added_by",
                                               (json_int_t)api->db_column_int(st, 7), "added_at",
                                               time_json(api->db_column_int(st, 8))));
    }
    api->db_reset(st);
    return items;
}

/* GET /api/documents/:id/attachments */
static void list_attachments(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (doc_reader(r, self, &d))
        answer_json(r, self, 200, json_pack("{s:o}", "items", attachments_json(self, d.id)));
}

static int64_t count_attachments(ym_plugin *self, int64_t docid)
{
    ym_stmt *st = api->db_prepare(self, "SELECT count(*) FROM documents_attachments WHERE doc_id = ?1");
    int64_t n = -1;
    if (st) {
        api->db_bind_int(st, 1, docid);
        if (api->db_step(st) == YM_ROW)
            n = api->db_column_int(st, 0);
        api->db_reset(st);
    }
    return n;
}

/* POST /api/documents/:id/attachments {file_id}: the drafting unit's drafter or sender,
 * until the document is archived. */
static void add_attachment(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const KEYS[] = {"file_id", NULL};
    doc d;
    int64_t id = id_param(r, "id");
    if (!id || doc_load(self, id, &d) != 1 ||
        (api->req_may(r, "documents.draft", d.unit_id) != 1 && api->req_may(r, "documents.send", d.unit_id) != 1)) {
        api->resp_error(r, 404, "not_found", "no such document");
        return;
    }
    json_t *b = body_object(r, KEYS);
    if (!b)
        return;
    json_t *f = json_object_get(b, "file_id");
    if (!json_is_integer(f) || json_integer_value(f) <= 0) {
        json_decref(b);
        api->resp_invalid(r, "file_id", "file_id must be the id of a file you uploaded");
        return;
    }
    int64_t fid = json_integer_value(f);
    json_decref(b);
    if (strcmp(d.state, "archived") == 0) {
        conflict(r, "document", d.state, "not archived");
        return;
    }
    if (count_attachments(self, d.id) >= MAX_ATTACHMENTS) {
        api->resp_invalid(r, "file_id", "a document has at most 50 attachments");
        return;
    }
    if (api->db_write_begin(self) < 0) {
        internal_error(r, self, "cannot attach the file");
        return;
    }
    char owner[64];
    snprintf(owner, sizeof owner, "documents_docs:%lld", (long long)d.id);
    if (api->file_attach(self, r, fid, owner) < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "file_id: %s", api->error(self));
        api->db_write_end(self, 0);
        api->resp_invalid(r, "file_id", msg);
        return;
    }
    char *info = api->file_info(self, fid);
    json_t *fi = info ? json_loads(info, 0, NULL) : NULL;
    api->free(info);
    if (!fi) {
        api->db_write_end(self, 0);
        internal_error(r, self, "cannot read the attached file");
        return;
    }
    const char *type = json_string_value(json_object_get(fi, "type"));
    int pages = 0;
    json_t *sizes = NULL;
    if (type && strcmp(type, "application/pdf") == 0) {
        pages = pdf_pages(json_string_value(json_object_get(fi, "path")), &sizes);
        if (pages <= 0) {
            json_decref(fi);
            api->db_write_end(self, 0);
            api->resp_invalid(r, "file_id", "the file is a PDF that cannot be read");
            return;
        }
    }
    char *sz = json_dumps(sizes ? sizes : json_array(), JSON_COMPACT);
    json_decref(sizes);
    ym_stmt *st = api->db_prepare(self, "INSERT INTO documents_attachments (doc_id, file_id, name, type, size, sha256, "
                                        "pages, page_sizes, added_by, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                                        "?9, ?10) ON CONFLICT (doc_id, file_id) DO NOTHING");
    int ok = st != NULL && sz != NULL;
    if (ok) {
        api->db_bind_int(st, 1, d.id);
        api->db_bind_int(st, 2, fid);
        api->db_bind_text(st, 3, json_string_value(json_object_get(fi, "name")));
        api->db_bind_text(st, 4, type ? type : "");
        api->db_bind_int(st, 5, json_integer_value(json_object_get(fi, "size")));
        api->db_bind_text(st, 6, json_string_value(json_object_get(fi, "sha256")));
        api->db_bind_int(st, 7, pages);
        api->db_bind_text(st, 8, sz);
        api->db_bind_int(st, 9, api->req_user_id(r));
        api->db_bind_int(st, 10, api->now());
        ok = api->db_step(st) == YM_DONE;
        api->db_reset(st);
    }
    free(sz);
    json_decref(fi);
    char target[48];
    snprintf(target, sizeof target, "doc:%lld", (long long)d.id);
    char detail[64];
    snprintf(detail, sizeof detail, "{\"file_id\":%lld}", (long long)fid);
    ok = ok && flow_add(self, d.id, 0, api->req_user_id(r), d.unit_id, "attach", NULL) == 0 &&
         api->audit(r, "documents.attach", target, "ok", detail) == 0;
    if (api->db_write_end(self, ok) < 0 || !ok) {
        internal_error(r, self, "cannot attach the file");
        return;
    }
    answer_json(r, self, 201, json_pack("{s:o}", "items", attachments_json(self, d.id)));
}

/* ---- annotations ---- */

static json_t *annotation_row(ym_stmt *st)
{
    /* id, target, page, user_id, display_name, kind, shape, created_at */
    json_t *j = json_loads(api->db_column_text(st, 6), 0, NULL);
    if (!j)
        j = json_object();
    int64_t target = api->db_column_int(st, 1);
    json_object_set_new(j, "id", json_integer(api->db_column_int(st, 0)));
    json_object_set_new(j, "target", target ? json_integer(target) : json_string("body"));
    json_object_set_new(j, "page", json_integer(api->db_column_int(st, 2)));
    json_object_set_new(j, "user", json_pack("{s:I,s:s?}", "id", (json_int_t)api->db_column_int(st, 3), "name",
                                             api->db_column_type(st, 4) == YM_NULL ? NULL : api->db_column_text(st, 4)));
    json_object_set_new(j, "kind", json_string(api->db_column_text(st, 5)));
    json_object_set_new(j, "created_at", time_json(api->db_column_int(st, 7)));
    return j;
}

json_t *annotations_json(ym_plugin *self, int64_t docid, int64_t target, int64_t page, int64_t user, int64_t unit)
{
    ym_stmt *st = api->db_prepare(self, "SELECT a.id, a.target, a.page, a.user_id, u.display_name, a.kind, a.shape, "
                                        "a.created_at FROM documents_annotations a LEFT JOIN core_v_users u "
                                        "ON u.id = a.user_id WHERE a.doc_id = ?1 AND (?2 < 0 OR a.target = ?2) "
                                        "AND (?3 = 0 OR a.page = ?3) AND (?4 = 0 OR a.user_id = ?4) "
                                        "AND (?5 = 0 OR u.unit_id = ?5) ORDER BY a.id");
    json_t *items = json_array();
    if (!st)
        return items;
    api->db_bind_int(st, 1, docid);
    api->db_bind_int(st, 2, target);
    api->db_bind_int(st, 3, page);
    api->db_bind_int(st, 4, user);
    api->db_bind_int(st, 5, unit);
    while (api->db_step(st) == YM_ROW)
        json_array_append_new(items, annotation_row(st));
    api->db_reset(st);
    return items;
}

/* The pages of target (0: the body) of d; 0 when target is no attachment with pages. */
static int64_t target_pages(ym_plugin *self, int64_t docid, int64_t target)
{
    if (target == 0)
        return MAX_BODY_PAGE;
    ym_stmt *st = api->db_prepare(self, "SELECT pages FROM documents_attachments WHERE doc_id = ?1 AND file_id = ?2");
    int64_t n = 0;
    if (st) {
        api->db_bind_int(st, 1, docid);
        api->db_bind_int(st, 2, target);
        if (api->db_step(st) == YM_ROW)
            n = api->db_column_int(st, 0);
        api->db_reset(st);
    }
    return n;
}

/* target: "body" or an attachment's file id (JSON or query text); -1 when malformed. */
static int64_t target_of(json_t *v, const char *text)
{
    if (v ? json_is_string(v) && strcmp(json_string_value(v), "body") == 0 : text && strcmp(text, "body") == 0)
        return 0;
    if (v)
        return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : -1;
    char *end;
    long long n = text ? strtoll(text, &end, 10) : -1;
    return text && *text && !*end && n > 0 ? n : -1;
}

/* GET /api/documents/:id/annotations?target=body|<file id>&page=n&user=all|<id> */
static void list_annotations(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!doc_reader(r, self, &d))
        return;
    const char *ts = api->req_query(r, "target"), *ps = api->req_query(r, "page"), *us = api->req_query(r, "user");
    int64_t target = ts ? target_of(NULL, ts) : -1, page = 0, user = api->req_user_id(r);
    if (ts && target < 0) {
        api->resp_invalid(r, "target", "target must be body or the file id of an attachment");
        return;
    }
    if (ps) {
        char *end;
        page = strtoll(ps, &end, 10);
        if (!*ps || *end || page < 1 || page > 100000) {
            api->resp_invalid(r, "page", "page must be a page number from 1");
            return;
        }
    }
    if (us) {
        char *end;
        long long u = strcmp(us, "all") == 0 ? 0 : strtoll(us, &end, 10);
        if (strcmp(us, "all") != 0 && (!*us || *end || u <= 0)) {
            api->resp_invalid(r, "user", "user must be all or a user id");
            return;
        }
        if (u != user && !sees_all(r, self, &d)) {
            api->resp_error(r, 403, "forbidden", "seeing others' annotations needs documents.annotations");
            return;
        }
        user = u;
    }
    answer_json(r, self, 200, json_pack("{s:o}", "items", annotations_json(self, d.id, target, page, user, 0)));
}

static int bad_item(ym_request *r, size_t i, const char *key, const char *msg)
{
    char field[64];
    snprintf(field, sizeof field, "items[%zu].%s", i, key);
    api->resp_invalid(r, field, msg);
    return -1;
}

/* A point [x, y], both numbers in 0..1. */
static int point_ok(json_t *p)
{
    if (!json_is_array(p) || json_array_size(p) != 2)
        return 0;
    for (size_t k = 0; k < 2; k++) {
        json_t *c = json_array_get(p, k);
        if (!json_is_number(c))
            return 0;
        double v = json_number_value(c);
        if (!(v >= 0 && v <= 1))
            return 0;
    }
    return 1;
}

static int color_ok(json_t *c)
{
    const char *s = json_string_value(c);
    if (!s || strlen(s) != 7 || s[0] != '#')
        return 0;
    for (int k = 1; k < 7; k++)
        if (!strchr("0123456789abcdefABCDEF", s[k]))
            return 0;
    return 1;
}

/* Checks one annotation and returns its stored shape (a new object), or NULL answered. */
static json_t *item_shape(ym_request *r, size_t i, json_t *it, const char **kind)
{
    if (!json_is_object(it)) {
        char field[32];
        snprintf(field, sizeof field, "items[%zu]", i);
        api->resp_invalid(r, field, "each annotation is an object");
        return NULL;
    }
    const char *k = json_string_value(json_object_get(it, "kind"));
    static const char *const STROKE[] = {"kind", "points", "color", "width", NULL};
    static const char *const CIRCLE[] = {"kind", "center", "radius", "color", "width", NULL};
    static const char *const MARK[] = {"kind", "at", "symbol", "color", NULL};
    const char *const *keys = !k ? NULL : strcmp(k, "stroke") == 0 ? STROKE : strcmp(k, "circle") == 0 ? CIRCLE
                                          : strcmp(k, "mark") == 0 ? MARK : NULL;
    if (!keys) {
        bad_item(r, i, "kind", "kind must be stroke, circle or mark");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(it, key, v) {
        int known = 0;
        for (int n = 0; keys[n]; n++)
            known = known || strcmp(keys[n], key) == 0;
        if (!known) {
            bad_item(r, i, key, "unknown for this kind");
            return NULL;
        }
    }
    if (!color_ok(json_object_get(it, "color"))) {
        bad_item(r, i, "color", "color must be #rrggbb");
        return NULL;
    }
    if (keys != MARK) {
        json_t *w = json_object_get(it, "width");
        if (!json_is_number(w) || !(json_number_value(w) >= 0.5 && json_number_value(w) <= 20)) {
            bad_item(r, i, "width", "width must be a number from 0.5 to 20");
            return NULL;
        }
    }
    *kind = keys == STROKE ? "stroke" : keys == CIRCLE ? "circle" : "mark";
    if (keys == STROKE) {
        json_t *pts = json_object_get(it, "points");
        size_t n = json_array_size(pts);
        if (!json_is_array(pts) || n < 2 || n > MAX_POINTS) {
            bad_item(r, i, "points", "points must be 2 to 2000 points [x, y]");
            return NULL;
        }
        for (size_t p = 0; p < n; p++)
            if (!point_ok(json_array_get(pts, p))) {
                char key2[40];
                snprintf(key2, sizeof key2, "points[%zu]", p);
                bad_item(r, i, key2, "a point is [x, y] with x and y from 0 to 1 (fractions of the page)");
                return NULL;
            }
    } else if (keys == CIRCLE) {
        json_t *rad = json_object_get(it, "radius");
        if (!point_ok(json_object_get(it, "center"))) {
            bad_item(r, i, "center", "center is [x, y] with x and y from 0 to 1");
            return NULL;
        }
        if (!json_is_number(rad) || !(json_number_value(rad) > 0 && json_number_value(rad) <= 1)) {
            bad_item(r, i, "radius", "radius must be a number above 0, at most 1");
            return NULL;
        }
    } else {
        const char *sym = json_string_value(json_object_get(it, "symbol"));
        int ok = 0;
        for (int n = 0; sym && SYMBOLS[n]; n++)
            ok = ok || strcmp(SYMBOLS[n], sym) == 0;
        if (!point_ok(json_object_get(it, "at"))) {
            bad_item(r, i, "at", "at is [x, y] with x and y from 0 to 1");
            return NULL;
        }
        if (!ok) {
            bad_item(r, i, "symbol", "symbol must be check, cross, question or star");
            return NULL;
        }
    }
    json_t *shape = json_deep_copy(it);
    json_object_del(shape, "kind");
    return shape;
}

/* POST /api/documents/:id/annotations {target, page, items: [...]}: all or nothing. */
static void add_annotations(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    static const char *const KEYS[] = {"target", "page", "items", NULL};
    doc d;
    size_t len = 0;
    api->req_body(r, &len);
    if (len > MAX_BODY) {
        api->resp_error(r, 413, "body_too_large", "annotations are saved at most 512 KiB at a time");
        return;
    }
    if (!doc_reader(r, self, &d))
        return;
    json_t *b = body_object(r, KEYS);
    if (!b)
        return;
    json_t *tv = json_object_get(b, "target"), *pv = json_object_get(b, "page"), *items = json_object_get(b, "items");
    int64_t target = tv ? target_of(tv, NULL) : -1;
    int64_t pages = target >= 0 ? target_pages(self, d.id, target) : 0;
    const char *field = NULL, *msg = NULL;
    if (target < 0 || pages <= 0)
        field = "target", msg = "target must be body or the file id of a PDF attachment of this document";
    else if (!json_is_integer(pv) || json_integer_value(pv) < 1 || json_integer_value(pv) > pages)
        field = "page", msg = "page must be a page number of the target";
    else if (!json_is_array(items) || json_array_size(items) < 1 || json_array_size(items) > MAX_ITEMS)
        field = "items", msg = "items must be 1 to 200 annotations";
    if (field) {
        json_decref(b);
        api->resp_invalid(r, field, msg);
        return;
    }
    if (strcmp(d.state, "archived") == 0) {
        json_decref(b);
        conflict(r, "document", d.state, "not archived");
        return;
    }
    /* read from r before the items are checked: a refused item answers r, which ends it */
    int64_t page = json_integer_value(pv), user = api->req_user_id(r), first = 0, now = api->now();
    size_t n = json_array_size(items);
    json_t **shapes = calloc(n, sizeof *shapes);
    const char **kinds = calloc(n, sizeof *kinds);
    int ok = shapes && kinds;
    for (size_t i = 0; ok && i < n; i++)
        ok = (shapes[i] = item_shape(r, i, json_array_get(items, i), &kinds[i])) != NULL;
    int answered = !ok && shapes && kinds;
    json_decref(b);
    if (ok)
        ok = api->db_write_begin(self) == 0;
    if (ok) {
        ym_stmt *st = api->db_prepare(self, "INSERT INTO documents_annotations (doc_id, target, page, user_id, kind, "
                                            "shape, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        ok = st != NULL;
        for (size_t i = 0; ok && i < n; i++) {
            char *s = json_dumps(shapes[i], JSON_COMPACT);
            api->db_bind_int(st, 1, d.id);
            api->db_bind_int(st, 2, target);
            api->db_bind_int(st, 3, page);
            api->db_bind_int(st, 4, user);
            api->db_bind_text(st, 5, kinds[i]);
            api->db_bind_text(st, 6, s ? s : "{}");
            api->db_bind_int(st, 7, now);
            ok = s && api->db_step(st) == YM_DONE;
            api->db_reset(st);
            free(s);
            if (ok && i == 0)
                first = api->db_last_insert_id(self);
        }
        char tgt[48], detail[96];
        snprintf(tgt, sizeof tgt, "doc:%lld", (long long)d.id);
        snprintf(detail, sizeof detail, "{\"target\":%lld,\"page\":%lld,\"count\":%zu}", (long long)target,
                 (long long)page, n);
        ok = ok && api->audit(r, "documents.annotate", tgt, "ok", detail) == 0;
        ok = api->db_write_end(self, ok) == 0 && ok;
    }
    for (size_t i = 0; shapes && i < n; i++)
        json_decref(shapes[i]);
    free(shapes);
    free(kinds);
    if (answered)
        return;
    if (!ok) {
        internal_error(r, self, "cannot save the annotations");
        return;
    }
    /* the rows just written, in order */
    json_t *all = annotations_json(self, d.id, target, page, user, 0), *mine = json_array(), *v;
    size_t i;
    json_array_foreach(all, i, v) if (json_integer_value(json_object_get(v, "id")) >= first)
        json_array_append(mine, v);
    json_decref(all);
    answer_json(r, self, 201, json_pack("{s:o}", "items", mine));
}

/* DELETE /api/documents/:id/annotations/:aid: one's own, until archived. */
static void delete_annotation(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!doc_reader(r, self, &d))
        return;
    int64_t aid = id_param(r, "aid"), owner = 0;
    ym_stmt *st = api->db_prepare(self, "SELECT user_id FROM documents_annotations WHERE id = ?1 AND doc_id = ?2");
    if (!st) {
        internal_error(r, self, "cannot read the annotation");
        return;
    }
    api->db_bind_int(st, 1, aid);
    api->db_bind_int(st, 2, d.id);
    if (api->db_step(st) == YM_ROW)
        owner = api->db_column_int(st, 0);
    api->db_reset(st);
    if (!aid || !owner) {
        api->resp_error(r, 404, "not_found", "no such annotation");
        return;
    }
    if (owner != api->req_user_id(r)) {
        api->resp_error(r, 403, "forbidden", "only one's own annotations can be deleted");
        return;
    }
    if (strcmp(d.state, "archived") == 0) {
        conflict(r, "document", d.state, "not archived");
        return;
    }
    int ok = api->db_write_begin(self) == 0;
    if (ok) {
        st = api->db_prepare(self, "DELETE FROM documents_annotations WHERE id = ?1");
        ok = st != NULL;
        if (ok) {
            api->db_bind_int(st, 1, aid);
            ok = api->db_step(st) == YM_DONE;
            api->db_reset(st);
        }
        char tgt[48];
        snprintf(tgt, sizeof tgt, "doc:%lld", (long long)d.id);
        ok = ok && api->audit(r, "documents.annotation_delete", tgt, "ok", NULL) == 0;
        ok = api->db_write_end(self, ok) == 0 && ok;
    }
    if (ok)
        api->resp_send(r, 204, "application/json", "", 0);
    else
        internal_error(r, self, "cannot delete the annotation");
}

int annot_routes(ym_plugin *self)
{
    if (api->abi_minor < 4) {
        api->fail(self, "documents needs a host of ABI 1.4 or newer (attached files, page rendering)");
        return -1;
    }
    return api->permission(self, "documents.annotations", "查看他人圈阅", "see everyone's annotations") < 0 ||
                   api->route(self, "GET", "/api/documents/:id/attachments", "user", list_attachments, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/attachments", "user", add_attachment, self) < 0 ||
                   api->route(self, "GET", "/api/documents/:id/annotations", "user", list_annotations, self) < 0 ||
                   api->route(self, "POST", "/api/documents/:id/annotations", "user", add_annotations, self) < 0 ||
                   api->route(self, "DELETE", "/api/documents/:id/annotations/:aid", "user", delete_annotation, self) < 0 ||
                   render_routes(self) < 0
               ? -1
               : 0;
}
