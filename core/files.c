/* files: attachments. Upload stores the raw body content-addressed on disk
 * (write a temp file, fsync, rename into place, fsync the directory) and records a
 * row in core_files; download checks the uploader or files.read on the file's unit
 * and serves the bytes with a safe Content-Type and Content-Disposition. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <magic.h>
#include <openssl/evp.h>
#include "files.h"
#include "items.h"
#include "auth.h"
#include "http.h"
#include "identity.h"
#include "clock.h"
#include "log.h"
#include "datadir.h"

static ym_db *req_db(const ym_request *r) { return ym_server_db(ym_req_server(r)); }
static const ym_config *req_cfg(const ym_request *r) { return ym_server_config(ym_req_server(r)); }

static void busy(ym_request *r) { ym_resp_error(r, 503, "storage_busy", "the database is busy; try again"); }

/* ---------- pure helpers (unit-tested) ---------- */

bool ym_files_utf8_ok(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* C0 controls, DEL, and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F). */
static bool has_control(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return true;
        if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

const char *ym_files_name_clean(const char *in, char *out, size_t outlen)
{
    if (!in || !*in)
        return "a file name is required";
    size_t len = strlen(in);
    if (!ym_files_utf8_ok(in, len))
        return "the file name is not valid UTF-8";
    if (has_control(in, len))
        return "the file name contains a control character";
    const char *base = in;
    for (const char *p = in; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t blen = strlen(base);
    if (blen == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return "the file name has no last path component";
    if (blen > YM_FILES_NAME_MAX)
        return "the file name is longer than 255 bytes";
    if (blen + 1 > outlen)
        return "the file name is too long";
    memcpy(out, base, blen + 1);
    return NULL;
}

/* RFC 5987 attr-char */
static bool attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c);
}

size_t ym_files_disposition(const char *disposition, const char *name, char *out, size_t outlen)
{
    size_t o = 0;
#define PUT(ch) do { if (o + 1 >= outlen) return 0; out[o++] = (char)(ch); } while (0)
    for (const char *p = disposition; *p; p++)
        PUT(*p);
    for (const char *p = "; filename=\""; *p; p++)
        PUT(*p);
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; s[i];) {
        unsigned char c = s[i];
        if (c >= 0x80) { /* one '_' per character, not per byte */
            PUT('_');
            i++;
            while ((s[i] & 0xc0) == 0x80)
                i++;
            continue;
        }
        PUT(c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '%' ? '_' : c);
        i++;
    }
    for (const char *p = "\"; filename*=UTF-8''"; *p; p++)
        PUT(*p);
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; s[i]; i++) {
        if (attr_char(s[i])) {
            PUT(s[i]);
        } else {
            PUT('%');
            PUT(hex[s[i] >> 4]);
            PUT(hex[s[i] & 15]);
        }
    }
#undef PUT
    out[o] = 0;
    return o;
}

bool ym_files_inline_ok(const char *type)
{
    static const char *const safe[] = {"image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"};
    if (!type)
        return false;
    for (size_t i = 0; i < sizeof safe / sizeof *safe; i++)
        if (strcmp(type, safe[i]) == 0)
            return true;
    return false;
}

static bool hex64(const char *hex)
{
    size_t i = 0;
    for (; hex[i]; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return false;
    return i == 64;
}

int ym_files_blob_path(const char *data_dir, const char *hex, char *out, size_t outlen)
{
    if (!hex || !hex64(hex))
        return -1;
    int n = snprintf(out, outlen, "%s/files/%.2s/%.2s/%s", data_dir, hex, hex + 2, hex);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int ym_files_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
    return 0;
}

/* ---------- type sniffing: one magic cookie per worker, opened lazily ---------- */

static magic_t g_magic;
static bool g_magic_failed;

static const char *sniff(const void *data, size_t len)
{
    if (!g_magic && !g_magic_failed) {
        g_magic = magic_open(MAGIC_MIME_TYPE);
        if (!g_magic || magic_load(g_magic, NULL) != 0) {
            ym_log(YM_LOG_ERROR, "libmagic cannot load its database: every upload is application/octet-stream",
                   "error=%s", g_magic ? magic_error(g_magic) : "magic_open failed");
            if (g_magic)
                magic_close(g_magic);
            g_magic = NULL;
            g_magic_failed = true;
        }
    }
    const char *t = g_magic ? magic_buffer(g_magic, data, len) : NULL;
    return t && *t ? t : "application/octet-stream";
}

/* ---------- blob storage ---------- */

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir that reports whether it created the directory: 1 created, 0 existed, -1 error. */
static int mkdir_one(const char *path)
{
    if (mkdir(path, 0750) == 0)
        return 1;
    return errno == EEXIST ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Stores the bytes as the blob named hex (unless it is there already). 0 ok, -1 error. */
static int blob_store(const char *data_dir, const char *hex, const char *data, size_t len)
{
    char files[4096], tmpdir[4096], tmp[4200], d1[4096], d2[4096], final[4200];
    snprintf(files, sizeof files, "%s/files", data_dir);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", files);
    snprintf(d1, sizeof d1, "%s/%.2s", files, hex);
    snprintf(d2, sizeof d2, "%s/%.2s", d1, hex + 2);
    if (ym_files_blob_path(data_dir, hex, final, sizeof final) < 0)
        return -1;
    struct stat st;
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
        /* same content already stored: freshen its mtime, so the cleanup (which only
         * reaps blobs untouched for an hour) leaves it alone while our row commits */
        utimensat(AT_FDCWD, final, NULL, 0);
        return 0;
    }
    if (ym_mkdirs(tmpdir, 0750) < 0)
        return -1;
    snprintf(tmp, sizeof tmp, "%s/up-XXXXXX", tmpdir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    int c1 = mkdir_one(d1), c2 = c1 < 0 ? -1 : mkdir_one(d2);
    if (c1 < 0 || c2 < 0) {
        unlink(tmp);
        return -1;
    }
    if (c1 == 1)
        fsync_dir(files);
    if (c2 == 1)
        fsync_dir(d1);
    if (stat(final, &st) == 0) { /* another worker stored it meanwhile */
        unlink(tmp);
        return 0;
    }
    if (rename(tmp, final) < 0) {
        unlink(tmp);
        return -1;
    }
    return fsync_dir(d2);
}

/* 1 when the blob named hex is there with len bytes, else 0. */
static int blob_present(const char *data_dir, const char *hex, size_t len)
{
    char path[4200];
    struct stat st;
    return ym_files_blob_path(data_dir, hex, path, sizeof path) == 0 && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode) && (size_t)st.st_size == len;
}

/* ---------- JSON ---------- */

static json_t *file_json(sqlite3_stmt *st)
{
    /* columns: id, name, size, sniffed_type, sha256, created_at, declared_type,
     * uploader_id, unit_id, owner */
    char when[48];
    ym_time_format(sqlite3_column_int64(st, 5), when, sizeof when);
    const char *declared = (const char *)sqlite3_column_text(st, 6);
    const char *owner = (const char *)sqlite3_column_text(st, 9);
    return json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:o,s:I,s:I,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                     "name", (const char *)sqlite3_column_text(st, 1), "size",
                     (json_int_t)sqlite3_column_int64(st, 2), "type", (const char *)sqlite3_column_text(st, 3),
                     "sha256", (const char *)sqlite3_column_text(st, 4), "created_at", when, "declared_type",
                     declared ? json_string(declared) : json_null(), "uploader_id",
                     (json_int_t)sqlite3_column_int64(st, 7), "unit_id", (json_int_t)sqlite3_column_int64(st, 8),
                     "owner", owner ? json_string(owner) : json_null());
}

#define FILE_COLS "id, name, size, sniffed_type, sha256, created_at, declared_type, uploader_id, unit_id, owner"

/* ---------- POST /api/files?name= ---------- */

static void files_upload(ym_request *r, void *ud)
{
    ym_principal *p = r->who;
    char *raw = ym_req_query(r, "name");
    char name[YM_FILES_NAME_MAX + 1];
    const char *why = ym_files_name_clean(raw, name, sizeof name);
    free(raw);
    if (why) {
        ym_resp_invalid(r, "name", "%s", why);
        return;
    }
    char hex[65];
    if (ym_files_sha256_hex(r->body ? r->body : "", r->body_len, hex) < 0) {
        ym_resp_error(r, 500, "internal", "the file could not be hashed");
        return;
    }
    const char *type = sniff(r->body ? r->body : "", r->body_len);
    char sniffed[128];
    snprintf(sniffed, sizeof sniffed, "%s", type);
    const char *declared = ym_req_header(r, "content-type");
    if (declared && (!*declared || strlen(declared) > 255 || !ym_files_utf8_ok(declared, strlen(declared))))
        declared = NULL;
    const ym_config *cfg = req_cfg(r);
    if (blob_store(cfg->data_dir, hex, r->body ? r->body : "", r->body_len) < 0) {
        ym_log(YM_LOG_ERROR, "cannot store an uploaded file", "sha256=%s error=%s", hex, strerror(errno));
        ym_resp_error(r, 500, "storage_error", "the file could not be stored");
        return;
    }
    ym_db *db = req_db(r);
    if (ym_db_write_begin(db) < 0) {
        busy(r);
        return;
    }
    int64_t now = ym_now();
    sqlite3_stmt *st = ym_db_prepare(db, "core",
        "INSERT INTO core_files(sha256, size, name, declared_type, sniffed_type, uploader_id, unit_id, owner, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)");
    bool ok = st != NULL;
    int64_t id = 0;
    if (ok) {
        sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)r->body_len);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
        if (declared)
            sqlite3_bind_text(st, 4, declared, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_text(st, 5, sniffed, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, p->user_id);
        sqlite3_bind_int64(st, 7, p->unit_id);
        sqlite3_bind_int64(st, 8, now);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        id = sqlite3_last_insert_rowid(ym_db_handle(db));
    }
    /* The cleanup unlinks an unreferenced blob only while it holds the write lock, and
     * we hold it now: if it took the blob between blob_store and here, store it again. */
    if (ok && blob_present(cfg->data_dir, hex, r->body_len) == 0 &&
        blob_store(cfg->data_dir, hex, r->body ? r->body : "", r->body_len) < 0) {
        ym_log(YM_LOG_ERROR, "cannot store an uploaded file", "sha256=%s error=%s", hex, strerror(errno));
        ok = false;
    }
    char target[32];
    snprintf(target, sizeof target, "file:%lld", (long long)id);
    if (ok) {
        json_t *detail = json_pack("{s:s,s:I,s:s,s:s}", "name", name, "size", (json_int_t)r->body_len, "type",
                                   sniffed, "sha256", hex);
        ok = ym_audit_req(r, "files.upload", target, "ok", detail) == 0;
        json_decref(detail);
    }
    ym_db_write_end(db, ok);
    if (!ok) {
        busy(r);
        return;
    }
    char when[48];
    ym_time_format(now, when, sizeof when);
    ym_resp_json(r, 201, json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:o,s:I,s:I,s:n}", "id", (json_int_t)id, "name", name,
                                   "size", (json_int_t)r->body_len, "type", sniffed, "sha256", hex, "created_at",
                                   when, "declared_type", declared ? json_string(declared) : json_null(),
                                   "uploader_id", (json_int_t)p->user_id, "unit_id", (json_int_t)p->unit_id,
                                   "owner"));
}

/* ---------- GET /api/files/:id, /api/files/:id/meta ---------- */

/* Looks up the file and checks access. Returns the statement positioned on the row
 * (the caller resets it), or NULL after answering (404 or 503). */
static sqlite3_stmt *file_find(ym_request *r)
{
    const char *s = ym_req_param(r, "id");
    char *end;
    errno = 0;
    long long id = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || id <= 0 || *s < '0' || *s > '9') {
        ym_resp_error(r, 404, "not_found", "no such file");
        return NULL;
    }
    ym_db *db = req_db(r);
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT " FILE_COLS " FROM core_files WHERE id = ?1");
    if (!st) {
        busy(r);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            ym_resp_error(r, 404, "not_found", "no such file");
        else
            busy(r);
        return NULL;
    }
    ym_principal *p = r->who;
    if (sqlite3_column_int64(st, 7) == p->user_id)
        return st;
    int64_t unit = sqlite3_column_int64(st, 8);
    int may = ym_may(db, p, "files.read", unit);
    if (may == 1)
        return st;
    /* a record's own readers: the parties of a tracked item read its reports' files */
    const char *owner = (const char *)sqlite3_column_text(st, 9);
    long long rid;
    char tail;
    if (may == 0 && owner && sscanf(owner, "core_item_report:%lld%c", &rid, &tail) == 1 &&
        (may = ym_item_report_readable(db, p, rid)) == 1)
        return st;
    sqlite3_reset(st);
    if (may < 0)
        busy(r);
    else
        ym_resp_error(r, 404, "not_found", "no such file"); /* never reveal that it exists */
    return NULL;
}

static void files_meta(ym_request *r, void *ud)
{
    sqlite3_stmt *st = file_find(r);
    if (!st)
        return;
    json_t *j = file_json(st);
    sqlite3_reset(st);
    ym_resp_json(r, 200, j);
}

static char *read_blob(const char *path, size_t want, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != want) {
        close(fd);
        return NULL;
    }
    char *buf = malloc(want ? want : 1);
    size_t got = 0;
    while (buf && got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

static void files_download(ym_request *r, void *ud)
{
    sqlite3_stmt *st = file_find(r);
    if (!st)
        return;
    char name[YM_FILES_NAME_MAX + 1], type[128], hex[65];
    snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 1));
    size_t size = (size_t)sqlite3_column_int64(st, 2);
    snprintf(type, sizeof type, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(hex, sizeof hex, "%s", (const char *)sqlite3_column_text(st, 4));
    sqlite3_reset(st);
    char path[4200];
    size_t len = 0;
    char *body = NULL;
    if (ym_files_blob_path(req_cfg(r)->data_dir, hex, path, sizeof path) == 0)
        body = read_blob(path, size, &len);
    if (!body) {
        ym_log(YM_LOG_ERROR, "a stored file is missing or damaged", "sha256=%s", hex);
        ym_resp_error(r, 500, "storage_error", "the file's content is not available");
        return;
    }
    bool safe = ym_files_inline_ok(type);
    char disp[YM_FILES_NAME_MAX * 4 + 128], headers[YM_FILES_NAME_MAX * 4 + 256];
    ym_files_disposition(safe ? "inline" : "attachment", name, disp, sizeof disp);
    snprintf(headers, sizeof headers,
             "Content-Disposition: %s\r\nX-Content-Type-Options: nosniff\r\nCache-Control: private, no-cache\r\n",
             disp);
    ym_resp_send(r, 200, safe ? type : "application/octet-stream", body, len, headers);
    free(body);
}

int ym_files_routes(ym_router *rt, char *err, size_t errlen)
{
    ym_perm_register("files.read", "core", "查看本单位附件", "Read the unit's attachments");
    if (ym_router_add(rt, "POST", "/api/files", YM_PERM_USER, "core", files_upload, NULL, err, errlen) < 0 ||
        ym_router_add(rt, "GET", "/api/files/:id", YM_PERM_USER, "core", files_download, NULL, err, errlen) < 0 ||
        ym_router_add(rt, "GET", "/api/files/:id/meta", YM_PERM_USER, "core", files_meta, NULL, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---------- attaching, and the orphan cleanup (the job core.files_cleanup) ---------- */

static char g_data_dir[4096];

void ym_files_set_data_dir(const char *data_dir)
{
    snprintf(g_data_dir, sizeof g_data_dir, "%s", data_dir ? data_dir : "");
}

const char *ym_files_data_dir(ym_db *db, char *buf, size_t len)
{
    if (g_data_dir[0]) {
        snprintf(buf, len, "%s", g_data_dir);
        return buf;
    }
    /* the worker opens <data_dir>/yimen.db: its directory is the data_dir */
    const char *f = db ? sqlite3_db_filename(ym_db_handle(db), "main") : NULL;
    const char *slash = f ? strrchr(f, '/') : NULL;
    if (!slash || (size_t)(slash - f) + 1 > len)
        return NULL;
    size_t n = slash == f ? 1 : (size_t)(slash - f);
    memcpy(buf, f, n);
    buf[n] = 0;
    return buf;
}

static bool owner_ref_ok(const char *ref)
{
    size_t n = ref ? strlen(ref) : 0;
    return n > 0 && n <= YM_FILES_OWNER_MAX && ym_files_utf8_ok(ref, n) && !has_control(ref, n);
}

int ym_files_attach(ym_db *db, int64_t file_id, int64_t by_user, const char *owner_ref, char *err, size_t errlen)
{
    if (!ym_db_in_write(db)) {
        snprintf(err, errlen, "attaching a file needs a write (ym_db_write_begin)");
        return -1;
    }
    if (!owner_ref_ok(owner_ref)) {
        snprintf(err, errlen, "the owner must be 1 to %d bytes of UTF-8 without control characters",
                 YM_FILES_OWNER_MAX);
        return -1;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT uploader_id, owner FROM core_files WHERE id = ?1");
    if (!st) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, file_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s", rc == SQLITE_DONE ? "no such file of yours" : ym_db_errmsg(db));
        sqlite3_reset(st);
        return -1;
    }
    int64_t uploader = sqlite3_column_int64(st, 0);
    const char *cur = (const char *)sqlite3_column_text(st, 1);
    int same = cur ? strcmp(cur, owner_ref) == 0 : -1; /* -1: not attached yet */
    sqlite3_reset(st);
    if (uploader != by_user) {
        snprintf(err, errlen, "no such file of yours"); /* the same answer: ids of others stay unknown */
        return -1;
    }
    if (same == 1)
        return 0; /* attached to this record already */
    if (same == 0) {
        snprintf(err, errlen, "the file is attached to another record");
        return -1;
    }
    st = ym_db_prepare(db, "core", "UPDATE core_files SET owner = ?2 WHERE id = ?1 AND owner IS NULL");
    if (!st) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, file_id);
    sqlite3_bind_text(st, 2, owner_ref, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    return 0;
}

int ym_files_detach_owner(ym_db *db, const char *owner_ref)
{
    if (!ym_db_in_write(db) || !owner_ref || !*owner_ref)
        return -1;
    sqlite3_stmt *st = ym_db_prepare(db, "core", "UPDATE core_files SET owner = NULL WHERE owner = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, owner_ref, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int n = sqlite3_changes(ym_db_handle(db));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static bool hex2(const char *s)
{
    return strlen(s) == 2 && strspn(s, "0123456789abcdef") == 2;
}

/* A write of its own: the cleanup never joins (or leaves open) someone else's batch. */
static int own_write_begin(ym_db *db)
{
    if (ym_db_in_write(db) || (ym_db_in_batch(db) && ym_db_flush(db) != SQLITE_OK))
        return -1;
    return ym_db_write_begin(db);
}

static int own_write_end(ym_db *db, bool ok)
{
    if (ym_db_write_end(db, ok) < 0)
        ok = false;
    return ym_db_flush(db) == SQLITE_OK && ok ? 0 : -1;
}

/* The blobs of one leaf directory (files/ab/cd) untouched since before old: those no row
 * references are unlinked, each checked inside the write lock right before unlink (an
 * upload re-checks its blob under the same lock, so one of the two always wins cleanly). */
static int sweep_leaf(ym_db *db, const char *dir, const char *ab, const char *cd, int64_t old, int64_t *removed)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char (*cand)[65] = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (!hex64(nm) || strncmp(nm, ab, 2) != 0 || strncmp(nm + 2, cd, 2) != 0)
            continue;
        char path[4400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || mtime_ms(&st) >= old)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            void *v = realloc(cand, cap * sizeof *cand);
            if (!v)
                abort();
            cand = v;
        }
        memcpy(cand[n++], nm, 65);
    }
    closedir(d);
    if (!n)
        return 0;
    int ret = 0;
    if (own_write_begin(db) < 0) {
        free(cand);
        return -1;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT 1 FROM core_files WHERE sha256 = ?1 LIMIT 1");
    for (size_t i = 0; st && i < n; i++) {
        sqlite3_bind_text(st, 1, cand[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW)
            continue; /* referenced */
        if (rc != SQLITE_DONE) {
            ret = -1;
            break;
        }
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, cand[i]);
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && mtime_ms(&sb) < old && unlink(path) == 0)
            (*removed)++;
    }
    if (!st)
        ret = -1;
    free(cand);
    if (own_write_end(db, ret == 0) < 0) /* only read: a failed commit loses nothing */
        ret = -1;
    return ret;
}

int ym_files_cleanup(ym_db *db, const char *data_dir, int64_t now, ym_files_cleanup_stats *out, char *err,
                     size_t errlen)
{
    ym_files_cleanup_stats s = {0};
    /* 1. rows never attached, a day old: gone in their own committed write first,
     * so no blob is unlinked for a row a rollback would bring back */
    if (own_write_begin(db) < 0) {
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "DELETE FROM core_files WHERE owner IS NULL AND created_at < ?1");
    bool ok = st && sqlite3_bind_int64(st, 1, now - YM_FILES_ORPHAN_MS) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    if (ok)
        s.rows = sqlite3_changes(ym_db_handle(db));
    if (st)
        sqlite3_reset(st);
    if (!ok)
        snprintf(err, errlen, "%s", ym_db_errmsg(db));
    if (own_write_end(db, ok) < 0) {
        if (ok)
            snprintf(err, errlen, "%s", ym_db_errmsg(db));
        return -1;
    }
    /* 2. blobs no row references, untouched for an hour */
    int64_t old = now - YM_FILES_STALE_MS;
    char files[4096];
    snprintf(files, sizeof files, "%s/files", data_dir);
    DIR *top = opendir(files);
    int ret = 0;
    if (top) {
        struct dirent *e1;
        while ((e1 = readdir(top))) {
            if (!hex2(e1->d_name))
                continue;
            char d1[4200];
            snprintf(d1, sizeof d1, "%s/%s", files, e1->d_name);
            DIR *mid = opendir(d1);
            if (!mid)
                continue;
            struct dirent *e2;
            while ((e2 = readdir(mid))) {
                if (!hex2(e2->d_name))
                    continue;
                char d2[4300];
                snprintf(d2, sizeof d2, "%s/%s", d1, e2->d_name);
                if (sweep_leaf(db, d2, e1->d_name, e2->d_name, old, &s.blobs) < 0) {
                    snprintf(err, errlen, "%s", ym_db_errmsg(db));
                    ret = -1;
                }
            }
            closedir(mid);
        }
        closedir(top);
    }
    /* 3. temp files of uploads that died before their rename */
    char tmpdir[4200];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", files);
    DIR *td = opendir(tmpdir);
    if (td) {
        struct dirent *e;
        while ((e = readdir(td))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4400];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && mtime_ms(&sb) < old && unlink(path) == 0)
                s.temps++;
        }
        closedir(td);
    }
    if (s.rows || s.blobs || s.temps)
        ym_log(YM_LOG_INFO, "files cleanup", "rows=%lld blobs=%lld temps=%lld", (long long)s.rows,
               (long long)s.blobs, (long long)s.temps);
    if (out)
        *out = s;
    return ret;
}
