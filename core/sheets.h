/* sheets: .xlsx export (libxlsxwriter), .xlsx import of the first worksheet (libzip +
 * expat) and .zip export with a manifest; the one core service C and Lua plugins share. */
#ifndef YM_SHEETS_H
#define YM_SHEETS_H
#include <stddef.h>
#include <stdint.h>

/* Limits that bound the work an uploaded file can cause (zip bombs, huge grids). */
#define YM_SHEET_MAX_ENTRY  (64u * 1024 * 1024)   /* uncompressed bytes of one zip entry */
#define YM_SHEET_MAX_CELLS  1000000u              /* cells of the imported grid */
#define YM_SHEET_MAX_ROWS   1048576u              /* Excel's own limits */
#define YM_SHEET_MAX_COLS   16384u

typedef enum ym_cell_type {
    YM_CELL_EMPTY,
    YM_CELL_TEXT,
    YM_CELL_NUMBER,
    YM_CELL_BOOL,
    YM_CELL_DATE
} ym_cell_type;

typedef struct ym_cell {
    ym_cell_type type;
    const char *text;   /* YM_CELL_TEXT: UTF-8, NUL-terminated */
    double number;      /* YM_CELL_NUMBER */
    int boolean;        /* YM_CELL_BOOL: 0 or 1 */
    int32_t date;       /* YM_CELL_DATE: days since 1970-01-01 */
} ym_cell;

typedef struct ym_sheet {
    const char *name;               /* worksheet name, at most 31 characters; NULL: "Sheet1" */
    size_t ncols;
    const char *const *header;      /* ncols titles (bold, frozen row 1); NULL: no header row */
    size_t nrows;
    const ym_cell *cells;           /* row-major, nrows * ncols */
} ym_sheet;

/* Writes sheet to path via "<path>.tmp" and rename(), so a failed export leaves nothing.
 * 0 ok; -1 with the reason ("row 3, column B: ...") in err. */
int ym_sheet_write_xlsx(const char *path, const ym_sheet *sheet, char *err, size_t errlen);

/* The first worksheet as a dense grid: row 1 of the sheet is cells[0..ncols).
 * Dates come back as YM_CELL_NUMBER (Excel serial days); the caller converts them by
 * the column's meaning. Text points into strings, which the struct owns. */
typedef struct ym_sheet_data {
    size_t nrows, ncols;
    ym_cell *cells;     /* owned, nrows * ncols */
    char **strings;     /* owned */
    size_t nstrings;
} ym_sheet_data;

/* 0 ok with *out set; -1 with the reason in err: "not an .xlsx file",
 * "row 7, column C: #DIV/0!", "row 3, column B: bad cell reference", limits exceeded. */
int ym_sheet_read_xlsx(const char *path, ym_sheet_data **out, char *err, size_t errlen);
void ym_sheet_data_free(ym_sheet_data *d);

/* Excel serial day number of days since 1970-01-01 (1900 date system). */
#define YM_EXCEL_EPOCH_1970 25569

/* "A", "Z", "AA", ... for a 0-based column; buf of at least 4 bytes. */
void ym_sheet_col_name(size_t col, char *buf, size_t len);

/* ---- .zip export ---- */

typedef struct ym_zip_entry {
    const char *name;   /* path inside the archive: relative, no "..", UTF-8 */
    const void *data;
    size_t len;
} ym_zip_entry;

/* Writes "manifest.json" (manifest_json, unless NULL) first, then entries, via
 * "<path>.tmp" and rename(). 0 ok; -1 with the reason in err. */
int ym_zip_write(const char *path, const ym_zip_entry *entries, size_t n, const char *manifest_json,
                 char *err, size_t errlen);

/* ---- the JSON bridge for plugins (sheets_json.c) ----
 * {"name": text, "header": [titles], "rows": [[cell, ...], ...]} with cells of strings,
 * numbers, booleans, null or {"date": "YYYY-MM-DD"} -> .xlsx bytes (malloc'ed) written via
 * a temporary file in tmpdir. 0, or -1 with the reason ("row 3, column B: ...") in err. */
#include <jansson.h>
int ym_sheet_json_xlsx(const json_t *sheet, const char *tmpdir, char **out, size_t *outlen, char *err, size_t errlen);
/* .xlsx bytes -> [[cell, ...], ...] of the first worksheet (strings, numbers, booleans,
 * null); NULL with the reason in err. */
json_t *ym_sheet_xlsx_json(const void *data, size_t len, const char *tmpdir, char *err, size_t errlen);
#endif
