/* test_master: `serve` in a forked child: the master spawns its workers (this binary
 * re-run as "__worker"), replaces a dead one, reloads on SIGHUP and stops on SIGTERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>

#include <cmocka.h>

#include "system.h"
#include "config.h"

/* ---------- a blocking HTTP/1.1 client ---------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* GET path with Connection: close; the status, and the body in buf. -1 if no answer.
 * rid (optional, 32 bytes) gets X-Request-Id, "<worker pid in hex>-<n>". */
static int http_get_id(int port, const char *path, char *buf, size_t len, char *rid)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = recv(fd, buf + got, len - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = 0;
    int status = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || !body)
        return -1;
    const char *id = strstr(buf, "\r\nX-Request-Id: ");
    if (rid)
        snprintf(rid, 32, "%.*s", id ? (int)strcspn(id + 16, "\r") : 0, id ? id + 16 : "");
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return status;
}

static int http_get(int port, const char *path, char *buf, size_t len)
{
    return http_get_id(port, path, buf, len, NULL);
}

/* ---------- processes ---------- */

/* Children of pid, from /proc/<n>/stat. */
static int children_of(pid_t parent, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        char *rp = strrchr(buf, ')'); /* the command name may hold spaces */
        char state;
        int ppid;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent && state != 'Z' && n < max)
            out[n++] = atoi(e->d_name);
    }
    closedir(d);
    return n;
}

static bool is_worker(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *arg1 = buf + strlen(buf) + 1; /* NUL-separated argv */
    return arg1 < buf + n && strcmp(arg1, "__worker") == 0;
}

/* Waits until the master has exactly n live children, all workers. */
static bool wait_workers(pid_t master, int n, pid_t *out, int ms)
{
    pid_t kids[16];
    for (int i = 0; i < ms / 20; i++) {
        int k = children_of(master, kids, 16), workers = 0;
        for (int j = 0; j < k; j++)
            workers += is_worker(kids[j]);
        if (k == n && workers == n) {
            if (out)
                memcpy(out, kids, sizeof *kids * (size_t)n);
            return true;
        }
        sleep_ms(20);
    }
    return false;
}

/* A process that is not ours: gone once kill(pid, 0) fails (a zombie still counts). */
static bool wait_gone(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        sleep_ms(20);
    }
    return false;
}

typedef struct fixture {
    char dir[64];
    char conf[PATH_MAX];
    char text[1024];
    int port;
    pid_t master;
    ym_config *cfg;
} fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/yimen-master-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->port = free_port();
    snprintf(f->text, sizeof f->text,
             "listen = \"127.0.0.1:%d\"\n"
             "workers = 2\n"
             "data_dir = \"data\"\n"
             "www_root = \"www\"\n"
             "log_level = \"error\"\n"
             "timeouts = { drain = \"2s\" }\n"
             "auth = { argon2 = { memory = \"8MiB\", iterations = 1 } }\n",
             f->port);
    snprintf(f->conf, sizeof f->conf, "%s/yimen.conf", f->dir);
    FILE *fp = fopen(f->conf, "w");
    if (!fp)
        return -1;
    fputs(f->text, fp);
    fclose(fp);
    char err[512];
    if (ym_config_load_string(f->text, strlen(f->text), f->conf, &f->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->master > 0) {
        pid_t kids[16];
        int n = children_of(f->master, kids, 16);
        kill(f->master, SIGKILL);
        waitpid(f->master, NULL, 0);
        for (int i = 0; i < n; i++)
            kill(kids[i], SIGKILL);
    }
    ym_config_free(f->cfg);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void start_master(fixture *f)
{
    f->master = fork();
    assert_true(f->master >= 0);
    if (f->master == 0) {
        setenv("YIMEN_ADMIN_PASSWORD", "unit-test-admin-password", 1);
        exit(ym_master_run(f->conf, f->text, strlen(f->text)));
    }
}

/* The generation /healthz reports, once it answers 200; -1 if it never does. */
static int healthz_generation(fixture *f, int ms)
{
    char buf[4096];
    for (int i = 0; i < ms / 50; i++) {
        if (http_get(f->port, "/healthz", buf, sizeof buf) == 200) {
            json_t *j = json_loads(buf, 0, NULL);
            int gen = (int)json_integer_value(json_object_get(j, "generation"));
            json_decref(j);
            return gen;
        }
        int st;
        if (waitpid(f->master, &st, WNOHANG) == f->master) {
            f->master = 0;
            fail_msg("the master exited before it served (status 0x%x)", st);
        }
        sleep_ms(50);
    }
    return -1;
}

/* The master publishes a generation once all its workers are ready; a worker that is
 * ready sooner already answers (with the previous number, 0 at first start). */
static bool wait_generation(fixture *f, int gen, int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        if (healthz_generation(f, 5000) == gen)
            return true;
        sleep_ms(50);
    }
    return false;
}

static int wait_exit(pid_t pid, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(20);
    }
    return -1;
}

/* ---------- tests ---------- */

static void test_master_lifecycle(void **state)
{
    fixture *f = *state;
    start_master(f);
    assert_true(wait_generation(f, 1, 20000));
    pid_t gen1[2], gen2[2];
    if (!wait_workers(f->master, 2, gen1, 10000))
        fail_msg("the master does not have 2 worker children");
    assert_int_equal(ym_pidfile_read(f->cfg), f->master);

    /* both workers answer: fresh connections spread over the SO_REUSEPORT sockets
     * (the request id starts with the answering worker's pid in hex) */
    char buf[8192], rid[32], want0[16], want1[16];
    snprintf(want0, sizeof want0, "%x-", (unsigned)gen1[0]);
    snprintf(want1, sizeof want1, "%x-", (unsigned)gen1[1]);
    bool seen0 = false, seen1 = false;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(http_get_id(f->port, "/healthz", buf, sizeof buf, rid), 200);
        seen0 |= strncmp(rid, want0, strlen(want0)) == 0;
        seen1 |= strncmp(rid, want1, strlen(want1)) == 0;
    }
    assert_true(seen0 && seen1);
    /* metrics are shared: any worker reports the requests of all */
    assert_int_equal(http_get(f->port, "/metrics", buf, sizeof buf), 200);
    const char *line = strstr(buf, "yimen_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} ");
    assert_non_null(line);
    assert_true(atoi(strchr(line, '}') + 2) >= 41);
    assert_non_null(strstr(buf, "\nyimen_generation 1\n"));

    /* SIGHUP: a new generation of two workers takes over; the old one exits */
    assert_int_equal(kill(f->master, SIGHUP), 0);
    if (!wait_generation(f, 2, 20000))
        fail_msg("/healthz never reported generation 2 after SIGHUP");
    if (!wait_workers(f->master, 2, gen2, 10000))
        fail_msg("after the reload the master does not have exactly 2 workers");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            assert_int_not_equal(gen2[i], gen1[j]);
    for (int i = 0; i < 2; i++) /* the old generation is gone (and reaped) */
        assert_true(wait_gone(gen1[i], 2000));

    /* SIGTERM: workers drain, the master exits 0 and removes its pid file */
    assert_int_equal(kill(f->master, SIGTERM), 0);
    int rc = wait_exit(f->master, 15000);
    assert_int_equal(rc, 0);
    f->master = 0;
    for (int i = 0; i < 2; i++)
        assert_true(wait_gone(gen2[i], 2000));
    assert_int_equal(ym_pidfile_read(f->cfg), 0);
    assert_int_equal(http_get(f->port, "/healthz", buf, sizeof buf), -1);
}

/* The generation is committed (every worker reported ready): /metrics says so, where
 * /healthz answers from whichever worker is up first. */
static bool wait_committed(fixture *f, int gen, int ms)
{
    char buf[8192], want[48];
    snprintf(want, sizeof want, "\nyimen_generation %d\n", gen);
    for (int i = 0; i < ms / 50; i++) {
        if (http_get(f->port, "/metrics", buf, sizeof buf) == 200 && strstr(buf, want))
            return true;
        sleep_ms(50);
    }
    return false;
}

static void test_master_restarts_dead_worker(void **state)
{
    fixture *f = *state;
    start_master(f);
    assert_true(wait_generation(f, 1, 20000));
    /* a worker killed before its generation is committed fails the start instead */
    assert_true(wait_committed(f, 1, 20000));
    pid_t before[2], after[2];
    if (!wait_workers(f->master, 2, before, 10000))
        fail_msg("the master does not have 2 worker children");
    assert_int_equal(kill(before[0], SIGKILL), 0);
    /* replaced within a second or so, in the same generation */
    bool replaced = false;
    for (int i = 0; i < 150 && !replaced; i++) {
        sleep_ms(20);
        replaced = wait_workers(f->master, 2, after, 20) && after[0] != before[0] && after[1] != before[0];
    }
    assert_true(replaced);
    char buf[8192];
    assert_int_equal(healthz_generation(f, 5000), 1);
    assert_int_equal(http_get(f->port, "/metrics", buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "\nyimen_worker_restarts_total 1\n"));
    assert_int_equal(kill(f->master, SIGTERM), 0);
    assert_int_equal(wait_exit(f->master, 15000), 0);
    f->master = 0;
}

static void test_master_keeps_serving_after_bad_reload(void **state)
{
    fixture *f = *state;
    start_master(f);
    assert_true(wait_generation(f, 1, 20000));
    pid_t before[2], after[2];
    assert_true(wait_workers(f->master, 2, before, 10000));
    /* an invalid file: the reload is refused and generation 1 keeps serving */
    FILE *fp = fopen(f->conf, "w");
    assert_non_null(fp);
    fputs("workers = \"many\"\n", fp);
    fclose(fp);
    assert_int_equal(kill(f->master, SIGHUP), 0);
    sleep_ms(500);
    assert_int_equal(healthz_generation(f, 5000), 1);
    assert_true(wait_workers(f->master, 2, after, 1000));
    assert_true((after[0] == before[0] && after[1] == before[1]) || (after[0] == before[1] && after[1] == before[0]));
    assert_int_equal(kill(f->master, SIGTERM), 0);
    assert_int_equal(wait_exit(f->master, 15000), 0);
    f->master = 0;
}

static void rewrite_config(fixture *f, const char *workers_line)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s", f->text, workers_line); /* a later assignment wins */
    FILE *fp = fopen(f->conf, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_master_reload_changes_worker_count(void **state)
{
    fixture *f = *state;
    start_master(f);
    assert_true(wait_generation(f, 1, 20000));
    assert_true(wait_workers(f->master, 2, NULL, 10000));
    rewrite_config(f, "workers = 3\n");
    assert_int_equal(kill(f->master, SIGHUP), 0);
    if (!wait_generation(f, 2, 20000))
        fail_msg("no generation 2 after raising workers to 3");
    if (!wait_workers(f->master, 3, NULL, 10000))
        fail_msg("generation 2 does not have 3 workers");
    rewrite_config(f, "workers = 1\n");
    assert_int_equal(kill(f->master, SIGHUP), 0);
    if (!wait_generation(f, 3, 20000))
        fail_msg("no generation 3 after lowering workers to 1");
    if (!wait_workers(f->master, 1, NULL, 10000))
        fail_msg("generation 3 does not have 1 worker");
    char buf[4096];
    for (int i = 0; i < 10; i++) /* nothing is left listening on a closed slot */
        assert_int_equal(http_get(f->port, "/healthz", buf, sizeof buf), 200);
    assert_int_equal(kill(f->master, SIGTERM), 0);
    assert_int_equal(wait_exit(f->master, 15000), 0);
    f->master = 0;
}

int main(int argc, char **argv)
{
    ym_config_set_bindir(argv[0]);
    /* the master runs /proc/self/exe __worker ...: this binary is the worker too */
    if (argc >= 2 && strcmp(argv[1], "__worker") == 0)
        return ym_worker_main(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_master_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_restarts_dead_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_keeps_serving_after_bad_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master_reload_changes_worker_count, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
