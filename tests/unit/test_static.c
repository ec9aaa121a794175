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
#include <zlib.h>
#include <openssl/evp.h>

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

static void test_gzip_round_trip(void **state)
{
    size_t len = 100000;
    char *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = "yimen 一门 "[i % 13] ^ (char)(i / 977 % 3);
    char *gz;
    size_t gzlen;
    assert_int_equal(ym_static_gzip(data, len, &gz, &gzlen), 0);
    assert_true(gzlen < len / 4);
    assert_int_equal((unsigned char)gz[0], 0x1f); /* the gzip wrapper, not raw deflate or zlib */
    assert_int_equal((unsigned char)gz[1], 0x8b);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    char *back = malloc(len + 16);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gzlen;
    z.next_out = (Bytef *)back;
    z.avail_out = (uInt)(len + 16);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, len);
    inflateEnd(&z);
    assert_memory_equal(back, data, len);
    /* empty input is a valid (tiny) gzip member too */
    free(gz);
    assert_int_equal(ym_static_gzip("", 0, &gz, &gzlen), 0);
    assert_true(gzlen > 0);
    free(gz);
    free(back);
    free(data);
}

static void test_accepts_gzip(void **state)
{
    const char *yes[] = {"gzip", "GZIP", "deflate, gzip", "gzip;q=0.5", "br;q=1, gzip;q=0.1", "*", "x-gzip",
                         "gzip ; q=1", "identity, *;q=0.5"};
    const char *no[] = {NULL, "", "identity", "br", "deflate, br", "gzip;q=0", "gzip; q=0.000", "*;q=0",
                        "gzip;q=0, *", "gzipx", "xgzip", "br;q=0.5, gzip;q=0"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!ym_static_accepts_gzip(yes[i]))
            fail_msg("%s should allow gzip", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (ym_static_accepts_gzip(no[i]))
            fail_msg("%s should not allow gzip", no[i] ? no[i] : "(none)");
    assert_true(ym_static_compressible("a.js") && ym_static_compressible("a.svg") &&
                ym_static_compressible("site.webmanifest") && ym_static_compressible("a.TXT"));
    assert_false(ym_static_compressible("a.png") || ym_static_compressible("a.woff2") ||
                 ym_static_compressible("README"));
}

static void test_cache_control(void **state)
{
    const char *year = "public, max-age=31536000, immutable";
    assert_string_equal(ym_static_cache_control("/kit/api.js", "v=0123abcd", "0123abcd"), year);
    assert_string_equal(ym_static_cache_control("/kit/api.js", "x=1&v=0123abcd", "0123abcd"), year);
    assert_string_equal(ym_static_cache_control("/style.css", "v=anything", NULL), year);
    assert_string_equal(ym_static_cache_control("/kit/api.js", "v=deadbeef", "0123abcd"), "no-cache");
    assert_string_equal(ym_static_cache_control("/kit/api.js", "", "0123abcd"), "no-cache");
    assert_string_equal(ym_static_cache_control("/kit/api.js", "xv=0123abcd", "0123abcd"), "no-cache");
    assert_string_equal(ym_static_cache_control("/index.html", "", "0123abcd"), "no-cache");
    assert_string_equal(ym_static_cache_control("/index.html", "v=0123abcd", "0123abcd"), "no-cache");
    assert_string_equal(ym_static_cache_control("/", "v=0123abcd", NULL), "no-cache");
}

static void hash8(const char *data, char out[9])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, strlen(data), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 4; i++)
        snprintf(out + i * 2, 3, "%02x", md[i]);
}

static bool plugin_on;
static bool live(void *ud) { return *(bool *)ud; }

static void test_markers_and_mounts(void **state)
{
    char root[] = "/tmp/yimen-static-XXXXXX";
    assert_non_null(mkdtemp(root));
    char plug[] = "/tmp/yimen-plugin-www-XXXXXX";
    assert_non_null(mkdtemp(plug));
    write_file(root, "index.html",
               "<head><!--yimen:importmap--><link href=\"/style.css?v=<!--yimen:v:/style.css-->\">"
               "<link href=\"/style.css?v=<!--yimen:v-->\"><!--yimen:v:/nosuch.css--><!--yimen:other--></head>");
    write_file(root, "style.css", "body{}");
    mkdir_in(root, "kit");
    write_file(root, "kit/api.js", "export const a = 1;");
    write_file(root, "kit/x<y>.js", "export const b = 2;");
    write_file(plug, "page.js", "export default 1;");
    write_file(plug, "page.html", "<!--yimen:v:/ui/p/page.js-->");

    ym_static *s = ym_static_new(1 << 20);
    ym_static_add_root(s, root);
    assert_int_equal(ym_static_mount(s, "/ui/p", plug, live, &plugin_on), 0);
    assert_int_equal(ym_static_mount(s, "/ui/q", "/tmp/yimen-no-such-dir", NULL, NULL), 0);
    assert_int_equal(ym_static_mount(s, "/ui/../x", plug, NULL, NULL), -1);
    ym_static_finish(s);
    assert_int_equal(ym_static_count(s), 6);

    char vcss[9], vapi[9], vxy[9], vpage[9], v[9];
    hash8("body{}", vcss);
    hash8("export const a = 1;", vapi);
    hash8("export const b = 2;", vxy);
    hash8("export default 1;", vpage);
    assert_true(ym_static_version(s, "/kit/api.js", v));
    assert_string_equal(v, vapi);
    assert_false(ym_static_version(s, "/nope.js", v));

    char want[1024];
    snprintf(want, sizeof want,
             "<head><script type=\"importmap\">{\"imports\":{\"/kit/api.js\":\"/kit/api.js?v=%s\","
             "\"/kit/x\\u003cy\\u003e.js\":\"/kit/x\\u003cy\\u003e.js?v=%s\","
             "\"/ui/p/page.js\":\"/ui/p/page.js?v=%s\"}}</script>"
             "<link href=\"/style.css?v=%s\"><link href=\"/style.css?v=%s\"><!--yimen:other--></head>",
             vapi, vxy, vpage, vcss, vcss);
    size_t len = 0;
    const char *html = ym_static_body(s, "/index.html", false, &len);
    assert_non_null(html);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(html, want, len);
    /* the HTML's own version is that of the filled text */
    hash8(want, vxy);
    assert_true(ym_static_version(s, "/index.html", v));
    assert_string_equal(v, vxy);
    html = ym_static_body(s, "/ui/p/page.html", false, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(html, vpage, 8);
    assert_null(ym_static_body(s, "/index.html", true, &len)); /* under 512 bytes: not gzipped */
    ym_static_free(s);
    rm_rf(root);
    rm_rf(plug);
}

int main(void)
{
    ym_log_set_level(YM_LOG_ERROR); /* the skipped links are logged as warnings */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_ok),
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_load_tree),
        cmocka_unit_test(test_load_missing_root),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_cache_control),
        cmocka_unit_test(test_markers_and_mounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
