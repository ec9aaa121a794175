/* config_values: the value syntax of yimen.conf — sizes ("10M"), durations ("30s") — and
 * its paths (resolved against a base, cleaned; the binary's directory). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"

static char g_bindir[PATH_MAX];  /* per process, the same for every generation */

/* ---- sizes and durations ---- */

const char *ym_parse_digits(const char *s, uint64_t *n)
{
    const char *start = s;
    for (*n = 0; isdigit((unsigned char)*s); s++)
        if (__builtin_mul_overflow(*n, 10, n) || __builtin_add_overflow(*n, (uint64_t)(*s - '0'), n))
            return NULL;
    return s > start ? s : NULL;
}

int ym_parse_size(const char *s, size_t *out)
{
    /* "KB"/"MB" are refused on purpose: whether they mean 1000 or 1024 is a guess */
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1u << 10}, {"kib", 1u << 10}, {"m", 1u << 20},
        {"mib", 1u << 20}, {"g", 1u << 30}, {"gib", 1u << 30},
    };
    uint64_t n, v;
    if (!s || !(s = ym_parse_digits(s, &n)))
        return -1;
    if (*s == ' ' && s[1]) /* "8 MiB" reads naturally; a trailing space is a typo */
        s++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(s, units[i].unit) == 0) {
            if (__builtin_mul_overflow(n, units[i].mul, &v) || v > SIZE_MAX)
                return -1;
            *out = (size_t)v;
            return 0;
        }
    return -1;
}

int ym_parse_duration(const char *s, uint64_t *out_ms)
{
    static const struct { const char *unit; uint64_t ms; } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    uint64_t ip, frac = 0, scale = 1, v, f;
    int fd = 0;
    if (!s || !(s = ym_parse_digits(s, &ip)))
        return -1;
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++, fd++)
            if (fd < 9) /* below a nanosecond is noise: checked, not kept */
                frac = frac * 10 + (uint64_t)(*s - '0'), scale *= 10;
        if (!fd)
            return -1;
    }
    if (*s == ' ' && s[1])
        s++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(s, units[i].unit) == 0) {
            if (__builtin_mul_overflow(ip, units[i].ms, &v) ||
                __builtin_mul_overflow(frac, units[i].ms, &f) ||
                __builtin_add_overflow(v, f / scale, &v))
                return -1;
            *out_ms = v;
            return 0;
        }
    return -1;
}

/* ---- paths ---- */

/* Lexically drop ".", ".." and repeated slashes from an absolute path, in place. */
static void path_clean(char *path)
{
    char *out = path, *seg = path;
    while (*seg) {
        while (*seg == '/')
            seg++;
        size_t len = strcspn(seg, "/");
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > path && *--out != '/')
                ;
        } else if (len && !(len == 1 && seg[0] == '.')) {
            *out++ = '/';
            memmove(out, seg, len);
            out += len;
        }
        seg += len;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

/* base + rel as an absolute path: the longest existing prefix goes through realpath (so
 * symlinks resolve as the kernel would), the rest, not created yet, is joined textually. */
char *ym_path_resolve(const char *base, const char *rel)
{
    char joined[PATH_MAX], buf[PATH_MAX], real[PATH_MAX], out[PATH_MAX];
    int n = snprintf(joined, sizeof joined, rel[0] == '/' ? "%.0s%s" : "%s/%s", base, rel);
    if (n < 0 || (size_t)n >= sizeof joined)
        return NULL;
    if (realpath(joined, real))
        return strdup(real);
    memcpy(buf, joined, (size_t)n + 1);
    for (char *slash; (slash = strrchr(buf, '/'));) {
        *slash = '\0';
        if (!realpath(buf[0] ? buf : "/", real))
            continue;
        n = snprintf(out, sizeof out, "%s/%s", real, joined + (slash - buf) + 1);
        if (n < 0 || (size_t)n >= sizeof out)
            return NULL;
        path_clean(out);
        return strdup(out);
    }
    path_clean(joined);
    return strdup(joined);
}

void ym_path_dirname(char *path)
{
    char *slash = strrchr(path, '/');
    if (slash)
        slash[slash == path] = '\0'; /* "/x" keeps its root */
}

void ym_config_set_bindir(const char *argv0)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0)
        buf[n] = '\0';
    else if (!argv0 || !realpath(argv0, buf)) { /* last resort: the working directory */
        if (!getcwd(buf, sizeof buf - 2))
            buf[0] = '\0';
        strcat(buf, "/.");
    }
    ym_path_dirname(buf);
    snprintf(g_bindir, sizeof g_bindir, "%s", buf[0] ? buf : "/");
}

const char *ym_config_bindir(void)
{
    if (!g_bindir[0])
        ym_config_set_bindir(NULL);
    return g_bindir;
}

