/* documents: pages of a PDF attachment rendered to PNG on the server (poppler-glib +
 * cairo), for reading and annotating on any device. Rendering runs on the worker's
 * thread pool (api->queue_work), never on the event loop; each page is rendered once
 * per scale and cached under <data_dir>/plugins/documents/pages/, keyed by the file's
 * content hash, the page and the scale, so the same bytes attached twice share it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <poppler.h>
#include <cairo.h>
#include "documents.h"

#define MAX_PIXELS (6000 * 6000)
#define MAX_PNG (64 * 1024 * 1024)

static PopplerDocument *pdf_open(const char *path)
{
    GError *err = NULL;
    gchar *uri = path ? g_filename_to_uri(path, NULL, &err) : NULL;
    PopplerDocument *pd = uri ? poppler_document_new_from_file(uri, NULL, &err) : NULL;
    g_free(uri);
    if (err)
        g_error_free(err);
    return pd;
}

int pdf_pages(const char *path, json_t **sizes)
{
    PopplerDocument *pd = pdf_open(path);
    if (!pd)
        return -1;
    int n = poppler_document_get_n_pages(pd);
    json_t *sz = json_array();
    for (int i = 0; i < n; i++) {
        PopplerPage *pg = poppler_document_get_page(pd, i);
        double w = 0, h = 0;
        if (pg) {
            poppler_page_get_size(pg, &w, &h);
            g_object_unref(pg);
        }
        json_array_append_new(sz, json_pack("[f,f]", round(w * 100) / 100, round(h * 100) / 100));
    }
    g_object_unref(pd);
    *sizes = sz;
    return n;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size <= MAX_PNG && (buf = malloc((size_t)st.st_size))) {
        if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
            *len = (size_t)st.st_size;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

typedef struct render_job {
    ym_request *r;
    char pdf[4400], out[4400];
    int page, scale100;    /* page from 1; scale in hundredths */
    char *png;
    size_t len;
} render_job;

/* On the thread pool: no api calls here. */
static void render_work(void *ud)
{
    render_job *j = ud;
    PopplerDocument *pd = pdf_open(j->pdf);
    PopplerPage *pg = pd ? poppler_document_get_page(pd, j->page - 1) : NULL;
    if (pg) {
        double w, h, s = j->scale100 / 100.0;
        poppler_page_get_size(pg, &w, &h);
        int pw = (int)ceil(w * s - 1e-6), ph = (int)ceil(h * s - 1e-6);
        if (pw >= 1 && ph >= 1 && (int64_t)pw * ph <= MAX_PIXELS) {
            cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
            cairo_t *cr = cairo_create(surf);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_paint(cr);
            cairo_scale(cr, s, s);
            poppler_page_render(pg, cr);
            cairo_destroy(cr);
            /* a temporary name of this thread, then rename: readers see whole files only */
            char tmp[4500];
            snprintf(tmp, sizeof tmp, "%s.%d.%lx.tmp", j->out, (int)getpid(), (unsigned long)pthread_self());
            if (cairo_surface_write_to_png(surf, tmp) == CAIRO_STATUS_SUCCESS && rename(tmp, j->out) == 0)
                j->png = read_all(j->out, &j->len);
            else
                unlink(tmp);
            cairo_surface_destroy(surf);
        }
        g_object_unref(pg);
    }
    if (pd)
        g_object_unref(pd);
}

static void render_done(ym_plugin *self, void *ud)
{
    render_job *j = ud;
    if (j->png)
        api->resp_send(j->r, 200, "image/png", j->png, j->len);
    else
        internal_error(j->r, self, "cannot render the page");
    free(j->png);
    free(j);
}

/* The attachment :file of d, as its file object (path, sha256) and its pages; NULL
 * (answered 404) when it is not one. */
static json_t *attachment(ym_request *r, ym_plugin *self, const doc *d, int64_t *pages, json_t **sizes)
{
    int64_t fid = id_param(r, "file");
    ym_stmt *st = api->db_prepare(self, "SELECT pages, page_sizes FROM documents_attachments WHERE doc_id = ?1 "
                                        "AND file_id = ?2");
    int found = 0;
    if (st && fid) {
        api->db_bind_int(st, 1, d->id);
        api->db_bind_int(st, 2, fid);
        if (api->db_step(st) == YM_ROW) {
            found = 1;
            *pages = api->db_column_int(st, 0);
            if (sizes)
                *sizes = json_loads(api->db_column_text(st, 1), 0, NULL);
        }
        api->db_reset(st);
    }
    char *info = found ? api->file_info(self, fid) : NULL;
    json_t *fi = info ? json_loads(info, 0, NULL) : NULL;
    api->free(info);
    if (!fi)
        api->resp_error(r, 404, "not_found", "no such attachment");
    return fi;
}

/* GET /api/documents/:id/attachments/:file/pages: the page count and sizes (points). */
static void get_pages(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    int64_t pages = 0;
    json_t *sizes = NULL;
    if (!doc_reader(r, self, &d))
        return;
    json_t *fi = attachment(r, self, &d, &pages, &sizes);
    if (!fi)
        return;
    json_t *j = json_pack("{s:O,s:O,s:I,s:o}", "file_id", json_object_get(fi, "id"), "name", json_object_get(fi, "name"),
                          "pages", (json_int_t)pages, "page_sizes", sizes ? sizes : json_array());
    json_decref(fi);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s)
        api->resp_json(r, 200, s);
    else
        internal_error(r, self, "cannot read the pages");
    free(s);
}

static int mkdir_ok(const char *p)
{
    return mkdir(p, 0700) == 0 || errno == EEXIST;
}

/* GET /api/documents/:id/attachments/:file/pages/:n?scale=1.5: the page as PNG. */
static void get_page(ym_request *r, void *ud)
{
    ym_plugin *self = ud;
    doc d;
    int64_t pages = 0;
    if (!doc_reader(r, self, &d))
        return;
    const char *ss = api->req_query(r, "scale");
    double scale = 1;
    if (ss) {
        char *end;
        scale = strtod(ss, &end);
        if (!*ss || *end || !(scale >= 0.25 && scale <= 4)) {
            api->resp_invalid(r, "scale", "scale must be a number from 0.25 to 4");
            return;
        }
    }
    json_t *sizes = NULL, *fi = attachment(r, self, &d, &pages, &sizes);
    if (!fi)
        return;
    int64_t n = id_param(r, "n");
    if (n < 1 || n > pages) {
        json_decref(fi);
        json_decref(sizes);
        api->resp_error(r, 404, "not_found", pages ? "no such page" : "the attachment is not a PDF with pages");
        return;
    }
    json_t *wh = json_array_get(sizes, (size_t)(n - 1));
    double px = ceil(json_number_value(json_array_get(wh, 0)) * scale) * ceil(json_number_value(json_array_get(wh, 1)) * scale);
    json_decref(sizes);
    if (px > MAX_PIXELS) {
        json_decref(fi);
        api->resp_invalid(r, "scale", "the page is too large to render at this scale (36 million pixels at most)");
        return;
    }
    const char *dir = api->data_path(self);
    render_job *j = dir ? calloc(1, sizeof *j) : NULL;
    char pdir[4300];
    if (j)
        snprintf(pdir, sizeof pdir, "%s/pages", dir);
    if (!j || !mkdir_ok(pdir)) {
        free(j);
        json_decref(fi);
        internal_error(r, self, "cannot prepare the page cache");
        return;
    }
    j->r = r;
    j->page = (int)n;
    j->scale100 = (int)lround(scale * 100);
    snprintf(j->pdf, sizeof j->pdf, "%s", json_string_value(json_object_get(fi, "path")));
    snprintf(j->out, sizeof j->out, "%s/%s-p%d-s%d.png", pdir, json_string_value(json_object_get(fi, "sha256")), j->page,
             j->scale100);
    json_decref(fi);
    size_t len = 0;
    char *png = read_all(j->out, &len);
    if (png) {                 /* cached: marked as used, so the cleanup keeps it */
        utimensat(AT_FDCWD, j->out, NULL, 0);
        api->resp_send(r, 200, "image/png", png, len);
        free(png);
        free(j);
        return;
    }
    if (api->queue_work(self, render_work, render_done, j) < 0) {
        free(j);
        internal_error(r, self, "cannot render the page");
    }
}

/* documents.pages_cleanup, daily: cached pages not shown for PAGE_CACHE_DAYS go (a page
 * shown again is rendered again); a render in flight writes a temp file and renames it,
 * so only finished PNGs are looked at. */
#define PAGE_CACHE_DAYS 30
static int pages_cleanup(ym_plugin *self, const char *name, void *ud)
{
    (void)name, (void)ud;
    const char *dir = api->data_path(self);
    char pdir[4300];
    if (!dir)
        return -1;
    snprintf(pdir, sizeof pdir, "%s/pages", dir);
    DIR *d = opendir(pdir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    time_t cutoff = (time_t)(api->now() / 1000) - (time_t)PAGE_CACHE_DAYS * 86400;   /* the server clock */
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        struct stat st;
        if (n < 5 || strcmp(e->d_name + n - 4, ".png") || fstatat(dirfd(d), e->d_name, &st, 0) < 0)
            continue;
        if (S_ISREG(st.st_mode) && st.st_mtime < cutoff && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed) {
        char msg[64];
        snprintf(msg, sizeof msg, "page cache: %d pages removed", removed);
        api->log(self, YM_INFO, msg);
    }
    return 0;
}

int render_routes(ym_plugin *self)
{
    return api->route(self, "GET", "/api/documents/:id/attachments/:file/pages", "user", get_pages, self) < 0 ||
                   api->route(self, "GET", "/api/documents/:id/attachments/:file/pages/:n", "user", get_page, self) < 0 ||
                   api->job(self, "documents.pages_cleanup", "daily 03:30", pages_cleanup, NULL) < 0
               ? -1
               : 0;
}
