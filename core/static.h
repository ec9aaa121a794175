/* static: the web shell's files (www_root) and each enabled plugin's www/ (at
 * /ui/<name>/), loaded into memory at worker start and served with ETag, cache
 * headers and gzip; the request path can never reach the file system. */
#ifndef YM_STATIC_H
#define YM_STATIC_H
#include <stdbool.h>
#include <stddef.h>
#include "request.h"

typedef struct ym_static ym_static;

/* Building a set: new, add_root and mounts, then finish (sorts, fills the HTML
 * markers, gzips). max_total caps the bytes read; files beyond it are left out. */
ym_static *ym_static_new(size_t max_total);
/* Every regular file under root (no dotfiles, no links leaving root) at "/". A
 * missing root gives no files (logged). */
void ym_static_add_root(ym_static *s, const char *root);
/* Every file under dir at prefix ("/ui/hello", no trailing slash), served only while
 * live(ud) says so (live may be NULL). A missing dir is no error (0); -1 bad prefix. */
int ym_static_mount(ym_static *s, const char *prefix, const char *dir, bool (*live)(void *ud), void *ud);
/* In every .html: <!--yimen:importmap--> becomes <script type="importmap"> mapping each
 * .js path to "<path>?v=<hash8>", <!--yimen:v:/path--> the hash8 of /path (a bare
 * <!--yimen:v--> that of /style.css). Then compressible files over 512 bytes are gzipped. */
void ym_static_finish(ym_static *s);
/* new + add_root + finish. NULL only on allocation failure. */
ym_static *ym_static_load(const char *root, size_t max_total, char *err, size_t errlen);
void ym_static_free(ym_static *s);
size_t ym_static_count(const ym_static *s);
/* The 8 hex digits of a file's content hash (its ?v=); false if there is no such file. */
bool ym_static_version(const ym_static *s, const char *path, char out[9]);
/* The bytes served for path (after marker filling), or its gzip when gz; NULL if none. */
const char *ym_static_body(const ym_static *s, const char *path, bool gz, size_t *len);
/* Answers GET/HEAD for a file; false when there is none (the caller sends 404). */
bool ym_static_serve(ym_static *s, ym_request *r);
/* Content-Type for a file name; is it worth gzipping? */
const char *ym_static_mime(const char *name);
bool ym_static_compressible(const char *name);
/* Does an Accept-Encoding value allow gzip? ("gzip;q=0" does not; "*" does.) */
bool ym_static_accepts_gzip(const char *accept_encoding);
/* Cache-Control for path requested with query (raw, "" if none): HTML "no-cache";
 * a v= equal to version (any v= when version is NULL) the immutable year; else "no-cache". */
const char *ym_static_cache_control(const char *path, const char *query, const char *version);
/* gzip (level 9) of data into *out (malloc'ed). 0 ok, -1 error. */
int ym_static_gzip(const char *data, size_t len, char **out, size_t *outlen);
/* Checks a decoded request path: 0 ok, -1 refused (.. segment, dotfile, backslash, NUL). */
int ym_static_path_ok(const char *path);

#endif
