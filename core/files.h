/* files: attachments. Raw-body upload (POST /api/files?name=...), blobs stored
 * content-addressed under <data_dir>/files/ab/cd/<sha256 hex>, the type sniffed
 * with libmagic, metadata in core_files, access checked on download. */
#ifndef YM_FILES_H
#define YM_FILES_H
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "router.h"
#include "db.h"

#define YM_FILES_NAME_MAX 255

/* /api/files routes; also registers the permission "files.read". */
int ym_files_routes(ym_router *rt, char *err, size_t errlen);

/* Cleans an uploaded file name into out (outlen >= YM_FILES_NAME_MAX + 1): refuses
 * invalid UTF-8 and control characters anywhere, keeps only the last path component
 * (after the last '/' or '\\'), then refuses an empty result, "." and "..", and more
 * than YM_FILES_NAME_MAX bytes. Returns NULL when ok, else the reason. */
const char *ym_files_name_clean(const char *in, char *out, size_t outlen);
/* Is s (len bytes) well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? */
bool ym_files_utf8_ok(const char *s, size_t len);
/* Content-Disposition value per RFC 6266/5987:
 *   <disposition>; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>
 * The fallback replaces every non-ASCII character, control, '"', '\\' and '%' by '_'.
 * Returns the length written, or 0 when out is too small. */
size_t ym_files_disposition(const char *disposition, const char *name, char *out, size_t outlen);
/* May a file of this (sniffed) type be shown inline? Only a small safe list. */
bool ym_files_inline_ok(const char *type);
/* <data_dir>/files/ab/cd/<hex>, where ab and cd are the first two byte pairs of hex.
 * 0 ok, -1 too long or hex not 64 lower-case hex digits. */
int ym_files_blob_path(const char *data_dir, const char *hex, char *out, size_t outlen);
/* SHA-256 of data as 64 lower-case hex digits plus NUL. 0 ok, -1 error. */
int ym_files_sha256_hex(const void *data, size_t len, char out[65]);

/* ---------- attaching, and the orphan cleanup ----------
 * An upload is unattached (owner NULL) until the record it belongs to claims it.
 * The job core.files_cleanup (daily 03:30) deletes rows unattached for a day, then
 * blobs no row references and temp files, both untouched for an hour. */
#define YM_FILES_OWNER_MAX 128
#define YM_FILES_ORPHAN_MS (24LL * 3600 * 1000) /* unattached rows older than this go */
#define YM_FILES_STALE_MS (3600LL * 1000)       /* blobs and temp files untouched this long */

/* Inside a write: sets the owner ("hello_item:5") of a file uploaded by by_user that is
 * not attached yet; the same owner again is fine. 0 ok, -1 with the reason in err: not in
 * a write, a bad owner, no such file, uploaded by someone else, attached to another record. */
int ym_files_attach(ym_db *db, int64_t file_id, int64_t by_user, const char *owner_ref, char *err, size_t errlen);
/* Inside a write: owner NULL for the files of owner_ref (the cleanup reaps them once
 * they are a day old). Returns how many, or -1. */
int ym_files_detach_owner(ym_db *db, const char *owner_ref);

typedef struct ym_files_cleanup_stats {
    int64_t rows, blobs, temps; /* removed */
} ym_files_cleanup_stats;
/* Not inside a write (it commits its own). Deletes core_files rows with owner NULL and
 * created_at < now - 24 h; then, each checked under the write lock right before unlink,
 * blobs under <data_dir>/files/ab/cd/ that no row references with mtime < now - 1 h;
 * then files in <data_dir>/files/tmp with mtime < now - 1 h. Idempotent. 0 ok, -1 with
 * err (what it could remove is removed). out may be NULL. now is ym_now() (the test
 * clock moves it; mtimes are compared with it as well). */
int ym_files_cleanup(ym_db *db, const char *data_dir, int64_t now, ym_files_cleanup_stats *out, char *err,
                     size_t errlen);
/* The data_dir the cleanup job uses: the one set here, else the directory of db's file
 * (the worker opens <data_dir>/yimen.db). */
void ym_files_set_data_dir(const char *data_dir);
const char *ym_files_data_dir(ym_db *db, char *buf, size_t len);

#endif
