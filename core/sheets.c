/* sheets: .xlsx export with libxlsxwriter and .zip export with libzip, both written to
 * "<path>.tmp" and renamed so that readers never see half a file. Import: sheets_xlsx_read.c. */
#include "sheets.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zip.h>

#define WIDTH_MIN 8
#define WIDTH_MAX 60

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

void ym_sheet_col_name(size_t col, char *buf, size_t len)
{
    char tmp[16];
    size_t n = 0;
    /* Bijective base 26: A..Z, AA..ZZ, AAA..; there is no zero digit. */
    for (size_t c = col + 1; c > 0 && n < sizeof tmp; c = (c - 1) / 26) tmp[n++] = (char)('A' + (c - 1) % 26);
    size_t i = 0;
    for (; i < n && i + 1 < len; i++) buf[i] = tmp[n - 1 - i];
    if (len) buf[i] = '\0';
}

void ym_sheet_data_free(ym_sheet_data *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->nstrings; i++) free(d->strings[i]);
    free(d->strings);
    free(d->cells);
    free(d);
}

/* ---- .xlsx export ---- */

/* Excel refuses a whole file over one invalid UTF-8 sequence, so check before writing. */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xC2)) return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80) return 0;
    }
    return 1;
}

/* Display width in Excel's character units: CJK (3- and 4-byte UTF-8) is about two wide. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue;
        w += *p >= 0xE0 ? 2 : 1;
    }
    return w;
}

static size_t cell_width(const ym_cell *c)
{
    char buf[64];
    switch (c->type) {
    case YM_CELL_TEXT: return c->text ? text_width(c->text) : 0;
    case YM_CELL_NUMBER: return (size_t)snprintf(buf, sizeof buf, "%.10g", c->number);
    case YM_CELL_BOOL: return 5;    /* FALSE */
    case YM_CELL_DATE: return 10;   /* yyyy-mm-dd */
    default: return 0;
    }
}

static size_t column_width(const ym_sheet *s, size_t col)
{
    size_t w = s->header && s->header[col] ? text_width(s->header[col]) : 0;
    for (size_t r = 0; r < s->nrows; r++) {
        size_t cw = cell_width(&s->cells[r * s->ncols + col]);
        if (cw > w) w = cw;
    }
    w += 2;     /* a little air, as Excel's own autofit leaves */
    return w < WIDTH_MIN ? WIDTH_MIN : w > WIDTH_MAX ? WIDTH_MAX : w;
}

static int check_sheet(const ym_sheet *s, char *err, size_t errlen)
{
    if (!s || (s->nrows && !s->cells)) return fail(err, errlen, "no sheet");
    if (s->ncols == 0 || s->ncols > YM_SHEET_MAX_COLS) return fail(err, errlen, "%zu columns (1..%u)", s->ncols, YM_SHEET_MAX_COLS);
    if (s->nrows >= YM_SHEET_MAX_ROWS) return fail(err, errlen, "%zu rows (at most %u)", s->nrows, YM_SHEET_MAX_ROWS - 1);
    for (size_t c = 0; s->header && c < s->ncols; c++)
        if (s->header[c] && !utf8_valid(s->header[c])) return fail(err, errlen, "header column %zu: invalid UTF-8", c + 1);
    return 0;
}

typedef struct writer {
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *bold, *date;
} writer;

static int cell_fail(char *err, size_t errlen, size_t row, size_t col, const char *what)
{
    char name[8];
    ym_sheet_col_name(col, name, sizeof name);
    return fail(err, errlen, "row %zu, column %s: %s", row + 1, name, what);
}

/* row and col are the sheet's (0-based, after the header). */
static int write_cell(writer *w, const ym_cell *c, size_t row, size_t col, char *err, size_t errlen)
{
    lxw_error e = LXW_NO_ERROR;
    switch (c->type) {
    case YM_CELL_EMPTY: return 0;
    case YM_CELL_TEXT:
        if (!c->text || !*c->text) return 0;
        if (!utf8_valid(c->text)) return cell_fail(err, errlen, row, col, "invalid UTF-8");
        e = worksheet_write_string(w->ws, (lxw_row_t)row, (lxw_col_t)col, c->text, NULL);
        break;
    case YM_CELL_NUMBER:
        /* libxlsxwriter would print "nan" or "inf" into the XML, which Excel rejects. */
        if (!isfinite(c->number)) return cell_fail(err, errlen, row, col, "number is not finite");
        e = worksheet_write_number(w->ws, (lxw_row_t)row, (lxw_col_t)col, c->number, NULL);
        break;
    case YM_CELL_BOOL:
        e = worksheet_write_boolean(w->ws, (lxw_row_t)row, (lxw_col_t)col, c->boolean != 0, NULL);
        break;
    case YM_CELL_DATE:
        /* Excel serial days, 1900 system; 1970 onwards is past its 1900-02-29 quirk. */
        e = worksheet_write_number(w->ws, (lxw_row_t)row, (lxw_col_t)col,
                                   (double)c->date + YM_EXCEL_EPOCH_1970, w->date);
        break;
    default: return cell_fail(err, errlen, row, col, "unknown cell type");
    }
    return e == LXW_NO_ERROR ? 0 : cell_fail(err, errlen, row, col, lxw_strerror(e));
}

static int write_header(writer *w, const ym_sheet *s, char *err, size_t errlen)
{
    for (size_t c = 0; c < s->ncols; c++) {
        lxw_error e = worksheet_write_string(w->ws, 0, (lxw_col_t)c, s->header[c] ? s->header[c] : "", w->bold);
        if (e != LXW_NO_ERROR) return cell_fail(err, errlen, 0, c, lxw_strerror(e));
    }
    worksheet_freeze_panes(w->ws, 1, 0);
    return 0;
}

static int write_body(writer *w, const ym_sheet *s, char *err, size_t errlen)
{
    size_t first = s->header ? 1 : 0;
    for (size_t c = 0; c < s->ncols; c++) {
        lxw_error e = worksheet_set_column(w->ws, (lxw_col_t)c, (lxw_col_t)c, (double)column_width(s, c), NULL);
        if (e != LXW_NO_ERROR) return fail(err, errlen, "column width: %s", lxw_strerror(e));
    }
    if (s->header && write_header(w, s, err, errlen) < 0) return -1;
    for (size_t r = 0; r < s->nrows; r++)
        for (size_t c = 0; c < s->ncols; c++)
            if (write_cell(w, &s->cells[r * s->ncols + c], r + first, c, err, errlen) < 0) return -1;
    return 0;
}

static int open_writer(writer *w, const char *tmp, const char *name, char *err, size_t errlen)
{
    w->wb = workbook_new(tmp);
    if (!w->wb) return fail(err, errlen, "cannot create workbook %s", tmp);
    lxw_error e = workbook_validate_sheet_name(w->wb, name);
    if (e != LXW_NO_ERROR) return fail(err, errlen, "worksheet name \"%s\": %s", name, lxw_strerror(e));
    w->ws = workbook_add_worksheet(w->wb, name);
    w->bold = workbook_add_format(w->wb);
    w->date = workbook_add_format(w->wb);
    if (!w->ws || !w->bold || !w->date) return fail(err, errlen, "out of memory");
    format_set_bold(w->bold);
    format_set_num_format(w->date, "yyyy-mm-dd");
    return 0;
}

static char *tmp_path(const char *path)
{
    char *tmp = NULL;
    return asprintf(&tmp, "%s.tmp", path) < 0 ? NULL : tmp;
}

static int finish(const char *tmp, const char *path, char *err, size_t errlen)
{
    if (rename(tmp, path) == 0) return 0;
    fail(err, errlen, "rename to %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
}

int ym_sheet_write_xlsx(const char *path, const ym_sheet *sheet, char *err, size_t errlen)
{
    if (!path) return fail(err, errlen, "no path");
    if (check_sheet(sheet, err, errlen) < 0) return -1;
    char *tmp = tmp_path(path);
    if (!tmp) return fail(err, errlen, "out of memory");
    writer w = {0};
    int rc = open_writer(&w, tmp, sheet->name ? sheet->name : "Sheet1", err, errlen);
    if (rc == 0) rc = write_body(&w, sheet, err, errlen);
    /* Close even after an error: that frees the workbook; the partial file goes below. */
    lxw_error e = w.wb ? workbook_close(w.wb) : LXW_NO_ERROR;
    if (rc == 0 && e != LXW_NO_ERROR) rc = fail(err, errlen, "writing %s: %s", tmp, lxw_strerror(e));
    if (rc == 0) rc = finish(tmp, path, err, errlen);
    else unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- .zip export ---- */

/* Entry names become paths when the archive is unpacked: keep them inside its folder. */
static int zip_name_ok(const char *name)
{
    if (!name || !*name || name[0] == '/' || name[0] == '\\' || strchr(name, '\\')) return 0;
    if (strlen(name) >= 2 && name[1] == ':') return 0;     /* C:foo on Windows */
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        p += n;
        if (*p == '/') p++;
    }
    return utf8_valid(name);
}

static int add_entry(zip_t *z, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
    zip_source_t *src = zip_source_buffer(z, len ? data : "", len, 0);
    if (!src) return fail(err, errlen, "%s: %s", name, zip_strerror(z));
    /* ZIP_FL_ENC_UTF_8 sets the UTF-8 flag, so Chinese names unpack right. */
    if (zip_file_add(z, name, src, ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(src);
        return fail(err, errlen, "%s: %s", name, zip_strerror(z));
    }
    return 0;
}

static int zip_fill(zip_t *z, const ym_zip_entry *entries, size_t n, const char *manifest_json,
                    char *err, size_t errlen)
{
    if (manifest_json && add_entry(z, "manifest.json", manifest_json, strlen(manifest_json), err, errlen) < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (add_entry(z, entries[i].name, entries[i].data, entries[i].len, err, errlen) < 0) return -1;
    return 0;
}

int ym_zip_write(const char *path, const ym_zip_entry *entries, size_t n, const char *manifest_json,
                 char *err, size_t errlen)
{
    if (!path || (n && !entries)) return fail(err, errlen, "no path or entries");
    for (size_t i = 0; i < n; i++) {
        if (!zip_name_ok(entries[i].name)) return fail(err, errlen, "entry \"%s\": not a relative path", entries[i].name ? entries[i].name : "");
        if (entries[i].len && !entries[i].data) return fail(err, errlen, "entry \"%s\": no data", entries[i].name);
    }
    char *tmp = tmp_path(path);
    if (!tmp) return fail(err, errlen, "out of memory");
    int zerr = 0;
    zip_t *z = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        fail(err, errlen, "cannot create %s: %s", tmp, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        free(tmp);
        return -1;
    }
    int rc = zip_fill(z, entries, n, manifest_json, err, errlen);
    if (rc == 0 && zip_close(z) < 0) rc = fail(err, errlen, "writing %s: %s", tmp, zip_strerror(z));
    if (rc < 0) zip_discard(z);     /* frees z (also after a failed close) and writes nothing */
    if (rc == 0) rc = finish(tmp, path, err, errlen);
    else unlink(tmp);
    free(tmp);
    return rc;
}
