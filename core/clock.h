/* clock: the one source of time. Code reads the clock only through ym_now().
 * A test offset (YIMEN_TEST_CLOCK=1) is shared by all processes through ym_shared. */
#ifndef YM_CLOCK_H
#define YM_CLOCK_H
#include <stdint.h>
#include <stddef.h>

/* Milliseconds since the Unix epoch, plus the test offset. */
int64_t ym_now(void);
/* Monotonic milliseconds, for durations and timeouts (never offset). */
uint64_t ym_mono_ms(void);
/* The test clock offset in ms (0 unless YIMEN_TEST_CLOCK=1 and advanced). */
int64_t ym_clock_offset(void);
void ym_clock_set_offset(int64_t ms);
/* Point the clock at a shared cell (the shared-memory segment); NULL = process-local. */
void ym_clock_attach(int64_t *shared_offset);
int ym_clock_test_enabled(void);
/* Local time (working days, end-of-day deadlines, RFC 3339 offsets) follows this zone. */
void ym_clock_set_timezone(const char *tz);
/* RFC 3339 with offset in the configured timezone, e.g. 2026-11-27T11:24:31.000+08:00 */
size_t ym_time_format(int64_t ms, char *buf, size_t len);

#endif
