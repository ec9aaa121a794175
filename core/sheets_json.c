/* sheets_json: the bridge plugins use (C and Lua alike): a sheet described in JSON to
 * .xlsx bytes, and .xlsx bytes to a JSON array of rows. Both go through a private
 * temporary file under the caller's directory, removed before returning. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sheets.h"
#include "calendar.h"

static unsigned g_seq;

static void tmp_name(const char *dir, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/sheet-%d-%u%s", dir, (int)getpid(), ++g_seq, ext);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    char *p = NULL;
    if (fstat(fileno(f), &st) == 0 && (p = malloc((size_t)st.st_size + 1)) &&
        fread(p, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
        fclose(f);
        *out = p;
        *len = (size_t)st.st_size;
        return 0;
    }
    free(p);
    fclose(f);
    return -1;
}

static int cell_of(json_t *v, ym_cell *c, size_t row, size_t col, char *err, size_t errlen)
{
    char name[8];
    memset(c, 0, sizeof *c);
    if (json_is_null(v)) {
        c->type = YM_CELL_EMPTY;
    } else if (json_is_string(v)) {
        c->type = YM_CELL_TEXT;
        c->text = json_string_value(v);
    } else if (json_is_number(v)) {
        c->type = YM_CELL_NUMBER;
        c->number = json_number_value(v);
    } else if (json_is_boolean(v)) {
        c->type = YM_CELL_BOOL;
        c->boolean = json_is_true(v);
    } else if (json_is_object(v) && json_is_string(json_object_get(v, "date")) && json_object_size(v) == 1 &&
               ym_date_parse(json_string_value(json_object_get(v, "date")), &c->date) == 0) {
        c->type = YM_CELL_DATE;
    } else {
        ym_sheet_col_name(col, name, sizeof name);
        snprintf(err, errlen, "row %zu, column %s: a cell is a string, number, boolean, null or "
                 "{\"date\": \"YYYY-MM-DD\"}", row + 1, name);
        return -1;
    }
    return 0;
}

int ym_sheet_json_xlsx(const json_t *sheet, const char *tmpdir, char **out, size_t *outlen, char *err, size_t errlen)
{
    json_t *header = json_object_get(sheet, "header"), *rows = json_object_get(sheet, "rows");
    json_t *name = json_object_get(sheet, "name");
    if (!json_is_object(sheet) || !json_is_array(rows) || (header && !json_is_array(header)) ||
        (name && !json_is_string(name))) {
        snprintf(err, errlen, "a sheet is {\"name\": text, \"header\": [titles], \"rows\": [[cells]]}");
        return -1;
    }
    size_t ncols = header ? json_array_size(header) : 0, nrows = json_array_size(rows), i, k;
    json_t *row, *v;
    json_array_foreach(rows, i, row) {
        if (!json_is_array(row)) {
            snprintf(err, errlen, "row %zu: a row is an array of cells", i + 1);
            return -1;
        }
        if (json_array_size(row) > ncols)
            ncols = json_array_size(row);
    }
    if (ncols == 0 || ncols > YM_SHEET_MAX_COLS || nrows > YM_SHEET_MAX_ROWS || ncols * nrows > YM_SHEET_MAX_CELLS) {
        snprintf(err, errlen, ncols ? "the sheet is too large" : "the sheet has no columns");
        return -1;
    }
    const char **titles = header ? calloc(ncols, sizeof *titles) : NULL;
    ym_cell *cells = calloc(nrows * ncols + 1, sizeof *cells);
    int rc = cells && (!header || titles) ? 0 : -1;
    for (k = 0; rc == 0 && header && k < ncols; k++)
        titles[k] = json_is_string(json_array_get(header, k)) ? json_string_value(json_array_get(header, k)) : "";
    json_array_foreach(rows, i, row) {
        json_array_foreach(row, k, v) {
            if (rc == 0)
                rc = cell_of(v, &cells[i * ncols + k], i, k, err, errlen);
        }
    }
    char path[4200];
    tmp_name(tmpdir, ".xlsx", path, sizeof path);
    ym_sheet s = {.name = name ? json_string_value(name) : NULL, .ncols = ncols, .header = titles, .nrows = nrows,
                  .cells = cells};
    if (rc == 0 && (rc = ym_sheet_write_xlsx(path, &s, err, errlen)) == 0) {
        rc = read_file(path, out, outlen);
        if (rc < 0)
            snprintf(err, errlen, "cannot read the written sheet back");
        unlink(path);
    }
    free(titles);
    free(cells);
    return rc;
}

/* 3 rather than 3.0 for whole numbers (row counts, ids); reals stay reals. */
static json_t *number(double v)
{
    return v == floor(v) && fabs(v) < 9007199254740992.0 ? json_integer((json_int_t)v) : json_real(v);
}

json_t *ym_sheet_xlsx_json(const void *data, size_t len, const char *tmpdir, char *err, size_t errlen)
{
    char path[4200];
    tmp_name(tmpdir, ".xlsx", path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write a temporary file: %s", strerror(errno));
        return NULL;
    }
    bool ok = true;
    for (size_t done = 0; ok && done < len;) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        ok = n > 0;
        done += ok ? (size_t)n : 0;
    }
    close(fd);
    ym_sheet_data *d = NULL;
    if (!ok)
        snprintf(err, errlen, "cannot write a temporary file");
    else if (ym_sheet_read_xlsx(path, &d, err, errlen) < 0)
        ok = false;
    unlink(path);
    if (!ok)
        return NULL;
    json_t *rows = json_array();
    for (size_t r = 0; r < d->nrows; r++) {
        json_t *row = json_array();
        for (size_t c = 0; c < d->ncols; c++) {
            const ym_cell *x = &d->cells[r * d->ncols + c];
            json_array_append_new(row, x->type == YM_CELL_TEXT ? json_string(x->text)
                                       : x->type == YM_CELL_NUMBER ? number(x->number)
                                       : x->type == YM_CELL_BOOL ? json_boolean(x->boolean) : json_null());
        }
        json_array_append_new(rows, row);
    }
    ym_sheet_data_free(d);
    return rows;
}
