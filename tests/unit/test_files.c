/* test_files: file-name cleaning (UTF-8, controls, paths), the Content-Disposition
 * encoder (RFC 6266/5987), the inline-safe type list, SHA-256 and the blob layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "files.h"

static const char *clean(const char *in, char *out)
{
    return ym_files_name_clean(in, out, YM_FILES_NAME_MAX + 1);
}

static void test_name_plain(void **state)
{
    char out[YM_FILES_NAME_MAX + 1];
    assert_null(clean("report.pdf", out));
    assert_string_equal(out, "report.pdf");
    assert_null(clean("关于春耕的通知 (2026).docx", out));
    assert_string_equal(out, "关于春耕的通知 (2026).docx");
    assert_null(clean(".hidden", out));
    assert_string_equal(out, ".hidden");
}

static void test_name_paths(void **state)
{
    char out[YM_FILES_NAME_MAX + 1];
    assert_null(clean("../../etc/passwd", out));
    assert_string_equal(out, "passwd");
    assert_null(clean("C:\\Users\\张三\\a.txt", out));
    assert_string_equal(out, "a.txt");
    assert_null(clean("/abs/path\\mixed/b.png", out));
    assert_string_equal(out, "b.png");
    assert_non_null(clean("dir/", out));
    assert_non_null(clean("a/..", out));
    assert_non_null(clean("a\\.", out));
    assert_non_null(clean("/", out));
}

static void test_name_refused(void **state)
{
    char out[YM_FILES_NAME_MAX + 1];
    assert_non_null(clean(NULL, out));
    assert_non_null(clean("", out));
    assert_non_null(clean("a\nb.txt", out));
    assert_non_null(clean("a\tb", out));
    assert_non_null(clean("x\x7f", out));
    assert_non_null(clean("x\xc2\x85y", out));       /* U+0085 NEL */
    assert_non_null(clean("bad\xff.txt", out));      /* not UTF-8 */
    assert_non_null(clean("\xc0\xaf", out));         /* overlong '/' */
    assert_non_null(clean("\xed\xa0\x80", out));     /* surrogate */
    assert_non_null(clean("\xe4\xb8", out));         /* truncated */
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    assert_non_null(clean(longname, out));
    longname[255] = 0;
    assert_null(clean(longname, out));
    assert_int_equal(strlen(out), 255);
    /* the length counts after the path is stripped */
    char pathy[400];
    snprintf(pathy, sizeof pathy, "dir/%s", longname);
    assert_null(clean(pathy, out));
}

static void test_utf8(void **state)
{
    assert_true(ym_files_utf8_ok("abc", 3));
    assert_true(ym_files_utf8_ok("\xe4\xb8\xad", 3));
    assert_true(ym_files_utf8_ok("\xf0\x9f\x98\x80", 4));
    assert_false(ym_files_utf8_ok("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(ym_files_utf8_ok("\xe0\x80\xaf", 3));      /* overlong */
    assert_false(ym_files_utf8_ok("\x80", 1));
}

static void test_disposition(void **state)
{
    char out[2048];
    size_t n = ym_files_disposition("inline", "a.png", out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "inline; filename=\"a.png\"; filename*=UTF-8''a.png");
    ym_files_disposition("attachment", "报告.pdf", out, sizeof out);
    assert_string_equal(out, "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf");
    ym_files_disposition("attachment", "say \"hi\" 100%.txt", out, sizeof out);
    assert_string_equal(out, "attachment; filename=\"say _hi_ 100_.txt\"; "
                             "filename*=UTF-8''say%20%22hi%22%20100%25.txt");
    ym_files_disposition("attachment", "a'b;c=d", out, sizeof out);
    assert_string_equal(out, "attachment; filename=\"a'b;c=d\"; filename*=UTF-8''a%27b%3Bc%3Dd");
    /* too small: 0, never a cut header */
    assert_int_equal(ym_files_disposition("attachment", "报告.pdf", out, 20), 0);
}

static void test_inline_types(void **state)
{
    assert_true(ym_files_inline_ok("image/png"));
    assert_true(ym_files_inline_ok("application/pdf"));
    assert_true(ym_files_inline_ok("text/plain"));
    assert_false(ym_files_inline_ok("text/html"));
    assert_false(ym_files_inline_ok("image/svg+xml"));
    assert_false(ym_files_inline_ok("application/javascript"));
    assert_false(ym_files_inline_ok("application/octet-stream"));
    assert_false(ym_files_inline_ok(NULL));
}

static void test_sha_and_path(void **state)
{
    char hex[65], path[512];
    assert_int_equal(ym_files_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ym_files_blob_path("/var/lib/yimen", hex, path, sizeof path), 0);
    assert_string_equal(path, "/var/lib/yimen/files/ba/78/"
                              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ym_files_sha256_hex("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(ym_files_blob_path("/d", "../../etc/passwd", path, sizeof path), -1);
    assert_int_equal(ym_files_blob_path("/d", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", path,
                                        sizeof path), -1);
    assert_int_equal(ym_files_blob_path("/d", hex, path, 20), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_plain),     cmocka_unit_test(test_name_paths),
        cmocka_unit_test(test_name_refused),   cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_disposition),    cmocka_unit_test(test_inline_types),
        cmocka_unit_test(test_sha_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
