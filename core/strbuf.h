/* strbuf: a growable, always NUL-terminated byte buffer on malloc, with an optional cap:
 * past max (0 = none) nothing more is added and `over` stays set. */
#ifndef YM_STRBUF_H
#define YM_STRBUF_H
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct ym_strbuf {
    char *p;
    size_t len, cap, max;
    bool over;
} ym_strbuf;

static inline void ym_strbuf_add(ym_strbuf *b, const char *s, size_t n)
{
    if (b->over || (b->max && b->len + n >= b->max)) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
#endif
