/* static: the files of www_root held in memory with their ETags, loaded once per
 * worker; requests are looked up by name, so no request path touches the disk. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include "static.h"
#include "http.h"
#include "log.h"

typedef struct file {
    char *path;        /* "/index.html" */
    char *data;
    size_t len;
    char etag[40];
    const char *mime;
} file;

struct ym_static {
    file *files;
    size_t n, cap, total, max_total;
    char root[PATH_MAX];
};

static const struct { const char *ext, *mime; } mimes[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
    {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"}, {".ico", "image/x-icon"},
    {".webp", "image/webp"}, {".woff2", "font/woff2"}, {".woff", "font/woff"}, {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"}, {".map", "application/json"},
};

const char *ym_static_mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof mimes / sizeof *mimes; i++)
            if (strcasecmp(dot, mimes[i].ext) == 0)
                return mimes[i].mime;
    return "application/octet-stream";
}

int ym_static_path_ok(const char *path)
{
    if (path[0] != '/' || strchr(path, '\\') || strchr(path, '\0') != path + strlen(path))
        return -1;
    for (const char *seg = path + 1; *seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len > 0 && seg[0] == '.') /* ".", "..", and dotfiles */
            return -1;
        if (!end)
            break;
        seg = end + 1;
    }
    return 0;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const file *)a)->path, ((const file *)b)->path);
}

static void etag_of(const char *data, size_t len, char out[40])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    out[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(out + 1 + i * 2, 3, "%02x", md[i]);
    out[33] = '"';
    out[34] = 0;
}

static int read_file(const char *fs, char **data, size_t *len)
{
    FILE *f = fopen(fs, "rb");
    if (!f)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return -1;
    }
    *len = (size_t)st.st_size;
    *data = malloc(*len + 1);
    if (!*data)
        abort();
    size_t got = fread(*data, 1, *len, f);
    fclose(f);
    if (got != *len) {
        free(*data);
        return -1;
    }
    return 0;
}

static void add_file(ym_static *s, const char *web, const char *fs)
{
    char *data;
    size_t len;
    if (read_file(fs, &data, &len) < 0)
        return;
    if (s->total + len > s->max_total) {
        ym_log(YM_LOG_WARN, "www file skipped: total size limit reached", "file=%s", fs);
        free(data);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        file *nf = realloc(s->files, s->cap * sizeof *nf);
        if (!nf)
            abort();
        s->files = nf;
    }
    file *f = &s->files[s->n++];
    f->path = strdup(web);
    if (!f->path)
        abort();
    f->data = data;
    f->len = len;
    f->mime = ym_static_mime(web);
    etag_of(data, len, f->etag);
    s->total += len;
}

/* Walks dir; web is the URL prefix of dir ("" for the root). */
static void walk(ym_static *s, const char *dir, const char *web, int depth)
{
    if (depth > 16)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char fs[PATH_MAX], w[PATH_MAX], real[PATH_MAX];
        if (snprintf(fs, sizeof fs, "%s/%s", dir, e->d_name) >= (int)sizeof fs ||
            snprintf(w, sizeof w, "%s/%s", web, e->d_name) >= (int)sizeof w)
            continue;
        if (!realpath(fs, real))
            continue;
        size_t rl = strlen(s->root);
        if (strncmp(real, s->root, rl) != 0 || real[rl] != '/') {
            ym_log(YM_LOG_WARN, "www link leaves the root, skipped", "file=%s", fs);
            continue;
        }
        struct stat st;
        if (stat(real, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            walk(s, fs, w, depth + 1);
        else if (S_ISREG(st.st_mode))
            add_file(s, w, real);
    }
    closedir(d);
}

ym_static *ym_static_load(const char *root, size_t max_total, char *err, size_t errlen)
{
    ym_static *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->max_total = max_total;
    if (!root || !realpath(root, s->root)) {
        ym_log(YM_LOG_WARN, "www root not found; no static files", "root=%s", root ? root : "");
        return s;
    }
    walk(s, s->root, "", 0);
    qsort(s->files, s->n, sizeof *s->files, cmp_file);
    return s;
}

void ym_static_free(ym_static *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
    }
    free(s->files);
    free(s);
}

size_t ym_static_count(const ym_static *s) { return s->n; }

static const file *lookup(ym_static *s, const char *path)
{
    file key = {.path = (char *)path};
    return bsearch(&key, s->files, s->n, sizeof *s->files, cmp_file);
}

static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    size_t el = strlen(etag);
    for (const char *p = inm; (p = strstr(p, etag)); p += el)
        if ((p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') && (p[el] == 0 || p[el] == ',' || p[el] == ' '))
            return true;
    return false;
}

bool ym_static_serve(ym_static *s, ym_request *r)
{
    if (ym_static_path_ok(r->path) < 0)
        return false;
    char path[PATH_MAX];
    size_t n = strlen(r->path);
    if (snprintf(path, sizeof path, "%s%s", r->path, r->path[n - 1] == '/' ? "index.html" : "") >= (int)sizeof path)
        return false;
    const file *f = lookup(s, path);
    if (!f)
        return false;
    r->route = "(static)";
    char hdr[160];
    snprintf(hdr, sizeof hdr, "ETag: %s\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n", f->etag);
    if (etag_matches(ym_req_header(r, "if-none-match"), f->etag))
        ym_resp_send(r, 304, NULL, NULL, 0, hdr);
    else
        ym_resp_send(r, 200, f->mime, f->data, f->len, hdr);
    return true;
}
