/* proxy: trusted_proxies as parsed networks; X-Forwarded-For is believed only from
 * them, read from the right so a client cannot forge its own address. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proxy.h"

typedef struct net {
    int family;
    unsigned char addr[16];
    int prefix;
} net;

struct ym_proxies {
    net *v;
    size_t n;
};

static int parse_addr(const char *s, net *out)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = slash ? atoi(slash + 1) : 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = slash ? atoi(slash + 1) : 128;
    } else {
        return -1;
    }
    return 0;
}

ym_proxies *ym_proxies_new(const ym_strlist *list)
{
    ym_proxies *p = calloc(1, sizeof *p);
    if (!p || !(p->v = calloc(list->n ? list->n : 1, sizeof *p->v)))
        abort();
    for (size_t i = 0; i < list->n; i++)
        if (parse_addr(list->v[i], &p->v[p->n]) == 0)
            p->n++;
    return p;
}

void ym_proxies_free(ym_proxies *p)
{
    if (p) {
        free(p->v);
        free(p);
    }
}

static bool in_net(const net *n, const net *a)
{
    if (n->family != a->family)
        return false;
    int full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(n->addr, a->addr, (size_t)full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (n->addr[full] & mask) == (a->addr[full] & mask);
}

bool ym_proxies_trust(const ym_proxies *p, const char *addr)
{
    net a;
    if (!p || !p->n || parse_addr(addr, &a) < 0 || strchr(addr, '/'))
        return false;
    for (size_t i = 0; i < p->n; i++)
        if (in_net(&p->v[i], &a))
            return true;
    return false;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    size_t k = strspn(s, " \t");
    memmove(s, s + k, strlen(s + k) + 1);
}

void ym_client_addr(const ym_proxies *p, const char *peer, const char *xff, char *out, size_t len)
{
    snprintf(out, len, "%s", peer);
    if (!xff || !ym_proxies_trust(p, peer))
        return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", xff);
    for (;;) {
        char *comma = strrchr(buf, ',');
        char *item = comma ? comma + 1 : buf;
        trim(item);
        net a;
        if (parse_addr(item, &a) < 0 || strchr(item, '/'))
            return; /* garbage in the header: keep the last address we could trust */
        snprintf(out, len, "%s", item);
        if (!ym_proxies_trust(p, item) || !comma)
            return;
        *comma = 0;
    }
}
