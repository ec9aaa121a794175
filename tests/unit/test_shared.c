/* test_shared: the memfd segment (a second mapping and a child process see the same
 * bytes), refusal of a foreign segment, and the private segment of --single mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared.h"

/* Runs first: with no segment yet, the private one is made on demand. */
static void test_private_segment(void **state)
{
    assert_null(ym_shared_get());
    ym_shared *p = ym_shared_private();
    assert_non_null(p);
    assert_ptr_equal(ym_shared_get(), p);
    assert_ptr_equal(ym_shared_private(), p); /* one per process */
    assert_int_equal(p->size, sizeof(ym_shared));
    assert_int_equal(p->generation, 0);
    assert_int_equal(p->metrics.overflow, 0);
    p->generation = 9;
    /* MAP_SHARED: a forked child writes into the parent's view */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ym_shared_get()->worker_restarts = 77;
        _exit(ym_shared_get()->generation == 9 ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(p->worker_restarts, 77);
}

static void test_create_and_map(void **state)
{
    ym_shared *a = NULL, *b = NULL;
    char path[] = "/tmp/yimen-shm-test-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    int fd = ym_shared_create(path, &a);
    assert_true(fd >= 0);
    assert_non_null(a);
    assert_ptr_equal(ym_shared_get(), a);
    assert_int_equal(a->size, sizeof(ym_shared));
    a->generation = 3;
    a->clock_offset_ms = -1234;
    a->metrics.slots[5].count = 42;

    assert_int_equal(ym_shared_map(fd, &b), 0);
    assert_non_null(b);
    assert_ptr_not_equal(a, b); /* a second mapping of the same memory */
    assert_ptr_equal(ym_shared_get(), b);
    assert_int_equal(b->magic, a->magic);
    assert_int_equal(b->generation, 3);
    assert_int_equal(b->clock_offset_ms, -1234);
    assert_int_equal(b->metrics.slots[5].count, 42);
    b->worker_restarts = 5;
    __atomic_add_fetch(&b->metrics.latency_count, 2, __ATOMIC_RELAXED);
    assert_int_equal(a->worker_restarts, 5);
    assert_int_equal(a->metrics.latency_count, 2);

    /* the fd is inheritable: a child maps it like a worker does */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ym_shared *c;
        if (ym_shared_map(fd, &c) < 0 || c->generation != 3)
            _exit(1);
        c->generation = 4;
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(a->generation, 4);
    munmap(b, sizeof(ym_shared));
    close(fd);
    /* the mapping outlives the descriptor */
    a->generation = 5;
    assert_int_equal(a->generation, 5);
    /* another process (the command line) maps the file by its name */
    assert_int_equal(ym_shared_map_file(path), 0);
    assert_int_equal(ym_shared_get()->generation, 5);
    ym_shared_get()->write_epoch = 9;
    assert_int_equal(a->write_epoch, 9);
    assert_int_equal(ym_shared_map_file("/nonexistent/yimen.shm"), -1);
    unlink(path);
}

static void test_map_refuses_foreign_segment(void **state)
{
    int fd = memfd_create("not-yimen", 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, sizeof(ym_shared)), 0);
    ym_shared *before = ym_shared_get(), *s = (ym_shared *)1;
    assert_int_equal(ym_shared_map(fd, &s), -1); /* zero magic */
    assert_ptr_equal(ym_shared_get(), before);
    close(fd);
    assert_int_equal(ym_shared_map(-1, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_segment),
        cmocka_unit_test(test_create_and_map),
        cmocka_unit_test(test_map_refuses_foreign_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
