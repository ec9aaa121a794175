/* proxy: which peers are trusted reverse proxies (trusted_proxies: addresses and
 * CIDRs), and the client address a request really came from. */
#ifndef YM_PROXY_H
#define YM_PROXY_H
#include <stdbool.h>
#include <stddef.h>
#include "config.h"

typedef struct ym_proxies ym_proxies;

ym_proxies *ym_proxies_new(const ym_strlist *list);  /* entries were validated by config */
void ym_proxies_free(ym_proxies *p);
bool ym_proxies_trust(const ym_proxies *p, const char *addr);
/* The client: peer itself, or, when peer is trusted, the rightmost address of
 * X-Forwarded-For that is not a trusted proxy. */
void ym_client_addr(const ym_proxies *p, const char *peer, const char *xff, char *out, size_t len);

#endif
