/* log: leveled logfmt lines on stderr.
 * Every line carries time, level, pid, role, generation and the current request id. */
#ifndef YM_LOG_H
#define YM_LOG_H

typedef enum { YM_LOG_DEBUG = 0, YM_LOG_INFO, YM_LOG_WARN, YM_LOG_ERROR } ym_log_level;

/* role is "master", "worker" or "cli"; generation 0 when not applicable. */
void ym_log_init(ym_log_level level, const char *role, unsigned generation);
void ym_log_set_level(ym_log_level level);
int ym_log_parse_level(const char *s, ym_log_level *out); /* 0 ok, -1 unknown */
/* The request id printed on every line until cleared with NULL. */
void ym_log_set_request_id(const char *rid);

/* fmt is a sequence of key=value pairs in printf style. Supported conversions:
 * %s (logfmt-quoted when needed; NULL prints as ""), %d %u %ld %lu %lld %llu %zu
 * %x %f and %.Nf, %%. msg is always quoted. Example:
 *   ym_log(YM_LOG_INFO, "listening", "addr=%s port=%d", host, port); */
void ym_log(ym_log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ym_log_debug(...) ym_log(YM_LOG_DEBUG, __VA_ARGS__)
#define ym_log_info(...) ym_log(YM_LOG_INFO, __VA_ARGS__)
#define ym_log_warn(...) ym_log(YM_LOG_WARN, __VA_ARGS__)
#define ym_log_error(...) ym_log(YM_LOG_ERROR, __VA_ARGS__)

/* Formats one log line into buf (without newline); used by ym_log and tests. */
int ym_log_format(char *buf, size_t len, ym_log_level level, const char *msg, const char *fmt,
                  __builtin_va_list ap);

#endif
