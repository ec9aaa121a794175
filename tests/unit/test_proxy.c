/* test_proxy: trusted_proxies matching (addresses, CIDRs, IPv6) and the client
 * address taken from X-Forwarded-For only when the peer is a trusted proxy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "proxy.h"

static ym_proxies *make(const char **items, size_t n)
{
    ym_strlist l = {(char **)items, n};
    return ym_proxies_new(&l);
}

static void test_trust(void **state)
{
    const char *items[] = {"10.0.0.0/8", "192.168.1.7", "fd00::/8"};
    ym_proxies *p = make(items, 3);
    assert_true(ym_proxies_trust(p, "10.1.2.3"));
    assert_false(ym_proxies_trust(p, "11.1.2.3"));
    assert_true(ym_proxies_trust(p, "192.168.1.7"));
    assert_false(ym_proxies_trust(p, "192.168.1.8"));
    assert_true(ym_proxies_trust(p, "fd12::1"));
    assert_false(ym_proxies_trust(p, "fe80::1"));
    assert_false(ym_proxies_trust(p, "garbage"));
    ym_proxies_free(p);
}

static void test_client_addr(void **state)
{
    const char *items[] = {"127.0.0.1", "10.0.0.0/8"};
    ym_proxies *p = make(items, 2);
    char out[64];
    ym_client_addr(p, "127.0.0.1", "203.0.113.5", out, sizeof out);
    assert_string_equal(out, "203.0.113.5");
    /* a client-supplied first entry is ignored: the rightmost untrusted one wins */
    ym_client_addr(p, "127.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.9", out, sizeof out);
    assert_string_equal(out, "203.0.113.5");
    /* an untrusted peer's header is not believed */
    ym_client_addr(p, "198.51.100.1", "1.2.3.4", out, sizeof out);
    assert_string_equal(out, "198.51.100.1");
    /* garbage stops the walk at the last good address */
    ym_client_addr(p, "127.0.0.1", "nonsense", out, sizeof out);
    assert_string_equal(out, "127.0.0.1");
    ym_client_addr(p, "127.0.0.1", NULL, out, sizeof out);
    assert_string_equal(out, "127.0.0.1");
    ym_proxies_free(p);
}

static void test_empty_list(void **state)
{
    ym_proxies *p = make(NULL, 0);
    char out[64];
    ym_client_addr(p, "127.0.0.1", "1.2.3.4", out, sizeof out);
    assert_string_equal(out, "127.0.0.1");
    ym_proxies_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trust), cmocka_unit_test(test_client_addr), cmocka_unit_test(test_empty_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
