/* test_worker: `serve --single` in a forked child: it prepares the data_dir, serves
 * /healthz, /metrics and www, and on SIGTERM drains (Connection: close) and exits 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct resp {
    int status;
    char text[65536]; /* head and body */
    const char *body;
} resp;

/* Reads one response (Content-Length framed) from fd. */
static int read_response(int fd, resp *r)
{
    size_t len = 0;
    char *end = NULL;
    r->status = 0;
    r->text[0] = 0;
    while (!(end = strstr(r->text, "\r\n\r\n"))) {
        ssize_t n = recv(fd, r->text + len, sizeof r->text - len - 1, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        r->text[len] = 0;
    }
    const char *cl = strcasestr(r->text, "\r\ncontent-length:");
    size_t want = (size_t)(end + 4 - r->text) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
    while (len < want) {
        ssize_t n = recv(fd, r->text + len, sizeof r->text - len - 1, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        r->text[len] = 0;
    }
    r->body = end + 4;
    return sscanf(r->text, "HTTP/1.1 %d", &r->status) == 1 ? 0 : -1;
}

/* One request on a fresh connection; -1 when nothing answers. */
static int request(int port, const char *method, const char *path, const char *body, resp *r)
{
    int fd = dial(port);
    if (fd < 0)
        return -1;
    char req[1024];
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             method, path, body ? strlen(body) : 0, body ? body : "");
    int rc = send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 ? -1 : read_response(fd, r);
    close(fd);
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------- the server child ---------- */

typedef struct fixture {
    char dir[64];
    char conf[PATH_MAX];
    char text[2048];
    int port;
    pid_t pid;
    ym_config *cfg;
} fixture;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/yimen-worker-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/www", f->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/www/index.html", f->dir);
    write_file(path, "<h1>single</h1>");
    f->port = free_port();
    snprintf(f->text, sizeof f->text,
             "listen = \"127.0.0.1:%d\"\n"
             "data_dir = \"data\"\n"
             "www_root = \"www\"\n"
             "log_level = \"error\"\n"
             "timeouts = { drain = \"2s\" }\n"
             "auth = { argon2 = { memory = \"8MiB\", iterations = 1 } }\n",
             f->port);
    snprintf(f->conf, sizeof f->conf, "%s/yimen.conf", f->dir);
    write_file(f->conf, f->text);
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
    if (f->pid > 0 && kill(f->pid, 0) == 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    ym_config_free(f->cfg);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void start_single(fixture *f, bool test_clock)
{
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        if (test_clock)
            setenv("YIMEN_TEST_CLOCK", "1", 1);
        else
            unsetenv("YIMEN_TEST_CLOCK");
        setenv("YIMEN_ADMIN_PASSWORD", "unit-test-admin-password", 1);
        exit(ym_worker_run_single(f->conf, f->text, strlen(f->text)));
    }
}

/* Polls /healthz until it answers 200 (the server is up) or the child died. */
static void wait_healthy(fixture *f, resp *r)
{
    for (int i = 0; i < 300; i++) {
        if (request(f->port, "GET", "/healthz", NULL, r) == 0 && r->status == 200)
            return;
        int st;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = 0;
            fail_msg("the server exited before it was healthy (status 0x%x)", st);
        }
        sleep_ms(50);
    }
    fail_msg("/healthz did not answer 200 within 15 s");
}

/* Waits for the child to exit; its exit status, or -1 after the timeout. */
static int wait_exit(fixture *f, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        int st;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(20);
    }
    return -1;
}

/* ---------- tests ---------- */

static void test_single_serves_and_stops(void **state)
{
    fixture *f = *state;
    resp *r = calloc(1, sizeof *r);
    start_single(f, false);
    wait_healthy(f, r);

    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "version")), YM_VERSION);
    assert_int_equal(json_integer_value(json_object_get(j, "generation")), 1);
    json_decref(j);

    /* the data_dir was prepared and the pid file names the server */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/data/yimen.db", f->dir);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(ym_pidfile_read(f->cfg), f->pid);

    /* www and the JSON 404 */
    assert_int_equal(request(f->port, "GET", "/", NULL, r), 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "<h1>single</h1>");
    assert_int_equal(request(f->port, "GET", "/no/such/thing", NULL, r), 0);
    assert_int_equal(r->status, 404);
    assert_non_null(strstr(r->body, "\"not_found\""));

    /* /metrics counts what was served (loopback client) */
    assert_int_equal(request(f->port, "GET", "/metrics", NULL, r), 0);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->text, "Content-Type: text/plain; version=0.0.4"));
    if (!strstr(r->body, "yimen_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} "))
        fail_msg("no /healthz counter in:\n%s", r->body);
    assert_non_null(strstr(r->body, "\nyimen_generation 1\n"));

    /* no test clock without YIMEN_TEST_CLOCK */
    assert_int_equal(request(f->port, "POST", "/api/test/clock", "{\"advance\":60}", r), 0);
    assert_int_equal(r->status, 404);

    /* SIGTERM with a keep-alive connection open: it gets one more answer, with
     * Connection: close, and the server exits 0 */
    int keep = dial(f->port);
    assert_true(keep >= 0);
    const char *get = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(send(keep, get, strlen(get), MSG_NOSIGNAL), (ssize_t)strlen(get));
    assert_int_equal(read_response(keep, r), 0);
    assert_int_equal(r->status, 200);
    assert_null(strstr(r->text, "Connection: close"));
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int fd = -1;
    for (int i = 0; i < 100 && (fd = dial(f->port)) >= 0; i++) { /* until the listener is gone */
        close(fd);
        sleep_ms(20);
    }
    assert_true(fd < 0);
    assert_int_equal(send(keep, get, strlen(get), MSG_NOSIGNAL), (ssize_t)strlen(get));
    assert_int_equal(read_response(keep, r), 0);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->text, "Connection: close"));
    close(keep);

    assert_int_equal(wait_exit(f, 10000), 0);
    assert_int_equal(ym_pidfile_read(f->cfg), 0);
    snprintf(path, sizeof path, "%s/data/yimen.pid", f->dir);
    assert_int_equal(access(path, F_OK), -1);
    free(r);
}

static void test_single_with_test_clock(void **state)
{
    fixture *f = *state;
    resp *r = calloc(1, sizeof *r);
    start_single(f, true);
    wait_healthy(f, r);
    /* the route exists (it is not public: it asks for a sign-in) */
    assert_int_equal(request(f->port, "POST", "/api/test/clock", "{\"advance\":60}", r), 0);
    assert_int_equal(r->status, 401);
    assert_int_equal(request(f->port, "GET", "/api/test/clock", NULL, r), 0);
    assert_int_equal(r->status, 405);
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(f, 10000), 0);
    free(r);
}

static void test_single_refuses_busy_data_dir(void **state)
{
    fixture *f = *state;
    resp *r = calloc(1, sizeof *r);
    start_single(f, false);
    wait_healthy(f, r);
    pid_t first = f->pid;
    /* a second server on the same data_dir (another port) must not start */
    fixture second = *f;
    second.port = free_port();
    snprintf(second.text, sizeof second.text, "listen = \"127.0.0.1:%d\"\ndata_dir = \"data\"\nlog_level = \"error\"\n"
             "auth = { argon2 = { memory = \"8MiB\", iterations = 1 } }\n", second.port);
    second.cfg = NULL;
    start_single(&second, false);
    int rc = wait_exit(&second, 10000);
    if (rc != 1) {
        if (rc < 0) {
            kill(second.pid, SIGKILL);
            waitpid(second.pid, NULL, 0);
        }
        fail_msg("second server on a busy data_dir: exit %d, wanted 1", rc);
    }
    assert_int_equal(ym_pidfile_read(f->cfg), first); /* its pid file was not replaced */
    assert_int_equal(request(f->port, "GET", "/healthz", NULL, r), 0);
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(f, 10000), 0);
    free(r);
}

int main(int argc, char **argv)
{
    ym_config_set_bindir(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_serves_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_with_test_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_refuses_busy_data_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
