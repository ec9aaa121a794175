/* worker: one process serving requests on its own libuv loop and SQLite connection;
 * started by the master (fds: 3 = IPC pipe, 4 = shared memory, 5.. = listeners). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "system.h"
#include "http.h"
#include "static.h"
#include "shared.h"
#include "clock.h"
#include "log.h"
#include "datadir.h"
#include "auth.h"
#include "admin.h"
#include "plugin.h"
#include "calendar.h"
#include "me.h"
#include "directory.h"
#include "auditlog.h"
#include "password.h"
#include "files.h"
#include "search.h"
#include "todo.h"
#include "jobs.h"
#include "notify.h"
#include "items.h"
#include "dispatch.h"
#include "live.h"
#include "channels.h"
#include "events.h"
#include "ui.h"

#define WWW_MAX_BYTES (64u << 20)

typedef struct worker {
    uv_loop_t *loop;
    ym_config *cfg;
    ym_db *db;
    ym_router *router;
    ym_static *www;
    ym_server *srv;
    ym_host host;
    ym_calendar *calendar;
    ym_jobs *jobs;
    ym_events *events;
    unsigned slot;
    uv_pipe_t ipc;
    bool has_ipc;
    uv_check_t flush;
    uv_signal_t sigterm, sigint, sighup;
    char ibuf[256];
    size_t ilen;
    bool stopping;
} worker;

static void on_flush(uv_check_t *h)
{
    worker *w = h->data;
    ym_db_flush(w->db);
    ym_events_after_flush(w->events); /* what an emit committed is delivered at once */
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_drained(void *ud)
{
    worker *w = ud;
    ym_host_stop(&w->host, ym_now() + 1000);
    ym_log(YM_LOG_INFO, "worker drained, exiting", "");
    ym_db_flush(w->db);
    ym_server_close(w->srv);
    uv_walk(w->loop, close_walk, NULL);
}

static void worker_stop(worker *w, const char *why)
{
    if (w->stopping)
        return;
    w->stopping = true;
    ym_jobs_stop(w->jobs); /* a draining worker starts no job */
    ym_channels_stop();
    ym_events_stop(w->events);
    ym_log(YM_LOG_INFO, "worker draining", "reason=%s connections=%zu", why, ym_server_connections(w->srv));
    ym_server_drain(w->srv, on_drained, w);
}

static void on_signal(uv_signal_t *s, int signum)
{
    worker *w = s->data;
    if (signum == SIGHUP)
        return; /* reloads are the master's business */
    worker_stop(w, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void ipc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    worker *w = h->data;
    buf->base = w->ibuf + w->ilen;
    buf->len = sizeof w->ibuf - w->ilen - 1;
}

/* Master -> worker lines: "drain". EOF means the master is gone: stop too. */
static void on_ipc(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    worker *w = st->data;
    if (nread < 0) {
        uv_read_stop(st);
        worker_stop(w, "master gone");
        return;
    }
    w->ilen += (size_t)nread;
    w->ibuf[w->ilen] = 0;
    char *nl;
    while ((nl = strchr(w->ibuf, '\n'))) {
        *nl = 0;
        if (strcmp(w->ibuf, "drain") == 0)
            worker_stop(w, "asked by the master");
        size_t rest = w->ilen - (size_t)(nl + 1 - w->ibuf);
        memmove(w->ibuf, nl + 1, rest + 1);
        w->ilen = rest;
    }
    if (w->ilen >= sizeof w->ibuf - 1)
        w->ilen = 0;
}

static void ipc_send(worker *w, const char *line)
{
    if (!w->has_ipc)
        return;
    /* short lines on a socketpair: one blocking write is atomic and immediate */
    ssize_t n = write(3, line, strlen(line));
    (void)n;
}

/* The master refuses a reload whose new generation lost a plugin. */
static void report_failed_plugins(worker *w)
{
    for (size_t i = 0; i < w->host.n; i++) {
        ym_plugin *p = &w->host.v[i];
        bool enabled = false; /* a plugin lying in plugin_paths but not enabled is nobody's loss */
        for (size_t k = 0; k < w->cfg->plugins.n; k++)
            enabled |= strcmp(w->cfg->plugins.v[k], p->name) == 0;
        if (p->state != YM_PLUGIN_FAILED || !enabled)
            continue;
        char line[400];
        snprintf(line, sizeof line, "failed %s: %s", p->name, p->reason);
        for (char *c = line; *c; c++)
            if (*c == '\n')
                *c = ' ';
        strcat(line, "\n");
        ipc_send(w, line);
    }
}

static void signals_init(worker *w)
{
    uv_signal_t *sigs[] = {&w->sigterm, &w->sigint, &w->sighup};
    int nums[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(w->loop, sigs[i]);
        sigs[i]->data = w;
        uv_signal_start(sigs[i], on_signal, nums[i]);
        uv_unref((uv_handle_t *)sigs[i]);
    }
    signal(SIGPIPE, SIG_IGN);
}

/* Subscribers of plugins that are not enabled (failed in init or start) are dropped:
 * their deliveries stay pending and show in admin. */
static void events_start(worker *w)
{
    char err[256];
    for (size_t i = 0; i < w->host.n; i++)
        if (w->host.v[i].state != YM_PLUGIN_ENABLED)
            ym_events_drop_owner(w->events, w->host.v[i].name);
    if (ym_events_start(w->events, w->loop, w->db, err, sizeof err) < 0)
        ym_log(YM_LOG_ERROR, "events not started", "error=%s", err);
}

static bool plugin_live(void *ud) { return ((const ym_plugin *)ud)->state == YM_PLUGIN_ENABLED; }

/* www_root at "/", and each enabled plugin's www/ at "/ui/<name>/" (C: beside the .so,
 * where make installs it; Lua: lua/<name>/www): a plugin not enabled has no pages. */
static ym_static *static_load(worker *w)
{
    ym_static *s = ym_static_new(WWW_MAX_BYTES);
    if (!s)
        return NULL;
    ym_static_add_root(s, w->cfg->www_root);
    for (size_t i = 0; i < w->host.n; i++) {
        ym_plugin *p = &w->host.v[i];
        if (p->state != YM_PLUGIN_ENABLED)
            continue;
        char dir[PATH_MAX + 8], prefix[64], real[PATH_MAX], realdir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/www", p->dir);
        snprintf(prefix, sizeof prefix, "/ui/%s", p->name);
        if (!realpath(dir, real))
            continue; /* a plugin without pages */
        size_t n = realpath(p->dir, realdir) ? strlen(realdir) : 0;
        if (!n || strncmp(real, realdir, n) != 0 || real[n] != '/') {
            ym_log(YM_LOG_WARN, "plugin www is a link that leads out of the plugin's directory; no pages served",
                   "plugin=%s", p->name);
            continue;
        }
        ym_static_mount(s, prefix, real, plugin_live, p);
    }
    ym_static_finish(s);
    return s;
}

/* Everything a worker needs before it accepts: db, routes, www, server. */
static int worker_setup(worker *w, char *err, size_t errlen)
{
    w->loop = uv_default_loop();
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s/yimen.db", w->cfg->data_dir);
    ym_db_opts o = {.synchronous = w->cfg->database.synchronous, .busy_timeout_ms = w->cfg->database.busy_timeout_ms};
    if (ym_db_open(dbpath, &o, &w->db, err, errlen) < 0)
        return -1;
    w->router = ym_router_new();
    ym_identity_register_permissions();
    if (ym_system_routes(w->router, err, errlen) < 0 || ym_auth_routes(w->router, err, errlen) < 0 ||
        ym_me_routes(w->router, err, errlen) < 0 || ym_directory_routes(w->router, err, errlen) < 0 ||
        ym_auditlog_routes(w->router, err, errlen) < 0 || ym_admin_routes(w->router, &w->host, err, errlen) < 0 ||
        ym_files_routes(w->router, err, errlen) < 0 ||
        ym_search_routes(w->router, w->db, err, errlen) < 0 || ym_todo_routes(w->router, err, errlen) < 0 ||
        ym_ui_routes(w->router, err, errlen) < 0)
        return -1;
    if (ym_items_routes(w->router, err, errlen) < 0)
        return -1;
    ym_items_configure(w->cfg->items.colours, w->cfg->items.lag_categories, w->cfg->items.auto_urge);
    ym_items_configure_remind(w->cfg->items.remind_days);
    if (ym_events_routes(w->router, err, errlen) < 0)
        return -1;
    if (ym_notify_routes(w->router, err, errlen) < 0 || ym_live_routes(w->router, err, errlen) < 0 ||
        ym_channels_routes(w->router, err, errlen) < 0 || ym_dispatch_routes(w->router, err, errlen) < 0)
        return -1;
    /* plugins after the core: a plugin can never take a core route */
    if (!(w->calendar = ym_calendar_load(w->cfg->calendar_dir, err, errlen)))
        return -1;
    ym_calendar_set_current(w->calendar);
    w->jobs = ym_jobs_new(); /* before the plugins: they register jobs in init */
    ym_jobs_set_current(w->jobs);
    ym_jobs_add_core(w->jobs);
    ym_notify_add_jobs(w->jobs, w->db, w->cfg->notify.keep);
    ym_items_add_jobs(w->jobs, w->db);
    ym_dispatch_add_jobs(w->jobs, w->db);
    ym_files_set_data_dir(w->cfg->data_dir);
    ym_live_init(w->loop, w->db, w->cfg->notify.heartbeat, w->cfg->auth.idle_timeout);
    ym_channels_init(w->loop, w->db, w->cfg->notify.channels, w->cfg->public_url);
    w->events = ym_events_new(); /* before the plugins too: they subscribe in init */
    ym_events_set_current(w->events);
    ym_events_add_jobs(w->events, w->jobs);
    ym_host_load(&w->host, w->cfg, w->router, w->db);
    if (w->slot == 0)
        ym_host_record(&w->host);
    if (ym_password_common_load(w->cfg->auth.password.common_list) < 0)
        ym_log(YM_LOG_WARN, "common-password list not found: the policy cannot refuse common passwords",
               "file=%s", w->cfg->auth.password.common_list);
    if (!(w->www = static_load(w)))
        return -1;
    ym_ui_load(&w->host, w->www);
    w->srv = ym_server_new(w->loop, w->cfg, w->router, w->db, w->www);
    uv_check_init(w->loop, &w->flush);
    w->flush.data = w;
    uv_check_start(&w->flush, on_flush);
    uv_unref((uv_handle_t *)&w->flush);
    signals_init(w);
    return 0;
}

static void worker_teardown(worker *w)
{
    uv_run(w->loop, UV_RUN_DEFAULT);
    if (w->srv)
        ym_server_free(w->srv);
    ym_ui_free();
    ym_static_free(w->www);
    ym_host_free(&w->host);
    ym_live_free();
    ym_channels_free();
    ym_jobs_free(w->jobs);
    ym_events_free(w->events);
    ym_calendar_set_current(NULL);
    ym_calendar_free(w->calendar);
    ym_router_free(w->router);
    ym_perm_clear();
    ym_password_common_free();
    ym_db_close(w->db);
    uv_loop_close(w->loop);
}

static int read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* The master sends "config <len>\n<text>" first: the worker runs exactly the
 * configuration the master validated, even if the file changes meanwhile. */
static char *read_config(size_t *len)
{
    char line[64];
    size_t n = 0;
    while (n < sizeof line - 1) {
        if (read_all(3, line + n, 1) < 0)
            return NULL;
        if (line[n++] == '\n')
            break;
    }
    line[n] = 0;
    unsigned long long l;
    if (sscanf(line, "config %llu", &l) != 1 || l > (16u << 20))
        return NULL;
    char *text = malloc(l + 1);
    if (!text || read_all(3, text, l) < 0) {
        free(text);
        return NULL;
    }
    text[l] = 0;
    *len = l;
    return text;
}

int ym_worker_main(int argc, char **argv)
{
    const char *cfg_path = NULL;
    unsigned gen = 0, slot = 0, nfds = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-c") == 0) cfg_path = argv[i + 1];
        else if (strcmp(argv[i], "--generation") == 0) gen = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--slot") == 0) slot = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--listeners") == 0) nfds = (unsigned)atoi(argv[i + 1]);
    }
    ym_log_init(YM_LOG_INFO, "worker", gen);
    ym_system_set_generation(gen);
    worker w = {0};
    w.slot = slot;
    char err[512];
    size_t len = 0;
    char *text = read_config(&len);
    if (!text) {
        ym_log(YM_LOG_ERROR, "worker could not read its configuration from the master", "");
        return 1;
    }
    int rc = ym_config_load_string(text, len, cfg_path && *cfg_path ? cfg_path : NULL, &w.cfg, err, sizeof err);
    free(text);
    if (rc < 0) {
        ym_log(YM_LOG_ERROR, "worker configuration invalid", "error=%s", err);
        return 1;
    }
    ym_log_set_level((ym_log_level)w.cfg->log_level);
    ym_clock_set_timezone(w.cfg->timezone);
    ym_shared *sh;
    if (ym_shared_map(4, &sh) < 0) {
        ym_log(YM_LOG_ERROR, "worker could not map shared memory", "");
        return 1;
    }
    ym_metrics_attach(&sh->metrics);
    ym_metrics_claim(getpid());
    ym_clock_attach(&sh->clock_offset_ms);
    if (worker_setup(&w, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "worker start failed", "error=%s", err);
        return 1;
    }
    for (unsigned i = 0; i < nfds; i++)
        if (ym_server_listen_fd(w.srv, 5 + (int)i, err, sizeof err) < 0) {
            ym_log(YM_LOG_ERROR, "worker start failed", "error=%s", err);
            return 1;
        }
    uv_pipe_init(w.loop, &w.ipc, 0);
    w.ipc.data = &w;
    if (uv_pipe_open(&w.ipc, 3) == 0) {
        w.has_ipc = true;
        uv_read_start((uv_stream_t *)&w.ipc, ipc_alloc, on_ipc);
        uv_unref((uv_handle_t *)&w.ipc);
    }
    ym_host_start(&w.host);
    if (ym_jobs_start(w.jobs, w.loop, w.db, &w.host, err, sizeof err) < 0)
        ym_log(YM_LOG_ERROR, "jobs not started", "error=%s", err);
    events_start(&w);
    if (w.slot == 0)
        ym_host_record(&w.host); /* again: a start may have failed */
    report_failed_plugins(&w);
    ym_log(YM_LOG_INFO, "worker ready", "slot=%u routes=%zu www_files=%zu", slot, ym_router_count(w.router),
           ym_static_count(w.www));
    ipc_send(&w, "ready\n");
    worker_teardown(&w);
    ym_config_free(w.cfg);
    return 0;
}

int ym_worker_run_single(const char *cfg_path, const char *cfg_text, size_t cfg_len)
{
    worker w = {0};
    char err[512] = "";
    if (ym_config_load_string(cfg_text, cfg_len, cfg_path, &w.cfg, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err);
        return 1;
    }
    ym_log_init((ym_log_level)w.cfg->log_level, "worker", 1);
    ym_system_set_generation(1);
    ym_clock_set_timezone(w.cfg->timezone);
    char shm_path[4096];
    snprintf(shm_path, sizeof shm_path, "%s/yimen.shm", w.cfg->data_dir);
    ym_shared *sh = NULL;
    int shm_fd = -1;
    if (ym_mkdirs(w.cfg->data_dir, 0750) < 0 || ym_pidfile_write(w.cfg, err, sizeof err) < 0 ||
        (shm_fd = ym_shared_create(shm_path, &sh)) < 0) {
        fprintf(stderr, "yimen: %s\n", err[0] ? err : "cannot create data_dir or its shared memory");
        ym_config_free(w.cfg);
        return 1;
    }
    close(shm_fd);
    ym_metrics_attach(&sh->metrics);
    ym_metrics_claim(getpid());
    ym_clock_attach(&sh->clock_offset_ms);
    sh->generation = 1;
    if (ym_prepare_database(w.cfg, err, sizeof err) < 0 || worker_setup(&w, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err);
        ym_config_free(w.cfg);
        return 1;
    }
    for (size_t i = 0; i < w.cfg->nlisten; i++)
        if (ym_server_listen_addr(w.srv, &w.cfg->listen[i], err, sizeof err) < 0) {
            fprintf(stderr, "yimen: %s\n", err);
            ym_pidfile_remove(w.cfg);
            worker_stop(&w, "start failed");
            worker_teardown(&w);
            ym_config_free(w.cfg);
            return 1;
        }
    ym_host_start(&w.host);
    if (ym_jobs_start(w.jobs, w.loop, w.db, &w.host, err, sizeof err) < 0)
        ym_log(YM_LOG_ERROR, "jobs not started", "error=%s", err);
    events_start(&w);
    ym_host_record(&w.host);
    ym_log(YM_LOG_INFO, "serving (single process)", "listen=%s port=%d", w.cfg->listen[0].host, w.cfg->listen[0].port);
    worker_teardown(&w);
    ym_pidfile_remove(w.cfg);
    ym_config_free(w.cfg);
    return 0;
}
