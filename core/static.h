/* static: the web shell's files (www_root), loaded into memory at worker start and
 * served with ETag; the request path can never reach the file system. */
#ifndef YM_STATIC_H
#define YM_STATIC_H
#include <stdbool.h>
#include <stddef.h>
#include "request.h"

typedef struct ym_static ym_static;

/* Loads every regular file under root (no dotfiles, no links leaving root). A
 * missing root gives an empty set. NULL only on allocation failure. */
ym_static *ym_static_load(const char *root, size_t max_total, char *err, size_t errlen);
void ym_static_free(ym_static *s);
size_t ym_static_count(const ym_static *s);
/* Answers GET/HEAD for a file; false when there is none (the caller sends 404). */
bool ym_static_serve(ym_static *s, ym_request *r);
/* Content-Type for a file name. */
const char *ym_static_mime(const char *name);
/* Checks a decoded request path: 0 ok, -1 refused (.. segment, dotfile, backslash, NUL). */
int ym_static_path_ok(const char *path);

#endif
