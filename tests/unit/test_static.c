/* test_static: the request-path guard (.., ., dotfiles, backslash), MIME types, and
 * loading www_root into memory (nested files in, dotfiles and links leaving the root out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "static.h"
#include "log.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mkdir_in(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void test_path_ok(void **state)
{
    const char *ok[] = {"/", "/index.html", "/a/b/c.js", "/ui/kit.css", "/a//b", "/a./b", "/a..b",
                        "/a/b/", "/%2e%2e", "/\xe4\xb8\x80.html"};
    const char *bad[] = {"/..", "/../etc/passwd", "/a/../../b", "/a/..", "/.", "/./a", "/a/./b",
                         "/.env", "/.git/config", "/a/.hidden", "/a/.../b", "/a\\b", "/..\\x",
                         "\\a", "a/b", ""};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (ym_static_path_ok(ok[i]) != 0)
            fail_msg("%s should be accepted", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ym_static_path_ok(bad[i]) != -1)
            fail_msg("%s should be refused", bad[i]);
}

static void test_mime(void **state)
{
    assert_string_equal(ym_static_mime("index.html"), "text/html; charset=utf-8");
    assert_string_equal(ym_static_mime("/ui/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(ym_static_mime("APP.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(ym_static_mime("kit.css"), "text/css; charset=utf-8");
    assert_string_equal(ym_static_mime("x.json"), "application/json");
    assert_string_equal(ym_static_mime("logo.svg"), "image/svg+xml");
    assert_string_equal(ym_static_mime("a.png"), "image/png");
    assert_string_equal(ym_static_mime("a.jpeg"), "image/jpeg");
    assert_string_equal(ym_static_mime("f.woff2"), "font/woff2");
    assert_string_equal(ym_static_mime("site.webmanifest"), "application/manifest+json");
    assert_string_equal(ym_static_mime("README"), "application/octet-stream");
    assert_string_equal(ym_static_mime("a.tar.gz"), "application/octet-stream");
    assert_string_equal(ym_static_mime("a.html.bak"), "application/octet-stream");
}

static void test_load_tree(void **state)
{
    char root[] = "/tmp/yimen-static-XXXXXX";
    assert_non_null(mkdtemp(root));
    char outside[] = "/tmp/yimen-outside-XXXXXX";
    assert_non_null(mkdtemp(outside));
    write_file(outside, "secret.txt", "secret");

    write_file(root, "index.html", "<h1>yimen</h1>");
    write_file(root, ".env", "PASSWORD=x");
    mkdir_in(root, "ui");
    write_file(root, "ui/app.js", "console.log(1)");
    mkdir_in(root, "ui/deep");
    write_file(root, "ui/deep/x.css", "a{}");
    mkdir_in(root, ".git");
    write_file(root, ".git/config", "[core]");
    mkdir_in(root, "ui/.cache");
    write_file(root, "ui/.cache/c.js", "cached");

    char link[PATH_MAX], target[PATH_MAX];
    snprintf(link, sizeof link, "%s/leak.txt", root);
    snprintf(target, sizeof target, "%s/secret.txt", outside);
    assert_int_equal(symlink(target, link), 0);          /* leaves the root: skipped */
    snprintf(link, sizeof link, "%s/outdir", root);
    assert_int_equal(symlink(outside, link), 0);         /* a directory outside: skipped */
    snprintf(link, sizeof link, "%s/home.html", root);
    assert_int_equal(symlink("index.html", link), 0);    /* stays inside: served */
    snprintf(link, sizeof link, "%s/dangling.js", root);
    assert_int_equal(symlink("nowhere.js", link), 0);    /* broken: skipped */

    char err[256] = "";
    ym_static *s = ym_static_load(root, 1 << 20, err, sizeof err);
    assert_non_null(s);
    /* index.html, home.html, ui/app.js, ui/deep/x.css */
    assert_int_equal(ym_static_count(s), 4);
    ym_static_free(s);

    /* a root given through a symlink and with a trailing slash is the same root */
    char alias[PATH_MAX];
    snprintf(alias, sizeof alias, "%s-alias", root);
    assert_int_equal(symlink(root, alias), 0);
    char alias_slash[PATH_MAX + 2];
    snprintf(alias_slash, sizeof alias_slash, "%s/", alias);
    s = ym_static_load(alias_slash, 1 << 20, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(ym_static_count(s), 4);
    ym_static_free(s);
    unlink(alias);

    /* the total size cap leaves files out instead of failing */
    s = ym_static_load(root, 20, err, sizeof err);
    assert_non_null(s);
    assert_true(ym_static_count(s) >= 1 && ym_static_count(s) < 4);
    ym_static_free(s);

    rm_rf(root);
    rm_rf(outside);
}

static void test_load_missing_root(void **state)
{
    char err[256] = "";
    ym_static *s = ym_static_load("/tmp/yimen-no-such-dir/www", 1 << 20, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(ym_static_count(s), 0);
    ym_static_free(s);
    s = ym_static_load(NULL, 1 << 20, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(ym_static_count(s), 0);
    ym_static_free(s);
}

int main(void)
{
    ym_log_set_level(YM_LOG_ERROR); /* the skipped links are logged as warnings */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_ok),
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_load_tree),
        cmocka_unit_test(test_load_missing_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
