/* csvimport: CSV as Excel and WPS in China save it (RFC 4180; UTF-8 with or without
 * BOM, or GB18030) and the all-or-nothing import of units and users from it. */
#ifndef YM_CSVIMPORT_H
#define YM_CSVIMPORT_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "config.h"
#include "db.h"

/* ---- parsing ---- */

typedef struct ym_csv_row {
    size_t line;        /* physical line (1-based) where the record starts */
    size_t n;           /* fields */
    char **f;           /* UTF-8, NUL-terminated */
} ym_csv_row;

typedef struct ym_csv {
    ym_csv_row *rows;   /* the header is rows[0] */
    size_t nrows, cap;
    const char *encoding;   /* "UTF-8", "UTF-8 (BOM)" or "GB18030" */
} ym_csv;

/* in -> UTF-8: a UTF-8 byte-order mark is dropped; valid UTF-8 is kept as it is;
 * anything else is read as GB18030 (iconv). *out is malloc'ed and NUL-terminated.
 * 0 ok; -1 with the reason and line in err (UTF-16, a NUL byte, bytes that are neither). */
int ym_csv_to_utf8(const char *in, size_t len, char **out, size_t *outlen, const char **encoding,
                   char *err, size_t errlen);
/* RFC 4180 records (quotes, "" escapes, commas and newlines inside quotes, CRLF or LF).
 * Records whose fields are all empty are skipped. 0 ok; -1 with "line N: ..." in err. */
int ym_csv_parse(const char *text, size_t len, ym_csv *out, char *err, size_t errlen);
/* Reads, decodes and parses a file (at most 64 MiB). */
int ym_csv_load(const char *path, ym_csv *out, char *err, size_t errlen);
void ym_csv_free(ym_csv *c);

/* ---- import ---- */

#define YM_IMPORT_MAX_PROBLEMS 100

typedef struct ym_import_result {
    char *problems[YM_IMPORT_MAX_PROBLEMS];   /* "line 7: unit: no unit named 城东村", in line order */
    size_t nproblems;                         /* kept (at most YM_IMPORT_MAX_PROBLEMS) */
    size_t more;                              /* problems found beyond those kept */
    size_t created;
    char **secrets;                           /* "username,password" of generated passwords */
    size_t nsecrets;
} ym_import_result;

/* Called after every row is written and before the transaction is released: a nonzero
 * return rolls everything back (the CLI writes the generated passwords here). */
typedef int (*ym_import_hook)(void *ud, const ym_import_result *res);

typedef struct ym_import_opts {
    const ym_config *cfg;
    const char *source;       /* file name, for the audit rows */
    ym_import_hook before_commit;
    void *ud;
} ym_import_opts;

/* Units CSV: name,kind,parent,short_name,credit_code,sort (parent: id, unique name or
 * path "城关镇/城东村"; empty = the county). Users CSV: username,display_name,unit,title,
 * phone,role,password (role: keys separated by ';'; no password = a random one, listed in
 * res->secrets). Cells are trimmed in place. One audit row per created object. Runs one write and commits it.
 * 0 = imported; 1 = problems found, nothing kept (res->problems); -1 = error (err). */
int ym_import_units(ym_db *db, const ym_import_opts *o, ym_csv *csv, ym_import_result *res,
                    char *err, size_t errlen);
int ym_import_users(ym_db *db, const ym_import_opts *o, ym_csv *csv, ym_import_result *res,
                    char *err, size_t errlen);
void ym_import_result_free(ym_import_result *res);

/* A non-empty string of ASCII digits only (an id or a number in a CSV cell or argument). */
bool ym_digits_only(const char *s);

#endif
