/* static: the files of www_root and of each enabled plugin's www/ (at /ui/<name>/)
 * held in memory, loaded once per worker; requests are looked up by name, so no
 * request path touches the disk. At load the HTML files get the import map and the
 * version markers filled in, and compressible files are gzipped once. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <jansson.h>
#include <zlib.h>
#include "static.h"
#include "strbuf.h"
#include "http.h"
#include "log.h"

#define GZIP_MIN 512

typedef struct file {
    char *path;        /* "/index.html" */
    char *data;
    size_t len;
    char etag[40];     /* "\"<32 hex>\"" */
    char etag_gz[44];  /* "\"<32 hex>-gz\"" */
    char *gz;          /* gzip of data, or NULL */
    size_t gzlen;
    const char *mime;
    int mount;         /* -1 = www_root, else an index in mounts */
} file;

typedef struct mount {
    char prefix[PATH_MAX]; /* "/ui/hello" */
    bool (*live)(void *ud);
    void *ud;
} mount;

struct ym_static {
    file *files;
    size_t n, cap, total, max_total;
    mount *mounts;
    size_t nmounts;
    char root[PATH_MAX];   /* the real path of the tree being walked */
};

static const struct { const char *ext, *mime; bool zip; } mimes[] = {
    {".html", "text/html; charset=utf-8", true}, {".js", "text/javascript; charset=utf-8", true},
    {".mjs", "text/javascript; charset=utf-8", true}, {".css", "text/css; charset=utf-8", true},
    {".json", "application/json", true}, {".svg", "image/svg+xml", true}, {".png", "image/png", false},
    {".jpg", "image/jpeg", false}, {".jpeg", "image/jpeg", false}, {".gif", "image/gif", false},
    {".ico", "image/x-icon", false}, {".webp", "image/webp", false}, {".woff2", "font/woff2", false},
    {".woff", "font/woff", false}, {".txt", "text/plain; charset=utf-8", true},
    {".webmanifest", "application/manifest+json", true}, {".map", "application/json", true},
};

static int mime_index(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof mimes / sizeof *mimes; i++)
            if (strcasecmp(dot, mimes[i].ext) == 0)
                return (int)i;
    return -1;
}

const char *ym_static_mime(const char *name)
{
    int i = mime_index(name);
    return i < 0 ? "application/octet-stream" : mimes[i].mime;
}

bool ym_static_compressible(const char *name)
{
    int i = mime_index(name);
    return i >= 0 && mimes[i].zip;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool is_html(const char *name) { return ends_with(name, ".html"); }
static bool is_js(const char *name) { return ends_with(name, ".js") || ends_with(name, ".mjs"); }

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

int ym_static_gzip(const char *data, size_t len, char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip wrapper, which every browser accepts as Content-Encoding: gzip */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
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
    (*data)[*len] = 0;
    return 0;
}

static void add_file(ym_static *s, const char *web, const char *fs, int mnt)
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
    memset(f, 0, sizeof *f);
    f->path = strdup(web);
    if (!f->path)
        abort();
    f->data = data;
    f->len = len;
    f->mime = ym_static_mime(web);
    f->mount = mnt;
    etag_of(data, len, f->etag);
    s->total += len;
}

/* Walks dir; web is the URL prefix of dir ("" for the root). Nothing whose real
 * path leaves s->root is taken. */
static void walk(ym_static *s, const char *dir, const char *web, int depth, int mnt)
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
            walk(s, fs, w, depth + 1, mnt);
        else if (S_ISREG(st.st_mode))
            add_file(s, w, real, mnt);
    }
    closedir(d);
}

ym_static *ym_static_new(size_t max_total)
{
    ym_static *s = calloc(1, sizeof *s);
    if (s)
        s->max_total = max_total;
    return s;
}

void ym_static_add_root(ym_static *s, const char *root)
{
    if (!root || !realpath(root, s->root)) {
        ym_log(YM_LOG_WARN, "www root not found; no static files", "root=%s", root ? root : "");
        return;
    }
    walk(s, s->root, "", 0, -1);
}

int ym_static_mount(ym_static *s, const char *prefix, const char *dir, bool (*live)(void *ud), void *ud)
{
    if (!prefix || prefix[0] != '/' || ym_static_path_ok(prefix) < 0 || prefix[strlen(prefix) - 1] == '/')
        return -1;
    struct stat st;
    if (!dir || !realpath(dir, s->root) || stat(s->root, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0; /* a plugin without pages */
    mount *nm = realloc(s->mounts, (s->nmounts + 1) * sizeof *nm);
    if (!nm)
        abort();
    s->mounts = nm;
    mount *m = &s->mounts[s->nmounts];
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix);
    m->live = live;
    m->ud = ud;
    walk(s, s->root, prefix, 0, (int)s->nmounts);
    s->nmounts++;
    return 0;
}

/* ---------- import map and version markers ---------- */

static const file *lookup(const ym_static *s, const char *path)
{
    file key = {.path = (char *)path};
    return s->n ? bsearch(&key, s->files, s->n, sizeof *s->files, cmp_file) : NULL;
}

/* The 8 hex digits of a file's content hash that its ?v= carries. */
static void version_of(const file *f, char out[9])
{
    memcpy(out, f->etag + 1, 8);
    out[8] = 0;
}

bool ym_static_version(const ym_static *s, const char *path, char out[9])
{
    const file *f = lookup(s, path);
    if (!f)
        return false;
    version_of(f, out);
    return true;
}

/* <script type="importmap">{"imports": {...}}</script> for every .js file, with '<',
 * '>' and '&' written as \u escapes so no file name can close the script element. */
static char *importmap_html(const ym_static *s)
{
    json_t *imports = json_object();
    for (size_t i = 0; i < s->n; i++) {
        if (!is_js(s->files[i].path))
            continue;
        char v[9], url[PATH_MAX + 16];
        version_of(&s->files[i], v);
        snprintf(url, sizeof url, "%s?v=%s", s->files[i].path, v);
        json_object_set_new(imports, s->files[i].path, json_string(url));
    }
    json_t *root = json_pack("{s:o}", "imports", imports);
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        return NULL;
    ym_strbuf b = {0};
    ym_strbuf_add(&b, "<script type=\"importmap\">", 25);
    for (const char *c = text; *c; c++) {
        if (*c == '<')
            ym_strbuf_add(&b, "\\u003c", 6);
        else if (*c == '>')
            ym_strbuf_add(&b, "\\u003e", 6);
        else if (*c == '&')
            ym_strbuf_add(&b, "\\u0026", 6);
        else
            ym_strbuf_add(&b, c, 1);
    }
    ym_strbuf_add(&b, "</script>", 9);
    free(text);
    return b.p;
}

#define MARK_MAP "<!--yimen:importmap-->"
#define MARK_V "<!--yimen:v"

/* The HTML with its markers replaced (malloc'ed), or NULL when it has none. */
static char *expand(const ym_static *s, const file *f, const char *map, size_t *outlen)
{
    if (!strstr(f->data, "<!--yimen:"))
        return NULL;
    ym_strbuf b = {0};
    const char *p = f->data, *end = f->data + f->len;
    while (p < end) {
        const char *m = strstr(p, "<!--yimen:");
        if (!m) {
            ym_strbuf_add(&b, p, (size_t)(end - p));
            break;
        }
        ym_strbuf_add(&b, p, (size_t)(m - p));
        if (strncmp(m, MARK_MAP, strlen(MARK_MAP)) == 0) {
            ym_strbuf_add(&b, map, strlen(map));
            p = m + strlen(MARK_MAP);
            continue;
        }
        const char *close = strstr(m, "-->");
        if (strncmp(m, MARK_V, strlen(MARK_V)) == 0 && close &&
            (m[strlen(MARK_V)] == ':' || m + strlen(MARK_V) == close)) {
            /* <!--yimen:v:/path--> is the hash of /path; a bare <!--yimen:v--> that of /style.css */
            char target[PATH_MAX] = "/style.css";
            const char *t = m + strlen(MARK_V);
            if (*t == ':') {
                size_t tl = (size_t)(close - t - 1);
                if (tl >= sizeof target)
                    tl = sizeof target - 1;
                memcpy(target, t + 1, tl);
                target[tl] = 0;
            }
            const file *tf = lookup(s, target);
            if (tf) {
                char v[9];
                version_of(tf, v);
                ym_strbuf_add(&b, v, 8);
            } else {
                ym_log(YM_LOG_WARN, "www version marker names no file", "file=%s target=%s", f->path, target);
            }
            p = close + 3;
            continue;
        }
        ym_strbuf_add(&b, m, 1); /* not ours: keep it */
        p = m + 1;
    }
    if (!b.p)
        ym_strbuf_add(&b, "", 0);
    *outlen = b.len;
    return b.p;
}

void ym_static_finish(ym_static *s)
{
    if (s->n > 1)
        qsort(s->files, s->n, sizeof *s->files, cmp_file);
    /* the same URL twice (www_root holding ui/<plugin>/...): the first in order wins */
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w > 0 && strcmp(s->files[w - 1].path, s->files[i].path) == 0) {
            ym_log(YM_LOG_WARN, "www file shadowed by another with the same URL", "path=%s", s->files[i].path);
            free(s->files[i].path);
            free(s->files[i].data);
            continue;
        }
        s->files[w++] = s->files[i];
    }
    s->n = w;
    char *map = importmap_html(s);
    /* markers are filled from the hashes of the files as read: the HTML's new hash
     * (its ETag) changes whenever one of the files it names does */
    char **expanded = calloc(s->n ? s->n : 1, sizeof *expanded);
    size_t *lens = calloc(s->n ? s->n : 1, sizeof *lens);
    if (!expanded || !lens)
        abort();
    for (size_t i = 0; map && i < s->n; i++)
        if (is_html(s->files[i].path))
            expanded[i] = expand(s, &s->files[i], map, &lens[i]);
    for (size_t i = 0; i < s->n; i++) {
        file *f = &s->files[i];
        if (expanded[i]) {
            free(f->data);
            f->data = expanded[i];
            f->len = lens[i];
            etag_of(f->data, f->len, f->etag);
        }
        if (f->len > GZIP_MIN && ym_static_compressible(f->path) &&
            ym_static_gzip(f->data, f->len, &f->gz, &f->gzlen) == 0 && f->gzlen >= f->len) {
            free(f->gz); /* no gain */
            f->gz = NULL;
        }
        if (f->gz)
            snprintf(f->etag_gz, sizeof f->etag_gz, "%.33s-gz\"", f->etag);
    }
    free(expanded);
    free(lens);
    free(map);
}

ym_static *ym_static_load(const char *root, size_t max_total, char *err, size_t errlen)
{
    ym_static *s = ym_static_new(max_total);
    if (!s)
        return NULL;
    ym_static_add_root(s, root);
    ym_static_finish(s);
    return s;
}

void ym_static_free(ym_static *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
        free(s->files[i].gz);
    }
    free(s->files);
    free(s->mounts);
    free(s);
}

size_t ym_static_count(const ym_static *s) { return s->n; }

const char *ym_static_body(const ym_static *s, const char *path, bool gz, size_t *len)
{
    const file *f = lookup(s, path);
    if (!f || (gz && !f->gz))
        return NULL;
    *len = gz ? f->gzlen : f->len;
    return gz ? f->gz : f->data;
}

/* ---------- serving ---------- */

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

bool ym_static_accepts_gzip(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    int gzip = -1, star = -1; /* -1 not named, 0 refused (q=0), 1 accepted */
    const char *p = accept_encoding;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tl = (size_t)(p - tok);
        int ok = 1;
        while (*p && *p != ',') { /* parameters: only q matters */
            if (*p == ';') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                    double q = strtod(p + 2, NULL);
                    ok = q > 0;
                }
                continue;
            }
            p++;
        }
        if ((tl == 4 && strncasecmp(tok, "gzip", 4) == 0) || (tl == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip = gzip == 1 ? 1 : ok;
        else if (tl == 1 && *tok == '*')
            star = ok;
    }
    return gzip >= 0 ? gzip == 1 : star == 1;
}

/* The v= parameter of a query, copied into out (at most 15 bytes); false if none. */
static bool query_v(const char *query, char out[16])
{
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg >= 2 && p[0] == 'v' && p[1] == '=') {
            size_t n = seg - 2 < 15 ? seg - 2 : 15;
            memcpy(out, p + 2, n);
            out[n] = 0;
            return true;
        }
        p = amp ? amp + 1 : p + seg;
    }
    return false;
}

const char *ym_static_cache_control(const char *path, const char *query, const char *version)
{
    char v[16];
    if (is_html(path) || path[strlen(path) - 1] == '/')
        return "no-cache";
    if (query_v(query, v) && (!version || strcmp(v, version) == 0))
        return "public, max-age=31536000, immutable";
    return "no-cache";
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
    if (f->mount >= 0) { /* a plugin's page: only while the plugin is enabled */
        const mount *m = &s->mounts[f->mount];
        if (m->live && !m->live(m->ud))
            return false;
    }
    r->route = "(static)";
    char v[9];
    version_of(f, v);
    bool gz = f->gz && ym_static_accepts_gzip(ym_req_header(r, "accept-encoding"));
    const char *etag = gz ? f->etag_gz : f->etag;
    char hdr[256];
    snprintf(hdr, sizeof hdr, "ETag: %s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n%s%s", etag,
             ym_static_cache_control(path, r->query, v), gz ? "Content-Encoding: gzip\r\n" : "",
             f->gz ? "Vary: Accept-Encoding\r\n" : "");
    if (etag_matches(ym_req_header(r, "if-none-match"), etag))
        ym_resp_send(r, 304, NULL, NULL, 0, hdr);
    else
        ym_resp_send(r, 200, f->mime, gz ? f->gz : f->data, gz ? f->gzlen : f->len, hdr);
    return true;
}
