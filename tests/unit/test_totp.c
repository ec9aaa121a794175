/* test_totp: RFC 4226/6238 vectors, the ±1 step window and replay refusal, base32
 * input forms, otpauth URIs with Chinese names, the QR SVG and recovery codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "totp.h"

/* "12345678901234567890" as ASCII, the key of RFC 4226 Appendix D and RFC 6238 Appendix B. */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static void expect_code(const char *secret, int64_t step, const char *want)
{
    char code[7];
    assert_int_equal(ym_totp_code(secret, step, code), 0);
    assert_string_equal(code, want);
}

static void test_rfc4226_hotp(void **state)
{
    static const char *want[] = {"755224", "287082", "359152", "969429", "338314",
                                 "254676", "287922", "162583", "399871", "520489"};
    for (int i = 0; i < 10; i++)
        expect_code(RFC_SECRET, i, want[i]);
}

static void test_rfc6238_sha1(void **state)
{
    static const struct { int64_t t; const char *code; } v[] = {
        {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
        {1234567890, "005924"}, {2000000000, "279037"}, {20000000000LL, "353130"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        expect_code(RFC_SECRET, v[i].t / 30, v[i].code);
        int64_t matched = -1;
        assert_int_equal(ym_totp_verify(RFC_SECRET, v[i].code, v[i].t * 1000, -1, &matched), 1);
        assert_int_equal(matched, v[i].t / 30);
    }
}

static void test_bad_secret(void **state)
{
    char code[7];
    assert_int_equal(ym_totp_code("not base32!", 1, code), -1);
    assert_int_equal(ym_totp_code("", 1, code), -1);
    assert_int_equal(ym_totp_code(NULL, 1, code), -1);
    assert_int_equal(ym_totp_code("18", 1, code), -1);   /* 0, 1, 8, 9 are not in the alphabet */
    assert_int_equal(ym_totp_code(RFC_SECRET, -1, code), -1);
    assert_int_equal(ym_totp_verify("!!!", "123456", 0, -1, NULL), -1);
}

static void test_window(void **state)
{
    const int64_t now_ms = 1111111111LL * 1000;
    const int64_t step = 1111111111LL / 30;
    char code[7];
    for (int d = -1; d <= 1; d++) {
        int64_t matched = 0;
        assert_int_equal(ym_totp_code(RFC_SECRET, step + d, code), 0);
        assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, -1, &matched), 1);
        assert_int_equal(matched, step + d);
    }
    for (int d = -2; d <= 2; d += 4) {
        assert_int_equal(ym_totp_code(RFC_SECRET, step + d, code), 0);
        assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, -1, NULL), 0);
    }
}

static void test_replay(void **state)
{
    const int64_t now_ms = 1234567890LL * 1000;
    const int64_t step = 1234567890LL / 30;
    char code[7];
    assert_int_equal(ym_totp_code(RFC_SECRET, step, code), 0);
    int64_t matched = 0;
    assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, step - 1, &matched), 1);
    assert_int_equal(matched, step);
    /* The same code again (last_step now == step), or an older one, is refused. */
    assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, step, NULL), 0);
    assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, step + 1, NULL), 0);
    assert_int_equal(ym_totp_code(RFC_SECRET, step - 1, code), 0);
    assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, step, NULL), 0);
    /* The next step's code is still good after this one was used. */
    assert_int_equal(ym_totp_code(RFC_SECRET, step + 1, code), 0);
    assert_int_equal(ym_totp_verify(RFC_SECRET, code, now_ms, step, &matched), 1);
    assert_int_equal(matched, step + 1);
}

static void test_code_format(void **state)
{
    const int64_t now_ms = 59 * 1000;
    assert_int_equal(ym_totp_verify(RFC_SECRET, "287082", now_ms, -1, NULL), 1);
    static const char *bad[] = {"28708", "2870820", " 287082", "287082 ", "28708a",
                                "２８７０８２", "", "-87082", "+87082"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ym_totp_verify(RFC_SECRET, bad[i], now_ms, -1, NULL), 0);
    assert_int_equal(ym_totp_verify(RFC_SECRET, NULL, now_ms, -1, NULL), 0);
}

static void test_early_steps(void **state)
{
    /* At step 0 there is no step -1 to check; it must not be treated as an error. */
    assert_int_equal(ym_totp_verify(RFC_SECRET, "755224", 1000, -1, NULL), 1);
    assert_int_equal(ym_totp_verify(RFC_SECRET, "287082", 1000, -1, NULL), 1);
    assert_int_equal(ym_totp_verify(RFC_SECRET, "359152", 1000, -1, NULL), 0);
}

static void test_base32_forms(void **state)
{
    /* Lowercase, grouped in blocks and padded: the same key. */
    expect_code("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 1, "287082");
    expect_code("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", 1, "287082");
    expect_code(RFC_SECRET "====", 1, "287082");
}

static void test_secret_new(void **state)
{
    char a[33], b[33], code[7];
    assert_int_equal(ym_totp_secret_new(a, sizeof a), 0);
    assert_int_equal(ym_totp_secret_new(b, sizeof b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
    assert_string_not_equal(a, b);
    assert_int_equal(ym_totp_secret_new(a, 32), -1);
    /* Round trip: the new secret decodes to a usable 160-bit key, and the code it
     * gives does not depend on how the secret is written. */
    char want[7], lower[33];
    assert_int_equal(ym_totp_code(b, 42, want), 0);
    for (int i = 0; i < 33; i++)
        lower[i] = (char)((b[i] >= 'A' && b[i] <= 'Z') ? b[i] - 'A' + 'a' : b[i]);
    assert_int_equal(ym_totp_code(lower, 42, code), 0);
    assert_string_equal(code, want);
}

static void test_uri(void **state)
{
    char *u = ym_totp_uri("yimen", "李明", RFC_SECRET);
    assert_non_null(u);
    assert_string_equal(u, "otpauth://totp/yimen:%E6%9D%8E%E6%98%8E?secret=" RFC_SECRET
                           "&issuer=yimen&algorithm=SHA1&digits=6&period=30");
    free(u);
    u = ym_totp_uri("Yimen County", "a:b&c=d", RFC_SECRET);
    assert_non_null(u);
    assert_string_equal(u, "otpauth://totp/Yimen%20County:a%3Ab%26c%3Dd?secret=" RFC_SECRET
                           "&issuer=Yimen%20County&algorithm=SHA1&digits=6&period=30");
    free(u);
    u = ym_totp_uri(NULL, "x", RFC_SECRET);
    assert_non_null(u);
    assert_string_equal(u, "otpauth://totp/x?secret=" RFC_SECRET "&algorithm=SHA1&digits=6&period=30");
    free(u);
    assert_null(ym_totp_uri("yimen", NULL, RFC_SECRET));
}

static void test_qr_svg(void **state)
{
    char *u = ym_totp_uri("yimen", "李明", RFC_SECRET);
    char *svg = ym_qr_svg(u);
    free(u);
    assert_non_null(svg);
    assert_int_equal(strncmp(svg, "<svg", 4), 0);
    assert_non_null(strstr(svg, "<path"));
    assert_non_null(strstr(svg, "fill=\"#fff\""));
    assert_non_null(strstr(svg, "</svg>"));
    int n = 0;
    const char *vb = strstr(svg, "viewBox=\"0 0 ");
    assert_non_null(vb);
    assert_int_equal(sscanf(vb, "viewBox=\"0 0 %d", &n), 1);
    /* A version-v symbol is 17+4v modules wide, plus the 4-module border each side. */
    assert_true(n >= 21 + 8 && (n - 8 - 17) % 4 == 0);
    /* Merged runs keep it compact: well under one subpath per module. */
    assert_true(strlen(svg) < (size_t)(n * n * 4));
    free(svg);
    assert_null(ym_qr_svg(NULL));
}

static void test_recovery_codes(void **state)
{
    char codes[10][16];
    assert_int_equal(ym_recovery_codes_new(codes, 10), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(strlen(codes[i]), 14);
        for (int k = 0; k < 14; k++) {
            if (k == 4 || k == 9)
                assert_int_equal(codes[i][k], '-');
            else
                assert_non_null(strchr("abcdefghjkmnpqrstuvwxyz23456789", codes[i][k]));
        }
        for (int j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
    }
    assert_int_equal(ym_recovery_codes_new(NULL, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4226_hotp),
        cmocka_unit_test(test_rfc6238_sha1),
        cmocka_unit_test(test_bad_secret),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_code_format),
        cmocka_unit_test(test_early_steps),
        cmocka_unit_test(test_base32_forms),
        cmocka_unit_test(test_secret_new),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_recovery_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
