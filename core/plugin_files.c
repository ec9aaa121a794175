/* plugin services of ABI minor 4: reading the files attached to a plugin's own records,
 * the plugin's own directory under the data directory, and slow work on the thread pool;
 * and of minor 6: who holds a permission on a unit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>
#include <sqlite3.h>
#include "plugin_services.h"
#include "files.h"
#include "db.h"
#include "access.h"

/* The file object, plus "path" (its blob on disk), of a file attached to a record of
 * this plugin ("<plugin>_<table>:<id>"); NULL otherwise. */
char *ym_ps_file_info(ym_plugin *p, int64_t file_id)
{
    ym_db *db = ym_ps_db(p);
    if (!db) {
        ym_ps_fail(p, "no database in this process (file_info)");
        return NULL;
    }
    sqlite3_stmt *st = ym_db_prepare(db, "core", "SELECT id, name, size, sniffed_type, sha256, owner, uploader_id, "
                                                 "unit_id FROM core_files WHERE id = ?1");
    if (!st) {
        ym_ps_fail(p, "%s", ym_db_errmsg(db));
        return NULL;
    }
    sqlite3_bind_int64(st, 1, file_id);
    char *text = NULL;
    size_t n = strlen(p->name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *owner = (const char *)sqlite3_column_text(st, 5);
        char dir[4096], path[4400];
        if (owner && strncmp(owner, p->name, n) == 0 && owner[n] == '_' && ym_files_data_dir(db, dir, sizeof dir) &&
            ym_files_blob_path(dir, (const char *)sqlite3_column_text(st, 4), path, sizeof path) == 0)
            text = ym_ps_text(json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:I,s:I,s:s}", "id",
                                        (json_int_t)sqlite3_column_int64(st, 0), "name",
                                        (const char *)sqlite3_column_text(st, 1), "size",
                                        (json_int_t)sqlite3_column_int64(st, 2), "type",
                                        (const char *)sqlite3_column_text(st, 3), "sha256",
                                        (const char *)sqlite3_column_text(st, 4), "owner", owner, "uploader_id",
                                        (json_int_t)sqlite3_column_int64(st, 6), "unit_id",
                                        (json_int_t)sqlite3_column_int64(st, 7), "path", path));
    }
    sqlite3_reset(st);
    if (!text)
        ym_ps_fail(p, "no such file attached to a record of %s", p->name);
    return text;
}

/* <data_dir>/plugins/<name>, made on first use. */
const char *ym_ps_data_path(ym_plugin *p)
{
    static __thread char out[4200];
    char dir[4096];
    if (!ym_files_data_dir(ym_ps_db(p), dir, sizeof dir)) {
        ym_ps_fail(p, "no data directory in this process");
        return NULL;
    }
    snprintf(out, sizeof out, "%s/plugins", dir);
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {
        ym_ps_fail(p, "cannot make %s", out);
        return NULL;
    }
    snprintf(out, sizeof out, "%s/plugins/%s", dir, p->name);
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {
        ym_ps_fail(p, "cannot make %s", out);
        return NULL;
    }
    return out;
}

typedef struct ps_work {
    uv_work_t w;
    ym_plugin *p;
    void (*work)(void *ud);
    void (*done)(ym_plugin *p, void *ud);
    void *ud;
} ps_work;

static void ps_work_run(uv_work_t *w)
{
    ps_work *j = w->data;
    j->work(j->ud);
}

static void ps_work_done(uv_work_t *w, int status)
{
    ps_work *j = w->data;
    (void)status;
    j->done(j->p, j->ud);
    free(j);
}

int ym_ps_queue_work(ym_plugin *p, void (*work)(void *ud), void (*done)(ym_plugin *p, void *ud), void *ud)
{
    ps_work *j = work && done ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return ym_ps_fail(p, "queue_work needs work and done");
    j->p = p;
    j->work = work;
    j->done = done;
    j->ud = ud;
    j->w.data = j;
    if (uv_queue_work(uv_default_loop(), &j->w, ps_work_run, ps_work_done) != 0) {
        free(j);
        return ym_ps_fail(p, "cannot queue the work");
    }
    return 0;
}

char *ym_ps_perm_holders(ym_plugin *p, const char *perm, int64_t unit)
{
    ym_db *db = ym_ps_db(p);
    int64_t ids[200];
    long n = db && perm && *perm ? ym_perm_holders(db, unit, perm, ids, sizeof ids / sizeof *ids) : -1;
    if (n < 0) {
        ym_ps_fail(p, "%s", db ? ym_db_errmsg(db) : "no database in this process (perm_holders)");
        return NULL;
    }
    json_t *a = json_array();
    for (long i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return ym_ps_text(a);
}
