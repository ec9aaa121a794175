/* test_json: the nesting pre-check (brackets inside strings and escapes ignored)
 * and strict parsing: line/column in errors, duplicate keys refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static int depth_ok(const char *s, size_t max) { return ym_json_depth_ok(s, strlen(s), max); }

static void test_depth_counts_nesting(void **state)
{
    assert_int_equal(depth_ok("{}", 1), 1);
    assert_int_equal(depth_ok("{}", 0), 0);
    assert_int_equal(depth_ok("1", 0), 1);
    assert_int_equal(depth_ok("[[[]]]", 3), 1);
    assert_int_equal(depth_ok("[[[]]]", 2), 0);
    assert_int_equal(depth_ok("{\"a\":[{\"b\":[]}]}", 4), 1);
    assert_int_equal(depth_ok("{\"a\":[{\"b\":[]}]}", 3), 0);
    /* siblings do not add up */
    assert_int_equal(depth_ok("[[],[],{},[]]", 2), 1);
    assert_int_equal(depth_ok("[[],[],[[]],{}]", 3), 1);
    assert_int_equal(depth_ok("[[],[],[[]],{}]", 2), 0);
    /* stray closers cannot buy depth */
    assert_int_equal(depth_ok("]]]][[[", 2), 0);
}

static void test_depth_skips_strings(void **state)
{
    assert_int_equal(depth_ok("{\"k\":\"[[[[{{{{\"}", 1), 1);
    assert_int_equal(depth_ok("[\"]]]]\",[[1]]]", 3), 1);
    assert_int_equal(depth_ok("[\"]]]]\",[[1]]]", 2), 0);
    /* an escaped quote does not end the string */
    assert_int_equal(depth_ok("[\"a\\\"[[[[\"]", 1), 1);
    /* an escaped backslash does: the brackets after it count */
    assert_int_equal(depth_ok("[\"a\\\\\",[[1]]]", 3), 1);
    assert_int_equal(depth_ok("[\"a\\\\\",[[1]]]", 2), 0);
    /* the length is honoured: bytes past len are not read */
    const char *s = "[[[[";
    assert_int_equal(ym_json_depth_ok(s, 2, 2), 1);
    assert_int_equal(ym_json_depth_ok(s, 3, 2), 0);
}

static void test_parse_ok(void **state)
{
    char err[256] = "";
    const char *s = "{\"name\":\"\xe5\x8e\xbf\",\"n\":[1,2.5,true,null]}";
    json_t *j = ym_json_parse(s, strlen(s), 8, err, sizeof err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "\xe5\x8e\xbf");
    assert_int_equal(json_array_size(json_object_get(j, "n")), 4);
    json_decref(j);
    /* only len bytes are parsed */
    j = ym_json_parse("[1]garbage", 3, 8, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
}

static void test_parse_error_has_line_and_column(void **state)
{
    char err[256] = "";
    const char *s = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    assert_null(ym_json_parse(s, strlen(s), 8, err, sizeof err));
    if (!strstr(err, "invalid JSON at line 3, column"))
        fail_msg("error was: %s", err);
    int line = 0, col = 0;
    assert_int_equal(sscanf(err, "invalid JSON at line %d, column %d", &line, &col), 2);
    assert_int_equal(line, 3);
    assert_true(col >= 8 && col <= 11);

    err[0] = 0;
    assert_null(ym_json_parse("[1,2", 4, 8, err, sizeof err));
    assert_non_null(strstr(err, "line 1"));

    err[0] = 0;
    assert_null(ym_json_parse("", 0, 8, err, sizeof err));
    assert_non_null(strstr(err, "invalid JSON"));
}

static void test_duplicates_refused(void **state)
{
    char err[256] = "";
    const char *s = "{\"a\":1,\n\"a\":2}";
    assert_null(ym_json_parse(s, strlen(s), 8, err, sizeof err));
    assert_non_null(strstr(err, "line 2"));
    assert_non_null(strstr(err, "duplicate"));
    /* the same key in different objects is fine */
    s = "{\"a\":{\"a\":1},\"b\":{\"a\":2}}";
    json_t *j = ym_json_parse(s, strlen(s), 8, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
}

static void test_parse_depth_limit(void **state)
{
    char err[256] = "";
    assert_null(ym_json_parse("[[[[1]]]]", 9, 3, err, sizeof err));
    assert_string_equal(err, "JSON nested deeper than 3 levels");
    json_t *j = ym_json_parse("[[[[1]]]]", 9, 4, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_counts_nesting),
        cmocka_unit_test(test_depth_skips_strings),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_error_has_line_and_column),
        cmocka_unit_test(test_duplicates_refused),
        cmocka_unit_test(test_parse_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
