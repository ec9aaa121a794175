/* master: owns the listening sockets and the shared segment, spawns one worker
 * per slot, replaces a generation on reload and restarts workers that die. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <uv.h>
#include "system.h"
#include "config.h"
#include "shared.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "datadir.h"

#define MAX_SLOTS 64
#define READY_TIMEOUT_MS 30000
#define MAX_BACKOFF_MS 30000

enum { W_STARTING, W_READY, W_DRAINING };

typedef struct master master;

typedef struct wproc {
    uv_process_t proc;
    uv_pipe_t ipc;
    master *m;
    struct wproc *next;
    int slot;
    unsigned gen;
    int state;
    int handles;
    uint64_t started_ms;
    char buf[1024];
    size_t blen;
} wproc;

typedef struct restart {
    uv_timer_t t;
    master *m;
    int slot;
    unsigned gen;
} restart;

struct master {
    uv_loop_t *loop;
    char exe[PATH_MAX];
    char *cfg_path;
    ym_config *cfg;             /* of the serving generation */
    char *cfg_text;
    size_t cfg_len;
    ym_config *next_cfg;        /* of the generation being started */
    char *next_text;
    size_t next_len;
    unsigned gen, next_gen, gen_seq;
    int shm_fd;
    ym_shared *sh;
    int socks[MAX_SLOTS][YM_MAX_LISTEN];
    int nslots;
    wproc *procs;
    uv_signal_t sighup, sigterm, sigint, sigquit;
    uv_timer_t ready_timer, stop_timer;
    bool stopping, reload_queued, first_start;
    char next_failure[400];      /* a plugin the new generation lost, if any */
    int exit_code;
    int crashes[MAX_SLOTS];
};

static void spawn_worker(master *m, int slot, unsigned gen, const char *text, size_t len);

/* ---------- sockets ---------- */

static int open_listener(const ym_listen_addr *a, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, a->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)a->port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, a->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)a->port);
        sl = sizeof *v6;
    } else {
        snprintf(err, errlen, "listen: bad address %s", a->host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "listen on %s:%d: %s", a->host, a->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* One SO_REUSEPORT socket per worker slot and address, kept across generations:
 * the kernel spreads connections over the slots and a reload refuses none. */
static int ensure_slots(master *m, int n, const ym_config *cfg, char *err, size_t errlen)
{
    if (n > MAX_SLOTS) {
        snprintf(err, errlen, "workers: at most %d", MAX_SLOTS);
        return -1;
    }
    for (int s = m->nslots; s < n; s++)
        for (size_t i = 0; i < cfg->nlisten; i++)
            if ((m->socks[s][i] = open_listener(&cfg->listen[i], err, errlen)) < 0)
                return -1;
    if (n > m->nslots)
        m->nslots = n;
    return 0;
}

static void close_slots_from(master *m, int from, size_t nlisten)
{
    for (int s = from; s < m->nslots; s++)
        for (size_t i = 0; i < nlisten; i++)
            close(m->socks[s][i]);
    if (from < m->nslots)
        m->nslots = from;
}

/* ---------- worker processes ---------- */

static void on_written(uv_write_t *req, int status)
{
    free(req);
}

static void ipc_send(wproc *w, const char *line)
{
    if (w->handles < 2 || uv_is_closing((uv_handle_t *)&w->ipc))
        return;
    size_t n = strlen(line);
    char *copy = malloc(sizeof(uv_write_t) + n);
    if (!copy)
        abort();
    uv_write_t *req = (uv_write_t *)copy;
    memcpy(copy + sizeof(uv_write_t), line, n);
    uv_buf_t b = uv_buf_init(copy + sizeof(uv_write_t), (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&w->ipc, &b, 1, on_written) < 0)
        free(copy);
}

static void proc_unlink(master *m, wproc *w)
{
    for (wproc **pp = &m->procs; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return;
        }
}

static void on_proc_handle_closed(uv_handle_t *h)
{
    wproc *w = h->data;
    if (--w->handles == 0)
        free(w);
}

static void drain_generation(master *m, unsigned gen)
{
    for (wproc *w = m->procs; w; w = w->next)
        if (w->gen == gen && w->state != W_DRAINING) {
            w->state = W_DRAINING;
            ipc_send(w, "drain\n");
        }
}

static void stop_generation(master *m, unsigned gen)
{
    for (wproc *w = m->procs; w; w = w->next)
        if (w->gen == gen) {
            w->state = W_DRAINING;
            uv_process_kill(&w->proc, SIGTERM);
        }
}

static void master_finish(master *m)
{
    uv_close((uv_handle_t *)&m->sighup, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    uv_close((uv_handle_t *)&m->sigquit, NULL);
    uv_close((uv_handle_t *)&m->ready_timer, NULL);
    uv_close((uv_handle_t *)&m->stop_timer, NULL);
}

static void free_next(master *m)
{
    ym_config_free(m->next_cfg);
    free(m->next_text);
    m->next_cfg = NULL;
    m->next_text = NULL;
    m->next_gen = 0;
}

static void master_reload(master *m);

/* All workers of the new generation are ready: it takes over, the old one drains. */
static void commit_generation(master *m)
{
    unsigned old = m->gen;
    uv_timer_stop(&m->ready_timer);
    if (old) {
        ym_log(YM_LOG_INFO, "new generation ready; old one draining", "generation=%u old=%u", m->next_gen, old);
        drain_generation(m, old);
        /* slots beyond the new worker count: their sockets go with the old workers */
        close_slots_from(m, m->next_cfg->workers, m->cfg->nlisten);
    } else {
        ym_log(YM_LOG_INFO, "serving", "generation=%u workers=%d listen=%s:%d", m->next_gen, m->next_cfg->workers,
               m->next_cfg->listen[0].host, m->next_cfg->listen[0].port);
    }
    ym_config_free(m->cfg);
    free(m->cfg_text);
    m->cfg = m->next_cfg;
    m->cfg_text = m->next_text;
    m->cfg_len = m->next_len;
    m->gen = m->next_gen;
    m->next_cfg = NULL;
    m->next_text = NULL;
    m->next_gen = 0;
    m->first_start = false;
    __atomic_store_n(&m->sh->generation, m->gen, __ATOMIC_RELAXED);
    ym_log_init((ym_log_level)m->cfg->log_level, "master", m->gen);
    if (m->reload_queued) {
        m->reload_queued = false;
        master_reload(m);
    }
}

static void abort_next_generation(master *m, const char *why)
{
    ym_log(YM_LOG_ERROR, m->first_start ? "start failed" : "reload failed; the old generation keeps serving",
           "generation=%u reason=%s", m->next_gen, why);
    uv_timer_stop(&m->ready_timer);
    stop_generation(m, m->next_gen);
    free_next(m);
    if (m->first_start) {
        m->exit_code = 1;
        m->stopping = true;
    }
}

static void on_ready_timeout(uv_timer_t *t)
{
    master *m = t->data;
    if (m->next_gen)
        abort_next_generation(m, "workers did not report ready in time");
}

static void on_ipc_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    wproc *w = st->data;
    master *m = w->m;
    if (nread < 0) {
        uv_read_stop(st);
        return;
    }
    w->blen += (size_t)nread;
    w->buf[w->blen] = 0;
    char *nl;
    while ((nl = strchr(w->buf, '\n'))) {
        *nl = 0;
        if (strncmp(w->buf, "failed ", 7) == 0 && w->gen == m->next_gen && !m->next_failure[0])
            snprintf(m->next_failure, sizeof m->next_failure, "plugin %s", w->buf + 7);
        if (strcmp(w->buf, "ready") == 0 && w->state == W_STARTING) {
            w->state = W_READY;
            if (w->gen == m->next_gen) {
                int waiting = 0;
                for (wproc *p = m->procs; p; p = p->next)
                    waiting += p->gen == m->next_gen && p->state == W_STARTING;
                /* at first start a failed plugin is left out; a reload must not lose one */
                if (!waiting && m->next_failure[0] && !m->first_start)
                    abort_next_generation(m, m->next_failure);
                else if (!waiting)
                    commit_generation(m);
            }
        }
        size_t rest = w->blen - (size_t)(nl + 1 - w->buf);
        memmove(w->buf, nl + 1, rest + 1);
        w->blen = rest;
    }
    if (w->blen >= sizeof w->buf - 1)
        w->blen = 0;
}

static void ipc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    wproc *w = h->data;
    buf->base = w->buf + w->blen;
    buf->len = sizeof w->buf - w->blen - 1;
}

static void on_restart_timer(uv_timer_t *t)
{
    restart *r = t->data;
    master *m = r->m;
    if (!m->stopping && r->gen == m->gen)
        spawn_worker(m, r->slot, m->gen, m->cfg_text, m->cfg_len);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* A serving worker died: replace it at once, or with backoff if it keeps dying. */
static void schedule_restart(master *m, wproc *w)
{
    uint64_t lived = uv_now(m->loop) - w->started_ms;
    int *crashes = &m->crashes[w->slot];
    *crashes = lived > 10000 ? 0 : *crashes + 1;
    uint64_t delay = *crashes <= 1 ? 0 : 100ull << (*crashes < 9 ? *crashes : 9);
    if (delay > MAX_BACKOFF_MS)
        delay = MAX_BACKOFF_MS;
    __atomic_add_fetch(&m->sh->worker_restarts, 1, __ATOMIC_RELAXED);
    ym_log(YM_LOG_WARN, "restarting worker", "slot=%d in_ms=%llu", w->slot, (unsigned long long)delay);
    restart *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->m = m;
    r->slot = w->slot;
    r->gen = w->gen;
    uv_timer_init(m->loop, &r->t);
    r->t.data = r;
    uv_timer_start(&r->t, on_restart_timer, delay, 0);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    wproc *w = p->data;
    master *m = w->m;
    proc_unlink(m, w);
    ym_metrics_release(p->pid);
    if (sig)
        ym_log(sig == SIGTERM ? YM_LOG_INFO : YM_LOG_WARN, "worker exited", "pid=%d slot=%d generation=%u signal=%d", p->pid, w->slot, w->gen, sig);
    else
        ym_log(status ? YM_LOG_WARN : YM_LOG_INFO, "worker exited", "pid=%d slot=%d generation=%u status=%lld", p->pid, w->slot, w->gen, (long long)status);
    if (!m->stopping) {
        if (w->gen == m->next_gen && w->state == W_STARTING)
            abort_next_generation(m, "a worker exited before it was ready");
        else if (w->gen == m->gen && w->state != W_DRAINING)
            schedule_restart(m, w);
    }
    uv_close((uv_handle_t *)&w->ipc, on_proc_handle_closed);
    uv_close((uv_handle_t *)&w->proc, on_proc_handle_closed);
    if (m->stopping && !m->procs)
        master_finish(m);
}

static void spawn_worker(master *m, int slot, unsigned gen, const char *text, size_t len)
{
    wproc *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->m = m;
    w->slot = slot;
    w->gen = gen;
    w->started_ms = uv_now(m->loop);
    uv_pipe_init(m->loop, &w->ipc, 0);
    w->ipc.data = w->proc.data = w;
    const ym_config *cfg = gen == m->next_gen ? m->next_cfg : m->cfg;
    uv_stdio_container_t stdio[5 + YM_MAX_LISTEN];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&w->ipc;
    stdio[4].flags = UV_INHERIT_FD;
    stdio[4].data.fd = m->shm_fd;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        stdio[5 + i].flags = UV_INHERIT_FD;
        stdio[5 + i].data.fd = m->socks[slot][i];
    }
    char gens[16], slots[16], nl[16];
    snprintf(gens, sizeof gens, "%u", gen);
    snprintf(slots, sizeof slots, "%d", slot);
    snprintf(nl, sizeof nl, "%zu", cfg->nlisten);
    char *args[] = {m->exe, "__worker", "-c", m->cfg_path ? m->cfg_path : "", "--generation", gens,
                    "--slot", slots, "--listeners", nl, NULL};
    uv_process_options_t o = {0};
    o.file = m->exe;
    o.args = args;
    o.exit_cb = on_exit_cb;
    o.stdio = stdio;
    o.stdio_count = (int)(5 + cfg->nlisten);
    int rc = uv_spawn(m->loop, &w->proc, &o);
    if (rc < 0) {
        ym_log(YM_LOG_ERROR, "cannot start worker", "error=%s", uv_strerror(rc));
        uv_close((uv_handle_t *)&w->ipc, NULL);
        free(w); /* the pipe handle is closed in this loop turn; nothing else refers to w */
        return;
    }
    w->handles = 2;
    w->next = m->procs;
    m->procs = w;
    char head[48];
    snprintf(head, sizeof head, "config %zu\n", len);
    ipc_send(w, head);
    char *copy = malloc(sizeof(uv_write_t) + len + 1);
    if (!copy)
        abort();
    memcpy(copy + sizeof(uv_write_t), text, len);
    uv_buf_t b = uv_buf_init(copy + sizeof(uv_write_t), (unsigned)len);
    if (uv_write((uv_write_t *)copy, (uv_stream_t *)&w->ipc, &b, 1, on_written) < 0)
        free(copy);
    uv_read_start((uv_stream_t *)&w->ipc, ipc_alloc, on_ipc_read);
}

/* Starts generation m->next_gen with m->next_cfg. */
static void start_generation(master *m)
{
    char err[256];
    if (ensure_slots(m, m->next_cfg->workers, m->next_cfg, err, sizeof err) < 0) {
        abort_next_generation(m, err);
        return;
    }
    for (int s = 0; s < m->next_cfg->workers; s++)
        spawn_worker(m, s, m->next_gen, m->next_text, m->next_len);
    uv_timer_start(&m->ready_timer, on_ready_timeout, READY_TIMEOUT_MS, 0);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0 && n < (16u << 20));
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static void master_reload(master *m)
{
    if (m->stopping)
        return;
    if (m->next_gen) {
        m->reload_queued = true;
        return;
    }
    char err[512];
    size_t len = 0;
    char *text = m->cfg_path ? read_file(m->cfg_path, &len, err, sizeof err) : strdup("");
    ym_config *nc = NULL;
    if (!text || ym_config_load_string(text, len, m->cfg_path, &nc, err, sizeof err) < 0 ||
        ym_config_reloadable(m->cfg, nc, err, sizeof err) < 0) {
        ym_log(YM_LOG_ERROR, "reload refused; the old configuration keeps serving", "error=%s", err);
        free(text);
        ym_config_free(nc);
        return;
    }
    m->next_cfg = nc;
    m->next_text = text;
    m->next_len = len;
    m->next_gen = ++m->gen_seq;
    m->next_failure[0] = 0;
    ym_log(YM_LOG_INFO, "reloading", "generation=%u", m->next_gen);
    start_generation(m);
}

static void on_stop_timeout(uv_timer_t *t)
{
    master *m = t->data;
    for (wproc *w = m->procs; w; w = w->next)
        uv_process_kill(&w->proc, SIGKILL);
}

static void master_stop(master *m, const char *why)
{
    if (m->stopping) {
        if (strcmp(why, "SIGINT") == 0 || strcmp(why, "SIGQUIT") == 0) /* asked twice: stop now */
            on_stop_timeout(&m->stop_timer);
        return;
    }
    m->stopping = true;
    ym_log(YM_LOG_INFO, "stopping", "reason=%s", why);
    for (wproc *w = m->procs; w; w = w->next) {
        w->state = W_DRAINING;
        ipc_send(w, "drain\n");
    }
    uv_timer_stop(&m->ready_timer);
    uv_timer_start(&m->stop_timer, on_stop_timeout, m->cfg ? m->cfg->timeouts.drain + 5000 : 5000, 0);
    if (!m->procs)
        master_finish(m);
}

static void on_signal(uv_signal_t *s, int signum)
{
    master *m = s->data;
    if (signum == SIGHUP)
        master_reload(m);
    else
        master_stop(m, signum == SIGTERM ? "SIGTERM" : signum == SIGINT ? "SIGINT" : "SIGQUIT");
}

int ym_master_run(const char *cfg_path, const char *cfg_text, size_t cfg_len)
{
    master *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    char err[512] = "";
    m->loop = uv_default_loop();
    m->cfg_path = cfg_path ? strdup(cfg_path) : NULL;
    m->next_text = malloc(cfg_len + 1);
    if (!m->next_text)
        abort();
    memcpy(m->next_text, cfg_text, cfg_len);
    m->next_text[cfg_len] = 0;
    m->next_len = cfg_len;
    if (ym_config_load_string(cfg_text, cfg_len, cfg_path, &m->next_cfg, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err);
        return 1;
    }
    ym_log_init((ym_log_level)m->next_cfg->log_level, "master", 0);
    ym_clock_set_timezone(m->next_cfg->timezone);
    ssize_t n = readlink("/proc/self/exe", m->exe, sizeof m->exe - 1);
    if (n <= 0) {
        fprintf(stderr, "yimen: cannot find own executable\n");
        return 1;
    }
    m->exe[n] = 0;
    /* the pid file's lock first: a second master must not touch the first one's segment */
    if (ym_mkdirs(m->next_cfg->data_dir, 0750) < 0 || ym_pidfile_write(m->next_cfg, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err[0] ? err : "cannot create data_dir");
        return 1;
    }
    char shm_path[PATH_MAX];
    snprintf(shm_path, sizeof shm_path, "%s/yimen.shm", m->next_cfg->data_dir);
    if ((m->shm_fd = ym_shared_create(shm_path, &m->sh)) < 0) {
        fprintf(stderr, "yimen: cannot create shared memory %s: %s\n", shm_path, strerror(errno));
        ym_pidfile_remove(m->next_cfg);
        return 1;
    }
    ym_metrics_attach(&m->sh->metrics);
    ym_clock_attach(&m->sh->clock_offset_ms);
    if (ym_prepare_database(m->next_cfg, err, sizeof err) < 0) {
        fprintf(stderr, "yimen: %s\n", err);
        ym_pidfile_remove(m->next_cfg);
        return 1;
    }
    uv_signal_t *sigs[] = {&m->sighup, &m->sigterm, &m->sigint, &m->sigquit};
    int nums[] = {SIGHUP, SIGTERM, SIGINT, SIGQUIT};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(m->loop, sigs[i]);
        sigs[i]->data = m;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    signal(SIGPIPE, SIG_IGN);
    uv_timer_init(m->loop, &m->ready_timer);
    uv_timer_init(m->loop, &m->stop_timer);
    m->ready_timer.data = m->stop_timer.data = m;
    m->first_start = true;
    m->next_gen = m->gen_seq = 1;
    /* nothing older serves: the first generation is the one from its first answer on */
    __atomic_store_n(&m->sh->generation, 1, __ATOMIC_RELAXED);
    start_generation(m);
    if (m->stopping && !m->procs)
        master_finish(m);
    uv_run(m->loop, UV_RUN_DEFAULT);
    ym_pidfile_remove(m->cfg ? m->cfg : m->next_cfg);
    int code = m->exit_code;
    ym_log(YM_LOG_INFO, code ? "stopped after a failed start" : "stopped", "");
    if (m->cfg)
        close_slots_from(m, 0, m->cfg->nlisten);
    uv_loop_close(m->loop);
    ym_config_free(m->cfg);
    ym_config_free(m->next_cfg);
    free(m->cfg_text);
    free(m->next_text);
    free(m->cfg_path);
    free(m);
    return code;
}
