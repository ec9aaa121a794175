/* log: leveled logfmt lines on stderr, one write(2) per line so lines of
 * different processes never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>
#include <sys/time.h>
#include "log.h"

static ym_log_level g_level = YM_LOG_INFO;
static char g_role[16] = "cli";
static unsigned g_generation;
static char g_rid[40];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ym_log_init(ym_log_level level, const char *role, unsigned generation)
{
    g_level = level;
    snprintf(g_role, sizeof g_role, "%s", role ? role : "cli");
    g_generation = generation;
}

void ym_log_set_level(ym_log_level level) { g_level = level; }

int ym_log_parse_level(const char *s, ym_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ym_log_level)i;
            return 0;
        }
    return -1;
}

void ym_log_set_request_id(const char *rid)
{
    size_t n = rid ? strnlen(rid, sizeof g_rid - 1) : 0; /* twice a request: no printf */
    memcpy(g_rid, rid ? rid : "", n);
    g_rid[n] = 0;
}

typedef struct out {
    char *p;
    size_t len, used;
} out;

static void put(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->used + 1 < o->len; i++)
        o->p[o->used++] = s[i];
    o->p[o->used < o->len ? o->used : o->len - 1] = 0;
}

/* logfmt: bare when safe, else double-quoted with \" \\ \n \t escaped. */
static void put_value(out *o, const char *s)
{
    if (!s)
        s = "";
    int bare = *s != 0;
    for (const char *c = s; *c; c++)
        if (*c <= ' ' || *c == '"' || *c == '=' || *c == '\\' || *c == 0x7f)
            bare = 0;
    if (bare) {
        put(o, s, strlen(s));
        return;
    }
    put(o, "\"", 1);
    for (const char *c = s; *c; c++) {
        switch (*c) {
        case '"': put(o, "\\\"", 2); break;
        case '\\': put(o, "\\\\", 2); break;
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        default:
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                char hex[8];
                snprintf(hex, sizeof hex, "\\x%02x", (unsigned char)*c);
                put(o, hex, 4);
            } else {
                put(o, c, 1);
            }
        }
    }
    put(o, "\"", 1);
}

/* Copies one conversion spec ("%lld", "%.3f") and formats its argument. */
static const char *put_conversion(out *o, const char *f, va_list *ap)
{
    char spec[16], buf[64];
    size_t n = 0;
    spec[n++] = *f++;
    while (*f && strchr("0123456789.", *f) && n < 8)
        spec[n++] = *f++;
    while (*f && (*f == 'l' || *f == 'z') && n < 12)
        spec[n++] = *f++;
    if (!*f)
        return f;
    char conv = *f++;
    spec[n++] = conv;
    spec[n] = 0;
    int longs = 0, size_t_arg = strchr(spec, 'z') != NULL;
    for (char *c = spec; *c; c++)
        longs += *c == 'l';
    switch (conv) {
    case 's': put_value(o, va_arg(*ap, const char *)); return f;
    case '%': put(o, "%", 1); return f;
    case 'f': snprintf(buf, sizeof buf, spec, va_arg(*ap, double)); break;
    case 'd': case 'u': case 'x':
        if (size_t_arg) snprintf(buf, sizeof buf, spec, va_arg(*ap, size_t));
        else if (longs >= 2) snprintf(buf, sizeof buf, spec, va_arg(*ap, long long));
        else if (longs == 1) snprintf(buf, sizeof buf, spec, va_arg(*ap, long));
        else snprintf(buf, sizeof buf, spec, va_arg(*ap, int));
        break;
    default: snprintf(buf, sizeof buf, "?"); break;
    }
    put(o, buf, strlen(buf));
    return f;
}

int ym_log_format(char *buf, size_t len, ym_log_level level, const char *msg, const char *fmt,
                  va_list ap)
{
    out o = {buf, len, 0};
    struct timeval tv;
    struct tm tm;
    char head[160];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t h = strftime(head, sizeof head, "time=%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(head + h, sizeof head - h, ".%03dZ level=%s pid=%d role=%s gen=%u", (int)(tv.tv_usec / 1000),
             level_names[level & 3], (int)getpid(), g_role, g_generation);
    buf[0] = 0;
    put(&o, head, strlen(head));
    if (g_rid[0]) {
        put(&o, " rid=", 5);
        put_value(&o, g_rid);
    }
    put(&o, " msg=", 5);
    put_value(&o, msg);
    if (fmt && *fmt) {
        put(&o, " ", 1);
        va_list cp;
        va_copy(cp, ap);
        for (const char *f = fmt; *f;) {
            if (*f == '%')
                f = put_conversion(&o, f, &cp);
            else
                put(&o, f++, 1);
        }
        va_end(cp);
    }
    return (int)o.used;
}

void ym_log(ym_log_level level, const char *msg, const char *fmt, ...)
{
    if (level < g_level)
        return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = ym_log_format(line, sizeof line - 1, level, msg, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
