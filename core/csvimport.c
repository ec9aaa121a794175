/* csvimport: reads CSV the way Chinese offices save it (RFC 4180, UTF-8 or GB18030) and
 * imports units or users from it in one transaction: everything, or nothing and a report. */
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "csvimport.h"
#include "auditlog.h"
#include "cli_admin.h"
#include "identity.h"
#include "password.h"

#define MAX_FILE (64u << 20)
#define MAX_ROLES 8

/* ---------- encodings ---------- */

/* Offset of the first byte that is not well-formed UTF-8 (RFC 3629), or n. */
static size_t utf8_bad_at(const unsigned char *s, size_t n)
{
    static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
        if (!k || i + k >= n)
            return i;
        unsigned cp = c & (0x7fu >> (k + 1));
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += k + 1;
    }
    return n;
}

static size_t line_at(const char *s, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off; i++)
        line += s[i] == '\n';
    return line;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        abort();
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int from_gb18030(const char *in, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1) {
        snprintf(err, errlen, "the file is not UTF-8 and GB18030 is not available (iconv)");
        return -1;
    }
    size_t cap = len * 2 + 16, left_in = len, left_out = cap - 1;
    char *buf = malloc(cap), *ip = (char *)in, *op = buf;
    if (!buf)
        abort();
    size_t rc = iconv(cd, &ip, &left_in, &op, &left_out);
    iconv_close(cd);
    if (rc == (size_t)-1) {
        snprintf(err, errlen, "line %zu: bytes that are neither UTF-8 nor GB18030; save the file as CSV (UTF-8)",
                 line_at(in, (size_t)(ip - in)));
        free(buf);
        return -1;
    }
    *op = 0;
    size_t skip = op - buf >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0; /* GB18030's own BOM */
    memmove(buf, buf + skip, (size_t)(op - buf) - skip + 1);
    *out = buf;
    *outlen = (size_t)(op - buf) - skip;
    return 0;
}

int ym_csv_to_utf8(const char *in, size_t len, char **out, size_t *outlen, const char **encoding,
                   char *err, size_t errlen)
{
    const unsigned char *u = (const unsigned char *)in;
    if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
        snprintf(err, errlen, "the file is UTF-16 text; save it as CSV (UTF-8) or CSV");
        return -1;
    }
    if (len >= 4 && memcmp(in, "PK\x03\x04", 4) == 0) {
        snprintf(err, errlen, "the file is a workbook (.xlsx), not CSV; save it as CSV (UTF-8)");
        return -1;
    }
    const char *nul = memchr(in, 0, len);
    if (nul) {
        snprintf(err, errlen, "line %zu: a NUL byte; this is not a CSV text file", line_at(in, (size_t)(nul - in)));
        return -1;
    }
    bool bom = len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf;
    if (bom || utf8_bad_at(u, len) == len) {
        size_t skip = bom ? 3 : 0;
        if (bom && utf8_bad_at(u + 3, len - 3) != len - 3) {
            snprintf(err, errlen, "line %zu: the file starts with a UTF-8 mark but is not UTF-8",
                     line_at(in, 3 + utf8_bad_at(u + 3, len - 3)));
            return -1;
        }
        *out = dup_n(in + skip, len - skip);
        *outlen = len - skip;
        *encoding = bom ? "UTF-8 (BOM)" : "UTF-8";
        return 0;
    }
    *encoding = "GB18030";
    return from_gb18030(in, len, out, outlen, err, errlen);
}

/* ---------- RFC 4180 ---------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sbuf_put(sbuf *b, char c)
{
    if (b->n + 1 >= b->cap) {
        b->cap = b->cap ? b->cap * 2 : 32;
        char *np = realloc(b->p, b->cap);
        if (!np)
            abort();
        b->p = np;
    }
    b->p[b->n++] = c;
    b->p[b->n] = 0;
}

static void row_push(ym_csv_row *r, sbuf *f)
{
    char **nf = realloc(r->f, (r->n + 1) * sizeof *nf);
    if (!nf)
        abort();
    r->f = nf;
    r->f[r->n++] = f->p ? f->p : dup_n("", 0);
    *f = (sbuf){0};
}

static void row_free(ym_csv_row *r)
{
    for (size_t i = 0; i < r->n; i++) {
        explicit_bzero(r->f[i], strlen(r->f[i])); /* a cell may hold a password */
        free(r->f[i]);
    }
    free(r->f);
    *r = (ym_csv_row){0};
}

static void csv_add(ym_csv *c, ym_csv_row *r)
{
    bool blank = true;
    for (size_t i = 0; i < r->n && blank; i++)
        blank = !r->f[i][0];
    if (blank) {
        row_free(r);
        return;
    }
    if (c->nrows == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        ym_csv_row *nr = realloc(c->rows, c->cap * sizeof *nr);
        if (!nr)
            abort();
        c->rows = nr;
    }
    c->rows[c->nrows++] = *r;
}

typedef struct scan {
    const char *s;
    size_t len, i, line;
    char *err;
    size_t errlen;
} scan;

static bool at_eol(const scan *sc)
{
    return sc->i >= sc->len || sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r';
}

/* A quoted field: "" is a quote; CRLF inside becomes LF. */
static int quoted(scan *sc, sbuf *f)
{
    size_t open_line = sc->line;
    sc->i++;
    for (;;) {
        if (sc->i >= sc->len) {
            snprintf(sc->err, sc->errlen, "line %zu: a quoted field is not closed (it runs to the end of the file)",
                     open_line);
            return -1;
        }
        char c = sc->s[sc->i++];
        if (c == '"' && sc->i < sc->len && sc->s[sc->i] == '"') {
            sc->i++;
        } else if (c == '"') {
            break;
        } else if (c == '\r' || c == '\n') {
            if (c == '\r' && sc->i < sc->len && sc->s[sc->i] == '\n')
                sc->i++;
            sc->line++;
            c = '\n';
        }
        sbuf_put(f, c);
    }
    if (!at_eol(sc) && sc->s[sc->i] != ',') {
        snprintf(sc->err, sc->errlen, "line %zu: text after a closing quote (a quote inside a field is written \"\")",
                 sc->line);
        return -1;
    }
    return 0;
}

static int plain(scan *sc, sbuf *f)
{
    while (!at_eol(sc) && sc->s[sc->i] != ',') {
        if (sc->s[sc->i] == '"') {
            snprintf(sc->err, sc->errlen, "line %zu: a quote inside an unquoted field "
                     "(quote the whole field and write the quote as \"\")", sc->line);
            return -1;
        }
        sbuf_put(f, sc->s[sc->i++]);
    }
    return 0;
}

static int record(scan *sc, ym_csv_row *r)
{
    r->line = sc->line;
    for (;;) {
        sbuf f = {0};
        int rc = sc->i < sc->len && sc->s[sc->i] == '"' ? quoted(sc, &f) : plain(sc, &f);
        row_push(r, &f);
        if (rc < 0)
            return -1;
        if (sc->i < sc->len && sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->i < sc->len && sc->s[sc->i] == '\r' && ++sc->i < sc->len && sc->s[sc->i] == '\n')
            sc->i++;
        else if (sc->i < sc->len && sc->s[sc->i] == '\n')
            sc->i++;
        sc->line++;
        return 0;
    }
}

int ym_csv_parse(const char *text, size_t len, ym_csv *out, char *err, size_t errlen)
{
    const char *enc = out->encoding;
    *out = (ym_csv){.encoding = enc ? enc : "UTF-8"};
    scan sc = {text, len, 0, 1, err, errlen};
    while (sc.i < sc.len) {
        ym_csv_row r = {0};
        if (record(&sc, &r) < 0) {
            row_free(&r);
            ym_csv_free(out);
            return -1;
        }
        csv_add(out, &r);
    }
    return 0;
}

int ym_csv_load(const char *path, ym_csv *out, char *err, size_t errlen)
{
    *out = (ym_csv){0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(MAX_FILE + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    char *text = NULL;
    size_t tlen = 0;
    const char *enc = "UTF-8";
    int rc = -1;
    if (bad)
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    else if (n > MAX_FILE)
        snprintf(err, errlen, "%s is larger than 64 MiB", path);
    else if (ym_csv_to_utf8(buf, n, &text, &tlen, &enc, err, errlen) == 0) {
        out->encoding = enc;
        rc = ym_csv_parse(text, tlen, out, err, errlen);
        out->encoding = enc;
    }
    explicit_bzero(buf, n < MAX_FILE ? n : MAX_FILE);
    free(buf);
    if (text)
        explicit_bzero(text, tlen);
    free(text);
    return rc;
}

void ym_csv_free(ym_csv *c)
{
    for (size_t i = 0; i < c->nrows; i++)
        row_free(&c->rows[i]);
    free(c->rows);
    const char *enc = c->encoding;
    *c = (ym_csv){.encoding = enc};
}

bool ym_digits_only(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* ---------- the report ---------- */

static void problem(ym_import_result *res, size_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(ym_import_result *res, size_t line, const char *fmt, ...)
{
    if (res->nproblems == YM_IMPORT_MAX_PROBLEMS) {
        res->more++;
        return;
    }
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *p;
    if (asprintf(&p, "line %zu: %s", line, msg) < 0)
        abort();
    res->problems[res->nproblems++] = p;
}

static bool has_problems(const ym_import_result *res)
{
    return res->nproblems || res->more;
}

static void secret_add(ym_import_result *res, const char *username, const char *pw)
{
    char **ns = realloc(res->secrets, (res->nsecrets + 1) * sizeof *ns);
    if (!ns)
        abort();
    res->secrets = ns;
    if (asprintf(&res->secrets[res->nsecrets], "%s,%s", username, pw) < 0)
        abort();
    res->nsecrets++;
}

void ym_import_result_free(ym_import_result *res)
{
    for (size_t i = 0; i < res->nproblems; i++)
        free(res->problems[i]);
    for (size_t i = 0; i < res->nsecrets; i++) {
        explicit_bzero(res->secrets[i], strlen(res->secrets[i]));
        free(res->secrets[i]);
    }
    free(res->secrets);
    *res = (ym_import_result){0};
}

/* ---------- columns ---------- */

typedef struct column {
    const char *key;
    const char *alias[4];
    bool required;
} column;

/* ASCII spaces, tabs and the ideographic space (U+3000) at both ends. */
static void trim(char *s)
{
    char *a = s;
    for (;;) {
        if (*a == ' ' || *a == '\t')
            a++;
        else if (strncmp(a, "\xe3\x80\x80", 3) == 0)
            a += 3;
        else
            break;
    }
    size_t n = strlen(a);
    for (;;) {
        if (n && (a[n - 1] == ' ' || a[n - 1] == '\t'))
            n--;
        else if (n >= 3 && memcmp(a + n - 3, "\xe3\x80\x80", 3) == 0)
            n -= 3;
        else
            break;
    }
    memmove(s, a, n);
    s[n] = 0;
}

/* Header cells -> column index per field; problems for unknown, repeated or missing ones. */
static int map_header(ym_csv *csv, const column *cols, size_t ncols, int *pos, ym_import_result *res)
{
    if (csv->nrows == 0) {
        problem(res, 1, "the file is empty: a header row naming the columns is required");
        return -1;
    }
    ym_csv_row *h = &csv->rows[0];
    for (size_t c = 0; c < ncols; c++)
        pos[c] = -1;
    for (size_t i = 0; i < h->n; i++) {
        trim(h->f[i]);
        size_t c = 0;
        while (c < ncols && strcasecmp(h->f[i], cols[c].key) != 0 &&
               !(cols[c].alias[0] && strcmp(h->f[i], cols[c].alias[0]) == 0) &&
               !(cols[c].alias[1] && strcmp(h->f[i], cols[c].alias[1]) == 0) &&
               !(cols[c].alias[2] && strcasecmp(h->f[i], cols[c].alias[2]) == 0))
            c++;
        if (c == ncols && h->f[i][0])
            problem(res, h->line, "column %zu: unknown column \"%s\"", i + 1, h->f[i]);
        else if (c < ncols && pos[c] >= 0)
            problem(res, h->line, "column %zu: %s appears twice", i + 1, cols[c].key);
        else if (c < ncols)
            pos[c] = (int)i;
    }
    for (size_t c = 0; c < ncols; c++)
        if (cols[c].required && pos[c] < 0)
            problem(res, h->line, "the header has no column %s (columns: %s%s%s%s%s%s%s)", cols[c].key, cols[0].key,
                    ncols > 1 ? ", " : "", ncols > 1 ? cols[1].key : "", ncols > 2 ? ", " : "",
                    ncols > 2 ? cols[2].key : "", ncols > 3 ? ", " : "", ncols > 3 ? "..." : "");
    return has_problems(res) ? -1 : 0;
}

/* The trimmed cell of column c in row r ("" when absent). */
static const char *cell(ym_csv_row *r, const int *pos, int c)
{
    if (pos[c] < 0 || (size_t)pos[c] >= r->n)
        return "";
    trim(r->f[pos[c]]);
    return r->f[pos[c]];
}

/* Extra non-empty cells beyond the header are a mistake (a stray comma). */
static void check_width(ym_csv_row *r, size_t width, ym_import_result *res)
{
    for (size_t i = width; i < r->n; i++)
        if (r->f[i][0]) {
            problem(res, r->line, "%zu fields, but the header names %zu columns", r->n, width);
            return;
        }
}

/* Commits the import (write_end + flush) or rolls it back; 0, 1 (problems) or -1. */
static int finish(ym_db *db, const ym_import_opts *o, ym_import_result *res, bool ok, char *err, size_t errlen)
{
    if (ok && !has_problems(res) && o->before_commit && o->before_commit(o->ud, res) != 0) {
        snprintf(err, errlen, "import abandoned before commit");
        ok = false;
    }
    bool keep = ok && !has_problems(res);
    if (ym_db_write_end(db, keep) < 0 && keep) {
        snprintf(err, errlen, "cannot write: %s", ym_db_errmsg(db));
        ok = keep = false;
    }
    if (ym_db_flush(db) < 0 && keep) {
        snprintf(err, errlen, "cannot commit: %s", ym_db_errmsg(db));
        ok = false;
    }
    if (!ok && !*err)
        snprintf(err, errlen, "database error: %s", ym_db_errmsg(db));
    return !ok ? -1 : has_problems(res) ? 1 : 0;
}

/* ---------- units ---------- */

enum { U_NAME, U_KIND, U_PARENT, U_SHORT, U_CODE, U_SORT, U_NCOLS };
static const column unit_cols[U_NCOLS] = {
    {"name", {"名称", "单位名称", NULL}, true}, {"kind", {"类型", "级别", NULL}, true},
    {"parent", {"上级", "上级单位", "parent_id"}, false}, {"short_name", {"简称", "机关代字", "short"}, false},
    {"credit_code", {"统一社会信用代码", "信用代码", "code"}, false}, {"sort", {"排序", "序号", NULL}, false},
};

/* One row: checks, creates, audits. 0 done or reported, -1 database error. */
static int unit_row(ym_db *db, const ym_import_opts *o, ym_csv_row *r, const int *pos, int64_t root,
                    ym_import_result *res)
{
    const char *name = cell(r, pos, U_NAME), *kind_in = cell(r, pos, U_KIND), *parent_ref = cell(r, pos, U_PARENT);
    const char *sort_s = cell(r, pos, U_SORT), *kind = ym_unit_kind_parse(kind_in);
    size_t before = res->nproblems + res->more;
    char why[300], field[32], err[300];
    if (!*name)
        problem(res, r->line, "name: required");
    if (!kind)
        problem(res, r->line, "kind: \"%s\" is not county, township, village, department or other", kind_in);
    if (*sort_s && !(ym_digits_only(sort_s) || (sort_s[0] == '-' && ym_digits_only(sort_s + 1))))
        problem(res, r->line, "sort: \"%s\" is not a whole number", sort_s);
    int64_t parent = *parent_ref ? ym_unit_resolve(db, parent_ref, why, sizeof why) : root;
    if (parent < 0)
        return -1;
    if (parent == 0)
        problem(res, r->line, "parent: %s", why);
    int dup = parent > 0 && *name ? ym_unit_sibling_named(db, parent, name) : 0;
    if (dup < 0)
        return -1;
    if (dup)
        problem(res, r->line, "name: a unit named %s already exists there", name);
    if (res->nproblems + res->more != before)
        return 0;
    int64_t id = ym_unit_create(db, parent, kind, name, cell(r, pos, U_SHORT), cell(r, pos, U_CODE),
                                atoi(sort_s), field, sizeof field, err, sizeof err);
    if (id == -1)
        problem(res, r->line, "%s: %s", field, err);
    if (id < 0)
        return id == -1 ? 0 : -1;
    char target[32];
    snprintf(target, sizeof target, "unit:%lld", (long long)id);
    json_t *d = json_pack("{s:s,s:s,s:I,s:s,s:I}", "name", name, "kind", kind, "parent_id", (json_int_t)parent,
                          "source", o->source ? o->source : "", "line", (json_int_t)r->line);
    int rc = ym_audit_cli(db, o->cfg, "cli.unit.import", target, d);
    json_decref(d);
    res->created++;
    return rc;
}

int ym_import_units(ym_db *db, const ym_import_opts *o, ym_csv *csv, ym_import_result *res, char *err,
                    size_t errlen)
{
    int pos[U_NCOLS];
    *res = (ym_import_result){0};
    err[0] = 0;
    if (map_header(csv, unit_cols, U_NCOLS, pos, res) < 0)
        return 1;
    if (ym_db_write_begin(db) < 0) {
        snprintf(err, errlen, "the database is busy: %s", ym_db_errmsg(db));
        return -1;
    }
    int64_t root = ym_root_unit(db);
    bool ok = root > 0;
    for (size_t i = 1; ok && i < csv->nrows; i++) {
        check_width(&csv->rows[i], csv->rows[0].n, res);
        ok = unit_row(db, o, &csv->rows[i], pos, root, res) == 0;
    }
    return finish(db, o, res, ok, err, errlen);
}

/* ---------- users ---------- */

enum { C_USER, C_NAME, C_UNIT, C_TITLE, C_PHONE, C_ROLE, C_PASSWORD, C_NCOLS };
static const column user_cols[C_NCOLS] = {
    {"username", {"用户名", "账号", "login"}, true}, {"display_name", {"姓名", "显示名", "name"}, true},
    {"unit", {"单位", "所在单位", "unit_id"}, true}, {"title", {"职务", "职位", NULL}, false},
    {"phone", {"电话", "手机", "mobile"}, false}, {"role", {"角色", NULL, "roles"}, false},
    {"password", {"密码", "初始密码", NULL}, false},
};

typedef struct urow {
    ym_csv_row *r;
    const char *v[C_NCOLS];
    char *roles[MAX_ROLES];
    size_t nroles;
    int64_t unit_id;
    bool generated;
    char pw[64];          /* generated password */
} urow;

static bool phone_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == ' ' || *s == '(' || *s == ')'))
            return false;
    return true;
}

/* Splits the role cell on ';', ',' and spaces into u->roles (the cell is ours). */
static void split_roles(urow *u, ym_import_result *res)
{
    char *s = (char *)u->v[C_ROLE], *save = NULL;
    for (char *t = strtok_r(s, ";, \t", &save); t; t = strtok_r(NULL, ";, \t", &save)) {
        if (u->nroles == MAX_ROLES) {
            problem(res, u->r->line, "role: at most %d roles", MAX_ROLES);
            return;
        }
        u->roles[u->nroles++] = t;
    }
}

/* Everything that can be checked without writing; 0, or -1 on a database error. */
static int check_user(ym_db *db, const ym_config *cfg, urow *rows, size_t i, ym_import_result *res)
{
    urow *u = &rows[i];
    size_t line = u->r->line;
    char why[300];
    const char *name = u->v[C_USER];
    int taken = ym_username_ok(name) ? ym_username_taken(db, name) : 0;
    if (taken < 0)
        return -1;
    if (!ym_username_ok(name))
        problem(res, line, "username: \"%s\" must be 2-64 characters of a-z, 0-9, '_', '.', '-'", name);
    else if (taken)
        problem(res, line, "username: %s is already taken", name);
    for (size_t j = 0; j < i; j++)
        if (strcmp(rows[j].v[C_USER], name) == 0 && *name) {
            problem(res, line, "username: %s is also on line %zu", name, rows[j].r->line);
            break;
        }
    if (!*u->v[C_NAME] || strlen(u->v[C_NAME]) > 128)
        problem(res, line, "display_name: required, at most 128 bytes");
    if (!*u->v[C_UNIT])
        problem(res, line, "unit: required (an id, a unit name or a path like 城关镇/城东村)");
    else if ((u->unit_id = ym_unit_resolve(db, u->v[C_UNIT], why, sizeof why)) < 0)
        return -1;
    else if (u->unit_id == 0)
        problem(res, line, "unit: %s", why);
    if (strlen(u->v[C_TITLE]) > 128)
        problem(res, line, "title: at most 128 bytes");
    if (strlen(u->v[C_PHONE]) > 32 || !phone_ok(u->v[C_PHONE]))
        problem(res, line, "phone: \"%s\" is not a phone number", u->v[C_PHONE]);
    split_roles(u, res);
    for (size_t k = 0; k < u->nroles; k++) {
        int64_t rid = ym_role_id(db, u->roles[k]);
        if (rid < 0)
            return -1;
        if (rid == 0)
            problem(res, line, "role: no role %s", u->roles[k]);
    }
    if (*u->v[C_PASSWORD] && ym_password_policy(cfg, u->v[C_PASSWORD], name, why, sizeof why) < 0)
        problem(res, line, "password: %s", why);
    return 0;
}

static int user_write(ym_db *db, const ym_import_opts *o, urow *u, const char *hash, ym_import_result *res)
{
    char field[32], err[300];
    int64_t id = ym_user_create(db, u->v[C_USER], u->v[C_NAME], u->unit_id, u->v[C_TITLE], u->v[C_PHONE], hash,
                                true, field, sizeof field, err, sizeof err);
    if (id == -1)
        problem(res, u->r->line, "%s: %s", strcmp(field, "unit_id") == 0 ? "unit" : field, err);
    if (id < 0)
        return id == -1 ? 0 : -1;
    if (ym_import_grant_roles(db, id, u->unit_id, u->roles, u->nroles, err, sizeof err) < 0) {
        problem(res, u->r->line, "role: %s", err);
        return 0;
    }
    json_t *roles = json_array();
    for (size_t k = 0; k < u->nroles; k++)
        json_array_append_new(roles, json_string(u->roles[k]));
    char target[32];
    snprintf(target, sizeof target, "user:%lld", (long long)id);
    json_t *d = json_pack("{s:s,s:I,s:o,s:b,s:s,s:I}", "username", u->v[C_USER], "unit_id", (json_int_t)u->unit_id,
                          "roles", roles, "generated_password", u->generated, "source", o->source ? o->source : "",
                          "line", (json_int_t)u->r->line);
    int rc = ym_audit_cli(db, o->cfg, "cli.user.import", target, d);
    json_decref(d);
    if (u->generated)
        secret_add(res, u->v[C_USER], u->pw);
    res->created++;
    return rc;
}

/* Passwords (given or generated) hashed before the write, so the lock is held briefly. */
static int hash_all(const ym_config *cfg, urow *rows, size_t n, char (**hashes)[256])
{
    char **pws = calloc(n ? n : 1, sizeof *pws);
    *hashes = calloc(n ? n : 1, sizeof **hashes);
    if (!pws || !*hashes)
        abort();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rows[i].generated = !*rows[i].v[C_PASSWORD];
        if (rows[i].generated)
            rc = ym_password_generate(cfg, rows[i].v[C_USER], rows[i].pw, sizeof rows[i].pw);
        pws[i] = rows[i].generated ? rows[i].pw : (char *)rows[i].v[C_PASSWORD];
    }
    if (rc == 0)
        rc = ym_password_hash_many(cfg, pws, n, *hashes);
    free(pws);
    return rc;
}

static int users_write(ym_db *db, const ym_import_opts *o, urow *rows, size_t n, char (*hashes)[256],
                       ym_import_result *res, char *err, size_t errlen)
{
    if (ym_db_write_begin(db) < 0) {
        snprintf(err, errlen, "the database is busy: %s", ym_db_errmsg(db));
        return -1;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++)
        ok = user_write(db, o, &rows[i], hashes[i], res) == 0;
    return finish(db, o, res, ok, err, errlen);
}

int ym_import_users(ym_db *db, const ym_import_opts *o, ym_csv *csv, ym_import_result *res, char *err,
                    size_t errlen)
{
    int pos[C_NCOLS];
    *res = (ym_import_result){0};
    err[0] = 0;
    if (map_header(csv, user_cols, C_NCOLS, pos, res) < 0)
        return 1;
    size_t n = csv->nrows - 1;
    urow *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        abort();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rows[i].r = &csv->rows[i + 1];
        for (int c = 0; c < C_NCOLS; c++)
            rows[i].v[c] = cell(rows[i].r, pos, c);
        check_width(rows[i].r, csv->rows[0].n, res);
        rc = check_user(db, o->cfg, rows, i, res);
    }
    char (*hashes)[256] = NULL;
    if (rc < 0)
        snprintf(err, errlen, "database error: %s", ym_db_errmsg(db));
    else if (has_problems(res))
        rc = 1;
    else if (hash_all(o->cfg, rows, n, &hashes) < 0)
        rc = -1, snprintf(err, errlen, "cannot hash the passwords");
    else
        rc = users_write(db, o, rows, n, hashes, res, err, errlen);
    for (size_t i = 0; i < n; i++)
        explicit_bzero(rows[i].pw, sizeof rows[i].pw);
    free(rows);
    free(hashes);
    return rc;
}
