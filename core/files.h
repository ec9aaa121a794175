/* files: attachments. Raw-body upload (POST /api/files?name=...), blobs stored
 * content-addressed under <data_dir>/files/ab/cd/<sha256 hex>, the type sniffed
 * with libmagic, metadata in core_files, access checked on download. */
#ifndef YM_FILES_H
#define YM_FILES_H
#include <stddef.h>
#include <stdbool.h>
#include "router.h"

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

#endif
