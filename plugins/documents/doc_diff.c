/* documents: the difference of two saved versions of a draft (GET .../diff?from=&to=),
 * element by element, by character (Unicode code points, so Chinese text diffs per
 * character): the common prefix and suffix are cut, then the longest common
 * subsequence of the rest; a rest too large for that (over 4 million cells) is shown as
 * one deletion and one insertion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "documents.h"

#define MAX_CELLS 4000000

/* UTF-8 → code points (malloc'ed, count in *n); the text is valid UTF-8 (from jansson). */
static uint32_t *decode(const char *s, size_t *n)
{
    size_t len = strlen(s), k = 0;
    uint32_t *cp = malloc((len + 1) * sizeof *cp);
    if (!cp)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p;
        int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (extra)
            c &= 0x3f >> extra;
        p++;
        for (int i = 0; i < extra && (*p & 0xc0) == 0x80; i++, p++)
            c = c << 6 | (*p & 0x3f);
        cp[k++] = c;
    }
    *n = k;
    return cp;
}

static void encode(const uint32_t *cp, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else if (c < 0x800) {
            out[o++] = (char)(0xc0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[o++] = (char)(0xe0 | c >> 12);
            out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | c >> 18);
            out[o++] = (char)(0x80 | (c >> 12 & 0x3f));
            out[o++] = (char)(0x80 | (c >> 6 & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[o] = 0;
}

/* Appends {op, text}, merging with the previous op of the same kind. */
static void emit(json_t *ops, const char *op, const uint32_t *cp, size_t n)
{
    if (!n)
        return;
    char *buf = malloc(n * 4 + 1);
    if (!buf)
        return;
    encode(cp, n, buf);
    size_t last = json_array_size(ops);
    json_t *prev = last ? json_array_get(ops, last - 1) : NULL;
    if (prev && strcmp(json_string_value(json_object_get(prev, "op")), op) == 0) {
        const char *t = json_string_value(json_object_get(prev, "text"));
        size_t tl = strlen(t), bl = strlen(buf);
        char *joined = malloc(tl + bl + 1);
        if (joined) {
            memcpy(joined, t, tl);
            memcpy(joined + tl, buf, bl + 1);
            json_object_set_new(prev, "text", json_string(joined));
            free(joined);
        }
    } else {
        json_array_append_new(ops, json_pack("{s:s,s:s}", "op", op, "text", buf));
    }
    free(buf);
}

/* The ops turning a into b: [{op: equal|delete|insert, text}]. */
static json_t *diff_text(const char *as, const char *bs)
{
    size_t n, m;
    uint32_t *a = decode(as, &n), *b = decode(bs, &m);
    json_t *ops = json_array();
    if (!a || !b) {
        free(a);
        free(b);
        return ops;
    }
    size_t pre = 0, suf = 0;
    while (pre < n && pre < m && a[pre] == b[pre])
        pre++;
    while (suf < n - pre && suf < m - pre && a[n - 1 - suf] == b[m - 1 - suf])
        suf++;
    emit(ops, "equal", a, pre);
    const uint32_t *x = a + pre, *y = b + pre;
    size_t xn = n - pre - suf, yn = m - pre - suf;
    uint32_t *L = xn && yn && (uint64_t)(xn + 1) * (yn + 1) <= MAX_CELLS ? calloc((xn + 1) * (yn + 1), sizeof *L)
                                                                          : NULL;
    if (L) {
        /* L[i][j]: LCS length of x[i..] and y[j..] */
#define AT(i, j) L[(size_t)(i) * (yn + 1) + (j)]
        for (size_t i = xn; i-- > 0;)
            for (size_t j = yn; j-- > 0;)
                AT(i, j) = x[i] == y[j] ? AT(i + 1, j + 1) + 1 : AT(i + 1, j) >= AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1);
        size_t i = 0, j = 0;
        while (i < xn || j < yn) {
            if (i < xn && j < yn && x[i] == y[j]) {
                emit(ops, "equal", x + i, 1);
                i++, j++;
            } else if (j < yn && (i == xn || AT(i, j + 1) >= AT(i + 1, j))) {
                emit(ops, "insert", y + j, 1);
                j++;
            } else {
                emit(ops, "delete", x + i, 1);
                i++;
            }
        }
#undef AT
        free(L);
    } else {
        emit(ops, "delete", x, xn);
        emit(ops, "insert", y, yn);
    }
    emit(ops, "equal", a + n - suf, suf);
    free(a);
    free(b);
    return ops;
}

/* An element as text: strings as they are, lists of strings one per line, the rest as JSON. */
static char *element_text(json_t *v)
{
    if (!v || json_is_null(v))
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_array(v)) {
        size_t i, len = 1;
        json_t *e;
        int strings = 1;
        json_array_foreach(v, i, e) {
            strings = strings && json_is_string(e);
            len += strings ? strlen(json_string_value(e)) + 1 : 0;
        }
        if (strings) {
            char *out = malloc(len);
            if (!out)
                return NULL;
            out[0] = 0;
            json_array_foreach(v, i, e) {
                if (i)
                    strcat(out, "\n");
                strcat(out, json_string_value(e));
            }
            return out;
        }
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static json_t *version_of(ym_plugin *self, int64_t docid, int64_t v)
{
    ym_stmt *st = api->db_prepare(self, "SELECT elements FROM documents_versions WHERE doc_id = ?1 AND version = ?2");
    json_t *el = NULL;
    if (!st)
        return NULL;
    api->db_bind_int(st, 1, docid);
    api->db_bind_int(st, 2, v);
    if (api->db_step(st) == YM_ROW)
        el = json_loads(api->db_column_text(st, 0), 0, NULL);
    api->db_reset(st);
    return el;
}

/* GET /api/documents/:id/diff?from=<v>&to=<v> */
static void get_diff(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    if (!doc_seen(r, self, &d))
        return;
    const char *names[2] = {"from", "to"};
    int64_t v[2];
    json_t *el[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        const char *s = api->req_query(r, names[k]);
        char *end;
        long long n = s ? strtoll(s, &end, 10) : 0;
        if (!s || !*s || *end || n < 1) {
            json_decref(el[0]);
            api->resp_invalid(r, names[k], "from and to are version numbers (GET .../versions)");
            return;
        }
        v[k] = n;
        if (!(el[k] = version_of(self, d.id, n))) {
            json_decref(el[0]);
            char msg[64];
            snprintf(msg, sizeof msg, "no version %lld of this document", n);
            api->resp_error(r, 404, "not_found", msg);
            return;
        }
    }
    /* every key of either version, in the order of the newer then the older */
    json_t *keys = json_object(), *changes = json_array(), *val;
    const char *key;
    json_object_foreach(el[1], key, val) json_object_set_new(keys, key, json_true());
    json_object_foreach(el[0], key, val) json_object_set_new(keys, key, json_true());
    json_object_foreach(keys, key, val) {
        char *ta = element_text(json_object_get(el[0], key)), *tb = element_text(json_object_get(el[1], key));
        if (ta && tb && strcmp(ta, tb) != 0)
            json_array_append_new(changes, json_pack("{s:s,s:s,s:o}", "field", key, "kind",
                                                     !json_object_get(el[0], key) ? "added"
                                                     : !json_object_get(el[1], key) ? "removed" : "changed",
                                                     "ops", diff_text(ta, tb)));
        free(ta);
        free(tb);
    }
    json_decref(keys);
    json_decref(el[0]);
    json_decref(el[1]);
    json_t *j = json_pack("{s:I,s:I,s:I,s:o}", "document", (json_int_t)d.id, "from", (json_int_t)v[0], "to",
                          (json_int_t)v[1], "changes", changes);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        api->resp_json(r, 200, s);
    else
        internal_error(r, self, "cannot compare the versions");
    free(s);
}

int diff_routes(ym_plugin *self)
{
    return api->route(self, "GET", "/api/documents/:id/diff", "user", get_diff, self);
}
