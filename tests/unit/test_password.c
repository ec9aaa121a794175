/* test_password: Argon2id hash/verify (blocking and on the threadpool, the dummy hash
 * for unknown users), every policy rule, the common list, tokens and SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "password.h"

/* Argon2's floor is 8 KiB; 1 MiB, one pass keeps the tests fast. */
static const ym_argon2_params LOW = {1024, 1, 1};

static void test_params_from(void **state)
{
    ym_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.auth.argon2.memory = 19 * 1024 * 1024;
    cfg.auth.argon2.iterations = 2;
    cfg.auth.argon2.parallelism = 1;
    ym_argon2_params p;
    ym_argon2_params_from(&cfg, &p);
    assert_int_equal(p.m_kib, 19456);
    assert_int_equal(p.t, 2);
    assert_int_equal(p.p, 1);
}

static void test_hash_verify(void **state)
{
    char enc[128], enc2[128];
    assert_int_equal(ym_password_hash("correct horse 电池", &LOW, enc, sizeof enc), 0);
    assert_int_equal(strncmp(enc, "$argon2id$v=19$m=1024,t=1,p=1$", 30), 0);
    assert_int_equal(ym_password_verify(enc, "correct horse 电池"), 1);
    assert_int_equal(ym_password_verify(enc, "correct horse 电"), 0);
    assert_int_equal(ym_password_verify(enc, ""), 0);
    /* A fresh salt each time. */
    assert_int_equal(ym_password_hash("correct horse 电池", &LOW, enc2, sizeof enc2), 0);
    assert_string_not_equal(enc, enc2);
    /* Too small an output buffer is an error, not a truncated hash. */
    assert_int_equal(ym_password_hash("x", &LOW, enc2, 40), -1);
}

static void test_verify_malformed(void **state)
{
    char enc[128];
    assert_int_equal(ym_password_hash("secret", &LOW, enc, sizeof enc), 0);
    assert_int_equal(ym_password_verify("not-a-hash", "secret"), -1);
    assert_int_equal(ym_password_verify("", "secret"), -1);
    assert_int_equal(ym_password_verify(NULL, "secret"), -1);
    /* Another variant is not an Argon2id hash. */
    char other[128];
    snprintf(other, sizeof other, "$argon2i$%s", enc + strlen("$argon2id$"));
    assert_int_equal(ym_password_verify(other, "secret"), -1);
    /* Cut inside the salt. */
    enc[35] = '\0';
    assert_int_equal(ym_password_verify(enc, "secret"), -1);
}

typedef struct result {
    int calls;
    int rc;
    char enc[128];
} result;

static void on_done(void *ud, int rc, const char *encoded)
{
    result *r = ud;
    r->calls++;
    r->rc = rc;
    snprintf(r->enc, sizeof r->enc, "%s", encoded ? encoded : "");
}

static void run_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
}

static void test_async_hash_and_verify(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    result h = {0}, ok = {0}, bad = {0};
    char pw[] = "Async-Password-1";
    assert_int_equal(ym_password_hash_async(&loop, pw, &LOW, on_done, &h), 0);
    /* The job holds its own copy: the caller's buffer may change at once. */
    memset(pw, 'x', sizeof pw - 1);
    run_loop(&loop);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.rc, 0);
    assert_int_equal(ym_password_verify(h.enc, "Async-Password-1"), 1);

    assert_int_equal(ym_password_verify_async(&loop, h.enc, "Async-Password-1", &LOW, on_done, &ok), 0);
    assert_int_equal(ym_password_verify_async(&loop, h.enc, "wrong", &LOW, on_done, &bad), 0);
    run_loop(&loop);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(ok.rc, 1);
    assert_string_equal(ok.enc, "");
    assert_int_equal(bad.calls, 1);
    assert_int_equal(bad.rc, 0);

    result mal = {0};
    assert_int_equal(ym_password_verify_async(&loop, "garbage", "x", &LOW, on_done, &mal), 0);
    run_loop(&loop);
    assert_int_equal(mal.rc, -1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_dummy(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    /* Several at once: the first computes the dummy hash, the rest share it. Even the
     * dummy's own password must not "match" a user that does not exist. */
    result r[4] = {{0}};
    const char *pws[4] = {"anything", "", "yimen-dummy-password", "another one"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ym_password_verify_async(&loop, NULL, pws[i], &LOW, on_done, &r[i]), 0);
    run_loop(&loop);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].rc, 0);
    }
    /* A second parameter set gets its own dummy. */
    const ym_argon2_params other = {2048, 1, 1};
    result o = {0};
    assert_int_equal(ym_password_verify_async(&loop, NULL, "x", &other, on_done, &o), 0);
    run_loop(&loop);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.rc, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_bad_args(void **state)
{
    uv_loop_t loop;
    result r = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(ym_password_verify_async(&loop, NULL, NULL, &LOW, on_done, &r), -1);
    assert_int_equal(ym_password_hash_async(&loop, "x", &LOW, NULL, &r), -1);
    run_loop(&loop);
    assert_int_equal(r.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- policy ---- */

static ym_config pcfg(size_t min_length, size_t classes)
{
    ym_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.auth.password.min_length = min_length;
    cfg.auth.password.classes = classes;
    return cfg;
}

static void expect_policy(const ym_config *cfg, const char *pw, const char *user, const char *want)
{
    char why[256] = "unset";
    int rc = ym_password_policy(cfg, pw, user, why, sizeof why);
    if (!want) {
        if (rc != 0)
            fail_msg("\"%s\" refused: %s", pw, why);
        return;
    }
    if (rc != -1 || !strstr(why, want))
        fail_msg("\"%s\": rc %d, why \"%s\", want \"%s\"", pw, rc, why, want);
}

static void test_policy_length(void **state)
{
    ym_config cfg = pcfg(12, 0);
    expect_policy(&cfg, "short", NULL, "password must be at least 12 characters");
    expect_policy(&cfg, "elevenchars", NULL, "at least 12 characters");
    expect_policy(&cfg, "twelve chars", NULL, NULL);
    /* Characters, not bytes: 12 Chinese characters (36 bytes) pass, 11 do not. */
    expect_policy(&cfg, "一二三四五六七八九十百千", NULL, NULL);
    expect_policy(&cfg, "一二三四五六七八九十百", NULL, "at least 12 characters");
}

static void test_policy_max_length(void **state)
{
    ym_config cfg = pcfg(12, 0);
    char pw[1026];
    memset(pw, 'a', 1024);
    pw[1024] = '\0';
    expect_policy(&cfg, pw, NULL, NULL);
    pw[1024] = 'a';
    pw[1025] = '\0';
    expect_policy(&cfg, pw, NULL, "at most 1024 bytes");
}

static void test_policy_classes(void **state)
{
    ym_config cfg = pcfg(8, 3);
    expect_policy(&cfg, "alllowercaseletters", NULL, "at least 3 of");
    expect_policy(&cfg, "lowerUPPERonly", NULL, "at least 3 of");
    expect_policy(&cfg, "Lowercase1234", NULL, NULL);
    expect_policy(&cfg, "lower-case-1234", NULL, NULL);
    /* Non-ASCII counts as "other". */
    expect_policy(&cfg, "密码密码abcd1234", NULL, NULL);
    cfg = pcfg(8, 2);
    expect_policy(&cfg, "中文密码中文密码", NULL, "at least 2 of");
    cfg = pcfg(8, 4);
    expect_policy(&cfg, "Aa1!aaaa", NULL, NULL);
    expect_policy(&cfg, "Aa1aaaaa", NULL, "at least 4 of");
}

static void test_policy_username(void **state)
{
    ym_config cfg = pcfg(8, 0);
    expect_policy(&cfg, "ZhangSan", "zhangsan", "must not be the username");
    expect_policy(&cfg, "my-ZHANGSAN-pass", "zhangsan", "must not contain the username");
    /* Short usernames may appear by chance. */
    expect_policy(&cfg, "olive-tree-li-2024", "li", NULL);
    ym_config any = pcfg(0, 0);
    expect_policy(&any, "LI", "li", "must not be the username");
    expect_policy(&cfg, "something-else", "zhangsan", NULL);
    expect_policy(&cfg, "something-else", "", NULL);
}

static char *write_list(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ym-common-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_policy_common(void **state)
{
    ym_config cfg = pcfg(12, 0);
    /* Nothing loaded: no common check. */
    ym_password_common_free();
    expect_policy(&cfg, "password123456", NULL, NULL);

    char *path = write_list("Password123456\r\n  qwertyuiopas  \n\n\r\n123456789012\npassword123456\n");
    assert_int_equal(ym_password_common_load(path), 0);
    expect_policy(&cfg, "password123456", NULL, "too common");
    expect_policy(&cfg, "PASSWORD123456", NULL, "too common");
    expect_policy(&cfg, "QwertyUiopas", NULL, "too common");
    expect_policy(&cfg, "123456789012", NULL, "too common");
    expect_policy(&cfg, "password1234567", NULL, NULL);
    expect_policy(&cfg, " qwertyuiopas", NULL, NULL);

    /* A missing file fails and keeps the list already loaded. */
    assert_int_equal(ym_password_common_load("/nonexistent/yimen/list.txt"), -1);
    expect_policy(&cfg, "password123456", NULL, "too common");

    /* A new load replaces the old list. */
    unlink(path);
    path = write_list("correcthorsebattery\n");
    assert_int_equal(ym_password_common_load(path), 0);
    unlink(path);
    expect_policy(&cfg, "password123456", NULL, NULL);
    expect_policy(&cfg, "CorrectHorseBattery", NULL, "too common");

    ym_password_common_free();
    expect_policy(&cfg, "correcthorsebattery", NULL, NULL);
}

static void test_policy_control_and_utf8(void **state)
{
    ym_config cfg = pcfg(8, 0);
    expect_policy(&cfg, "abcdefgh\tijkl", NULL, "control characters");
    expect_policy(&cfg, "abcdefgh\nijkl", NULL, "control characters");
    expect_policy(&cfg, "abcdefgh\x7fijkl", NULL, "control characters");
    expect_policy(&cfg, "abcdefgh\xc2\x85ijkl", NULL, "control characters");   /* U+0085 */
    expect_policy(&cfg, "abcdefgh\xff", NULL, "valid UTF-8");
    expect_policy(&cfg, "abcdefgh\xe4\xb8", NULL, "valid UTF-8");
    expect_policy(&cfg, "abcdefgh\xc0\xaf", NULL, "valid UTF-8");               /* overlong '/' */
    expect_policy(&cfg, "spaces are fine here", NULL, NULL);
    /* No reason buffer, or no password. */
    assert_int_equal(ym_password_policy(&cfg, "good enough pw", NULL, NULL, 0), 0);
    assert_int_equal(ym_password_policy(&cfg, NULL, NULL, NULL, 0), -1);
}

/* ---- tokens, hashes ---- */

static void test_random_token(void **state)
{
    char a[64], b[64];
    assert_int_equal(ym_random_token(a, sizeof a, 32), 0);
    assert_int_equal(ym_random_token(b, sizeof b, 32), 0);
    assert_int_equal(strlen(a), 43);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    assert_string_not_equal(a, b);
    /* 43 characters need 44 bytes with the NUL. */
    assert_int_equal(ym_random_token(a, 43, 32), -1);
    assert_int_equal(ym_random_token(a, 44, 32), 0);
    assert_int_equal(strlen(a), 43);
    static const size_t lens[][2] = {{1, 2}, {2, 3}, {3, 4}, {4, 6}, {48, 64}, {50, 67}};
    char big[128];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        assert_int_equal(ym_random_token(big, sizeof big, lens[i][0]), 0);
        assert_int_equal(strlen(big), lens[i][1]);
    }
    assert_int_equal(ym_random_token(big, sizeof big, 0), -1);
}

static void test_sha256_hex(void **state)
{
    char out[65];
    ym_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ym_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_from),
        cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_verify_malformed),
        cmocka_unit_test(test_async_hash_and_verify),
        cmocka_unit_test(test_async_dummy),
        cmocka_unit_test(test_async_bad_args),
        cmocka_unit_test(test_policy_length),
        cmocka_unit_test(test_policy_max_length),
        cmocka_unit_test(test_policy_classes),
        cmocka_unit_test(test_policy_username),
        cmocka_unit_test(test_policy_common),
        cmocka_unit_test(test_policy_control_and_utf8),
        cmocka_unit_test(test_random_token),
        cmocka_unit_test(test_sha256_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
