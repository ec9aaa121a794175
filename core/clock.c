/* clock: wall and monotonic time for the whole server, with the test offset
 * (YIMEN_TEST_CLOCK=1) shared by every process through the shared segment. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include "clock.h"

static int64_t g_local_offset;
static int64_t *g_offset = &g_local_offset;

int ym_clock_test_enabled(void)
{
    const char *v = getenv("YIMEN_TEST_CLOCK");
    return v && strcmp(v, "1") == 0;
}

void ym_clock_attach(int64_t *shared_offset) { g_offset = shared_offset ? shared_offset : &g_local_offset; }

void ym_clock_set_timezone(const char *tz)
{
    if (tz && *tz) {
        setenv("TZ", tz, 1);
        tzset();
    }
}

int64_t ym_clock_offset(void) { return __atomic_load_n(g_offset, __ATOMIC_RELAXED); }

void ym_clock_set_offset(int64_t ms) { __atomic_store_n(g_offset, ms, __ATOMIC_RELAXED); }

int64_t ym_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ym_clock_offset();
}

uint64_t ym_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t ym_time_format(int64_t ms, char *buf, size_t len)
{
    /* floor division: -1 ms is 23:59:59.999 of the day before, not second 0 */
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        sec -= 1;
        frac += 1000;
    }
    time_t s = (time_t)sec;
    struct tm tm;
    localtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    int n = snprintf(buf, len, "%s.%03d%c%02ld:%02ld", base, (int)frac, sign, off / 3600,
                     (off % 3600) / 60);
    return n < 0 ? 0 : (size_t)n;
}
