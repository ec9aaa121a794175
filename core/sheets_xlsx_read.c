/* sheets_xlsx_read: the first worksheet of an .xlsx (libzip + expat), bounded against zip
 * bombs and huge grids; errors name the row and column as Excel shows them. */
#include "sheets.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- zip entries ---- */

/* Reads one entry whole. 1 ok, 0 absent, -1 error. The size is checked before any
 * allocation and again while reading, since a forged header can understate it. */
static int read_entry(zip_t *z, const char *name, char **out, size_t *outlen, char *err, size_t errlen)
{
    zip_stat_t st;
    zip_int64_t idx = zip_name_locate(z, name, ZIP_FL_NOCASE);
    if (idx < 0) return 0;
    if (zip_stat_index(z, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return fail(err, errlen, "%s: %s", name, zip_strerror(z));
    if (st.size > YM_SHEET_MAX_ENTRY) return fail(err, errlen, "%s: larger than %u MiB uncompressed", name, YM_SHEET_MAX_ENTRY >> 20);
    zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)idx, 0);
    if (!f) return fail(err, errlen, "%s: %s", name, zip_strerror(z));
    char *buf = malloc((size_t)st.size + 1);
    size_t got = 0;
    int rc = buf ? 1 : fail(err, errlen, "out of memory");
    while (rc == 1) {
        char extra;
        /* The one-byte read past the end sees data beyond the declared size. */
        zip_int64_t n = got < st.size ? zip_fread(f, buf + got, st.size - got) : zip_fread(f, &extra, 1);
        if (n < 0) rc = fail(err, errlen, "%s: corrupt: %s", name, zip_file_strerror(f));
        else if (n == 0) break;
        else if (got >= st.size) rc = fail(err, errlen, "%s: larger than its header says", name);
        else got += (size_t)n;
    }
    if (zip_fclose(f) != 0 && rc == 1) rc = fail(err, errlen, "%s: corrupt (checksum)", name);
    if (rc == 1 && got != st.size) rc = fail(err, errlen, "%s: truncated", name);
    if (rc != 1) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *outlen = got;
    return 1;
}

/* ---- XML plumbing ---- */

/* Names arrive as "namespace-uri local" (namespace processing on), so prefixes do not matter. */
static const char *local(const char *name)
{
    const char *sp = strrchr(name, ' ');
    return sp ? sp + 1 : name;
}

static const char *attr(const char **atts, const char *want)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(local(atts[i]), want) == 0) return atts[i + 1];
    return NULL;
}

typedef struct textbuf {
    char *s;
    size_t len, cap;
    int on;     /* collecting */
} textbuf;

static int text_add(textbuf *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) return -1;
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return 0;
}

typedef struct xmlctx {
    XML_Parser p;
    textbuf t;      /* character data of the element being collected */
    char *err;
    size_t errlen;
    int failed;
} xmlctx;

static void xml_stop(xmlctx *x)
{
    x->failed = 1;
    XML_StopParser(x->p, XML_FALSE);
}

/* OOXML parts never carry a DTD; refusing one rules out entity expansion attacks. */
static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid, int internal)
{
    xmlctx *x = ud;
    fail(x->err, x->errlen, "unexpected DTD");
    xml_stop(x);
}

/* Parses buf with handlers; ctx must start with an xmlctx. */
static int xml_run(xmlctx *x, const char *part, const char *buf, size_t len, XML_StartElementHandler start,
                   XML_EndElementHandler end, XML_CharacterDataHandler text)
{
    XML_Parser p = XML_ParserCreateNS("UTF-8", ' ');
    if (!p) return fail(x->err, x->errlen, "out of memory");
    x->p = p;
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, start, end);
    if (text) XML_SetCharacterDataHandler(p, text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    /* len fits an int: read_entry caps every part at YM_SHEET_MAX_ENTRY. */
    enum XML_Status st = XML_Parse(p, buf, (int)len, XML_TRUE);
    int rc = 0;
    if (x->failed) rc = -1;
    else if (st != XML_STATUS_OK)
        rc = fail(x->err, x->errlen, "%s: bad XML at line %lu: %s", part, (unsigned long)XML_GetCurrentLineNumber(p),
                  XML_ErrorString(XML_GetErrorCode(p)));
    XML_ParserFree(p);
    return rc;
}

/* ---- workbook.xml and its relationships ---- */

typedef struct wbctx {
    xmlctx x;
    char *first_rid;            /* r:id of the first <sheet> */
    const char *want_rid;       /* rels pass: which Id to resolve */
    char *sheet_target, *sst_target;
} wbctx;

static void wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wbctx *c = ud;
    if (c->first_rid || strcmp(local(name), "sheet") != 0) return;
    const char *rid = attr(atts, "id");
    if (!rid || !(c->first_rid = strdup(rid))) {
        fail(c->x.err, c->x.errlen, "workbook: sheet without a relationship");
        xml_stop(&c->x);
    }
}

static void rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    wbctx *c = ud;
    if (strcmp(local(name), "Relationship") != 0) return;
    const char *id = attr(atts, "Id"), *type = attr(atts, "Type"), *target = attr(atts, "Target");
    if (!id || !type || !target) return;
    size_t tl = strlen(type);
    char **slot = NULL;
    if (!c->sheet_target && strcmp(id, c->want_rid) == 0) slot = &c->sheet_target;
    else if (!c->sst_target && tl >= 14 && strcmp(type + tl - 14, "/sharedStrings") == 0) slot = &c->sst_target;
    if (!slot) return;
    /* Targets are relative to xl/ unless absolute from the package root. */
    int n = target[0] == '/' ? asprintf(slot, "%s", target + 1) : asprintf(slot, "xl/%s", target);
    if (n < 0) {
        *slot = NULL;
        fail(c->x.err, c->x.errlen, "out of memory");
        xml_stop(&c->x);
    }
}

static void no_end(void *ud, const XML_Char *name)
{
}

/* Finds the parts of the first sheet and the shared strings. */
static int locate_parts(zip_t *z, wbctx *c, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int r = read_entry(z, "xl/workbook.xml", &buf, &len, err, errlen);
    if (r == 0) return fail(err, errlen, "not an .xlsx file");
    if (r < 0) return -1;
    c->x = (xmlctx){.err = err, .errlen = errlen};
    int rc = xml_run(&c->x, "xl/workbook.xml", buf, len, wb_start, no_end, NULL);
    free(buf);
    if (rc < 0) return -1;
    if (!c->first_rid) return fail(err, errlen, "the workbook has no worksheet");
    r = read_entry(z, "xl/_rels/workbook.xml.rels", &buf, &len, err, errlen);
    if (r == 0) return fail(err, errlen, "not an .xlsx file (no workbook relationships)");
    if (r < 0) return -1;
    c->want_rid = c->first_rid;
    c->x = (xmlctx){.err = err, .errlen = errlen};
    rc = xml_run(&c->x, "xl/_rels/workbook.xml.rels", buf, len, rels_start, no_end, NULL);
    free(buf);
    if (rc < 0) return -1;
    if (!c->sheet_target) return fail(err, errlen, "the first worksheet's part is missing");
    return 0;
}

/* ---- shared strings ---- */

typedef struct strs {
    char **v;
    size_t n, cap;
} strs;

static int strs_push(strs *s, char *str)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **p = realloc(s->v, cap * sizeof *p);
        if (!p) return -1;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

typedef struct sstctx {
    xmlctx x;
    strs *out;
    int in_si, skip;    /* skip: inside <rPh> (phonetic hints) whose <t> is not cell text */
} sstctx;

static void sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    sstctx *c = ud;
    const char *n = local(name);
    if (strcmp(n, "si") == 0) {
        c->in_si = 1;
        c->x.t.len = 0;
        if (text_add(&c->x.t, "", 0) < 0) xml_stop(&c->x);
    } else if (strcmp(n, "rPh") == 0) c->skip++;
    else if (strcmp(n, "t") == 0 && c->in_si && !c->skip) c->x.t.on = 1;
}

static void sst_end(void *ud, const XML_Char *name)
{
    sstctx *c = ud;
    const char *n = local(name);
    if (strcmp(n, "t") == 0) c->x.t.on = 0;
    else if (strcmp(n, "rPh") == 0 && c->skip) c->skip--;
    else if (strcmp(n, "si") == 0 && c->in_si) {
        c->in_si = 0;
        char *s = strdup(c->x.t.s ? c->x.t.s : "");
        if (!s || strs_push(c->out, s) < 0) {
            free(s);
            fail(c->x.err, c->x.errlen, "out of memory");
            xml_stop(&c->x);
        }
    }
}

static void collect_text(void *ud, const XML_Char *s, int len)
{
    xmlctx *x = ud;
    if (x->t.on && text_add(&x->t, s, (size_t)len) < 0) {
        fail(x->err, x->errlen, "out of memory");
        xml_stop(x);
    }
}

static int load_sst(zip_t *z, const char *part, strs *out, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int r = read_entry(z, part, &buf, &len, err, errlen);
    if (r <= 0) return r;   /* no shared strings is fine: a sheet of numbers */
    sstctx c = {.x = {.err = err, .errlen = errlen}, .out = out};
    int rc = xml_run(&c.x, part, buf, len, sst_start, sst_end, collect_text);
    free(c.x.t.s);
    free(buf);
    return rc;
}

/* ---- the worksheet ---- */

typedef struct rawcell {
    uint32_t row, col;      /* 0-based */
    ym_cell cell;
} rawcell;

typedef struct sheetctx {
    xmlctx x;
    size_t nsst;    /* own->v[0..nsst) are the shared strings, indexed by t="s" */
    strs *own;      /* every string the result owns; grows with inline strings */
    rawcell *cells;
    size_t n, cap;
    uint32_t row, col, maxrow, maxcol;      /* current row/col (1-based); 0 before the first */
    char type[12];
    int in_cell, in_is, in_rph;
} sheetctx;

static int cell_fail(sheetctx *c, const char *what)
{
    char col[8];
    ym_sheet_col_name(c->col ? c->col - 1 : 0, col, sizeof col);
    fail(c->x.err, c->x.errlen, "row %u, column %s: %s", c->row, col, what);
    xml_stop(&c->x);
    return -1;
}

/* "B3" -> col 2, row 3 (1-based). 0 ok; -1 malformed or beyond Excel's grid. */
static int parse_ref(const char *ref, uint32_t *row, uint32_t *col)
{
    uint64_t cc = 0, rr = 0;
    const char *p = ref;
    for (; *p >= 'A' && *p <= 'Z' && p - ref < 4; p++) cc = cc * 26 + (uint64_t)(*p - 'A' + 1);
    if (p == ref || cc > YM_SHEET_MAX_COLS) return -1;
    const char *d = p;
    for (; *p >= '0' && *p <= '9' && p - d < 8; p++) rr = rr * 10 + (uint64_t)(*p - '0');
    if (p == d || *p || rr == 0 || rr > YM_SHEET_MAX_ROWS) return -1;
    *row = (uint32_t)rr;
    *col = (uint32_t)cc;
    return 0;
}

static void row_start(sheetctx *c, const char **atts)
{
    const char *r = attr(atts, "r");
    char *end = NULL;
    unsigned long v = r ? strtoul(r, &end, 10) : c->row + 1ul;   /* r may be omitted: next row */
    c->row = (uint32_t)(v <= YM_SHEET_MAX_ROWS ? v : 0);
    c->col = 0;
    if ((r && (!*r || *end)) || v == 0 || v > YM_SHEET_MAX_ROWS) cell_fail(c, "bad row number");
}

static void cell_start(sheetctx *c, const char **atts)
{
    const char *r = attr(atts, "r"), *t = attr(atts, "t");
    uint32_t row = c->row, col = c->col + 1;   /* r may be omitted: the next cell */
    if (r && parse_ref(r, &row, &col) < 0) {
        c->col++;
        cell_fail(c, "bad cell reference");
        return;
    }
    c->row = row;
    c->col = col;
    if (c->n >= YM_SHEET_MAX_CELLS) {
        cell_fail(c, "more than 1000000 cells");
        return;
    }
    snprintf(c->type, sizeof c->type, "%s", t ? t : "n");
    c->in_cell = 1;
    c->x.t.len = 0;
    if (text_add(&c->x.t, "", 0) < 0) cell_fail(c, "out of memory");
}

static void sheet_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    sheetctx *c = ud;
    const char *n = local(name);
    if (strcmp(n, "row") == 0) row_start(c, atts);
    else if (strcmp(n, "c") == 0) cell_start(c, atts);
    else if (!c->in_cell) return;
    else if (strcmp(n, "is") == 0) c->in_is = 1;
    else if (strcmp(n, "rPh") == 0) c->in_rph = 1;    /* phonetic hints are not the text */
    else if (strcmp(n, "v") == 0 || (strcmp(n, "t") == 0 && c->in_is && !c->in_rph)) c->x.t.on = 1;
}

static int push_cell(sheetctx *c, ym_cell cell)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        rawcell *p = realloc(c->cells, cap * sizeof *p);
        if (!p) return cell_fail(c, "out of memory");
        c->cells = p;
        c->cap = cap;
    }
    c->cells[c->n++] = (rawcell){c->row - 1, c->col - 1, cell};
    if (c->row > c->maxrow) c->maxrow = c->row;
    if (c->col > c->maxcol) c->maxcol = c->col;
    return 0;
}

static int own_text(sheetctx *c, const char *s, ym_cell *cell)
{
    char *dup = strdup(s);
    if (!dup || strs_push(c->own, dup) < 0) {
        free(dup);
        return cell_fail(c, "out of memory");
    }
    *cell = (ym_cell){.type = YM_CELL_TEXT, .text = dup};
    return 0;
}

/* Turns the collected <v> or <is> text into a cell according to t="...". */
static int finish_cell(sheetctx *c)
{
    const char *v = c->x.t.s ? c->x.t.s : "";
    const char *t = c->type;
    ym_cell cell = {.type = YM_CELL_EMPTY};
    char *end = NULL;
    if (strcmp(t, "inlineStr") == 0 || strcmp(t, "str") == 0) {
        if (*v) return own_text(c, v, &cell) < 0 ? -1 : push_cell(c, cell);
        return 0;
    }
    if (!*v) return 0;      /* a styled but empty cell */
    if (strcmp(t, "e") == 0) return cell_fail(c, v);
    if (strcmp(t, "s") == 0) {
        unsigned long i = strtoul(v, &end, 10);
        if (*end || end == v || i >= c->nsst) return cell_fail(c, "bad shared string index");
        cell = (ym_cell){.type = YM_CELL_TEXT, .text = c->own->v[i]};
    } else if (strcmp(t, "b") == 0) {
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) return cell_fail(c, "bad boolean");
        cell = (ym_cell){.type = YM_CELL_BOOL, .boolean = v[0] == '1'};
    } else if (strcmp(t, "n") == 0) {
        double d = strtod(v, &end);
        if (*end || end == v) return cell_fail(c, "bad number");
        cell = (ym_cell){.type = YM_CELL_NUMBER, .number = d};
    } else if (strcmp(t, "d") == 0) {
        return own_text(c, v, &cell) < 0 ? -1 : push_cell(c, cell);   /* ISO 8601 text, strict OOXML */
    } else return cell_fail(c, "unknown cell type");
    return push_cell(c, cell);
}

static void sheet_end(void *ud, const XML_Char *name)
{
    sheetctx *c = ud;
    const char *n = local(name);
    if (!c->in_cell) return;
    if (strcmp(n, "v") == 0 || strcmp(n, "t") == 0) c->x.t.on = 0;
    else if (strcmp(n, "is") == 0) c->in_is = 0;
    else if (strcmp(n, "rPh") == 0) c->in_rph = 0;
    else if (strcmp(n, "c") == 0) {
        c->in_cell = c->in_is = c->in_rph = c->x.t.on = 0;
        finish_cell(c);
    }
}

/* Scatters the cells into a dense grid, bounded so a lone far cell cannot blow it up. */
static int build_grid(sheetctx *c, ym_sheet_data *d, char *err, size_t errlen)
{
    d->nrows = c->maxrow;
    d->ncols = c->maxcol;
    if (d->nrows && d->ncols > YM_SHEET_MAX_CELLS / d->nrows)
        return fail(err, errlen, "sheet of %zu rows by %zu columns exceeds %u cells", d->nrows, d->ncols, YM_SHEET_MAX_CELLS);
    size_t total = d->nrows * d->ncols;
    d->cells = calloc(total ? total : 1, sizeof *d->cells);
    if (!d->cells) return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < c->n; i++) d->cells[(size_t)c->cells[i].row * d->ncols + c->cells[i].col] = c->cells[i].cell;
    return 0;
}

static int load_sheet(zip_t *z, const char *part, strs *own, ym_sheet_data *d, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int r = read_entry(z, part, &buf, &len, err, errlen);
    if (r == 0) return fail(err, errlen, "%s: missing", part);
    if (r < 0) return -1;
    sheetctx c = {.x = {.err = err, .errlen = errlen}, .nsst = own->n, .own = own};
    int rc = xml_run(&c.x, part, buf, len, sheet_start, sheet_end, collect_text);
    free(buf);
    free(c.x.t.s);
    if (rc == 0) rc = build_grid(&c, d, err, errlen);
    free(c.cells);
    return rc;
}

static int open_zip(const char *path, zip_t **z, char *err, size_t errlen)
{
    int zerr = 0;
    *z = zip_open(path, ZIP_RDONLY, &zerr);
    if (*z) return 0;
    if (zerr == ZIP_ER_NOZIP || zerr == ZIP_ER_INCONS) return fail(err, errlen, "not an .xlsx file");
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    fail(err, errlen, "cannot open %s: %s", path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return -1;
}

int ym_sheet_read_xlsx(const char *path, ym_sheet_data **out, char *err, size_t errlen)
{
    if (!path || !out) return fail(err, errlen, "no path");
    *out = NULL;
    zip_t *z = NULL;
    if (open_zip(path, &z, err, errlen) < 0) return -1;
    wbctx wb = {0};
    strs own = {0};
    ym_sheet_data *d = calloc(1, sizeof *d);
    int rc = d ? locate_parts(z, &wb, err, errlen) : fail(err, errlen, "out of memory");
    if (rc == 0 && load_sst(z, wb.sst_target ? wb.sst_target : "xl/sharedStrings.xml", &own, err, errlen) < 0) rc = -1;
    if (rc == 0) rc = load_sheet(z, wb.sheet_target, &own, d, err, errlen);
    zip_discard(z);     /* opened read-only: nothing to write back */
    free(wb.first_rid);
    free(wb.sheet_target);
    free(wb.sst_target);
    if (d) {
        d->strings = own.v;
        d->nstrings = own.n;
    } else {
        for (size_t i = 0; i < own.n; i++) free(own.v[i]);
        free(own.v);
    }
    if (rc < 0) {
        ym_sheet_data_free(d);
        return -1;
    }
    *out = d;
    return 0;
}
